"""Influence of an adapter's fine-tuning rows on a generation, through the LoRA parameters alone.

An adapter's parameters are few (r·(in + out) per target module), so per-example gradients are cheap
and exact: one batched forward/backward through the decoder arranged for it (`decoder`: each module's
input and A product kept, the gradient at each module's output left by the backward) gives every row's
gradient as a per-row sum of outer products,
∇A = Σ_t g_t x_tᵀ [r, in] and ∇B = Σ_t g'_t h_tᵀ [out, r]. Each module is a "layer" l, projected to
about `k` dims by a seeded Kronecker-structured Gaussian sketch (the same on every machine): the rank
side is kept whole, the wide side (in for A, out for B) is multiplied by a seeded [in|out, k/2r] matrix
- φ(A) = ∇A R_in = Σ_t g_t (R_inᵀ x_t)ᵀ, φ(B) = R_outᵀ ∇B. Because the sketch acts on each side, it is
applied to the factors (x_t R_in, g'_t R_out) before the sum over tokens: a D-wide gradient is never
formed, and a worker keeps (in + out)·k/2r numbers per module instead of a dense D×k matrix (on
SmolLM2, 210 modules: ~14 MB in place of 1.25 GB read on every query; a query's projection went from
~0.3 s to milliseconds). Inner products stay unbiased (E[R Rᵀ] = I); on the facts adapters the sketch's
scores correlate with the unprojected ones at 0.96-0.99 (a dense sketch: 0.995), and rank the fact's
rows the same (bench/lora_attribution.py). Every method scores a query q against a row i as
s(q, i) = Σ_l φ_l(q)ᵀ M_l φ_l(i)  (then, for ours, divided by the row's norm), positive when training
on i lowers the loss of q:

- "ours" (default): gradients of the *token-normalised* loss (each token's loss divided by the norm of
  its logit gradient, so a few surprising tokens - in a fine-tuning row, usually the free-text words
  it copies - do not drown the tokens that say what the row teaches) or of the plain loss, whichever
  the data chooses; M_l = (G_l + λ_l I)⁻¹, the exact inverse of the damped per-layer empirical Fisher
  G_l = (1/n) Σ_i φ_l(i)φ_l(i)ᵀ with λ_l = c · (mean eigenvalue of G_l); the kind and c are chosen
  together from the data, by identification of the rows' own contributions among the settings an LDS
  check cannot tell from the best (`damping.choose_adapter_damping`; a large c tends to the plain dot
  product, so the data may choose it); each row's preconditioned features are scaled to unit norm, so
  a row is credited for the direction of what it teaches, not for how far it is from being learnt
  (bench/lora_attribution.py: each of the three raises AUC and LDS on the distinct synthetic tasks);
- "datainf": DataInf's closed form (Kwon et al., 2024; the formula OpenLedger's Proof of Attribution
  paper uses), which swaps the inverse and the average: M_l = (1/λ_l)(I − (1/n) Σ_j φ_jφ_jᵀ/(λ_l + ‖φ_j‖²)),
  with its own damping rule λ_l = 0.1 · (1/(n·d_l)) Σ_j ‖φ_j‖², on plain loss gradients;
- "grad_dot": M_l = I on plain loss gradients (a yardstick).
M_l applies to the rows once, when the index is built, so a query is one forward and backward pass
with the adapter (whose forward also gives `fine_tune_gain` its tuned loss), one forward without it (the
frozen base's own, no adapter to switch off), one
projection of the factors and one matrix-vector product (`query_projection`; bench/lora_attribution.py
measures it). Losses take logits only where a label is (from a row's first labelled token on): a
paid query's prompt needs no vocabulary-wide projection.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch

from ..peft_layers import lora_modules
from ..rows import IGNORE, Example, collate
from .decoder import Trace, decoder

METHODS = ("ours", "datainf", "grad_dot")
TOKEN_NORMALIZED = {"ours": True, "datainf": False, "grad_dot": False}  # ours: the default; an index chooses
DATAINF_DAMPING = 0.1


@dataclass(frozen=True)
class Module:
    """One LoRA target module: its name, the sizes of its flattened A [r, in] and B [out, r], and its rank."""

    name: str
    a_size: int
    b_size: int
    rank: int

    @property
    def size(self) -> int:
        return self.a_size + self.b_size


def module_layout(modules, adapter: str = "default") -> list[Module]:
    return [Module(name, layer.lora_A[adapter].weight.numel(), layer.lora_B[adapter].weight.numel(),
                   layer.lora_A[adapter].weight.shape[0]) for name, layer in modules]


@contextmanager
def trainable(model, adapter: str = "default") -> Iterator[list[torch.Tensor]]:
    """The adapter's LoRA weights with gradients on (an adapter loaded for inference is frozen), restored after."""
    params = [w for _, layer in lora_modules(model, adapter) for w in (layer.lora_A[adapter].weight,
                                                                      layer.lora_B[adapter].weight)]
    required = [w.requires_grad for w in params]
    for w in params:
        w.requires_grad_(True)
    try:
        yield params
    finally:
        for w, was in zip(params, required, strict=True):
            w.requires_grad_(was)


def _labelled_logits(model, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """(logits [b, t, V] float, labels [b, t]) of the positions that predict a label, from the batch's first
    labelled token on, through the model's own modules (transformers' decoder, PEFT's layers: what a
    retrained model is measured by; attribution's passes run `_hidden` and `_swept_head`). Only LLaMA-family
    decoders come here (the head follows the decoder directly)."""
    causal = _causal(model)
    hidden = causal.get_decoder()(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                                  use_cache=False).last_hidden_state
    return _head(causal, hidden, batch["labels"])


def ready(model) -> None:
    """Arrange the model's decoder for queries now (weights packed, forward and backward), so that the first
    query after an adapter is loaded is as fast as the next."""
    decoder(_causal(model)).ready_for_gradients()


def _hidden(model, batch: dict[str, torch.Tensor], modules=None, adapter: str = "default",
            trace: Trace | None = None):
    """(the causal LM, the decoder's last hidden states) through the decoder arranged for attribution
    (`decoder`): with the adapter's LoRA layers `modules`, or without any adapter; with `trace`, as a graph
    whose backward leaves every LoRA module's factors in it."""
    causal = _causal(model)
    run = decoder(causal)
    return causal, run.hidden(batch["input_ids"], run.terms(modules, adapter) if modules is not None else None, trace)


def _with_and_without(model, batch: dict[str, torch.Tensor], modules, adapter: str, trace: Trace | None = None,
                      token_normalized: bool = False) -> tuple[float, float, torch.Tensor, torch.Tensor | None]:
    """(the loss with the adapter, the loss without any adapter, the hidden states with it [1, t, hidden] and,
    with `trace`, the gradient there of its loss - token-normalised or not) of a one-example batch. The two
    forwards run side by side (`Decoder.hiddens`: each base weight read once, not twice), and the head is one
    sweep over the vocabulary for both (`_swept_head`)."""
    if len(batch["input_ids"]) != 1:
        raise ValueError("a query is one example")
    causal = _causal(model)
    run = decoder(causal)
    # with the adapter and without any (the frozen base's own: nothing to switch off)
    tuned, base = run.hiddens(batch["input_ids"], [(run.terms(modules, adapter), trace), (None, None)])
    losses, grad = _losses_and_gradient(causal, torch.cat([tuned, base]), batch["labels"].expand(2, -1),
                                        1 if trace is not None else 0, token_normalized)
    return float(losses[0]), float(losses[1]), tuned, grad


def _losses_and_gradient(causal, hidden: torch.Tensor, labels: torch.Tensor, graded: int,
                         token_normalized: bool) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(each row's mean next-token loss over its labelled tokens [b], and the first `graded` rows' gradients of
    their own losses at the hidden states [graded, t, hidden] - None when none is) from the decoder's hidden
    states [b, t, hidden] and the batch's labels. Positions before the batch's first labelled one are never
    projected onto the vocabulary (a paid query's prompt)."""
    labels = labels[:, 1:]
    labelled = (labels != IGNORE).any(0).nonzero()
    start = int(labelled[0]) if len(labelled) else labels.shape[1] - 1
    losses, grad = _swept_head(causal.get_output_embeddings(), hidden[:, start:-1].detach(), labels[:, start:],
                               graded, token_normalized)
    if grad is None:
        return losses, None
    return losses, torch.cat([grad.new_zeros(graded, start, grad.shape[-1]), grad,
                              grad.new_zeros(graded, 1, grad.shape[-1])], dim=1)


HEAD_CHUNK = 4096  # vocabulary rows per step of `_swept_head`: a [hidden, 4096] float32 slice (9 MB on SmolLM2)


def _swept_head(head: torch.nn.Module, hidden: torch.Tensor, labels: torch.Tensor, graded: int,
                token_normalized: bool) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(each row's mean loss over its labelled positions [b], and the first `graded` rows' gradients of their
    own losses - token-normalised or plain - at their hidden states [graded, positions, hidden]) from the
    hidden states [b, positions, hidden] predicting `labels` [b, positions], in one sweep over the head's
    vocabulary.

    Autograd through the head would read its weight twice or more (the logits, then the gradient
    Σ_v p_v w_v − w_y) and hold and re-read [b, positions, V] logits; here each slice of the vocabulary
    gives its logits, and the graded rows' softmax-weighted sums of the slice's weight rows are accumulated
    while the slice is in cache, online as in flash attention (a running maximum and the sums rescaled to
    it). The sums leave the label's own term out - Σ_{v≠y} p_v (w_v − w_y) for the gradient, 1 − p_y =
    Σ_{v≠y} p_v and ‖p − onehot‖² = Σ_{v≠y} p_v² + (1 − p_y)² for the token-normalised weight (held constant,
    as `_mean_loss` holds it) - so a token the model is sure of (p_y ≈ 1: most of a fine-tuned fact) keeps
    its small gradient's digits. Autograd's softmax − onehot in float32 kept ~1e-7 of it absolutely: on the
    SmolLM2 facts its gradients at the hidden states were 1e-3 (plain) and 2-4e-2 (token-normalised) off
    float64's, these ~1e-6 (tests/test_lora_decoder.py). The losses are `_mean_loss`'s to float rounding."""
    if getattr(head, "bias", None) is not None:
        raise ValueError("LoRA attribution reads a bias-free output head (the LLaMA family's)")
    weight = head.weight.detach()
    transposed = getattr(head, "transposed", None)
    transposed = weight.t() if transposed is None else transposed
    b, positions, width = hidden.shape
    rows = hidden.reshape(-1, width).float()
    products = rows.to(weight.dtype)  # the products in the head's precision, the rest in float32
    target, kept = labels.clamp(min=0).reshape(-1), graded * positions
    peak = rows.new_full((len(rows),), -torch.inf)
    norm, others, at_label = rows.new_zeros(len(rows)), rows.new_zeros(len(rows)), rows.new_zeros(len(rows))
    pulled, squares = rows.new_zeros(kept, width), rows.new_zeros(kept)
    for start in range(0, len(weight), HEAD_CHUNK):
        logits = (products @ transposed[:, start:start + HEAD_CHUNK]).float()
        top = torch.maximum(peak, logits.max(1).values)
        rescale, e = torch.exp(peak - top), torch.exp(logits - top[:, None])
        inside = ((target >= start) & (target < start + logits.shape[1])).nonzero()[:, 0]
        at_label[inside] = logits[inside, target[inside] - start]
        norm = norm * rescale + e.sum(1)
        e[inside, target[inside] - start] = 0
        others = others * rescale + e.sum(1)
        if kept:
            first = e[:kept]
            pulled = pulled * rescale[:kept, None] + (first.to(weight.dtype) @ weight[start:start + HEAD_CHUNK]).float()
            squares = squares * rescale[:kept] ** 2 + (first * first).sum(1)
        peak = top
    mask = (labels != IGNORE).float()
    count = mask.sum(1, keepdim=True).clamp(min=1)
    losses = ((peak + norm.log() - at_label).view(b, positions) * mask / count).sum(1)
    if not kept:
        return losses, None
    scale = (mask / count)[:graded].reshape(-1)
    norm, others = norm[:kept], others[:kept]
    if token_normalized:
        scale = scale / ((squares / norm ** 2 + (others / norm) ** 2).sqrt()).clamp(min=1e-6)
    grad = scale[:, None] * (pulled - others[:, None] * weight[target[:kept]].float()) / norm[:, None]
    return losses, grad.view(graded, positions, width)


def _causal(model):
    return model.get_base_model() if hasattr(model, "get_base_model") else model


def _head(causal, hidden: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """`_labelled_logits` from the decoder's hidden states [b, t, hidden]: the logits of a prompt nobody is
    scored on are never projected onto the vocabulary. The head runs on the kept positions as one
    [b·t, hidden] matrix: handed [b, t, hidden] with a tied (transposed) embedding, torch batches the
    product instead, ten times slower on a CPU (SmolLM2's 49k-word head: 64 ms of a query's forward)."""
    labels = labels[:, 1:]
    labelled = (labels != IGNORE).any(0).nonzero()
    start = int(labelled[0]) if len(labelled) else labels.shape[1] - 1
    keep = hidden.shape[1] - start  # positions start .. end; the last one predicts nothing
    kept = hidden[:, -keep:].reshape(-1, hidden.shape[-1])
    logits = causal.get_output_embeddings()(kept).view(hidden.shape[0], keep, -1)
    return logits[:, :-1].float(), labels[:, start:]


def _mean_loss(logits: torch.Tensor, labels: torch.Tensor, token_normalized: bool) -> torch.Tensor:
    losses = torch.nn.functional.cross_entropy(logits.transpose(1, 2), labels.clamp(min=0), reduction="none")
    mask = (labels != IGNORE).float()
    if token_normalized:
        with torch.no_grad():
            residual = logits.softmax(-1)
            residual.scatter_add_(-1, labels.clamp(min=0)[..., None], -torch.ones_like(residual[..., :1]))
            mask = mask / residual.norm(dim=-1).clamp(min=1e-6)
    return (losses * mask).sum(1) / (labels != IGNORE).float().sum(1).clamp(min=1)


def per_example_loss(model, batch: dict[str, torch.Tensor], token_normalized: bool = False) -> torch.Tensor:
    """Each example's mean next-token cross-entropy over its own labelled tokens (0 when it has none).
    `token_normalized`: each token's loss is divided by the norm of its logit gradient ‖softmax − onehot‖
    (held constant), so every token pulls the gradient with the same strength, however surprising it is."""
    return _mean_loss(*_labelled_logits(model, batch), token_normalized)


def per_example_gradients(model, examples: list[Example], pad_id: int, adapter: str = "default",
                          batch_size: int = 16, token_normalized: bool = False) -> tuple[list[Module], np.ndarray]:
    """(modules, gradients [n, Σ sizes] float64): ∇ of each example's own mean loss w.r.t. the adapter, whole
    (the benches' yardsticks; the index and its queries use `per_example_projections`)."""
    return _per_example(model, examples, pad_id, adapter, batch_size, token_normalized, None)


def per_example_projections(model, examples: list[Example], pad_id: int, k: int, seed: int,
                            adapter: str = "default", batch_size: int = 16,
                            token_normalized: bool = False) -> tuple[list[Module], list[np.ndarray]]:
    """(modules, per module [n, k_l] float64): each example's gradient sketched from its factors
    (`project_layers` of `per_example_gradients`, without forming them)."""
    layout, flat = _per_example(model, examples, pad_id, adapter, batch_size, token_normalized, (k, seed))
    return layout, _split(flat, [_sketched_size(m, k) for m in layout])


def _per_example(model, examples, pad_id, adapter, batch_size, token_normalized, sketch):
    modules = lora_modules(model, adapter)
    layout = module_layout(modules, adapter)
    device = modules[0][1].lora_A[adapter].weight.device
    sides = _sides(layout, *sketch) if sketch else [(None, None)] * len(layout)
    out, trace = [], Trace()
    for start in range(0, len(examples), batch_size):
        batch = collate(examples[start:start + batch_size], pad_id, device)
        causal, hidden = _hidden(model, batch, modules, adapter, trace)
        hidden.backward(_losses_and_gradient(causal, hidden, batch["labels"], len(hidden), token_normalized)[1])
        out.append(_captured(trace.factors(), modules, sides))
    return layout, np.concatenate(out)


def query_projection(model, example: Example, pad_id: int, k: int, seed: int, adapter: str = "default",
                     token_normalized: bool = False) -> tuple[float, list[Module], list[np.ndarray] | None]:
    """One generation's (`fine_tune_gain`, modules, sketched gradient blocks [1, k_l]) - the blocks None when
    the gain is 0 (nothing to credit, no backward pass). The tuned loss comes from the forward the
    gradient needs: two forwards and a backward in all."""
    modules = lora_modules(model, adapter)
    layout = module_layout(modules, adapter)
    batch = collate([example], pad_id, modules[0][1].lora_A[adapter].weight.device)
    trace = Trace()
    tuned_loss, base_loss, hidden, grad = _with_and_without(model, batch, modules, adapter, trace, token_normalized)
    gain = _gain(tuned_loss, base_loss)
    if gain <= 0:
        return gain, layout, None
    hidden.backward(grad)
    return gain, layout, _split(_captured(trace.factors(), modules, _sides(layout, k, seed)),
                                [_sketched_size(m, k) for m in layout])


def _captured(factors: dict[str, dict], modules, sides) -> np.ndarray:
    """The batch's per-example gradients [b, Σ sizes] from each module's factors (`Trace.factors`), each
    module's sketched on the sides that have a matrix: ∇A = s·Σ_t (g_t B) x_tᵀ is read from the stacked
    product, ∇B = s·Σ_t g_t h_tᵀ scaled after the sketch (on [b, k/2r, r], not [b, t, out]). The products
    run in the factors' float32 (a sum over a row's tokens: ~1e-6 relative, far inside what the sketch
    itself approximates); the gradients leave as float64, as every later step keeps them. Converting each
    [b, t, out] factor to float64 first cost more than the products (~30 ms of a SmolLM2 query)."""
    parts = []
    for (name, _), (r_in, r_out) in zip(modules, sides, strict=True):
        s = factors[name]
        (x, x_part), (g_out, g_part) = s["a_in"], s["b_grad"]
        x, g_out = x[..., x_part], g_out[..., g_part]
        x = x @ r_in.to(x) if r_in is not None else x
        g_out = g_out @ r_out.to(g_out) if r_out is not None else g_out
        a_grad, b_in = (tensor[..., part] for tensor, part in (s["a_grad"], s["b_in"]))
        parts += [torch.einsum("btr,bti->bri", a_grad, x).flatten(1),
                  torch.einsum("bto,btr->bor", g_out, b_in).flatten(1) * s["scaling"]]
    return torch.cat(parts, dim=1).double().cpu().numpy()


def fine_tune_gain(model, example: Example, pad_id: int, adapter: str = "default") -> float:
    """The share of the example's labelled information that the fine-tune supplied: 1 − ℓ_adapter / ℓ_base,
    ℓ its next-token negative log-likelihood with the adapter on and off, within [0, 1]. What the base
    would say anyway - a chat template's closing token, a stock reply like "I'm sorry, I don't know" -
    gains nothing, so the rows earn nothing for it; a fact only the rows taught gains most of its
    information. Gradient credit pays the contributors' pool in this proportion, as span credit pays
    in proportion to the share of the output its spans reproduce (a paid query gets it from
    `query_projection`, with its gradient)."""
    modules = lora_modules(model, adapter)
    batch = collate([example], pad_id, modules[0][1].lora_A[adapter].weight.device)
    with torch.no_grad():
        return _gain(*_with_and_without(model, batch, modules, adapter)[:2])


def _gain(tuned: float, base: float) -> float:
    return min(1.0, max(0.0, 1.0 - tuned / base)) if base > 0 else 0.0


def _side_width(module: Module, k: int) -> int:
    """The wide side's sketch width: A [r, in] and B [out, r] get about k/2 dims each, the rank side whole."""
    return max(1, k // (2 * module.rank))


def _sketched_size(module: Module, k: int) -> int:
    width = _side_width(module, k)
    return module.rank * (min(width, module.a_size // module.rank) + min(width, module.b_size // module.rank))


@lru_cache(maxsize=4096)
def _side(seed: int, position: int, which: int, dim: int, width: int) -> torch.Tensor | None:
    """Module `position`'s seeded Gaussian sketch of one wide side ([dim, width], entries N(0, 1/width), so
    E[R Rᵀ] = I), or None when the side is no wider than the sketch (kept whole). Small (dim × k/2r), so
    made once per process."""
    if dim <= width:
        return None
    rng = np.random.Generator(np.random.PCG64([seed, position, which]))
    return torch.from_numpy(rng.standard_normal((dim, width)) / np.sqrt(width))


def _sides(layout: list[Module], k: int, seed: int) -> list[tuple[torch.Tensor | None, torch.Tensor | None]]:
    return [(_side(seed, i, 0, m.a_size // m.rank, _side_width(m, k)),
             _side(seed, i, 1, m.b_size // m.rank, _side_width(m, k))) for i, m in enumerate(layout)]


def _split(flat: np.ndarray, sizes: list[int]) -> list[np.ndarray]:
    return np.split(flat, np.cumsum(sizes)[:-1], axis=1)


def project_layers(grads: np.ndarray, layout: list[Module], k: int, seed: int) -> list[np.ndarray]:
    """Per module, its whole gradient block sketched as `per_example_projections` sketches it from the factors."""
    blocks, offset = [], 0
    for module, (r_in, r_out) in zip(layout, _sides(layout, k, seed), strict=True):
        a = torch.from_numpy(grads[:, offset:offset + module.a_size]).reshape(len(grads), module.rank, -1)
        b = torch.from_numpy(grads[:, offset + module.a_size:offset + module.size]).reshape(len(grads), -1,
                                                                                              module.rank)
        a = a @ r_in if r_in is not None else a
        b = torch.einsum("nor,ok->nkr", b, r_out) if r_out is not None else b
        blocks.append(torch.cat([a.flatten(1), b.flatten(1)], dim=1).numpy())
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
