"""The LoRA layers of a PEFT model, in a fixed order: what LoRA attribution (`gradient.lora_influence`), the
worker's attributor and the frozen-base layout (`frozen_base`) walk. Beside the engines, since more than
one uses it (engines never import each other).
"""

from __future__ import annotations

import torch


def lora_modules(model, adapter: str | None = "default") -> list[tuple[str, torch.nn.Module]]:
    """The PEFT LoRA layers of the model that carry `adapter` (None: any), in a fixed (name) order. The walk
    does not descend into a LoRA layer: with many adapters loaded, their factors are most of the module tree."""
    found, stack = [], [("", model)]
    while stack:
        prefix, module = stack.pop()
        if hasattr(module, "lora_A"):
            if adapter is None or adapter in module.lora_A:
                found.append((prefix, module))
            continue
        stack.extend((f"{prefix}.{name}" if prefix else name, child) for name, child in module.named_children())
    if not found:
        raise ValueError(f"the model has no LoRA layers for adapter {adapter!r}" if adapter else
                         "the model has no LoRA layers")
    return sorted(found, key=lambda item: item[0])
