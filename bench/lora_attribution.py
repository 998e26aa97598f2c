"""LoRA-gradient attribution: DataInf's "identify the fine-tuning subset" protocol, LDS, and query latency.

A small base (a 4-layer, 192-wide LLaMA pretrained here on Python's docs, cached in bench/.cache) is
fine-tuned with LoRA (r 8, all linear layers, one epoch) on synthetic text tasks × `--per-task` rows
(gpu_worker/finetune/synthetic.py), with 10 more per task held out (DataInf's 90/10 split), in two
settings (response_only on each of `--task-sets`: the 10 distinct tasks; 16 `separators` tasks whose
outputs differ in one repeated character; 6 `suffixes` tasks that differ in part of each word):
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
measured −loss and the sum of the kept rows' scores (`lds`: the loss of the whole answer; `lds_taught`: of
its tokens that do not echo the prompt). Methods: ours (what an index on the adapter does: each row read by
the reading - token-normalised or plain loss, with the answer tokens that echo the prompt at 0.5 or 0.25 or
not, gpu_worker/gradient/readings.py - with a damping - up to none at all: plain cosine - and a power of the
damped per-layer Fisher - its inverse or inverse square root -, unit rows, sketched to
`adapter_index.sketch_dims` per module, 256 on this 28-module adapter; two settings chosen from the data by the
worker's rule, `damping.choose_adapter_damping`, each task's rows one contribution: the one that pays, whose
AUC and recall these are, and the one that predicts effects, whose LDS this is - `lds_of_what_pays` beside it),
`ours_every_token_k64` (the same rule over the token-normalised and plain readings of every token only, 64
dims per module: what the echo readings and the larger sketch add), DataInf's closed form and plain gradient
dot-product (plain gradients,
ours' sketch), and Kronfluence's EK-FAC with the LoRA modules as its tracked modules
(from `pip install -e .[bench]`; reported as not run without it). Last, p50/p95 of one query (backward +
projection + scoring) against a 1,000-row index, on CPU.

The third setting, facts, is the real model: SmolLM2-135M-Instruct with one LoRA adapter per invented-facts
DataNet (gpu_worker/finetune/facts.py), fine-tuned with the demo's ModelFactory job and indexed as its
publish step does (cached in bench/.cache by base, config and rows). Each held-out question is answered
greedily by OpenLoRA's paid path (≤ 64 tokens) and credited by AdapterIndex.credit - what the worker's
Attributor runs - as span, LoRA-gradient and both: top-1 contributor (the fact's owner), AUC / recall of
the owner's and of the fact's own rows, latency (over the paid answers, and for the gradient methods again
over answers of the 64 tokens a paid generation may give: the target's other end), attribution's share of
the paid generation's time, and the contributors' share of stock replies that state no fact (boilerplate:
should be 0).

    python bench/lora_attribution.py [--per-task 90] [--subsets 16] [--settings datainf response_only facts]
                                     [--task-sets distinct separators suffixes]

Targets: AUC ≥ 0.99 and recall ≥ 0.95 for ours; its LDS above every yardstick; ≤ 50 ms p50 per query;
and per task set (issue 29): AUC ≥ 0.95, AUC and recall above DataInf's and grad-dot's, LDS not below the
better of theirs. `targets_met` says, per setting, task set and kind of query, which of them hold in this run.
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
SETTINGS = ("datainf", "response_only", "facts")
GRADIENT_METHODS = ("lora-gradient", "span+lora-gradient")  # a query's forwards and backward: its length costs
YARDSTICKS = ("datainf", "grad_dot")
SEED = 0
K_BEFORE = 64  # dims per module before an index's sketch was sized by its modules' count (adapter_index.sketch_dims)


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


def evaluate(setting: str, task_set: str, args, tokenizer, work: Path) -> dict:
    """One setting on one task set: fine-tune, score with every method, identify, retrain subsets for the LDS."""
    import torch
    from scipy.stats import spearmanr

    from gpu_worker.adapter_index import sketch_dims
    from gpu_worker.finetune.synthetic import task_rows
    from gpu_worker.finetune.trainer import collate
    from gpu_worker.gradient import lora_influence as influence
    from gpu_worker.gradient.damping import ADAPTER_SETTINGS, choose_adapter_damping
    from gpu_worker.gradient.echoes import without_echoes
    from gpu_worker.gradient.readings import PLAIN, READINGS, TOKEN, Reading

    rows = task_rows(args.per_task, seed=0, task_set=task_set)
    held = task_rows(args.queries_per_task, seed=1, task_set=task_set)
    tasks, held_tasks = np.array([r["task"] for r in rows]), np.array([r["task"] for r in held])
    names = sorted(set(tasks))
    steps = args.steps or len(rows) // 8
    pad = tokenizer.pad_token_id
    train, queries = _examples(rows, tokenizer, setting), _examples(held, tokenizer, setting, 10 ** 6)
    started = time.perf_counter()
    adapter_dir, config = _finetune(CACHE, train, steps, work / "full")
    timings = {"fine_tune": round(time.perf_counter() - started, 1)}
    model, _ = _peft(CACHE, adapter_dir)

    # every reading's whole gradients (the echo readings mixed from their two passes, as readings.projections
    # mixes sketches), of the rows, the held-out queries and the rule's check rows
    check_rows = _examples(task_rows(2, seed=2, task_set=task_set), tokenizer, setting, 2 * 10 ** 6)
    parts = (train, queries, check_rows)
    started = time.perf_counter()
    passes = {r: [influence.per_example_gradients(model, [r.read(e, tokenizer) for e in part], pad,
                                                  token_normalized=r.token_normalized) for part in parts]
              for r in sorted({p for r in READINGS for p in r.passes}, key=lambda r: r.name)}
    layout = passes[PLAIN][0][0]
    grads = {r: [g for _, g in passes[r]] if r in passes else
             [r.mixed(w1, w0) for (_, w1), (_, w0) in zip(*(passes[p] for p in r.passes), strict=True)]
             for r in READINGS}
    timings["gradients"] = round(time.perf_counter() - started, 1)
    k = sketch_dims(len(layout))  # what an index on this adapter sketches to (its modules all read)

    def sketched(reading: Reading, part: int, dims: int) -> list[np.ndarray]:
        return influence.project_layers(grads[reading][part], layout, dims, SEED)

    rule = {}  # the index's rule (every reading, `k` dims per module), and the one before (every token, 64 dims)
    for name, kinds, dims in (("ours", READINGS, k), ("ours_every_token_k64", (TOKEN, PLAIN), K_BEFORE)):
        started = time.perf_counter()  # each task's rows are one contribution, as one contributor's file would be
        rule[name] = choose_adapter_damping(model, "default", train, check_rows, pad, layout,
                                            {r: sketched(r, 0, dims) for r in kinds},
                                            {r: sketched(r, 2, dims) for r in kinds},
                                            np.searchsorted(names, tasks), config.learning_rate, SEED) | {"k": dims}
        timings[f"damping_choice_{name}"] = round(time.perf_counter() - started, 1)
    row_scores, task_scores, effect_scores = {}, {}, {}  # effects: the rule's setting for them (a yardstick: itself)
    for name in (*rule, *YARDSTICKS):
        choice = rule.get(name, {"token_normalized": False, "echo_weight": 1.0, "damping": 0.0,
                                 "power": influence.INVERSE, "k": k})
        method, dims = "ours" if name in rule else name, choice["k"]
        reading, features = _features(sketched, layout, choice, method, dims)
        row_scores[name] = influence.scores(sketched(reading, 1, dims), features)
        task_means = np.stack([grads[reading][1][held_tasks == t].mean(0) for t in names])
        task_scores[name] = influence.scores(influence.project_layers(task_means, layout, dims, SEED), features)
        reading, features = _features(sketched, layout, choice.get("effect", choice), method, dims)
        effect_scores[name] = influence.scores(sketched(reading, 1, dims), features)

    every = {}  # every setting the rule weighs, on the held-out rows: where identification and LDS part ways
    for reading in READINGS:
        blocks = sketched(reading, 0, k)
        for c, power in ADAPTER_SETTINGS:
            features = influence.setting_features(blocks, layout, "ours", c, power)
            every[f"{reading.name} {'cosine' if c == influence.NO_CURVATURE else f'c={c:g} p={power:g}'}"] = \
                influence.scores(sketched(reading, 1, k), features)

    same_task, same_row_task = [tasks == t for t in names], [tasks == t for t in held_tasks]
    quality = {name: {"task_query": _identify(task_scores[name], same_task),
                      "row_query": _identify(row_scores[name], same_row_task)} for name in row_scores}
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
    outcomes = np.zeros((args.subsets, len(queries)))  # each held-out row's loss over its whole answer
    outcomes_taught = np.zeros((args.subsets, len(queries)))  # and over the tokens that do not echo its prompt
    taught_queries = [without_echoes(e, tokenizer) for e in queries]
    started = time.perf_counter()
    for s in range(args.subsets):
        masks[s, rng.permutation(len(train))[: len(train) // 2]] = True
        kept = [e for e, m in zip(train, masks[s], strict=True) if m]
        sub_dir, _ = _finetune(CACHE, kept, steps // 2, work / f"subset-{s}")
        sub_model, _ = _peft(CACHE, sub_dir)
        with torch.no_grad():
            outcomes[s] = -influence.per_example_loss(sub_model, collate(queries, pad, "cpu")).numpy()
            if setting == "response_only":
                outcomes_taught[s] = -influence.per_example_loss(sub_model, collate(taught_queries, pad,
                                                                                    "cpu")).numpy()
    timings["lds_retrains"] = round(time.perf_counter() - started, 1)

    def lds(scores: np.ndarray, measured: np.ndarray) -> float:
        predicted = masks.astype(float) @ scores.T
        return round(float(np.nanmean([spearmanr(predicted[:, j], measured[:, j]).statistic
                                       for j in range(len(queries))])), 4)

    fields = (("lds", outcomes), *([("lds_taught", outcomes_taught)] if setting == "response_only" else []))
    for name, scores in row_scores.items():  # the rule's LDS is its effect setting's, what pays' beside it (a
        # yardstick's are one; Kronfluence, scored apart, has its own alone)
        quality[name].update({field: lds(effect_scores.get(name, scores), measured) for field, measured in fields},
                             lds_of_what_pays=lds(scores, outcomes))
    every_setting = {name: {"row_query": _identify(scores, same_row_task),
                            **{field: lds(scores, measured) for field, measured in fields}}
                     for name, scores in every.items()}

    return {"rows": len(train), "tasks": len(names), "queries": len(queries), "fine_tune_steps": steps,
            "modules": len(layout), "lora_parameters": int(grads[PLAIN][0].shape[1]),
            "damping": {name: {key: choice[key] for key in ("damping", "power", "token_normalized", "echo_weight",
                                                           "k", "effect")}
                        for name, choice in rule.items()},
            "damping_evidence": rule["ours"], "methods": quality, "every_setting": every_setting,
            "targets_met": targets_met(quality),
            "seconds": timings, "_latency": (model, layout, rule["ours"], queries)}


def _features(sketched, layout, choice: dict, method: str, dims: int):
    """(the reading, the rows' features) of one setting (`choice`: its reading, damping and power) of `method`;
    `sketched(reading, part, dims)` gives a part's sketched gradients."""
    from gpu_worker.gradient import lora_influence as influence
    from gpu_worker.gradient.readings import Reading

    reading = Reading.of(choice)
    return reading, influence.setting_features(sketched(reading, 0, dims), layout, method, choice["damping"],
                                               choice["power"])


def targets_met(quality: dict) -> dict:
    """Which targets ours meets, per kind of query: AUC ≥ 0.99 and recall ≥ 0.95 (DataInf's protocol); AUC
    ≥ 0.95 with AUC and recall above both yardsticks (DataInf's closed form, gradient dot-product) - of the
    setting that pays -; and LDS - of the setting that predicts effects - above every yardstick run
    (Kronfluence too, when installed) and not below the best of the two."""
    ours = quality["ours"]
    lds = {n: q["lds"] for n, q in quality.items() if not n.startswith("ours") and "lds" in q}
    met = {kind: {"auc": ours[kind]["auc"] >= 0.99, "recall": ours[kind]["recall"] >= 0.95,
                  "auc_095": ours[kind]["auc"] >= 0.95,
                  "above_yardsticks": all(ours[kind][m] > quality[y][kind][m]
                                          for y in YARDSTICKS for m in ("auc", "recall"))}
           for kind in ("task_query", "row_query")}
    met["lds_above_every_yardstick"] = all(ours["lds"] > y for y in lds.values())
    met["lds_not_below_best_yardstick"] = ours["lds"] >= max(lds[y] for y in YARDSTICKS)
    return met


def query_latency(model, layout, chosen: dict, queries, tokenizer) -> dict:
    """One query against a 1,000-row index: its reading (echo weights: the tokenizer's decode), backward,
    projection (from the factors, as AdapterIndex), scoring - with the chosen reading and sketch size."""
    from gpu_worker.gradient import lora_influence as influence
    from gpu_worker.gradient.readings import Reading

    reading = Reading.of(chosen)
    features = None
    times = []
    for q in queries[:40]:
        t0 = time.perf_counter()
        _, blocks = influence.per_example_projections(model, [reading.read(q, tokenizer)], tokenizer.pad_token_id,
                                                      chosen["k"], SEED, token_normalized=reading.token_normalized)
        if features is None:  # the scoring's cost depends on the index's shape alone
            width = sum(b.shape[1] for b in blocks)
            features = np.random.default_rng(0).standard_normal((1000, width)).astype(np.float32).astype(np.float64)
        influence.scores(blocks, features)
        times.append((time.perf_counter() - t0) * 1000)
    return {"p50": round(statistics.median(times), 2), "p95": round(float(np.percentile(times, 95)), 2),
            "index_rows": 1000, "dims": features.shape[1]}


# --- the SmolLM2 fact set: a paid answer's credit should go to the owner of the fact it states -----------
FACTS_CACHE = ROOT / "bench" / ".cache"
BOILERPLATE = ("I'm sorry, I don't know.", "I don't have that information.",
               "I'm not sure. Could you tell me more about what you are looking for?")


def _facts_adapter(base_dir: Path, domain: str):
    """One domain's adapter, fine-tuned as the demo's ModelFactory job does (its config, the chat template,
    one contribution per owner), and the attribution index its publish step builds (span + LoRA-gradient);
    cached under bench/.cache by the base, the config and the rows. Returns (config, data, adapter, index)."""
    import hashlib
    import shutil

    from cli.demo_modelfactory import JOB
    from gpu_worker.adapter_index import BOTH, build_for_publish
    from gpu_worker.finetune.config import TrainingConfig
    from gpu_worker.finetune.dataset import DatasetSpec, Source, prepare
    from gpu_worker.finetune.facts import fact_rows, owners
    from gpu_worker.finetune.trainer import load_base, train
    from runtime.crypto import Keypair

    sources = [Source(i + 1, Keypair.from_uri(who).public, bytes([i + 1]) * 32, "jsonl",
                      "\n".join(json.dumps(r) for r in fact_rows(domain, who)).encode())
               for i, who in enumerate(owners(domain))]
    spec = DatasetSpec(snapshots=((1, 1),), template=JOB["template"])
    config = TrainingConfig(base_model="00" * 32, dataset=spec, **{k: v for k, v in JOB.items() if k != "template"})
    key = hashlib.blake2b(b"|".join([base_dir.name.encode(), config.to_json(), *(s.data for s in sources)]),
                          digest_size=8).hexdigest()
    root = FACTS_CACHE / f"lora-attribution-facts-{domain}-{key}"
    base, tokenizer = load_base(base_dir)
    data = prepare(spec, sources, tokenizer, config.cutoff)
    if not (root / "adapter" / "adapter_config.json").exists():
        with tempfile.TemporaryDirectory() as job:
            outcome = train(config, base, tokenizer, data.train, data.eval, Path(job), report=lambda point: None)
            shutil.copytree(outcome.adapter_dir, root / ".adapter", dirs_exist_ok=True)
        (root / ".adapter").replace(root / "adapter")
    if not _current_index(root / "index"):
        from peft import PeftModel

        shutil.rmtree(root / ".index", ignore_errors=True)
        shutil.rmtree(root / "index", ignore_errors=True)  # built with another projection
        model = PeftModel.from_pretrained(load_base(base_dir)[0], root / "adapter").eval()  # training wrapped base
        trained = config.steps_for(len(data.train)) * config.batch_size * config.grad_accum
        build_for_publish(model, tokenizer, data.train, data.eval, root / ".index", BOTH, 5000,
                          config.learning_rate, trained)
        (root / ".index").replace(root / "index")
    return config, data, root / "adapter", root / "index"


def _current_index(root: Path) -> bool:
    """An index is there, sketched as AdapterIndex sketches a query, chosen by the current damping rule among the
    current candidates and readings, and reading the layers an index reads now (else it is rebuilt; the adapter
    is kept)."""
    from gpu_worker.adapter_index import GRADIENT_LAYERS, PROJECTION
    from gpu_worker.frozen_base import native_dtype
    from gpu_worker.gradient.damping import ADAPTER_RULE, ADAPTER_SETTINGS
    from gpu_worker.gradient.readings import READINGS

    meta = root / "attribution.json"
    gradient = json.loads(meta.read_text())["gradient"] if meta.exists() else {}
    choice = gradient.get("damping", {})
    return gradient.get("projection") == PROJECTION and choice.get("rule") == ADAPTER_RULE \
        and choice.get("candidates") == [list(setting) for setting in ADAPTER_SETTINGS] \
        and choice.get("kinds") == [r.name for r in READINGS] \
        and gradient.get("base_dtype", "float32") == native_dtype("cpu") and gradient.get("layers") == GRADIENT_LAYERS


def _generate(engine, base_key: bytes, adapter: bytes, prompt: list[int], eos: int) -> list[int]:
    """A paid generation's tokens from OpenLoRA (greedy, ≤ 64 new tokens, the stop token kept)."""
    from gpu_worker.lora.sampling import Sampler
    from gpu_worker.paid.engine import DEFAULT_NEW_TOKENS

    job = engine.submit_paid(base_key, adapter, prompt, DEFAULT_NEW_TOKENS, Sampler(), frozenset({eos}))
    output = []
    while (token := job.tokens.get()) is not None:
        output.append(token)
    if job.error:
        raise RuntimeError(job.error)
    return output


def _paid_query(prompt: list[int], output: list[int]):
    """The example a paid generation is attributed as (PaidEngine.attribute): prompt unlabelled, output labelled."""
    from gpu_worker.rows import IGNORE, Example, Row

    return Example(Row(0, b"", 0), "", tuple(prompt + output), tuple([IGNORE] * len(prompt) + output))


def evaluate_facts() -> dict:
    """Per domain: fine-tune (or reuse) the adapter and its index; per held-out question: a greedy paid answer
    from OpenLoRA, then its credit by each method through AdapterIndex.credit (what Attributor runs);
    then the same for replies that state no fact (boilerplate)."""
    from peft import PeftModel

    from bench.finetune_defaults import smollm2
    from gpu_worker.adapter_index import METHOD_NAMES, AdapterIndex
    from gpu_worker.finetune.dataset import prompt_text
    from gpu_worker.finetune.facts import KETTLE, TOWN, held_out, is_correct
    from gpu_worker.finetune.trainer import load_base
    from gpu_worker.lora.engine import LoRAEngine
    from runtime.crypto import Keypair

    base_dir = smollm2()
    engine, base_key = LoRAEngine("cpu"), b"smollm2"
    engine.serve_base(base_key, base_dir)
    records, boiler, longest, timings = [], [], [], {}
    try:
        for domain in (TOWN, KETTLE):
            started = time.perf_counter()
            config, data, adapter_dir, index_dir = _facts_adapter(base_dir, domain)
            timings[f"{domain}_adapter_and_index"] = round(time.perf_counter() - started, 1)
            base, tokenizer = load_base(base_dir)
            index = AdapterIndex(index_dir)
            model = index.prepare(PeftModel.from_pretrained(base, adapter_dir).eval())  # as the attributor holds it
            adapter = engine.load_adapter(adapter_dir).hash
            who = [c for _, c in index.contributions]
            responses = np.array([e.row.messages[-1][1] for e in data.train])
            prompts = [(fact, tokenizer.encode(prompt_text(tokenizer, fact.held_out, config.dataset.template),
                                               add_special_tokens=False)) for fact in held_out(domain)]
            for fact, prompt in prompts:
                started = time.perf_counter()
                output = _generate(engine, base_key, adapter, prompt, tokenizer.eos_token_id)
                record = {"domain": domain, "generate_s": time.perf_counter() - started, "tokens": len(output),
                          "correct": is_correct(fact, tokenizer.decode(output, skip_special_tokens=True)),
                          "owner": who.index(Keypair.from_uri(fact.owner).public),
                          "fact_rows": responses == fact.answer}
                record["owner_rows"] = index.row_contribution == record["owner"]
                for method in METHOD_NAMES:
                    record[method] = _credit(index, method, model, tokenizer, prompt, output)
                records.append(record)
            for reply in BOILERPLATE:  # a reply that states no fact, after each contributor's first question
                output = tokenizer.encode(reply + tokenizer.eos_token, add_special_tokens=False)
                for _, prompt in {fact.owner: (fact, p) for fact, p in reversed(prompts)}.values():
                    boiler.append({m: _credit(index, m, model, tokenizer, prompt, output) for m in METHOD_NAMES})
            longest.extend(_longest_answers(index, model, tokenizer, prompts, responses))
            index.close()
    finally:
        engine.close()
    correct = [r for r in records if r["correct"]]
    methods = {}
    for method in METHOD_NAMES:
        ms = np.array([r[method]["seconds"] for r in records]) * 1000
        share = [r[method]["seconds"] / (r[method]["seconds"] + r["generate_s"]) for r in records]
        owner, fact = ([_rows_found(r[method]["rows"], r[key]) for r in correct]
                       for key in ("owner_rows", "fact_rows"))
        methods[method] = {
            "top1_all": round(float(np.mean([r[method]["top"] == r["owner"] for r in records])), 4),
            "top1_correct": round(float(np.mean([r[method]["top"] == r["owner"] for r in correct])), 4)
            if correct else None,
            "owner_share_correct": round(float(np.mean([r[method]["shares"][r["owner"]] for r in correct])), 4)
            if correct else None,
            "paid_fraction_correct": round(float(np.mean([sum(r[method]["shares"]) for r in correct])), 4)
            if correct else None,
            "owner_rows": _mean(owner), "fact_rows": _mean(fact),
            "attribution_ms": {"p50": round(float(np.median(ms)), 1), "p95": round(float(np.percentile(ms, 95)), 1)},
            "share_of_paid_generation_time": {"p50": round(float(np.median(share)), 4),
                                              "overall": round(float(sum(r[method]["seconds"] for r in records) / sum(
                                                  r[method]["seconds"] + r["generate_s"] for r in records)), 4)},
            "boilerplate_contributor_share": {
                "mean": round(float(np.mean([sum(b[method]["shares"]) for b in boiler])), 4),
                "max": round(float(np.max([sum(b[method]["shares"]) for b in boiler])), 4)}}
    for method in GRADIENT_METHODS:  # the longest answer a paid generation gives: the target's other end
        ms = np.array([q[method] for q in longest]) * 1000  # every query runs its backward pass
        methods[method]["attribution_ms_64_token_answers"] = {
            "p50": round(float(np.median(ms)), 1), "p95": round(float(np.percentile(ms, 95)), 1),
            "answers": len(longest), "with_positive_gain": sum(q["gain"] > 0 for q in longest)}
    generate_ms = np.array([r["generate_s"] for r in records]) * 1000
    p50 = {m: methods[m]["attribution_ms"]["p50"] for m in METHOD_NAMES}
    return {"base": base_dir.name, "questions": len(records), "answered_correctly": len(correct),
            "output_tokens_p50": float(np.median([r["tokens"] for r in records])),
            "generation_ms": {"p50": round(float(np.median(generate_ms)), 1)}, "methods": methods,
            "targets_met": {m: {"top1_correct_90": (methods[m]["top1_correct"] or 0) >= 0.9,
                                "latency_p50_500ms": p50[m] <= 500,
                                **({"latency_p50_500ms_64_token_answers":
                                    methods[m]["attribution_ms_64_token_answers"]["p50"] <= 500}
                                   if m in GRADIENT_METHODS else {}),
                                "time_share_50": methods[m]["share_of_paid_generation_time"]["overall"] <= 0.5,
                                "boilerplate_earns_nothing": methods[m]["boilerplate_contributor_share"]["max"] <= 0.01}
                            for m in METHOD_NAMES},
            "seconds": timings}


def _longest_answers(index, model, tokenizer, prompts, responses: np.ndarray) -> list[dict]:
    """Per held-out question, the credit's seconds by each gradient method for an answer as long as a paid
    generation may be (DEFAULT_NEW_TOKENS, the stop token last): the domain's own trained answers run together,
    from the question's place in them on - facts the adapter makes likelier, so the gain is mostly positive
    (`gain`; a query runs its backward pass either way: it starts before the gain is known)."""
    from gpu_worker.paid.engine import DEFAULT_NEW_TOKENS

    found = []
    for i, (_, prompt) in enumerate(prompts):
        told = " ".join(np.roll(responses, -5 * i)[:16])
        output = tokenizer.encode(told, add_special_tokens=False)[:DEFAULT_NEW_TOKENS - 1] + [tokenizer.eos_token_id]
        found.append({m: _credit(index, m, model, tokenizer, prompt, output)["seconds"] for m in GRADIENT_METHODS})
        found[-1]["gain"] = index.gradient_scores(model, tokenizer, _paid_query(prompt, output))[0]
    return found


def _credit(index, method: str, model, tokenizer, prompt: list[int], output: list[int]) -> dict:
    """The credit `index` gives one generation when the model record names `method`. The published index
    holds both parts (span/ and the gradient features, built as a span-only or a gradient-only index would
    build them), so each method reads the same files; only the mix differs."""
    index.method = method
    started = time.perf_counter()
    credit = index.credit(model, tokenizer, _paid_query(prompt, output), output)
    seconds = time.perf_counter() - started
    shares = np.bincount(index.row_contribution, weights=credit.rows, minlength=len(index.contributions))
    return {"seconds": seconds, "rows": credit.rows, "shares": shares,
            "top": int(np.argmax(shares)) if shares.max() > 0 else -1}


def _rows_found(scores: np.ndarray, positive: np.ndarray) -> tuple[float, float]:
    """AUC and recall (share of the positives among the top-|positives| rows) of one query's row credit."""
    return _auc(scores, positive), float(positive[np.argsort(-scores, kind="stable")[: positive.sum()]].mean())


def _mean(found: list[tuple[float, float]]) -> dict | None:
    if not found:
        return None
    aucs, recalls = zip(*found, strict=True)
    return {"auc": round(float(np.mean(aucs)), 4), "recall": round(float(np.mean(recalls)), 4)}


def main() -> None:
    from gpu_worker.finetune.synthetic import TASK_SETS

    parser = argparse.ArgumentParser()
    parser.add_argument("--per-task", type=int, default=90)
    parser.add_argument("--queries-per-task", type=int, default=10, help="held-out rows per task (DataInf: 10)")
    parser.add_argument("--subsets", type=int, default=16, help="retrains for the LDS (two sets of 8 ranked "
                        "methods within ~0.02 of each other differently)")
    parser.add_argument("--steps", type=int, default=0, help="fine-tuning steps (0: one epoch)")
    parser.add_argument("--settings", nargs="+", choices=SETTINGS, default=list(SETTINGS))
    parser.add_argument("--task-sets", nargs="+", choices=list(TASK_SETS), default=list(TASK_SETS),
                        help="response_only's task sets (gpu_worker/finetune/synthetic.py); datainf: distinct only")
    args = parser.parse_args()

    import torch

    from gpu_worker.finetune.pretrain import pretrain_base
    from gpu_worker.finetune.trainer import load_tokenizer

    torch.set_num_threads(1)
    report = {"settings": {}}  # each setting records its sketch's dims per module (`damping`'s k)
    tiny = [s for s in args.settings if s != "facts"]
    if tiny:
        if not (CACHE / "config.json").exists():
            pretrain_base(CACHE, **BASE)
        tokenizer = load_tokenizer(CACHE)
        with tempfile.TemporaryDirectory() as tmp:
            for setting in tiny:  # DataInf's one-text rows exist for the distinct tasks only
                for task_set in args.task_sets if setting == "response_only" else ["distinct"]:
                    result = evaluate(setting, task_set, args, tokenizer, Path(tmp) / setting / task_set)
                    latency = result.pop("_latency")
                    report["settings"].setdefault(setting, {})[task_set] = result
                    print(json.dumps({setting: {task_set: result["methods"]["ours"]}}), file=sys.stderr, flush=True)
            report["query_ms"] = query_latency(*latency, tokenizer)
    if "facts" in args.settings:
        report["settings"]["facts"] = evaluate_facts()
    report["targets"] = {"auc": 0.99, "recall": 0.95, "query_ms_p50": 50, "lds": "ours above every yardstick",
                         "per_task_set": "AUC >= 0.95, AUC and recall above DataInf and grad_dot, LDS not below "
                                         "the better of them"}
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
