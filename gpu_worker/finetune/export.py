"""Export: the adapter as it is (PEFT format) and a merged model, checked to be neither the base nor wrong.

A merge can silently produce the base (LLaMA-Factory #9051: the adapter was never applied), so the
merged model is compared twice before it is written: its weights must differ from the base's where
the adapter applies, and its logits must equal the base-plus-adapter model's on a probe input.
"""

from __future__ import annotations

from pathlib import Path

import torch

from ..device import building_models
from .trainer import load_base

TOLERANCE = 1e-4


class MergeError(ValueError):
    """The merged model failed a check; the message says which."""


def _probe(tokenizer) -> torch.Tensor:
    ids = tokenizer.encode("def main():\n    return sorted(set(values))", add_special_tokens=False)
    return torch.tensor([ids[:32]])


@torch.no_grad()
def export_merged(base_dir: Path, adapter_dir: Path, out_dir: Path) -> dict:
    """Write base + adapter merged as a Hugging Face directory; returns what was checked."""
    from peft import PeftModel

    base, tokenizer = load_base(base_dir)
    probe = _probe(tokenizer)
    base_logits = base(probe).logits.clone()
    base_weights = {k: v.clone() for k, v in base.state_dict().items()}
    with building_models():
        with_adapter = PeftModel.from_pretrained(base, adapter_dir).eval()
    expected = with_adapter(probe).logits
    merged = with_adapter.merge_and_unload().eval()
    got = merged(probe).logits
    difference = float((got - expected).abs().max())
    scale = float(expected.abs().max())
    if difference > TOLERANCE * max(1.0, scale):
        raise MergeError(f"the merged model's logits differ from base + adapter by {difference:.3g}")
    changed = sorted(k for k, v in merged.state_dict().items()
                     if k in base_weights and not torch.equal(v, base_weights[k]))
    if not changed:
        raise MergeError("the merged weights equal the base's: the adapter was not applied")
    moved = float((got - base_logits).abs().max())
    if moved == 0.0:
        raise MergeError("the merged model answers exactly as the base does")
    out_dir.mkdir(parents=True, exist_ok=True)
    merged.save_pretrained(out_dir, safe_serialization=True)
    tokenizer.save_pretrained(out_dir)
    return {"merged_dir": str(out_dir), "max_logit_difference": difference, "changed_tensors": len(changed),
            "logit_shift_from_base": moved}
