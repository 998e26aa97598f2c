"""What a Hugging Face model directory is, read without loading it: the base-model registration (CLI),
the ModelFactory demo, the worker and the studio all describe a base the same way."""

from __future__ import annotations

import json
import math
from pathlib import Path


def describe_hf_directory(directory: Path) -> tuple[str, int, int]:
    """(architecture, parameter count, context in positions - 0 when config.json gives none) of a Hugging
    Face model directory, read from config.json and the safetensors headers (no weights loaded)."""
    try:
        config = json.loads((directory / "config.json").read_text())
    except (OSError, ValueError) as exc:
        raise ValueError(f"{directory} is not a Hugging Face model directory: config.json unreadable ({exc})") from exc
    shards = sorted(directory.glob("*.safetensors"))
    if not shards:
        raise ValueError(f"{directory} has no *.safetensors weights (PyTorch .bin checkpoints are not accepted: "
                         f"they can run code when loaded)")
    parameters = 0
    for shard in shards:
        with open(shard, "rb") as src:
            header = json.loads(src.read(int.from_bytes(src.read(8), "little")))
        parameters += sum(math.prod(t["shape"]) for name, t in header.items() if name != "__metadata__")
    names = config.get("architectures") or [config.get("model_type", "unknown")]
    context = config.get("max_position_embeddings") or 0
    if not isinstance(context, int) or not 0 <= context < 1 << 32:
        raise ValueError(f"{directory}/config.json: max_position_embeddings is {context!r}, not a context length")
    return f"{config.get('model_type', 'unknown')}:{names[0]}", parameters, context
