"""LoRA-gradient attribution: DataInf's "identify the fine-tuning subset" protocol, LDS, and query latency.

A small base (the LLaMA pretrained on Python's docs, bench/.cache) is fine-tuned with LoRA (r 8, all
linear layers) on 10 synthetic text tasks × `--per-task` rows (gpu_worker/finetune/synthetic.py). For
each held-out query (a new row of some task, prompt + its true response), every method scores all
training rows; per query we report
  - AUC: same-task rows against the others, ranked by score;
  - recall: the share of same-task rows among the top-(rows of that task) scores;
averaged over the queries. Then the LDS: `--subsets` random halves of the rows, a LoRA fine-tune from
scratch on each (the same recipe), each query's loss measured; the LDS is the mean over queries of the
Spearman correlation between the measured −loss and the sum of the kept rows' scores. Methods: ours
(damped per-layer Fisher inverse, damping chosen from the data), DataInf's closed form, plain gradient
dot-product; Kronfluence is reported as not run when it is not installed (`pip install -e .[bench]`).
Last, p50/p95 of one query (backward + projection + scoring) against a 1,000-row index, on CPU.

    python bench/lora_attribution.py [--per-task 90] [--subsets 8]

Targets: AUC ≥ 0.99 and recall ≥ 0.95 for ours; its LDS above every yardstick; ≤ 50 ms p50 per query.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
CACHE = ROOT / "bench" / ".cache" / "finetune-base"


def _examples(rows, tokenizer, first_id: int = 0):
    from gpu_worker.finetune.dataset import DatasetSpec, Row, render

    spec = DatasetSpec(snapshots=((1, 1),), template="qa")
    return [render(spec, Row(first_id + i, bytes(32), i + 1, (("user", r["prompt"]), ("assistant", r["response"]))),
                   tokenizer, 128) for i, r in enumerate(rows)]


def _finetune(base_dir: Path, train, steps: int, workdir: Path):
    from gpu_worker.finetune.config import TrainingConfig
    from gpu_worker.finetune.dataset import DatasetSpec
    from gpu_worker.finetune.trainer import load_base
    from gpu_worker.finetune.trainer import train as run

    base, tokenizer = load_base(base_dir)
    config = TrainingConfig(base_model="00" * 32, dataset=DatasetSpec(snapshots=((1, 1),), template="qa"),
                            max_steps=steps, batch_size=8, learning_rate=2e-3, checkpoint_every=10 ** 5,
                            eval_every=10 ** 5, seed=1)
    outcome = run(config, base, tokenizer, train, [], workdir, report=lambda point: None)
    return outcome.adapter_dir, config


def _peft(base_dir: Path, adapter_dir: Path):
    from peft import PeftModel

    from gpu_worker.finetune.trainer import load_base

    base, tokenizer = load_base(base_dir)
    return PeftModel.from_pretrained(base, adapter_dir).eval(), tokenizer


def _auc(scores: np.ndarray, positive: np.ndarray) -> float:
    from scipy.stats import rankdata

    ranks = rankdata(scores)
    pos = positive.sum()
    return float((ranks[positive].sum() - pos * (pos + 1) / 2) / (pos * (len(scores) - pos)))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--per-task", type=int, default=90)
    parser.add_argument("--queries-per-task", type=int, default=5)
    parser.add_argument("--subsets", type=int, default=8)
    parser.add_argument("--steps", type=int, default=0, help="fine-tuning steps (0: two epochs)")
    args = parser.parse_args()

    import torch

    from gpu_worker.finetune.pretrain import pretrain_base
    from gpu_worker.finetune.synthetic import task_rows
    from gpu_worker.lora import influence
    from gpu_worker.lora.damping import choose_damping

    torch.set_num_threads(1)
    if not (CACHE / "config.json").exists():
        pretrain_base(CACHE, steps=300)
    rows = task_rows(args.per_task, seed=0)
    held = task_rows(args.queries_per_task, seed=1)
    tasks = np.array([r["task"] for r in rows])
    steps = args.steps or 2 * len(rows) // 8
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        from gpu_worker.finetune.trainer import load_tokenizer

        tokenizer = load_tokenizer(CACHE)
        train, queries = _examples(rows, tokenizer), _examples(held, tokenizer, 10 ** 6)
        started = time.perf_counter()
        adapter_dir, config = _finetune(CACHE, train, steps, work / "full")
        finetune_s = time.perf_counter() - started
        model, _ = _peft(CACHE, adapter_dir)
        pad = tokenizer.pad_token_id
        started = time.perf_counter()
        layout, grads = influence.per_example_gradients(model, train, pad)
        gradients_s = time.perf_counter() - started
        _, qgrads = influence.per_example_gradients(model, queries, pad)
        k, seed = 64, 0
        blocks = influence.project_layers(grads, layout, k, seed)
        qblocks = influence.project_layers(qgrads, layout, k, seed)
        eval_rows = _examples(task_rows(2, seed=2), tokenizer, 2 * 10 ** 6)
        _, egrads = influence.per_example_gradients(model, eval_rows, pad)
        started = time.perf_counter()
        chosen = choose_damping(model, "default", train, eval_rows, pad, blocks,
                                influence.project_layers(egrads, layout, k, seed), config.learning_rate, seed)
        damping_s = time.perf_counter() - started
        methods = {name: influence.scores(qblocks, influence.row_features(
            blocks, influence.operators(blocks, layout, name, chosen["damping"]))) for name in influence.METHODS}

        quality = {}
        for name, s in methods.items():
            aucs, recalls = [], []
            for j, q in enumerate(held):
                positive = tasks == q["task"]
                aucs.append(_auc(s[j], positive))
                top = np.argsort(-s[j], kind="stable")[: positive.sum()]
                recalls.append(float(positive[top].mean()))
            quality[name] = {"auc": round(float(np.mean(aucs)), 4), "recall": round(float(np.mean(recalls)), 4)}

        # LDS: fine-tunes from scratch on random halves, each query's loss measured
        rng = np.random.default_rng(7)
        masks = np.zeros((args.subsets, len(train)), dtype=bool)
        outcomes = np.zeros((args.subsets, len(queries)))
        started = time.perf_counter()
        for s in range(args.subsets):
            masks[s, rng.permutation(len(train))[: len(train) // 2]] = True
            kept = [e for e, m in zip(train, masks[s], strict=True) if m]
            sub_dir, _ = _finetune(CACHE, kept, steps // 2, work / f"subset-{s}")
            sub_model, _ = _peft(CACHE, sub_dir)
            from gpu_worker.finetune.trainer import collate

            with torch.no_grad():
                outcomes[s] = -influence.per_example_loss(sub_model, collate(queries, pad, "cpu")).numpy()
        retrain_s = time.perf_counter() - started
        from scipy.stats import spearmanr

        for name, s in methods.items():
            predicted = masks.astype(float) @ s.T
            per_query = [spearmanr(predicted[:, j], outcomes[:, j]).statistic for j in range(len(queries))]
            quality[name]["lds"] = round(float(np.nanmean(per_query)), 4)
        quality["kronfluence"] = {"skipped": "kronfluence is not installed (pip install -e .[bench])"}

        # one query against a 1,000-row index: backward, projection, scoring
        features = influence.row_features(blocks, influence.operators(blocks, layout, "ours", chosen["damping"]))
        features = np.resize(features, (1000, features.shape[1])).astype(np.float32).astype(np.float64)
        times = []
        for q in queries[:40]:
            t0 = time.perf_counter()
            _, g = influence.per_example_gradients(model, [q], pad)
            influence.scores(influence.project_layers(g, layout, k, seed), features)
            times.append((time.perf_counter() - t0) * 1000)

    print(json.dumps({
        "rows": len(train), "tasks": 10, "queries": len(queries), "fine_tune_steps": steps,
        "projection_k_per_module": k, "modules": len(layout), "lora_parameters": int(grads.shape[1]),
        "damping": chosen, "methods": quality,
        "query_ms": {"p50": round(statistics.median(times), 2), "p95": round(float(np.percentile(times, 95)), 2),
                     "index_rows": 1000},
        "seconds": {"fine_tune": round(finetune_s, 1), "row_gradients": round(gradients_s, 1),
                    "damping_choice": round(damping_s, 1), "lds_retrains": round(retrain_s, 1)},
        "targets": {"auc": 0.99, "recall": 0.95, "query_ms_p50": 50},
    }, indent=1))


if __name__ == "__main__":
    main()
