"""Training a small model on a DataNet snapshot: examples grouped by contribution, deterministic from a seed.

Logistic regression is fitted to its (regularised, strictly convex) optimum with full-batch L-BFGS, so
influence functions - which assume an optimum - are exact up to the damping. MLPs are trained with
seeded mini-batch SGD + momentum; checkpoints along the way are kept for TracIn-style methods.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from ..configs import ModelConfig
from ..datasets import Snapshot
from ..device import global_rng
from .models import build


@dataclass(frozen=True)
class TrainConfig:
    seed: int = 0
    weight_decay: float = 1e-3   # L2 on all parameters (mean loss + wd/2 ‖θ‖²)
    epochs: int = 30             # mlp only
    batch_size: int = 64
    lr: float = 0.05
    momentum: float = 0.9
    checkpoints: int = 4         # mlp: evenly spaced, the final model included


@dataclass
class Trained:
    config: ModelConfig
    state: dict[str, torch.Tensor]
    checkpoints: list[dict[str, torch.Tensor]] = field(default_factory=list)
    checkpoint_lrs: list[float] = field(default_factory=list)


def _loss(model: nn.Module, x: torch.Tensor, y: torch.Tensor, weight_decay: float) -> torch.Tensor:
    penalty = sum((p * p).sum() for p in model.parameters())
    return nn.functional.cross_entropy(model(x), y) + 0.5 * weight_decay * penalty


def train(config: ModelConfig, data: Snapshot, train_config: TrainConfig = TrainConfig(),
          device: str | torch.device = "cpu") -> Trained:
    """Train on `device`; the returned weights are on the CPU."""
    with global_rng(train_config.seed):
        model = build(config).double().to(device)
    x = torch.as_tensor(data.features, dtype=torch.float64, device=device)
    y = torch.as_tensor(data.labels, dtype=torch.int64, device=device)
    if config.family == "logreg":
        for p in model.parameters():
            nn.init.zeros_(p)  # convex: start anywhere, zero is the canonical start
        optimizer = torch.optim.LBFGS(model.parameters(), lr=1.0, max_iter=500, tolerance_grad=1e-10,
                                      tolerance_change=1e-12, history_size=50, line_search_fn="strong_wolfe")

        def closure():
            optimizer.zero_grad()
            loss = _loss(model, x, y, train_config.weight_decay)
            loss.backward()
            return loss

        optimizer.step(closure)
        return Trained(config, _cpu_state(model))
    generator = torch.Generator().manual_seed(train_config.seed)
    optimizer = torch.optim.SGD(model.parameters(), lr=train_config.lr, momentum=train_config.momentum)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=train_config.epochs)
    every = max(1, train_config.epochs // train_config.checkpoints)
    trained = Trained(config, {})
    for epoch in range(train_config.epochs):
        order = torch.randperm(len(x), generator=generator).to(device)
        for start in range(0, len(x), train_config.batch_size):
            batch = order[start:start + train_config.batch_size]
            optimizer.zero_grad()
            _loss(model, x[batch], y[batch], train_config.weight_decay).backward()
            optimizer.step()
        if (epoch + 1) % every == 0 or epoch + 1 == train_config.epochs:
            trained.checkpoints.append(_cpu_state(model))
            trained.checkpoint_lrs.append(optimizer.param_groups[0]["lr"])
        schedule.step()
    trained.state = _cpu_state(model)
    return trained


def _cpu_state(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}


def load_model(trained_config: ModelConfig, state: dict[str, torch.Tensor]) -> nn.Sequential:
    model = build(trained_config).double()
    model.load_state_dict({k: v.double() for k, v in state.items()})
    return model.eval()
