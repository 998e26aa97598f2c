"""Choosing the LoRA-gradient method's damping from the data: a local linear-datamodeling check.

The damping c of `influence.ours_operator` trades the curvature's detail against its noise; the
right value depends on the adapter and its data, so it is chosen the way the method's quality is
judged (LDS), on the fine-tune's own data:

1. the queries are the fine-tune's held-out rows (or, without any, a few training rows);
2. starting from the published adapter, continue training on random halves of the training rows
   (`SUBSETS` runs of `STEPS` AdamW steps at the job's learning rate) and record each query's loss
   change - real retrains, local to the adapter being attributed;
3. each candidate predicts a query's change as minus the sum of the scores of the rows each retrain
   actually drew, counted as often as drawn (ours: unit rows after preconditioning,
   `influence.row_features`) - a short retrain sees only some of its half, and crediting the rows it
   never saw buried the signal (bench/lora_attribution.py's tasks: the best candidate's score rose from
   0.1-0.27 to about 0.5, and a seed no longer swings the choice from 0.1 to 100); a candidate's score
   is the mean Spearman correlation between predicted and measured changes;
4. the best wins (ties: the larger damping, the more conservative inverse).
Every run is seeded, so a rebuild on the same data chooses the same damping; the evidence goes into
the index's `attribution.json`.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.stats import spearmanr

from ..finetune.dataset import Example
from ..finetune.trainer import collate
from .influence import fisher, per_example_loss, trainable

CANDIDATES = (1e-1, 1.0, 10.0, 100.0, 1000.0)
SUBSETS, STEPS, BATCH = 6, 12, 8


def _query_losses(model, queries: list[Example], pad_id: int) -> np.ndarray:
    device = next(model.parameters()).device
    with torch.no_grad():
        return per_example_loss(model, collate(queries, pad_id, device)).double().cpu().numpy()


def _retrained_losses(model, adapter: str, rows: list[Example], kept: np.ndarray, queries: list[Example],
                      pad_id: int, lr: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The queries' losses after STEPS more AdamW steps on the rows at indices `kept`, and how many times
    each of all the rows was drawn; the adapter is restored afterwards."""
    rng = np.random.default_rng(seed)
    device = next(model.parameters()).device
    drawn = np.zeros(len(rows))
    with trainable(model, adapter) as params:
        saved = [p.detach().clone() for p in params]
        optimizer = torch.optim.AdamW(params, lr=lr, weight_decay=0.0)
        try:
            for _ in range(STEPS):
                pick = kept[rng.choice(len(kept), size=min(BATCH, len(kept)), replace=False)]
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


def choose_damping(model, adapter: str, train: list[Example], queries: list[Example], pad_id: int,
                   train_blocks: list[np.ndarray], query_blocks: list[np.ndarray], lr: float, seed: int) -> dict:
    """{"damping": chosen c, "candidates", "lds" per candidate, "subsets", "queries"} (see the module doc)."""
    model.eval()
    before = _query_losses(model, queries, pad_id)
    rng = np.random.default_rng(seed)
    drawn = np.zeros((SUBSETS, len(train)))
    changes = np.zeros((SUBSETS, len(queries)))
    for s in range(SUBSETS):
        half = rng.permutation(len(train))[: max(1, len(train) // 2)]
        losses, drawn[s] = _retrained_losses(model, adapter, train, half, queries, pad_id, lr, seed + 1 + s)
        changes[s] = losses - before
    decompositions = [np.linalg.eigh(fisher(phi)) for phi in train_blocks]
    lds = []
    for c in CANDIDATES:
        rows, total = [], np.zeros((len(queries), len(train)))
        for (values, vectors), phi in zip(decompositions, train_blocks, strict=True):
            lam = c * max(float(values.mean()), 1e-30)
            rows.append(((phi @ vectors) / (values + lam)) @ vectors.T)
        features = np.concatenate(rows, axis=1)
        features /= np.maximum(np.linalg.norm(features, axis=1, keepdims=True), 1e-30)
        total = np.concatenate(query_blocks, axis=1) @ features.T
        predicted = -(drawn @ total.T)  # [subsets, queries]: the loss falls by the drawn rows' scores
        per_query = [spearmanr(predicted[:, j], changes[:, j]).statistic for j in range(len(queries))]
        lds.append(float(np.nanmean(per_query)) if not np.all(np.isnan(per_query)) else float("-inf"))
    best = max(range(len(CANDIDATES)), key=lambda i: (round(lds[i], 6), CANDIDATES[i]))
    return {"damping": CANDIDATES[best], "candidates": list(CANDIDATES), "lds": [round(v, 6) for v in lds],
            "subsets": SUBSETS, "steps": STEPS, "queries": len(queries)}
