"""A model's "trained on withdrawn data" flag (`WithdrawnData`, from the chain's `get_withdrawn` query) in the
one plain form that every client shows: `payable model provenance` and `show`, the gateway's `/v1/models` and
the studio's models page.

Written by hand beside the generated modules it reads, so that the CLI and the studio (which may not import
each other) say it in the same words.
"""

from __future__ import annotations

from payable.datanet.v1 import datanet_pb2 as dn

from .modelregistry_pb2 import WithdrawnData


def how(status: int, takedown: int) -> str:
    """How a contribution left: "withdrawn by its contributor" or "taken down (copyright)"."""
    if status == dn.TAKEN_DOWN:
        return f"taken down ({dn.TakedownReason.Name(takedown)[len('TAKEDOWN_'):].lower().replace('_', ' ')})"
    return "withdrawn by its contributor"


def withdrawn_json(data: WithdrawnData, rows: dict | None = None) -> dict | None:
    """None when the model's training data holds nothing withdrawn; else which contributions, how much of its
    training data they were (contributions and bytes from the chain; rows - `sdk.training_rows.withdrawn_rows`,
    from the model's attribution index - when the caller could count them, else None) and since when."""
    if not data.contributions:
        return None
    return {"contributions": [{"contribution": w.contribution, "datanet": w.datanet, "versions": list(w.versions),
                               "how": how(w.status, w.takedown), "withdrawn_at": w.withdrawn_at, "size": w.size}
                              for w in data.contributions],
            "count": len(data.contributions), "training_contributions": data.training_contributions,
            "withdrawn_rows": rows["withdrawn"] if rows else None, "training_rows": rows["training"] if rows else None,
            "withdrawn_size": data.withdrawn_size, "training_size": data.training_size, "since": data.since}


def withdrawn_text(data: WithdrawnData, rows: dict | None = None) -> str:
    """One line: "no" or how much of the training data was withdrawn (rows too when counted), since which block."""
    if not data.contributions:
        return "no"
    counted = f"{rows['withdrawn']} of {rows['training']} rows, " if rows else ""
    return (f"yes: {len(data.contributions)} of its {data.training_contributions} training contributions "
            f"({counted}{data.withdrawn_size} of {data.training_size} bytes), since block {data.since}")
