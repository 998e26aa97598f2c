"""Influence of an adapter's fine-tuning rows on a generation, through the LoRA parameters alone.

An adapter's parameters are few (r·(in + out) per target module), so per-example gradients are cheap
and exact: one batched forward/backward, with hooks on each module's `lora_A`/`lora_B` capturing the
inputs and output gradients, gives every row's gradient as a per-row sum of outer products. Each
module is a "layer" l; its gradient g_l (A and B flattened) is projected to at most `k` dims with a
seeded Gaussian matrix (the same on every machine), and every method scores a query q against a row i
as  s(q, i) = Σ_l φ_l(q)ᵀ M_l φ_l(i)  (then, for ours, divided by the row's norm), positive when training
on i lowers the loss of q:

- "ours" (default): gradients of the *token-normalised* loss (each token's loss divided by the norm of
  its logit gradient, so a few surprising tokens - in a fine-tuning row, usually the free-text words
  it copies - do not drown the tokens that say what the row teaches); M_l = (G_l + λ_l I)⁻¹, the exact
  inverse of the damped per-layer empirical Fisher G_l = (1/n) Σ_i φ_l(i)φ_l(i)ᵀ with λ_l = c · (mean
  eigenvalue of G_l) and c chosen from the data (`damping.choose_adapter_damping`; a large c tends to the plain
  dot product, so the data may choose it); each row's preconditioned features are scaled to unit
  norm, so a row is credited for the direction of what it teaches, not for how far it is from being
  learnt (bench/lora_attribution.py: each of the three raises AUC and LDS on the synthetic tasks);
- "datainf": DataInf's closed form (Kwon et al., 2024; the formula OpenLedger's Proof of Attribution
  paper uses), which swaps the inverse and the average: M_l = (1/λ_l)(I − (1/n) Σ_j φ_jφ_jᵀ/(λ_l + ‖φ_j‖²)),
  with its own damping rule λ_l = 0.1 · (1/(n·d_l)) Σ_j ‖φ_j‖², on plain loss gradients;
- "grad_dot": M_l = I on plain loss gradients (a yardstick).
M_l applies to the rows once, when the index is built, so a query is one backward pass, one
projection and one matrix-vector product (bench/lora_attribution.py measures it).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch

from ..rows import IGNORE, Example, collate
from .influence import projection_block

METHODS = ("ours", "datainf", "grad_dot")
TOKEN_NORMALIZED = {"ours": True, "datainf": False, "grad_dot": False}
DATAINF_DAMPING = 0.1


@dataclass(frozen=True)
class Module:
    """One LoRA target module: its name and the sizes of its flattened A [r, in] and B [out, r]."""

    name: str
    a_size: int
    b_size: int

    @property
    def size(self) -> int:
        return self.a_size + self.b_size


def lora_modules(model, adapter: str = "default") -> list[tuple[str, torch.nn.Module]]:
    """The PEFT LoRA layers of the model that carry `adapter`, in a fixed (name) order. The walk does not
    descend into a LoRA layer: with many adapters loaded, their factors are most of the module tree."""
    found, stack = [], [("", model)]
    while stack:
        prefix, module = stack.pop()
        if hasattr(module, "lora_A"):
            if adapter in module.lora_A:
                found.append((prefix, module))
            continue
        stack.extend((f"{prefix}.{name}" if prefix else name, child) for name, child in module.named_children())
    if not found:
        raise ValueError(f"the model has no LoRA layers for adapter {adapter!r}")
    return sorted(found, key=lambda item: item[0])


@contextmanager
def trainable(model, adapter: str = "default", modules=None) -> Iterator[list[torch.Tensor]]:
    """The adapter's LoRA weights with gradients on (an adapter loaded for inference is frozen), restored after."""
    params = [w for _, layer in (modules or lora_modules(model, adapter))
              for w in (layer.lora_A[adapter].weight, layer.lora_B[adapter].weight)]
    required = [w.requires_grad for w in params]
    for w in params:
        w.requires_grad_(True)
    try:
        yield params
    finally:
        for w, flag in zip(params, required, strict=True):
            w.requires_grad_(flag)


class _Capture:
    """Forward hooks that keep each LoRA module's inputs and, through tensor hooks, its output gradients."""

    def __init__(self, modules, adapter: str):
        self.saved: dict[str, dict[str, torch.Tensor]] = {}
        self.handles = []
        for name, layer in modules:
            for which, sub in (("a", layer.lora_A[adapter]), ("b", layer.lora_B[adapter])):
                self.handles.append(sub.register_forward_hook(self._hook(name, which)))

    def _hook(self, name: str, which: str):
        def hook(_module, inputs, output):
            slot = self.saved.setdefault(name, {})
            slot[f"{which}_in"] = inputs[0].detach()

            def keep(grad):
                slot[f"{which}_grad"] = grad.detach()
            output.register_hook(keep)
        return hook

    def close(self) -> None:
        for handle in self.handles:
            handle.remove()


def per_example_loss(model, batch: dict[str, torch.Tensor], token_normalized: bool = False) -> torch.Tensor:
    """Each example's mean next-token cross-entropy over its own labelled tokens (0 when it has none).
    `token_normalized`: each token's loss is divided by the norm of its logit gradient ‖softmax − onehot‖
    (held constant), so every token pulls the gradient with the same strength, however surprising it is."""
    logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], use_cache=False).logits
    labels = batch["labels"][:, 1:]
    shifted = logits[:, :-1].float()
    losses = torch.nn.functional.cross_entropy(shifted.transpose(1, 2), labels.clamp(min=0), reduction="none")
    mask = (labels != IGNORE).float()
    if token_normalized:
        with torch.no_grad():
            residual = shifted.softmax(-1)
            residual.scatter_add_(-1, labels.clamp(min=0)[..., None], -torch.ones_like(residual[..., :1]))
            mask = mask / residual.norm(dim=-1).clamp(min=1e-6)
    return (losses * mask).sum(1) / (labels != IGNORE).float().sum(1).clamp(min=1)


def per_example_gradients(model, examples: list[Example], pad_id: int, adapter: str = "default",
                          batch_size: int = 16, token_normalized: bool = False) -> tuple[list[Module], np.ndarray]:
    """(modules, gradients [n, Σ sizes] float64): ∇ of each example's own mean loss w.r.t. the adapter."""
    modules = lora_modules(model, adapter)
    layout = [Module(name, layer.lora_A[adapter].weight.numel(), layer.lora_B[adapter].weight.numel())
              for name, layer in modules]
    device = modules[0][1].lora_A[adapter].weight.device
    was_training = model.training
    if was_training:
        model.eval()  # no dropout: a row's gradient is a function of the row
    capture = _Capture(modules, adapter)
    out = []
    try:
        with trainable(model, adapter, modules) as params:
            for start in range(0, len(examples), batch_size):
                batch = collate(examples[start:start + batch_size], pad_id, device)
                for p in params:
                    p.grad = None
                per_example_loss(model, batch, token_normalized).sum().backward()
                parts = []
                for name, _ in modules:
                    s = capture.saved[name]
                    grad_a = torch.einsum("btr,bti->bri", s["a_grad"].double(), s["a_in"].double())
                    grad_b = torch.einsum("bto,btr->bor", s["b_grad"].double(), s["b_in"].double())
                    parts += [grad_a.flatten(1), grad_b.flatten(1)]
                out.append(torch.cat(parts, dim=1).cpu().numpy())
                capture.saved.clear()
    finally:
        capture.close()
        if was_training:
            model.train()
    return layout, np.concatenate(out)


def fine_tune_gain(model, example: Example, pad_id: int, adapter: str = "default") -> float:
    """The share of the example's labelled information that the fine-tune supplied: 1 − ℓ_adapter / ℓ_base,
    ℓ its next-token negative log-likelihood with the adapter on and off, within [0, 1]. What the base
    would say anyway - a chat template's closing token, a stock reply like "I'm sorry, I don't know" -
    gains nothing, so the rows earn nothing for it; a fact only the rows taught gains most of its
    information. Gradient credit pays the contributors' pool in this proportion, as span credit pays
    in proportion to the share of the output its spans reproduce."""
    device = lora_modules(model, adapter)[0][1].lora_A[adapter].weight.device
    batch = collate([example], pad_id, device)
    with torch.no_grad():
        tuned = float(per_example_loss(model, batch)[0])
        with model.disable_adapter():
            base = float(per_example_loss(model, batch)[0])
    return min(1.0, max(0.0, 1.0 - tuned / base)) if base > 0 else 0.0


@lru_cache(maxsize=256)
def _projection(seed: int, dim: int, k: int) -> np.ndarray:
    """The seeded D×k Gaussian projection of one module (what `gradient.influence.project` multiplies by),
    made once: a LoRA module's D is small enough to keep it, and a query should not regenerate it."""
    return projection_block(seed, dim, k, 0, dim)


def project_layers(grads: np.ndarray, layout: list[Module], k: int, seed: int) -> list[np.ndarray]:
    """Per module, its gradient block projected to at most k dims (a seeded matrix per module)."""
    blocks, offset = [], 0
    for i, module in enumerate(layout):
        block = grads[:, offset:offset + module.size]
        blocks.append(block if k >= module.size else block @ _projection(seed + i, module.size, k))
        offset += module.size
    return blocks


def fisher(phi: np.ndarray) -> np.ndarray:
    return phi.T @ phi / len(phi)


def ours_operator(phi: np.ndarray, damping: float) -> np.ndarray:
    """(G + λI)⁻¹ with λ = damping × the mean eigenvalue of G (its trace over its size)."""
    g = fisher(phi)
    lam = damping * max(float(np.trace(g)) / len(g), 1e-30)
    values, vectors = np.linalg.eigh(g)
    return (vectors / (values + lam)) @ vectors.T


def datainf_operator(phi: np.ndarray, true_dim: int) -> np.ndarray:
    """DataInf's approximate inverse (1/λ)(I − (1/n) Σ_j φ_jφ_jᵀ/(λ + ‖φ_j‖²)), λ by its own rule."""
    norms = np.einsum("ij,ij->i", phi, phi)
    lam = max(DATAINF_DAMPING * float(norms.mean()) / true_dim, 1e-30)
    weighted = phi / (lam + norms)[:, None]
    return (np.eye(phi.shape[1]) - weighted.T @ phi / len(phi)) / lam


def operators(blocks: list[np.ndarray], layout: list[Module], method: str, damping: float) -> list[np.ndarray]:
    if method == "ours":
        return [ours_operator(phi, damping) for phi in blocks]
    if method == "datainf":
        return [datainf_operator(phi, m.size) for phi, m in zip(blocks, layout, strict=True)]
    if method == "grad_dot":
        return [np.eye(phi.shape[1]) for phi in blocks]
    raise ValueError(f"unknown LoRA attribution method {method!r}; known: {METHODS}")


def row_features(blocks: list[np.ndarray], ops: list[np.ndarray], method: str = "grad_dot") -> np.ndarray:
    """The index's rows: [n, Σ k_l], each layer's block multiplied by its operator (symmetric); for ours,
    each row scaled to unit norm."""
    features = np.concatenate([phi @ op for phi, op in zip(blocks, ops, strict=True)], axis=1)
    if method == "ours":
        features /= np.maximum(np.linalg.norm(features, axis=1, keepdims=True), 1e-30)
    return features


def scores(query_blocks: list[np.ndarray], features: np.ndarray) -> np.ndarray:
    """s(q, i) for every row i: [queries, n]."""
    return np.concatenate(query_blocks, axis=1) @ features.T
