"""ModelFactory's fine-tuning engine against a plain `transformers.Trainer` + PEFT run (LLaMA-Factory's path).

Same base (the small LLaMA pretrained on Python's docs), same rows (questions about Python's builtins,
through the base's chat template, prompt tokens masked), same LoRA (r 8, α 16, all linear layers), same
optimizer settings (AdamW, lr 2e-3, cosine, 10% warm-up), batch 4, same number of steps, one thread
each. Each run is its own process, so peak memory (max RSS) is that run's alone. Prints JSON:
training tokens/s (steps × batch × mean example length over the training wall time), peak memory,
held-out loss after the same steps (measured the same way for both), and what a kill-and-resume costs:
an uninterrupted checkpointed run against the same run stopped half way and resumed in a new process.
Throughput is given per wall second and per CPU second; the resume cost is in CPU seconds, since on a
shared VM the wall time of the same run varies by more than the cost being measured.

    python bench/finetune.py [--steps 600] [--rounds 3]

A resume's cost is fixed (a new process loads the base and the checkpoint, and its first steps run
cold), so its share shrinks as runs grow; 600 steps of this tiny base take ~12 s, still far shorter
than any real fine-tuning run.

Targets: ours ≥ 1.0× the Trainer's tokens/s at equal held-out loss (±2%); resume < 10% of a run.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
CACHE = ROOT / "bench" / ".cache" / "finetune-base"
BASE_HEX = "00" * 32


def _data(base: Path):
    import json as json_module

    from gpu_worker.finetune import trainer
    from gpu_worker.finetune.dataset import DatasetSpec, Source, prepare
    from gpu_worker.finetune.pretrain import python_qa_rows

    model, tokenizer = trainer.load_base(base)
    spec = DatasetSpec(snapshots=((1, 1),))
    blob = "\n".join(json_module.dumps(r) for r in python_qa_rows()).encode()
    data = prepare(spec, [Source(1, bytes(32), bytes(32), "jsonl", blob)], tokenizer, 256)
    return model, tokenizer, spec, data


def _config(spec, steps: int, checkpoint_every: int):
    from gpu_worker.finetune.config import TrainingConfig

    return TrainingConfig(base_model=BASE_HEX, dataset=spec, max_steps=steps, checkpoint_every=checkpoint_every,
                          eval_every=steps, batch_size=4, learning_rate=2e-3, seed=1)


def child_ours(base: Path, steps: int, job: Path, checkpoint_every: int, stop_at: int, resume: bool) -> dict:
    from gpu_worker.finetune import trainer

    model, tokenizer, spec, data = _data(base)
    config = _config(spec, steps, checkpoint_every)
    points: list[dict] = []
    started, cpu_started = time.perf_counter(), time.process_time()
    try:
        outcome = trainer.train(config, model, tokenizer, data.train, data.eval, job, report=points.append,
                                stop=lambda: stop_at > 0 and points[-1]["step"] >= stop_at, resume=resume)
        eval_loss = outcome.eval_loss
    except trainer.Aborted:
        eval_loss = None
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
    mean = data.tokens / len(data.train)
    trained = (points[-1]["step"] - (points[0]["step"] if resume else 0)) if points else 0
    return {"seconds": seconds, "cpu_seconds": cpu_seconds, "tokens_per_s": trained * 4 * mean / seconds,
            "tokens_per_cpu_s": trained * 4 * mean / cpu_seconds, "eval_loss": eval_loss}


def child_trainer(base: Path, steps: int, out: Path) -> dict:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import DataCollatorForSeq2Seq, Trainer, TrainingArguments

    from gpu_worker.finetune import trainer as ours

    model, tokenizer, _, data = _data(base)
    torch.manual_seed(1)
    model = get_peft_model(model, LoraConfig(r=8, lora_alpha=16, lora_dropout=0.0, target_modules="all-linear",
                                             bias="none", task_type="CAUSAL_LM"))
    rows = [{"input_ids": list(e.input_ids), "labels": list(e.labels), "attention_mask": [1] * len(e.input_ids)}
            for e in data.train]
    args = TrainingArguments(output_dir=str(out), per_device_train_batch_size=4, max_steps=steps,
                             learning_rate=2e-3, lr_scheduler_type="cosine", warmup_steps=steps // 10,
                             weight_decay=0.0, logging_steps=steps, save_strategy="no", report_to=[], seed=1,
                             use_cpu=True, disable_tqdm=True, dataloader_num_workers=0)
    run = Trainer(model=model, args=args, train_dataset=rows,
                  data_collator=DataCollatorForSeq2Seq(tokenizer, padding=True, label_pad_token_id=-100))
    started, cpu_started = time.perf_counter(), time.process_time()
    run.train()
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
    mean = data.tokens / len(data.train)
    eval_loss = ours.evaluate(model, data.eval, tokenizer.pad_token_id, 4, "cpu")
    return {"seconds": seconds, "cpu_seconds": cpu_seconds, "tokens_per_s": steps * 4 * mean / seconds,
            "tokens_per_cpu_s": steps * 4 * mean / cpu_seconds, "eval_loss": eval_loss}


def _child(argv: list[str]) -> None:
    from gpu_worker.device import deterministic

    deterministic(1)
    kind, base, steps, out = argv[0], Path(argv[1]), int(argv[2]), Path(argv[3])
    if kind == "trainer":
        result = child_trainer(base, steps, out)
    else:
        checkpoint_every, stop_at, resume = int(argv[4]), int(argv[5]), argv[6] == "1"
        result = child_ours(base, steps, out, checkpoint_every, stop_at, resume)
    result["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(result))


def _run(*args) -> dict:
    done = subprocess.run([sys.executable, __file__, "--child", *map(str, args)], capture_output=True, text=True,
                          timeout=1800)
    if done.returncode:
        raise SystemExit(f"child {args[0]} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if not (CACHE / "config.json").exists():
        import torch

        from gpu_worker.finetune.pretrain import pretrain_base

        torch.set_num_threads(1)
        pretrain_base(CACHE, steps=300)
    ours, theirs, resume = [], [], []
    with tempfile.TemporaryDirectory(prefix="bench-finetune-") as tmp:
        for r in range(args.rounds):  # interleaved rounds: this VM's speed drifts
            theirs.append(_run("trainer", CACHE, args.steps, Path(tmp) / f"hf-{r}"))
            ours.append(_run("ours", CACHE, args.steps, Path(tmp) / f"ours-{r}", args.steps, 0, 0))
            whole = _run("ours", CACHE, args.steps, Path(tmp) / f"ckpt-{r}", 10, 0, 0)
            first = _run("ours", CACHE, args.steps, Path(tmp) / f"cut-{r}", 10, args.steps // 2, 0)
            second = _run("ours", CACHE, args.steps, Path(tmp) / f"cut-{r}", 10, 0, 1)
            resume.append({"uninterrupted_cpu_s": whole["cpu_seconds"],
                           "interrupted_cpu_s": first["cpu_seconds"] + second["cpu_seconds"],
                           "fixed_cost_cpu_s": first["cpu_seconds"] + second["cpu_seconds"] - whole["cpu_seconds"],
                           "same_eval_loss": second["eval_loss"] == whole["eval_loss"]})
    med = lambda rows, key: statistics.median(row[key] for row in rows)  # noqa: E731
    overhead = statistics.median(r["fixed_cost_cpu_s"] / r["uninterrupted_cpu_s"] for r in resume)
    report = {
        "steps": args.steps, "rounds": args.rounds, "batch": 4, "threads": 1,
        "ours": {"tokens_per_s": med(ours, "tokens_per_s"), "tokens_per_cpu_s": med(ours, "tokens_per_cpu_s"),
                 "peak_rss_mib": med(ours, "peak_rss_mib"),
                 "eval_loss": med(ours, "eval_loss"), "seconds": med(ours, "seconds")},
        "transformers_trainer_peft": {"tokens_per_s": med(theirs, "tokens_per_s"),
                                      "tokens_per_cpu_s": med(theirs, "tokens_per_cpu_s"),
                                      "peak_rss_mib": med(theirs, "peak_rss_mib"),
                                      "eval_loss": med(theirs, "eval_loss"), "seconds": med(theirs, "seconds")},
        "resume": {"overhead_fraction": overhead,
                   "fixed_cost_cpu_s": statistics.median(r["fixed_cost_cpu_s"] for r in resume), "rounds": resume},
    }
    report["throughput_ratio"] = report["ours"]["tokens_per_s"] / report["transformers_trainer_peft"]["tokens_per_s"]
    report["cpu_throughput_ratio"] = (report["ours"]["tokens_per_cpu_s"]
                                      / report["transformers_trainer_peft"]["tokens_per_cpu_s"])
    report["eval_loss_ratio"] = report["ours"]["eval_loss"] / report["transformers_trainer_peft"]["eval_loss"]
    report["targets_met"] = {"throughput_ge_1x": report["throughput_ratio"] >= 1.0,
                             "eval_loss_within_2pct": abs(report["eval_loss_ratio"] - 1) <= 0.02,
                             "resume_lt_10pct": overhead < 0.10,
                             "resume_same_result": all(r["same_eval_loss"] for r in resume)}
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        _child(sys.argv[2:])
    else:
        main()
