"""Damping chosen from the training data: a held-out linear-datamodeling check, per model.

A fixed damping is a guess: on one small MLP 0.1 is best, on another 10 beats it by a wide margin.
So the index chooses it the way its quality is judged (LDS), on the training data alone:

1. hold out a few training examples as validation queries (deterministic, from the index seed);
2. retrain the model, with its own training recipe, on random halves of the rest - as many as a fixed
   budget of retrained examples allows (6 to 32), since a small dataset is cheap to retrain and its
   estimate is the noisiest;
3. for every candidate damping, predict each retrained model's −loss on the queries as the sum of the
   kept examples' influence scores, and score the candidate by the mean Spearman correlation between
   predicted and real outcomes over the subsets;
4. keep the best candidate (ties: the larger damping, the more conservative inverse).

The curvature is decomposed once (eigh), so every candidate costs one rescaling (EK-FAC rebuilds its
factors per candidate). The choice and the evidence for it - candidates, validation scores, held-out
count, subsets - go into the index manifest, so a verifier rebuilding the index from the same data
and seed gets the same damping and the same hash.

LoRA adapters (`choose_adapter_damping`, for `lora_influence.ours_operator`) choose their damping c, the
power of the damped Fisher (its inverse, or its inverse square root: what an Adam step applies) and their
reading of a row's gradient (`readings`: token-normalised or plain loss, with the answer tokens that echo the
prompt at a lower weight or not) together, on the fine-tune's own data, by what the credit is for as well as
by LDS:

1. the queries are the fine-tune's held-out rows (or, without any, a few training rows);
2. starting from the published adapter, continue training on random halves of the training rows
   (`ADAPTER_SUBSETS` runs of `ADAPTER_STEPS` AdamW steps at the job's learning rate - fewer, down to
   `MIN_ADAPTER_STEPS`, when that would retrain on more rows than the fine-tune did: `retrain_steps`) and
   record each query's loss change;
3. each setting (reading × candidate c × power, `ADAPTER_SETTINGS`) predicts a query's change as minus the
   sum of the scores of the rows each retrain actually drew, counted as often as drawn (unit rows after
   preconditioning, `lora_influence.row_features`) - a short retrain sees only some of its half, and crediting the rows
   it never saw buried the signal (bench/lora_attribution.py's tasks: the best candidate's score rose
   from 0.1-0.27 to about 0.5, and a seed no longer swings the choice from 0.1 to 100); its LDS is the
   mean Spearman correlation over the queries, with that mean's standard error;
4. each setting is also scored at what pays - identification: up to `ADAPTER_IDENTIFY_QUERIES` training
   rows (from the seed; rows whose contribution has other rows, when there are several contributions)
   are each asked, leave-one-out, as a query against the other rows, and the setting's score is the mean
   AUC of the asking row's own contribution's rows against the rest;
5. what pays (`_choose`): among the settings whose LDS is above zero by more than its standard error - the
   check shows they predict which way a retrain moves a query's loss - the best at identification; without
   contributions to tell apart, the largest damping among them;
6. what predicts effects (`_most_predictive`): the setting with the best LDS at power 1/2 - an Adam step's
   preconditioner, how the fine-tune (AdamW) moved the adapter for a row - or plain cosine;
   ties, in both: the larger damping, then the smaller power, then the reading first in `readings.READINGS`.
   The same check scores the yardsticks (DataInf's closed form and gradient dot-product on plain gradients:
   `YARDSTICKS`) for the record. The evidence (per setting: LDS, its standard error, identification; the
   yardsticks' LDS) goes into the index's `attribution.json`; the paying setting's reading is the index's
   `token_normalized` and `echo_weight`, which a query's gradient follows, and its damping, power and reading
   are in `AdapterIndex.params()`, which a signed result records; the effect setting is the index's `effect`,
   with what it predicts each contribution does to the held-out rows' loss.

Why two settings: one setting cannot serve both. What identifies a row's task best reads the answer with its
echoes weighed down (`readings`), by cosine or a large damping; what predicts a retrained loss best reads
every copied word - which holds most of an answer's loss - with little damping. The rule before this one
took the best identifier among the settings whose LDS the check could not tell from the best, or from the
better yardstick's: over two readings and the inverse alone it ranked a query's own task's rows below both
yardsticks on two response-only sets, and over every reading and both powers it left the LDS below the better
yardstick's on two (bench/lora_attribution.py, one run, row AUC / LDS: distinct 0.950 / 0.317, separators
0.990 / 0.274 against grad-dot's 0.278, suffixes 0.972 / 0.122 against DataInf's 0.140), since a warm-started
short retrain's LDS (standard errors 0.04-0.10 here) ranks the settings only roughly as retraining from
scratch does. Why the root for effects: it is how the fine-tune moved the adapter, and the check cannot
tell the powers apart (its standard errors are larger than their differences); in that run the best by the
check over both powers was at the root on separators (LDS 0.331), at the inverse on the distinct tasks -
0.282, level with DataInf's 0.282, where the root's best gave 0.304 - and on suffixes - 0.254, where the
root's gave 0.192, still above DataInf's 0.140. Figures of this rule: README.
Both share the scoring (`_per_query`); what differs is what a retrain is, and what else the choice weighs.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.stats import rankdata, spearmanr

from ..configs import ModelConfig
from ..datasets import Snapshot
from ..rows import Example, collate
from . import influence as inf
from .lora_influence import (
    INVERSE,
    NO_CURVATURE,
    POWERS,
    UPDATE,
    Module,
    damped_inverse,
    fisher,
    per_example_loss,
    row_features,
    setting_features,
    trainable,
)
from .readings import PLAIN, READINGS, Reading
from .training import TrainConfig, load_model, train

CANDIDATES = (1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0)  # relative to the curvature's mean eigenvalue
RETRAIN_BUDGET = 8000  # examples retrained on, summed over the subsets: small data gets more subsets
SUBSETS = (6, 32)      # at least, at most
HELD_OUT = (8, 64)     # validation queries: a fifth of the data, within these bounds
# LoRA adapters: relative to each layer's mean eigenvalue (at 1000 little curvature is left: each module's
# gradient divided by its own λ_l); last, no Fisher at all (`NO_CURVATURE`, 0: plain cosine of the sketched
# gradients), the most conservative of all - the rule's ties go to it. Plain cosine identified a row's task
# best on bench/lora_attribution.py's sets (0.95-0.99 row AUC with echoes at a quarter weight, where c = 1000
# gave 0.94-0.97: dividing each module by its own λ_l weighs the modules otherwise)
ADAPTER_CANDIDATES = (1e-1, 1.0, 10.0, 100.0, 1000.0, NO_CURVATURE)
# every (c, power) an adapter's rule weighs: each damping with the Fisher's inverse and its inverse square root
# (lora_influence.POWERS); no curvature once, since no power changes the identity
ADAPTER_SETTINGS = tuple((c, p) for c in ADAPTER_CANDIDATES for p in POWERS if c != NO_CURVATURE or p == INVERSE)
ADAPTER_SUBSETS, ADAPTER_STEPS, ADAPTER_BATCH = 6, 12, 8
MIN_ADAPTER_STEPS = 3  # a retrain shorter than this moves the queries' losses too little to rank candidates
ADAPTER_IDENTIFY_QUERIES = 64  # training rows asked, leave-one-out, to find their own contribution's rows
# the readings it spans: `readings.READINGS`
ADAPTER_RULE = "pay: identification among lds above zero by one se; effect: best lds at power 1/2 or cosine"
YARDSTICKS = ("datainf", "grad_dot")  # scored in the same check, for the record (the index's evidence)


def _grads(config: ModelConfig, state, x: np.ndarray, y: np.ndarray, target: str, device) -> tuple:
    parts = list(inf.per_example_grads(config, state, x, y, target, device=device))
    return np.concatenate([g for g, _ in parts]), np.concatenate([p for _, p in parts])


def _neg_loss(config: ModelConfig, state, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        logp = torch.log_softmax(load_model(config, state)(torch.as_tensor(x, dtype=torch.float64)), -1).numpy()
    return logp[np.arange(len(y)), y]


def _per_query(predicted: np.ndarray, outcomes: np.ndarray) -> np.ndarray:
    """Each query's Spearman correlation between predicted and measured outcomes [subsets, queries] (NaN where
    an outcome or a prediction is constant)."""
    return np.array([spearmanr(predicted[:, q], outcomes[:, q]).statistic for q in range(outcomes.shape[1])])


def _mean(values: np.ndarray, undefined: float) -> float:
    """The mean of the defined values; `undefined` when none is."""
    return float(np.nanmean(values)) if not np.all(np.isnan(values)) else undefined


def _lds(predicted: np.ndarray, outcomes: np.ndarray, undefined: float = 0.0) -> float:
    """The mean Spearman correlation, per query, between predicted and measured outcomes [subsets, queries];
    `undefined` when no query has one (every outcome or prediction constant)."""
    return _mean(_per_query(predicted, outcomes), undefined)


def _standard_error(values: np.ndarray) -> float:
    """The standard error of the mean of the defined values (NaN with fewer than two: unknown, so a setting
    with one query's correlation is not shown to predict anything)."""
    defined = values[~np.isnan(values)]
    return float(np.std(defined, ddof=1) / np.sqrt(len(defined))) if len(defined) > 1 else float("nan")


def _best(candidates: tuple[float, ...], scores: list[float]) -> int:
    """The best candidate's position; ties (to 6 decimals) go to the larger damping, the more conservative inverse."""
    return max(range(len(candidates)), key=lambda i: (round(scores[i], 6), candidates[i]))


def choose_damping(config: ModelConfig, state, data: Snapshot, method: str, weight_decay: float, seed: int,
                   k: int | None, device="cpu") -> dict:
    """The damping for `method` on this model and data, with the validation evidence (see module doc)."""
    n = len(data.labels)
    rng = np.random.default_rng(seed)
    order = rng.permutation(n)
    held_count = min(HELD_OUT[1], max(HELD_OUT[0], n // 5), n // 2)
    held, rest = np.sort(order[:held_count]), np.sort(order[held_count:])
    part = data.subset(rest)
    subsets = min(SUBSETS[1], max(SUBSETS[0], 2 * RETRAIN_BUDGET // len(rest)))
    masks = rng.random((subsets, len(rest))) < 0.5
    recipe = TrainConfig(seed=seed, weight_decay=weight_decay)
    outcomes = np.stack([_neg_loss(config, train(config, part.subset(mask), recipe, device).state,
                                   data.features[held], data.labels[held]) for mask in masks])
    target = "margin" if method == "trak" else "loss"
    g_train, p_train = _grads(config, state, part.features, part.labels, target, device)
    g_query, _ = _grads(config, state, data.features[held], data.labels[held], target, device)
    phi, query = inf.project(g_train, seed, k), inf.project(g_query, seed, k)
    projection = (seed, k) if k is not None else None
    if method == "ekfac":
        def scores_for(c: float) -> np.ndarray:
            factors = inf.KFACFactors(config, g_train, part.features, state, c)
            return inf.project(factors.precondition(g_train), seed, k) @ query.T
    else:
        if method == "gn":
            matrix = inf.gauss_newton(config, state, part.features, weight_decay, projection=projection)
        elif method == "if":
            matrix = inf.hessian(config, state, part.features, part.labels, weight_decay)
        else:  # trak: the features' Gram matrix
            matrix = phi.T @ phi
        eigenvalues, basis = np.linalg.eigh(matrix)
        mean = float(np.mean(np.diag(matrix)))
        left, right = phi @ basis, query @ basis
        scale = (1.0 - p_train)[:, None] if method == "trak" else 1.0

        def scores_for(c: float) -> np.ndarray:
            return (left / (eigenvalues + c * mean)) @ right.T * scale
    validation = [_lds(masks.astype(np.float64) @ scores_for(c), outcomes) for c in CANDIDATES]
    best = _best(CANDIDATES, validation)
    return {"damping": CANDIDATES[best], "candidates": list(CANDIDATES),
            "validation_lds": [round(v, 6) for v in validation], "held_out": int(held_count), "subsets": subsets}


def _query_losses(model, queries: list[Example], pad_id: int) -> np.ndarray:
    device = next(model.parameters()).device
    with torch.no_grad():
        return per_example_loss(model, collate(queries, pad_id, device)).double().cpu().numpy()


def _retrained_losses(model, adapter: str, rows: list[Example], kept: np.ndarray, queries: list[Example],
                      pad_id: int, lr: float, seed: int, steps: int) -> tuple[np.ndarray, np.ndarray]:
    """The queries' losses after `steps` more AdamW steps on the rows at indices `kept`, and how many times
    each of all the rows was drawn; the adapter is restored afterwards."""
    rng = np.random.default_rng(seed)
    device = next(model.parameters()).device
    drawn = np.zeros(len(rows))
    with trainable(model, adapter) as params:
        saved = [p.detach().clone() for p in params]
        optimizer = torch.optim.AdamW(params, lr=lr, weight_decay=0.0)
        try:
            for _ in range(steps):
                pick = kept[rng.choice(len(kept), size=min(ADAPTER_BATCH, len(kept)), replace=False)]
                drawn[pick] += 1
                loss = per_example_loss(model, collate([rows[i] for i in pick], pad_id, device)).mean()
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
            return _query_losses(model, queries, pad_id), drawn
        finally:
            with torch.no_grad():
                for p, s in zip(params, saved, strict=True):
                    p.copy_(s)
                    p.grad = None


def retrain_steps(budget_rows: int | None) -> int:
    """Steps per retrain: ADAPTER_STEPS, or fewer when the check would otherwise retrain on more rows than the
    fine-tune itself trained on (`budget_rows`: its steps × batch) - on a 135M-parameter base a demo-sized
    job trains on ~180 rows, and the full check's 576 made publishing cost three trainings."""
    if budget_rows is None:
        return ADAPTER_STEPS
    return max(MIN_ADAPTER_STEPS, min(ADAPTER_STEPS, budget_rows // (ADAPTER_SUBSETS * ADAPTER_BATCH)))


def _identification(features: np.ndarray, queries: np.ndarray, sample: np.ndarray, contribution: np.ndarray) -> float:
    """Leave-one-out identification among the training rows: each sampled row's gradient (`queries`, [m, Σ k_l])
    scored as a query against every other row's features; the mean AUC of its own contribution's other rows
    against the rest (NaN with no sampled row)."""
    if not len(sample):
        return float("nan")
    aucs = []
    for row, i in zip(queries @ features.T, sample, strict=True):
        others = np.arange(len(contribution)) != i
        ranks, positive = rankdata(row[others]), (contribution == contribution[i])[others]
        count = positive.sum()
        aucs.append((ranks[positive].sum() - count * (count + 1) / 2) / (count * (len(ranks) - count)))
    return float(np.mean(aucs))


def _identification_sample(contribution: np.ndarray, seed: int) -> np.ndarray:
    """Up to ADAPTER_IDENTIFY_QUERIES training rows, drawn from the seed, whose contribution has other rows and
    is not the only one (a row alone, or one contribution, has nothing to be told apart from)."""
    if len(np.unique(contribution)) < 2:
        return np.zeros(0, dtype=np.int64)
    _, inverse, counts = np.unique(contribution, return_inverse=True, return_counts=True)
    eligible = np.flatnonzero(counts[inverse] > 1)
    return np.sort(np.random.default_rng(seed).permutation(eligible)[:ADAPTER_IDENTIFY_QUERIES])


def _caution(key: tuple[int, float, float]) -> tuple[float, float, int]:
    """How conservative a (reading's rank, c, power) setting is, for breaking ties: the larger damping, then the
    smaller power (the nearer to no curvature), then the reading ranked first (`readings.READINGS`' order)."""
    rank, c, power = key
    return _strength(c), -power, -rank


def _choose(keys: list[tuple[int, float, float]], lds: list[float], errors: list[float],
            identification: list[float]) -> int:
    """What pays (module doc, 5): among the (reading's rank, c, power) keys whose LDS is above zero by more than
    its standard error (the check shows they predict which way a retrain moves the losses) - all of them when
    none is -, the best at identification; without identification (NaN), the largest damping (`NO_CURVATURE`
    the largest of all). Ties: `_caution`."""
    predictive = [i for i in range(len(keys)) if round(lds[i] - errors[i], 6) > 0]
    admissible = predictive or list(range(len(keys)))
    known = [i for i in admissible if not np.isnan(identification[i])]
    return max(known or admissible,
               key=lambda i: (round(identification[i], 6) if known else 0.0, *_caution(keys[i])))


def _most_predictive(keys: list[tuple[int, float, float]], lds: list[float]) -> int:
    """What predicts effects (module doc, 6): the key with the best LDS among those at power `UPDATE` and plain
    cosine (`NO_CURVATURE`, the identity at every power). Ties: `_caution`."""
    return max((i for i in range(len(keys)) if keys[i][2] == UPDATE or keys[i][1] == NO_CURVATURE),
               key=lambda i: (round(lds[i], 6), *_caution(keys[i])))


def _strength(damping: float) -> float:
    """How far a damping moves ours from the exact inverse toward no curvature (`NO_CURVATURE`: all the way)."""
    return float("inf") if damping == NO_CURVATURE else damping


def choose_adapter_damping(model, adapter: str, train: list[Example], queries: list[Example], pad_id: int,
                           layout: list[Module], train_blocks: dict[Reading, list[np.ndarray]],
                           query_blocks: dict[Reading, list[np.ndarray]], row_contribution: np.ndarray, lr: float,
                           seed: int, budget_rows: int | None = None) -> dict:
    """A LoRA adapter's two settings: {"damping": c, "power", "token_normalized" and "echo_weight": the reading -
    what pays -, "effect": the same four keys of what predicts effects, "candidates" ([c, power] each), "kinds"
    (the readings' names), then per reading × candidate "lds", "lds_se", "identification", and "rule",
    "subsets", "steps", "queries", "identify_queries", "yardstick_lds"} (see the module doc). `train_blocks` /
    `query_blocks` hold the rows' and the check queries' sketched gradients per reading
    (`readings.projections`; the yardsticks take the plain ones, which must be there), `layout` their modules,
    `row_contribution` each row's contribution; `budget_rows` bounds the retrains' cost (`retrain_steps`). The
    queries' losses are always of their whole answers: what a retrain is judged by."""
    steps = retrain_steps(budget_rows)
    model.eval()
    before = _query_losses(model, queries, pad_id)
    rng = np.random.default_rng(seed)
    drawn = np.zeros((ADAPTER_SUBSETS, len(train)))
    changes = np.zeros((ADAPTER_SUBSETS, len(queries)))
    for s in range(ADAPTER_SUBSETS):
        half = rng.permutation(len(train))[: max(1, len(train) // 2)]
        losses, drawn[s] = _retrained_losses(model, adapter, train, half, queries, pad_id, lr, seed + 1 + s, steps)
        changes[s] = losses - before
    sample = _identification_sample(np.asarray(row_contribution), seed)
    kinds = sorted(train_blocks, key=lambda r: READINGS.index(r) if r in READINGS else len(READINGS))
    keys, lds, errors, identification = [], [], [], []
    for rank, kind in enumerate(kinds):
        blocks = train_blocks[kind]
        decompositions = [np.linalg.eigh(fisher(phi)) for phi in blocks]
        query = np.concatenate(query_blocks[kind], axis=1)
        own = np.concatenate([phi[sample] for phi in blocks], axis=1)
        for c, power in ADAPTER_SETTINGS:
            features = row_features(blocks, [damped_inverse(values, vectors, c, power)
                                              for values, vectors in decompositions], "ours")
            predicted = -(drawn @ (query @ features.T).T)  # [subsets, queries]: falls by the drawn rows' scores
            per_query = _per_query(predicted, changes)
            keys.append((rank, c, power))
            lds.append(_mean(per_query, undefined=float("-inf")))
            errors.append(_standard_error(per_query))
            identification.append(_identification(features, own, sample, np.asarray(row_contribution)))
    plain = np.concatenate(query_blocks[PLAIN], axis=1)
    yardsticks = {}
    for name in YARDSTICKS:
        features = setting_features(train_blocks[PLAIN], layout, name)
        yardsticks[name] = _lds(-(drawn @ (plain @ features.T).T), changes, undefined=float("-inf"))
    chosen, predictive = _choose(keys, lds, errors, identification), _most_predictive(keys, lds)
    reading, effect = kinds[keys[chosen][0]], kinds[keys[predictive][0]]

    def by_kind(values: list[float]) -> dict[str, list[float | None]]:
        return {kind.name: [None if np.isnan(v) else round(v, 6)
                            for (r, _, _), v in zip(keys, values, strict=True) if r == rank]
                for rank, kind in enumerate(kinds)}

    return {"damping": keys[chosen][1], "power": keys[chosen][2], "token_normalized": reading.token_normalized,
            "echo_weight": reading.echo_weight, "candidates": [list(setting) for setting in ADAPTER_SETTINGS],
            "kinds": [kind.name for kind in kinds], "lds": by_kind(lds), "lds_se": by_kind(errors),
            "identification": by_kind(identification), "rule": ADAPTER_RULE,
            "effect": {"damping": keys[predictive][1], "power": keys[predictive][2],
                       "token_normalized": effect.token_normalized, "echo_weight": effect.echo_weight},
            "subsets": ADAPTER_SUBSETS,
            "steps": steps, "queries": len(queries), "identify_queries": len(sample),
            "yardstick_lds": {name: round(v, 6) for name, v in yardsticks.items()}}
