"""Frozen weights laid out once for oneDNN's matrix products on a CPU.

oneDNN multiplies by a weight in its own blocked layout; handed an ordinary one, it re-lays it out on
every call (134 us for a one-row 576 x 1536 bfloat16 product on this VM's CPU, more than the product).
Attribution's weights never change while a model is held, so they are laid out once here, and the
products run from the laid-out copies (gpu_worker/gradient/decoder.py, swept_head.py).
"""

from __future__ import annotations

import torch

from ..frozen_base import native_dtype


def bfloat16_native(weight: torch.Tensor) -> bool:
    """bfloat16 on a CPU that multiplies it natively (oneDNN's packed bfloat16 path)."""
    return weight.dtype == torch.bfloat16 and weight.device.type == "cpu" and native_dtype("cpu") == "bfloat16"


def float32_packable(weight: torch.Tensor) -> bool:
    """float32 on a CPU with oneDNN."""
    return weight.dtype == torch.float32 and weight.device.type == "cpu" and torch.backends.mkldnn.is_available()


def pack(weight: torch.Tensor) -> torch.Tensor:
    """`weight` [out, in] in the blocked layout oneDNN would otherwise make from it on every call."""
    return torch.ops.mkldnn._reorder_linear_weight(weight, 64)


def multiply(x: torch.Tensor, packed: torch.Tensor) -> torch.Tensor:
    """x [n, in] · Wᵀ for a `pack`ed W, x in W's precision."""
    return torch.ops.mkldnn._linear_pointwise(x, packed, None, "none", [], "")
