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

LoRA adapters (`choose_adapter_damping`, for `lora_influence.ours_operator`) are judged the same way,
on the fine-tune's own data, with retrains local to the adapter being attributed:

1. the queries are the fine-tune's held-out rows (or, without any, a few training rows);
2. starting from the published adapter, continue training on random halves of the training rows
   (`ADAPTER_SUBSETS` runs of `ADAPTER_STEPS` AdamW steps at the job's learning rate - fewer, down to
   `MIN_ADAPTER_STEPS`, when that would retrain on more rows than the fine-tune did: `retrain_steps`) and
   record each query's loss change;
3. each candidate predicts a query's change as minus the sum of the scores of the rows each retrain
   actually drew, counted as often as drawn (unit rows after preconditioning,
   `lora_influence.row_features`) - a short retrain sees only some of its half, and crediting the rows
   it never saw buried the signal (bench/lora_attribution.py's tasks: the best candidate's score rose
   from 0.1-0.27 to about 0.5, and a seed no longer swings the choice from 0.1 to 100);
4. the best wins, by the same score and tie rule. The evidence goes into the index's
   `attribution.json`.
Both share the scoring (`_lds`) and the choice (`_best`); what differs is what a retrain is.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.stats import spearmanr

from ..configs import ModelConfig
from ..datasets import Snapshot
from ..rows import Example, collate
from . import influence as inf
from .lora_influence import fisher, per_example_loss, trainable
from .training import TrainConfig, load_model, train

CANDIDATES = (1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0)  # relative to the curvature's mean eigenvalue
RETRAIN_BUDGET = 8000  # examples retrained on, summed over the subsets: small data gets more subsets
SUBSETS = (6, 32)      # at least, at most
HELD_OUT = (8, 64)     # validation queries: a fifth of the data, within these bounds
ADAPTER_CANDIDATES = (1e-1, 1.0, 10.0, 100.0, 1000.0)  # LoRA adapters: relative to each layer's mean eigenvalue
ADAPTER_SUBSETS, ADAPTER_STEPS, ADAPTER_BATCH = 6, 12, 8
MIN_ADAPTER_STEPS = 3  # a retrain shorter than this moves the queries' losses too little to rank candidates


def _grads(config: ModelConfig, state, x: np.ndarray, y: np.ndarray, target: str, device) -> tuple:
    parts = list(inf.per_example_grads(config, state, x, y, target, device=device))
    return np.concatenate([g for g, _ in parts]), np.concatenate([p for _, p in parts])


def _neg_loss(config: ModelConfig, state, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        logp = torch.log_softmax(load_model(config, state)(torch.as_tensor(x, dtype=torch.float64)), -1).numpy()
    return logp[np.arange(len(y)), y]


def _lds(predicted: np.ndarray, outcomes: np.ndarray, undefined: float = 0.0) -> float:
    """The mean Spearman correlation, per query, between predicted and measured outcomes [subsets, queries];
    `undefined` when no query has one (every outcome or prediction constant)."""
    values = [spearmanr(predicted[:, q], outcomes[:, q]).statistic for q in range(outcomes.shape[1])]
    return float(np.nanmean(values)) if not np.all(np.isnan(values)) else undefined


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


def choose_adapter_damping(model, adapter: str, train: list[Example], queries: list[Example], pad_id: int,
                           train_blocks: list[np.ndarray], query_blocks: list[np.ndarray], lr: float, seed: int,
                           budget_rows: int | None = None) -> dict:
    """A LoRA adapter's damping: {"damping": chosen c, "candidates", "lds" per candidate, "subsets", "steps",
    "queries"} (see the module doc); `budget_rows` bounds the retrains' cost (`retrain_steps`)."""
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
    decompositions = [np.linalg.eigh(fisher(phi)) for phi in train_blocks]
    lds = []
    for c in ADAPTER_CANDIDATES:
        rows, total = [], np.zeros((len(queries), len(train)))
        for (values, vectors), phi in zip(decompositions, train_blocks, strict=True):
            lam = c * max(float(values.mean()), 1e-30)
            rows.append(((phi @ vectors) / (values + lam)) @ vectors.T)
        features = np.concatenate(rows, axis=1)
        features /= np.maximum(np.linalg.norm(features, axis=1, keepdims=True), 1e-30)
        total = np.concatenate(query_blocks, axis=1) @ features.T
        predicted = -(drawn @ total.T)  # [subsets, queries]: the loss falls by the drawn rows' scores
        lds.append(_lds(predicted, changes, undefined=float("-inf")))
    best = _best(ADAPTER_CANDIDATES, lds)
    return {"damping": ADAPTER_CANDIDATES[best], "candidates": list(ADAPTER_CANDIDATES),
            "lds": [round(v, 6) for v in lds], "subsets": ADAPTER_SUBSETS, "steps": steps,
            "queries": len(queries)}
