"""How many of a model's training rows each contribution gave, for "trained on withdrawn data".

The chain records each contribution's size, not its rows; the rows a model was trained on are in its
attribution index (`rows.npy` maps every trained row to a contribution that `attribution.json` names),
which the model record commits to by hash, so the count is as verifiable as the record. Only those two
small files are fetched; an index never changes, so its counts are kept per hash for the process (the
gateway lists models on every request). Read by the CLI and the studio alike.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np

from .artifacts import ATTRIBUTION_INDEX, ArtifactError, fetch_directory
from .client import ClientError

_COUNTED: dict[bytes, dict[int, int]] = {}  # index hash → rows per contribution id
_INDEX_FILES = frozenset({"attribution.json", "rows.npy"})


def rows_per_contribution(client, index_hash: bytes, reader=None) -> dict[int, int]:
    """{contribution id: rows of it the model was trained on}, from the attribution index `index_hash`."""
    if index_hash not in _COUNTED:
        with tempfile.TemporaryDirectory(prefix="payable-index-") as tmp:
            fetch_directory(client, index_hash, tmp, kind=ATTRIBUTION_INDEX, reader=reader, only=_INDEX_FILES)
            meta = json.loads((Path(tmp) / "attribution.json").read_text())
            rows = np.load(Path(tmp) / "rows.npy", allow_pickle=False)
        counts = np.bincount(rows, minlength=len(meta["contributions"]))
        _COUNTED[index_hash] = {int(cid): int(n) for (cid, _), n in zip(meta["contributions"], counts, strict=True)}
    return _COUNTED[index_hash]


def withdrawn_rows(client, model, withdrawn, reader=None) -> dict | None:
    """{"withdrawn": the rows of the model's withdrawn contributions, "training": all its training rows}, for a
    model (`mr.Model`) whose `withdrawn` (`mr.WithdrawnData`) lists any; None when it lists none, or the model
    has no attribution index, or the index cannot be read (a permissioned one, without `reader`)."""
    if not withdrawn.contributions or not model.attribution_index_hash:
        return None
    try:
        counts = rows_per_contribution(client, model.attribution_index_hash, reader)
    except (ArtifactError, ClientError, OSError, ValueError, KeyError):
        return None
    return {"withdrawn": sum(counts.get(w.contribution, 0) for w in withdrawn.contributions),
            "training": sum(counts.values())}
