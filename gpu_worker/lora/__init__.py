"""OpenLoRA: one base causal LM serving many LoRA adapters, batched across adapters."""
