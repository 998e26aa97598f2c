"""How a signed attribution result names its method, per on-chain `AttributionMethod`.

Written by hand beside the generated module it reads: the chain (which checks that a result's method is
the model's) and the worker (which names the method it ran) must spell these identically, and the enum
they map to is this package's.
"""

from __future__ import annotations

from .modelregistry_pb2 import GRADIENT, LORA_GRADIENT, SPAN, SPAN_AND_LORA_GRADIENT

# A classifier's gradient result names its index method ("gn", "trak", ...) and is GRADIENT.
ADAPTER_METHODS = {"span": SPAN, "lora-gradient": LORA_GRADIENT, "span+lora-gradient": SPAN_AND_LORA_GRADIENT}
ADAPTER_METHOD_NAMES = {kind: name for name, kind in ADAPTER_METHODS.items()}


def method_kind(method: str) -> int:
    """The on-chain attribution method a result's method string stands for."""
    return ADAPTER_METHODS.get(method, GRADIENT)
