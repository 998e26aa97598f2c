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
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.stats import spearmanr

from ..configs import ModelConfig
from ..datasets import Snapshot
from . import influence as inf
from .training import TrainConfig, load_model, train

CANDIDATES = (1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0)  # relative to the curvature's mean eigenvalue
RETRAIN_BUDGET = 8000  # examples retrained on, summed over the subsets: small data gets more subsets
SUBSETS = (6, 32)      # at least, at most
HELD_OUT = (8, 64)     # validation queries: a fifth of the data, within these bounds


def _grads(config: ModelConfig, state, x: np.ndarray, y: np.ndarray, target: str, device) -> tuple:
    parts = list(inf.per_example_grads(config, state, x, y, target, device=device))
    return np.concatenate([g for g, _ in parts]), np.concatenate([p for _, p in parts])


def _neg_loss(config: ModelConfig, state, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        logp = torch.log_softmax(load_model(config, state)(torch.as_tensor(x, dtype=torch.float64)), -1).numpy()
    return logp[np.arange(len(y)), y]


def _lds(masks: np.ndarray, scores: np.ndarray, outcomes: np.ndarray) -> float:
    predicted = masks.astype(np.float64) @ scores  # [subsets, queries]
    values = [spearmanr(predicted[:, q], outcomes[:, q]).statistic for q in range(outcomes.shape[1])]
    return float(np.nanmean(values)) if not np.all(np.isnan(values)) else 0.0


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
    validation = [_lds(masks, scores_for(c), outcomes) for c in CANDIDATES]
    best = max(range(len(CANDIDATES)), key=lambda i: (round(validation[i], 6), CANDIDATES[i]))
    return {"damping": CANDIDATES[best], "candidates": list(CANDIDATES),
            "validation_lds": [round(v, 6) for v in validation], "held_out": int(held_count), "subsets": subsets}
