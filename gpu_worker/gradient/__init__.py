"""Gradient Proof of Attribution: for classifiers, training on a snapshot, per-example gradients,
projection and curvature preconditioning into an index, and influence scores for a query; for LoRA
adapters, the same through the adapter's parameters alone (`lora_influence`), with one data-chosen
damping for both (`damping`)."""
