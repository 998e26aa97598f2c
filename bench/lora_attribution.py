"""LoRA-gradient attribution: DataInf's "identify the fine-tuning subset" protocol, LDS, and query latency.

A small base (a 4-layer, 192-wide LLaMA pretrained here on Python's docs, cached in bench/.cache) is
fine-tuned with LoRA (r 8, all linear layers, one epoch) on 10 synthetic text tasks × `--per-task` rows
(gpu_worker/finetune/synthetic.py), with 10 more per task held out (DataInf's 90/10 split), in two
settings:
  - datainf: DataInf's own setting - each row one text in the form DataInf's generator writes for its
    sentence-transformation tasks (the task's chatbot name and the transformation's title, then
    "phrase -> answer"; synthetic.datainf_text), the loss over all of it (SFTTrainer on a text field,
    no prompt masking);
  - response_only: prompt/response rows (the qa template), the loss on the response alone - what
    ModelFactory trains on a DataNet of prompt/response rows, and the harder case: the task is named by
    one word, in the context, not in what the row taught.
Every method scores all training rows for each query and we report
  - AUC: same-task rows against the others, ranked by score;
  - recall: the share of same-task rows among the top-(rows of that task) scores;
averaged over the queries, for two kinds of query: a task query - one task's held-out rows as one query
(the gradient of their mean loss, a validation set) - and a row query - one held-out row alone, as
DataInf's notebooks score each validation point, and as a paid request is one generation. Then the LDS:
`--subsets` random halves of the rows, a LoRA fine-tune from scratch on each (the same recipe), each
held-out row's loss measured; the LDS is the mean over rows of the Spearman correlation between the
measured −loss and the sum of the kept rows' scores. Methods: ours (token-normalised gradients, damped
per-layer Fisher inverse with damping chosen from the data, unit rows), DataInf's closed form, plain
gradient dot-product, and Kronfluence's EK-FAC with the LoRA modules as its tracked modules (from
`pip install -e .[bench]`; reported as not run without it). Last, p50/p95 of one query (backward +
projection + scoring) against a 1,000-row index, on CPU.

    python bench/lora_attribution.py [--per-task 90] [--subsets 16] [--settings datainf response_only]

Targets: AUC ≥ 0.99 and recall ≥ 0.95 for ours; its LDS above every yardstick; ≤ 50 ms p50 per query.
`targets_met` says, per setting and kind of query, which of them hold in this run.
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
BASE = {"hidden": 192, "layers": 4, "steps": 1000}  # ~3 min to pretrain once on 2 cores; then cached
CACHE = ROOT / "bench" / ".cache" / "lora-attribution-base-h{hidden}-l{layers}-s{steps}".format(**BASE)
SETTINGS = ("datainf", "response_only")
K, SEED = 64, 0


def _examples(rows, tokenizer, setting: str, first_id: int = 0):
    from gpu_worker.finetune.dataset import DatasetSpec, Row, render

    if setting == "datainf":
        spec = DatasetSpec(snapshots=((1, 1),), template="plain")
        return [render(spec, Row(first_id + i, bytes(32), i + 1, text=r["text"]), tokenizer, 128)
                for i, r in enumerate(rows)]
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


def evaluate(setting: str, args, tokenizer, work: Path) -> dict:
    """One setting: fine-tune, score with every method, identify, retrain subsets for the LDS."""
    import torch
    from scipy.stats import spearmanr

    from gpu_worker.finetune.synthetic import task_rows
    from gpu_worker.finetune.trainer import collate
    from gpu_worker.gradient import lora_influence as influence
    from gpu_worker.gradient.damping import choose_adapter_damping

    rows, held = task_rows(args.per_task, seed=0), task_rows(args.queries_per_task, seed=1)
    tasks, held_tasks = np.array([r["task"] for r in rows]), np.array([r["task"] for r in held])
    names = sorted(set(tasks))
    steps = args.steps or len(rows) // 8
    pad = tokenizer.pad_token_id
    train, queries = _examples(rows, tokenizer, setting), _examples(held, tokenizer, setting, 10 ** 6)
    started = time.perf_counter()
    adapter_dir, config = _finetune(CACHE, train, steps, work / "full")
    timings = {"fine_tune": round(time.perf_counter() - started, 1)}
    model, _ = _peft(CACHE, adapter_dir)

    row_scores, task_scores, chosen = {}, {}, None
    for name in influence.METHODS:
        normalized = influence.TOKEN_NORMALIZED[name]
        started = time.perf_counter()
        layout, grads = influence.per_example_gradients(model, train, pad, token_normalized=normalized)
        timings[f"{name}_row_gradients"] = round(time.perf_counter() - started, 1)
        _, qgrads = influence.per_example_gradients(model, queries, pad, token_normalized=normalized)
        blocks = influence.project_layers(grads, layout, K, SEED)
        damping = 0.0
        if name == "ours":
            checks = _examples(task_rows(2, seed=2), tokenizer, setting, 2 * 10 ** 6)
            _, cgrads = influence.per_example_gradients(model, checks, pad, token_normalized=True)
            started = time.perf_counter()
            chosen = choose_adapter_damping(model, "default", train, checks, pad, blocks,
                                            influence.project_layers(cgrads, layout, K, SEED), config.learning_rate,
                                            SEED)
            timings["ours_damping_choice"] = round(time.perf_counter() - started, 1)
            damping = chosen["damping"]
        features = influence.row_features(blocks, influence.operators(blocks, layout, name, damping), name)
        row_scores[name] = influence.scores(influence.project_layers(qgrads, layout, K, SEED), features)
        task_means = np.stack([qgrads[held_tasks == t].mean(0) for t in names])
        task_scores[name] = influence.scores(influence.project_layers(task_means, layout, K, SEED), features)

    same_task, same_row_task = [tasks == t for t in names], [tasks == t for t in held_tasks]
    quality = {name: {"task_query": _identify(task_scores[name], same_task),
                      "row_query": _identify(row_scores[name], same_row_task)} for name in influence.METHODS}
    try:
        started = time.perf_counter()
        row_scores["kronfluence"] = _kronfluence(adapter_dir, train, queries, pad, work)
        timings["kronfluence_factors_and_scores"] = round(time.perf_counter() - started, 1)
        quality["kronfluence"] = {  # its queries are single rows; its task query is the sum of their scores
            "task_query": _identify(np.stack([row_scores["kronfluence"][held_tasks == t].sum(0) for t in names]),
                                    same_task),
            "row_query": _identify(row_scores["kronfluence"], same_row_task)}
    except ImportError:
        quality["kronfluence"] = {"skipped": "kronfluence is not installed (pip install -e .[bench])"}

    # LDS: fine-tunes from scratch on random halves of the rows, each held-out row's loss measured
    rng = np.random.default_rng(7)
    masks = np.zeros((args.subsets, len(train)), dtype=bool)
    outcomes = np.zeros((args.subsets, len(queries)))
    started = time.perf_counter()
    for s in range(args.subsets):
        masks[s, rng.permutation(len(train))[: len(train) // 2]] = True
        kept = [e for e, m in zip(train, masks[s], strict=True) if m]
        sub_dir, _ = _finetune(CACHE, kept, steps // 2, work / f"subset-{s}")
        sub_model, _ = _peft(CACHE, sub_dir)
        with torch.no_grad():
            outcomes[s] = -influence.per_example_loss(sub_model, collate(queries, pad, "cpu")).numpy()
    timings["lds_retrains"] = round(time.perf_counter() - started, 1)
    for name, scores in row_scores.items():
        predicted = masks.astype(float) @ scores.T
        per_query = [spearmanr(predicted[:, j], outcomes[:, j]).statistic for j in range(len(queries))]
        quality[name]["lds"] = round(float(np.nanmean(per_query)), 4)

    ours = quality["ours"]
    yardsticks = [q["lds"] for n, q in quality.items() if n != "ours" and "lds" in q]
    met = {kind: {"auc": ours[kind]["auc"] >= 0.99, "recall": ours[kind]["recall"] >= 0.95}
           for kind in ("task_query", "row_query")}
    met["lds_above_every_yardstick"] = all(ours["lds"] > y for y in yardsticks)
    return {"rows": len(train), "tasks": len(names), "queries": len(queries), "fine_tune_steps": steps,
            "modules": len(layout), "lora_parameters": int(grads.shape[1]), "damping": chosen,
            "methods": quality, "targets_met": met, "seconds": timings,
            "_latency": (model, layout, blocks, chosen["damping"], queries)}


def query_latency(model, layout, blocks, damping: float, queries, pad: int) -> dict:
    """One query against a 1,000-row index: backward, projection, scoring."""
    from gpu_worker.gradient import lora_influence as influence

    features = influence.row_features(blocks, influence.operators(blocks, layout, "ours", damping), "ours")
    features = np.resize(features, (1000, features.shape[1])).astype(np.float32).astype(np.float64)
    times = []
    for q in queries[:40]:
        t0 = time.perf_counter()
        _, g = influence.per_example_gradients(model, [q], pad, token_normalized=True)
        influence.scores(influence.project_layers(g, layout, K, SEED), features)
        times.append((time.perf_counter() - t0) * 1000)
    return {"p50": round(statistics.median(times), 2), "p95": round(float(np.percentile(times, 95)), 2),
            "index_rows": 1000}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--per-task", type=int, default=90)
    parser.add_argument("--queries-per-task", type=int, default=10, help="held-out rows per task (DataInf: 10)")
    parser.add_argument("--subsets", type=int, default=16, help="retrains for the LDS (two sets of 8 ranked "
                        "methods within ~0.02 of each other differently)")
    parser.add_argument("--steps", type=int, default=0, help="fine-tuning steps (0: one epoch)")
    parser.add_argument("--settings", nargs="+", choices=SETTINGS, default=list(SETTINGS))
    args = parser.parse_args()

    import torch

    from gpu_worker.finetune.pretrain import pretrain_base
    from gpu_worker.finetune.trainer import load_tokenizer

    torch.set_num_threads(1)
    if not (CACHE / "config.json").exists():
        pretrain_base(CACHE, **BASE)
    tokenizer = load_tokenizer(CACHE)
    report = {"projection_k_per_module": K, "settings": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for setting in args.settings:
            result = evaluate(setting, args, tokenizer, Path(tmp) / setting)
            latency = result.pop("_latency")
            report["settings"][setting] = result
            print(json.dumps({setting: result["methods"]["ours"]}), file=sys.stderr, flush=True)
        report["query_ms"] = query_latency(*latency, tokenizer.pad_token_id)
    report["targets"] = {"auc": 0.99, "recall": 0.95, "query_ms_p50": 50, "lds": "ours above every yardstick"}
    print(json.dumps(report, indent=1))


def _kronfluence(adapter_dir: Path, train, queries, pad: int, work: Path) -> np.ndarray:
    """Kronfluence's EK-FAC influence with the LoRA modules (lora_A, lora_B of every target) as the tracked
    modules, loss on the response tokens for both the fit and the measurement: scores [queries, rows]."""
    import torch
    from kronfluence.analyzer import Analyzer, prepare_model
    from kronfluence.arguments import FactorArguments, ScoreArguments
    from kronfluence.task import Task
    from peft import PeftModel

    from gpu_worker.finetune.trainer import collate, load_base

    model = PeftModel.from_pretrained(load_base(CACHE)[0], adapter_dir, is_trainable=True).eval()
    tracked = [name for name, m in model.named_modules() if isinstance(m, torch.nn.Linear)
               and (".lora_A." in name or ".lora_B." in name)]

    class ResponseLoss(Task):
        def compute_train_loss(self, batch, model, sample=False):
            ids, labels, mask = batch
            logits = model(input_ids=ids, attention_mask=mask).logits[:, :-1].float()
            targets = labels[:, 1:]
            if sample:  # the true Fisher: labels drawn from the model where the loss is taken
                with torch.no_grad():
                    drawn = torch.multinomial(logits.detach().softmax(-1).flatten(0, 1), 1).view(targets.shape)
                    targets = torch.where(targets != -100, drawn, targets)
            losses = torch.nn.functional.cross_entropy(logits.transpose(1, 2), targets.clamp(min=0), reduction="none")
            kept = (targets != -100).float()
            return ((losses * kept).sum(1) / kept.sum(1).clamp(min=1)).sum()

        def compute_measurement(self, batch, model):
            return self.compute_train_loss(batch, model)

        def get_influence_tracked_modules(self):
            return tracked

        def get_attention_mask(self, batch):
            return batch[2]

    def dataset(examples):
        batch = collate(examples, pad, "cpu")
        return torch.utils.data.TensorDataset(batch["input_ids"], batch["labels"], batch["attention_mask"])

    task = ResponseLoss()
    model = prepare_model(model, task)
    analyzer = Analyzer(analysis_name="lora", model=model, task=task, cpu=True, output_dir=str(work / "kronfluence"),
                        disable_tqdm=True)
    analyzer.fit_all_factors(factors_name="ekfac", dataset=dataset(train), per_device_batch_size=32,
                             factor_args=FactorArguments(strategy="ekfac"), overwrite_output_dir=True)
    analyzer.compute_pairwise_scores(scores_name="scores", factors_name="ekfac", query_dataset=dataset(queries),
                                     train_dataset=dataset(train), per_device_query_batch_size=50,
                                     per_device_train_batch_size=64, score_args=ScoreArguments(),
                                     overwrite_output_dir=True)
    return analyzer.load_pairwise_scores("scores")["all_modules"].numpy().astype(np.float64)


def _identify(scores: np.ndarray, positives: list[np.ndarray]) -> dict:
    """Mean AUC and recall of the same-task rows over the queries (rows of `scores`)."""
    aucs, recalls = [], []
    for row, positive in zip(scores, positives, strict=True):
        aucs.append(_auc(row, positive))
        recalls.append(float(positive[np.argsort(-row, kind="stable")[: positive.sum()]].mean()))
    return {"auc": round(float(np.mean(aucs)), 4), "recall": round(float(np.mean(recalls)), 4)}


if __name__ == "__main__":
    main()
