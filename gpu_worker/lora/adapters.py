"""LoRA adapters in PEFT's format (adapter_config.json + adapter_model.safetensors), by content hash.

An adapter's id is blake2b-256 over its config bytes and its weights bytes (length-prefixed), so an
adapter trained elsewhere with PEFT loads as it is, and one whose files differ from the registered
hash is refused before a single weight is used.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import load as load_safetensors

from runtime.crypto import blake2_256

CONFIG, WEIGHTS = "adapter_config.json", "adapter_model.safetensors"
_KEY = re.compile(r"(?:base_model\.model\.)?(?P<module>.+)\.lora_(?P<which>[AB])(?:\.default)?\.weight$")


class AdapterError(ValueError):
    """An adapter is malformed or does not match its registered hash."""


def adapter_hash(config_bytes: bytes, weights_bytes: bytes) -> bytes:
    return blake2_256(len(config_bytes).to_bytes(8, "big") + config_bytes + weights_bytes)


@dataclass
class LoRA:
    """One adapter's low-rank factors per target module: delta(x) = scaling · (x Aᵀ) Bᵀ."""

    hash: bytes
    rank: int
    scaling: float
    factors: dict[str, tuple[torch.Tensor, torch.Tensor]]  # module name → (A [r, in], B [out, r])

    @property
    def nbytes(self) -> int:
        return sum(a.numel() * a.element_size() + b.numel() * b.element_size() for a, b in self.factors.values())

    def to(self, device: torch.device | str, dtype: torch.dtype | None = None) -> LoRA:
        """A copy on `device` (and in `dtype`: the serving runtime's, when it is not float32)."""
        moved = {name: (a.to(device, dtype), b.to(device, dtype)) for name, (a, b) in self.factors.items()}
        return LoRA(self.hash, self.rank, self.scaling, moved)


def read_adapter(directory: Path, expected: bytes | None = None) -> LoRA:
    """Load a PEFT adapter directory; with `expected`, refuse it unless its bytes hash to that."""
    try:
        config_bytes = (directory / CONFIG).read_bytes()
        weights_bytes = (directory / WEIGHTS).read_bytes()
    except FileNotFoundError as exc:
        raise AdapterError(f"{directory} is not a PEFT adapter directory ({exc.filename} missing)") from exc
    except OSError as exc:  # not a directory, not readable: refused as such, not as the worker's own failure
        raise AdapterError(f"{directory} is not a readable PEFT adapter directory: {exc.strerror or exc}") from exc
    digest = adapter_hash(config_bytes, weights_bytes)
    if expected is not None and digest != expected:
        raise AdapterError(f"adapter {directory.name} hashes to {digest.hex()}, not the registered {expected.hex()}")
    try:
        config = json.loads(config_bytes)
        tensors = load_safetensors(weights_bytes)
    except Exception as exc:  # any malformed adapter is refused the same way
        raise AdapterError(f"adapter {directory.name} does not decode: {exc}") from exc
    if config.get("peft_type", "LORA") != "LORA" or int(config.get("r", 0)) < 1:
        raise AdapterError(f"adapter {directory.name}: only LoRA adapters with rank ≥ 1 are supported")
    rank = int(config["r"])
    scaling = float(config.get("lora_alpha", rank)) / rank
    parts: dict[str, dict[str, torch.Tensor]] = {}
    for key, tensor in tensors.items():
        match = _KEY.match(key)
        if match is None:
            raise AdapterError(f"adapter {directory.name}: unexpected tensor {key!r}")
        parts.setdefault(match["module"], {})[match["which"]] = tensor.float()
    factors = {}
    for module, pair in parts.items():
        if set(pair) != {"A", "B"} or pair["A"].shape[0] != rank or pair["B"].shape[1] != rank:
            raise AdapterError(f"adapter {directory.name}: module {module} needs lora_A [r, in] and lora_B [out, r]")
        factors[module] = (pair["A"], pair["B"])
    return LoRA(digest, rank, scaling, factors)
