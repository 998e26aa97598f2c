"""The worker's model paths on a GPU against the same machine's CPU, side by side in one run.

For each base size: ModelFactory's fine-tuning engine (`gpu_worker.finetune.trainer.train`, LoRA r 8 on
every linear, AdamW), the per-example LoRA gradients that build an adapter's attribution index
(`gpu_worker.gradient.lora_influence.per_example_gradients`) and one attribution query (backward + projection +
scoring against a 1,000-row index), on the CPU (`--cpu-threads`, all its cores unless told) and on
CUDA. The 192-wide base is the one bench/lora_attribution.py pretrains (cached in bench/.cache); the
wider ones are the same LLaMA shape with random weights and the same tokenizer - throughput does not
depend on what the weights know.
Rows: the synthetic tasks of gpu_worker/finetune/synthetic.py.

    python bench/cuda_paths.py [--hidden 192 1024] [--steps 30]

Prints JSON: training tokens/s, index rows/s, query p50 ms per device, and CUDA ÷ CPU ratios. Needs a
CUDA device (exits with a message where there is none).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PRETRAINED = ROOT / "bench" / ".cache" / "lora-attribution-base-h192-l4-s1000"


def _base(hidden: int, work: Path) -> Path:
    """The pretrained base for its own width, else a random LLaMA of that width with its tokenizer."""
    import torch
    import transformers

    if hidden == 192:
        return PRETRAINED
    config = transformers.AutoConfig.from_pretrained(PRETRAINED)
    config.hidden_size, config.intermediate_size = hidden, hidden * 8 // 3 // 64 * 64
    config.num_attention_heads = config.num_key_value_heads = hidden // 64
    config.num_hidden_layers = 8
    torch.manual_seed(0)
    out = work / f"base-{hidden}"
    transformers.LlamaForCausalLM(config).save_pretrained(out)
    for name in os.listdir(PRETRAINED):
        if "token" in name:
            shutil.copy(PRETRAINED / name, out / name)
    return out


def _sync(device: str) -> None:
    import torch

    if device == "cuda":
        torch.cuda.synchronize()


def _measure(base_dir: Path, device: str, steps: int, work: Path) -> dict:
    import numpy as np
    from peft import PeftModel

    from gpu_worker.finetune.config import TrainingConfig
    from gpu_worker.finetune.dataset import DatasetSpec, Row, render
    from gpu_worker.finetune.synthetic import task_rows
    from gpu_worker.finetune.trainer import load_base, train
    from gpu_worker.gradient import lora_influence as influence

    base, tokenizer = load_base(base_dir, device)
    spec = DatasetSpec(snapshots=((1, 1),), template="qa")
    rows = [render(spec, Row(i, bytes(32), i + 1, (("user", r["prompt"]), ("assistant", r["response"]))), tokenizer,
                   128) for i, r in enumerate(task_rows(90, seed=0))]
    config = TrainingConfig(base_model="00" * 32, dataset=spec, max_steps=steps, batch_size=16, learning_rate=2e-3,
                            checkpoint_every=10 ** 5, eval_every=10 ** 5, seed=1)
    _sync(device)
    started = time.perf_counter()
    outcome = train(config, base, tokenizer, rows, [], work / f"ft-{device}", report=lambda point: None,
                    device=device)
    _sync(device)
    train_s = time.perf_counter() - started
    mean_tokens = statistics.mean(len(e.input_ids) for e in rows)
    model = PeftModel.from_pretrained(load_base(base_dir, device)[0], outcome.adapter_dir).eval()
    pad = tokenizer.pad_token_id
    influence.per_example_gradients(model, rows[:32], pad, token_normalized=True)  # warm-up
    _sync(device)
    started = time.perf_counter()
    layout, grads = influence.per_example_gradients(model, rows[:256], pad, token_normalized=True, batch_size=32)
    _sync(device)
    index_s = time.perf_counter() - started
    blocks = influence.project_layers(grads, layout, 64, 0)
    features = influence.setting_features(blocks, layout, "ours", 100.0)
    features = np.resize(features, (1000, features.shape[1]))
    times = []
    for q in rows[300:330]:
        t0 = time.perf_counter()
        _, g = influence.per_example_gradients(model, [q], pad, token_normalized=True)
        influence.scores(influence.project_layers(g, layout, 64, 0), features)
        times.append((time.perf_counter() - t0) * 1000)
    return {"train_tokens_per_s": round(steps * config.batch_size * mean_tokens / train_s),
            "index_rows_per_s": round(256 / index_s, 1), "query_ms_p50": round(statistics.median(times[5:]), 2),
            "lora_parameters": int(grads.shape[1])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hidden", type=int, nargs="+", default=[192, 1024])
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--cpu-threads", type=int, default=os.cpu_count(),
                        help="the CPU side's threads (all cores; a 192-wide model runs faster on one)")
    args = parser.parse_args()
    import torch

    if not torch.cuda.is_available():
        raise SystemExit("bench/cuda_paths.py needs a CUDA device; torch sees none here")
    if not (PRETRAINED / "config.json").exists():
        raise SystemExit(f"run bench/lora_attribution.py once first: it pretrains the base into {PRETRAINED}")
    torch.set_num_threads(args.cpu_threads)
    results = []
    with tempfile.TemporaryDirectory(prefix="payable-cuda-") as tmp:
        work = Path(tmp)
        for hidden in args.hidden:
            base_dir = _base(hidden, work)
            row = {"hidden": hidden}
            for device in ("cpu", "cuda"):
                row[device] = _measure(base_dir, device, args.steps, work / str(hidden))
            row["cuda_over_cpu"] = {key: round(row["cuda"][key] / row["cpu"][key], 2)
                                    for key in ("train_tokens_per_s", "index_rows_per_s")}
            row["cuda_over_cpu"]["query_speedup"] = round(row["cpu"]["query_ms_p50"] / row["cuda"]["query_ms_p50"], 2)
            results.append(row)
            print(json.dumps(row), file=sys.stderr, flush=True)
    print(json.dumps({"benchmark": "cuda_paths", "gpu": torch.cuda.get_device_name(0),
                      "cpu_threads": torch.get_num_threads(), "steps": args.steps, "results": results}, indent=1))


if __name__ == "__main__":
    main()
