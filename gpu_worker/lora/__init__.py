"""OpenLoRA: one base causal LM serving many LoRA adapters, batched across adapters - serving only (an
adapter's attribution is `gpu_worker.gradient.lora_influence` and `gpu_worker.adapter_index`)."""
