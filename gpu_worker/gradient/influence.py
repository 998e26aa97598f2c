"""Gradient influence: per-example gradients, random projection and curvature preconditioning.

For a training example i and a query z, every method scores  s(z, i) = g(z)ᵀ P⁻¹ g(i) · w(i):
- "gn"    (default): g = ∇θ loss, P = the damped generalised Gauss-Newton matrix of the training
          objective - exact for small models, in a k-dim projected space for large ones - averaged
          over an ensemble of independently trained models.
- "trak": g = ∇θ margin, projected to k dims with a seeded Gaussian matrix; P = ΦᵀΦ + λI
          over the projected training features Φ (the Gauss-Newton matrix in projected space);
          w = 1 − p_y(i). Averaged over an ensemble of independently trained models (TRAK).
- "if":    exact influence function: g = ∇θ loss, P = the damped Hessian of the training objective
          (small models only: it is D×D).
- "ekfac": g = ∇θ loss per Linear layer, P = eigenvalue-corrected Kronecker factors (Kronfluence).
- "grad_dot": P = I (baseline);  "tracin": Σ over checkpoints of lr · g(z)ᵀg(i) (baseline).
Scores are positive when training on i helps the model on z (raises its margin / lowers its loss).

The index stores, per training example, the preconditioned (and weighted) features P⁻¹ g(i) w(i), so
answering a query is one gradient, one projection and one matrix-vector product per model.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch
from torch.func import functional_call, grad, vmap

from ..configs import ModelConfig
from .models import build

METHODS = ("gn", "trak", "if", "ekfac", "grad_dot", "tracin")


def _params(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v.double() for k, v in state.items()}


def per_example_grads(config: ModelConfig, state: dict[str, torch.Tensor], x: np.ndarray, y: np.ndarray,
                      target: str, chunk: int = 512, device: str | torch.device = "cpu"
                      ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yields (gradients [b, D], p_y [b]) chunk by chunk: ∇θ of the margin or of the loss per example.

    The gradients are computed on `device` (CUDA when the worker has one) and returned to the CPU.
    """
    model = build(config).double().to(device)
    params = {k: v.to(device) for k, v in _params(state).items()}
    names = list(params)

    def output(p, xi, onehot):
        logits = functional_call(model, p, (xi.unsqueeze(0),))[0]
        logp = torch.log_softmax(logits, dim=-1)
        logp_y = (logp * onehot).sum()
        if target == "loss":
            return -logp_y
        # margin log(p / (1 - p)), computed stably from the other classes' log-sum-exp
        others = logits.masked_fill(onehot.bool(), float("-inf"))
        return (logits * onehot).sum() - torch.logsumexp(others, dim=-1)

    per_example = vmap(grad(output), in_dims=(None, 0, 0))
    for start in range(0, len(x), chunk):
        xb = torch.as_tensor(x[start:start + chunk], dtype=torch.float64, device=device)
        yb = torch.as_tensor(y[start:start + chunk], dtype=torch.int64, device=device)
        onehot = torch.nn.functional.one_hot(yb, config.classes).double()  # precomputed: no traced indexing
        grads = per_example(params, xb, onehot)
        flat = torch.cat([grads[n].reshape(len(xb), -1) for n in names], dim=1)
        with torch.no_grad():
            p_y = torch.softmax(functional_call(model, params, (xb,)), dim=-1).gather(1, yb[:, None])[:, 0]
        yield flat.cpu().numpy(), p_y.cpu().numpy()


def projection_block(seed: int, dim: int, k: int, row_start: int, rows: int) -> np.ndarray:
    """Rows [row_start, row_start + rows) of the D×k Gaussian projection, generated deterministically.

    Each 1024-row block has its own seeded generator, so any block can be made on its own (chunked
    projection of arbitrarily large D in bounded memory) and the matrix is the same on every machine.
    """
    out = np.empty((rows, k), dtype=np.float64)
    for block in range(row_start // 1024, (row_start + rows - 1) // 1024 + 1):
        rng = np.random.Generator(np.random.PCG64([seed, block]))
        full = rng.standard_normal((1024, k)) / np.sqrt(k)
        lo, hi = max(row_start, block * 1024), min(row_start + rows, (block + 1) * 1024, dim)
        out[lo - row_start:hi - row_start] = full[lo - block * 1024:hi - block * 1024]
    return out


def project(grads: np.ndarray, seed: int, k: int | None, block_rows: int = 4096) -> np.ndarray:
    """grads [b, D] @ P [D, k], P generated in row blocks; k None (or ≥ D) means no projection."""
    dim = grads.shape[1]
    if k is None or k >= dim:
        return grads
    out = np.zeros((grads.shape[0], k), dtype=np.float64)
    for start in range(0, dim, block_rows):
        rows = min(block_rows, dim - start)
        out += grads[:, start:start + rows] @ projection_block(seed, dim, k, start, rows)
    return out


def damped_inverse(matrix: np.ndarray, damping: float) -> np.ndarray:
    """(M + λI)⁻¹ with λ = damping × mean diagonal: always damp, a singular Gram matrix is the norm."""
    lam = damping * float(np.mean(np.diag(matrix))) if damping > 0 else 0.0
    return np.linalg.inv(matrix + lam * np.eye(len(matrix)))


def hessian(config: ModelConfig, state: dict[str, torch.Tensor], x: np.ndarray, y: np.ndarray,
            weight_decay: float) -> np.ndarray:
    """Exact Hessian of mean cross-entropy + wd/2‖θ‖² (D×D; for small models)."""
    model = build(config).double()
    params = _params(state)
    names = list(params)
    shapes = [params[n].shape for n in names]
    sizes = [params[n].numel() for n in names]
    xt = torch.as_tensor(x, dtype=torch.float64)
    yt = torch.as_tensor(y, dtype=torch.int64)

    def objective(flat):
        parts = dict(zip(names, (t.reshape(s) for t, s in zip(torch.split(flat, sizes), shapes, strict=True)),
                         strict=True))
        logits = functional_call(model, parts, (xt,))
        return torch.nn.functional.cross_entropy(logits, yt) + 0.5 * weight_decay * (flat * flat).sum()

    flat = torch.cat([params[n].reshape(-1) for n in names])
    return torch.autograd.functional.hessian(objective, flat).numpy()


def gauss_newton(config: ModelConfig, state: dict[str, torch.Tensor], x: np.ndarray, weight_decay: float,
                 chunk: int = 256, projection: tuple[int, int] | None = None) -> np.ndarray:
    """The generalised Gauss-Newton matrix of mean cross-entropy + wd/2‖θ‖² (D×D, positive semi-definite).

    GGN = mean_i J_iᵀ (diag p_i − p_i p_iᵀ) J_i + wd·I with J_i = ∂logits/∂θ; unlike the Hessian of a
    non-convex model it never has negative curvature, so its damped inverse is a sound preconditioner.
    With projection (seed, k) it is computed in the k-dim projected space, PᵀGP (k×k), for large models.
    """
    from torch.func import jacrev

    model = build(config).double()
    params = _params(state)
    names = list(params)
    dim = sum(v.numel() for v in params.values())
    seed, k = projection if projection else (0, None)
    out_dim = dim if k is None or k >= dim else k
    total = np.zeros((out_dim, out_dim))

    def logits_of(p, xi):
        return functional_call(model, p, (xi.unsqueeze(0),))[0]

    jacobian = vmap(jacrev(logits_of), in_dims=(None, 0))
    for start in range(0, len(x), chunk):
        xb = torch.as_tensor(x[start:start + chunk], dtype=torch.float64)
        jac = jacobian(params, xb)
        j = torch.cat([jac[n].reshape(len(xb), config.classes, -1) for n in names], dim=2).numpy()  # [b, C, D]
        with torch.no_grad():
            prob = torch.softmax(functional_call(model, params, (xb,)), dim=-1).numpy()
        rows = project((np.sqrt(prob)[:, :, None] * j).reshape(-1, dim), seed, k)
        u = project(np.einsum("bc,bcd->bd", prob, j), seed, k)
        total += rows.T @ rows - u.T @ u
    if out_dim == dim:
        return total / len(x) + weight_decay * np.eye(dim)
    gram = sum(block.T @ block for block in (projection_block(seed, dim, k, s, min(4096, dim - s))
                                            for s in range(0, dim, 4096)))
    return total / len(x) + weight_decay * gram


class KFACFactors:
    """Per-Linear-layer Kronecker factors with eigenvalue correction (EK-FAC), from per-example grads."""

    def __init__(self, config: ModelConfig, grads: np.ndarray, x: np.ndarray, state: dict[str, torch.Tensor],
                 damping: float):
        self.shapes = _linear_shapes(config)
        self.layers = []
        activations = _layer_inputs(config, state, x)
        offset = 0
        for (out_dim, in_dim), a in zip(self.shapes, activations, strict=True):
            g = _layer_grad(grads, offset, out_dim, in_dim)  # [n, out, in+1]
            offset += out_dim * in_dim + out_dim
            a1 = np.concatenate([a, np.ones((len(a), 1))], axis=1)
            delta = g[:, :, -1]  # the bias gradient is the output-side factor δ
            _, qa = np.linalg.eigh(a1.T @ a1 / len(a1))
            _, qs = np.linalg.eigh(delta.T @ delta / len(delta))
            rotated = np.einsum("so,nop,pa->nsa", qs.T, g, qa)
            eig = (rotated ** 2).mean(axis=0)  # EK-FAC: corrected eigenvalues in the Kronecker eigenbasis
            lam = damping * float(eig.mean())
            self.layers.append((qa, qs, eig + lam))

    def precondition(self, grads: np.ndarray) -> np.ndarray:
        out, offset = [], 0
        for (out_dim, in_dim), (qa, qs, eig) in zip(self.shapes, self.layers, strict=True):
            g = _layer_grad(grads, offset, out_dim, in_dim)
            offset += out_dim * in_dim + out_dim
            rotated = np.einsum("so,nop,pa->nsa", qs.T, g, qa) / eig
            back = np.einsum("os,nsa,pa->nop", qs, rotated, qa)
            out.append(np.concatenate([back[:, :, :-1].reshape(len(g), -1), back[:, :, -1]], axis=1))
        return np.concatenate(out, axis=1)


def _linear_shapes(config: ModelConfig) -> list[tuple[int, int]]:
    widths = config.widths
    return [(widths[i + 1], widths[i]) for i in range(len(widths) - 1)]


def _layer_grad(grads: np.ndarray, offset: int, out_dim: int, in_dim: int) -> np.ndarray:
    """A layer's per-example gradient as [n, out, in+1] (weights, then the bias column)."""
    weight = grads[:, offset:offset + out_dim * in_dim].reshape(-1, out_dim, in_dim)
    bias = grads[:, offset + out_dim * in_dim:offset + out_dim * in_dim + out_dim]
    return np.concatenate([weight, bias[:, :, None]], axis=2)


def _layer_inputs(config: ModelConfig, state: dict[str, torch.Tensor], x: np.ndarray) -> list[np.ndarray]:
    model = build(config).double()
    model.load_state_dict({k: v.double() for k, v in state.items()})
    inputs, h = [], torch.as_tensor(x, dtype=torch.float64)
    with torch.no_grad():
        for module in model:
            if isinstance(module, torch.nn.Linear):
                inputs.append(h.numpy().copy())
            h = module(h)
    return inputs
