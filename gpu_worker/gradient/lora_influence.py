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
formed, and a worker keeps (in + out)·k/2r numbers per module instead of a dense D×k matrix (on SmolLM2, 210
modules: ~14 MB in place of 1.25 GB read on every query - an index reads the 112 on the top 16 layers -; a
query's projection went from ~0.3 s to milliseconds). Inner products stay unbiased (E[R Rᵀ] = I); on the
facts adapters the sketch's scores correlate with the unprojected ones at 0.96-0.99 (a dense sketch: 0.995),
and rank the fact's rows the same (bench/lora_attribution.py). Every method scores a query q against a row i as
s(q, i) = Σ_l φ_l(q)ᵀ M_l φ_l(i)  (then, for ours, divided by the row's norm), positive when training
on i lowers the loss of q:

- "ours" (default): gradients of the *token-normalised* loss (each token's loss divided by the norm of
  its logit gradient, so a few surprising tokens - in a fine-tuning row, usually the free-text words
  it copies - do not drown the tokens that say what the row teaches), of the plain loss, or of the plain
  loss with the answer tokens that echo the prompt weighted down (`readings`: each token's loss times its
  weight, `Example.weights`), whichever the data chooses; M_l = (G_l + λ_l I)^-p, a power of the damped
  per-layer empirical Fisher G_l = (1/n) Σ_i φ_l(i)φ_l(i)ᵀ with λ_l = c · (mean eigenvalue of G_l): p = 1,
  its exact inverse (the influence function's Newton step), or p = 1/2, its inverse square root - the
  preconditioner an Adam step applies (its update divides by the root of the gradients' second moment), so
  that a row is scored by how the fine-tune's optimizer moved the adapter for it, not by a Newton step it never
  took (bench/lora_attribution.py, ad-hoc, response-only rows, plain reading: at the same c the root identified
  a row's task better on every set - row AUC at c = 1 0.85 -> 0.90 separators, 0.84 -> 0.93 suffixes, 0.82 ->
  0.89 distinct - while its LDS at c = 0.1 went 0.317 -> 0.328, 0.254 -> 0.192 and 0.268 -> 0.304); the
  reading, c and p are chosen together from the data, twice (`damping.choose_adapter_damping`): what pays by
  identification of the rows' own contributions among the settings an LDS check shows predict retrains, what
  predicts effects by that check's LDS;
  a large c tends to the dot product of each module's gradient scaled by its own λ_l's power, and c = 0
  (`NO_CURVATURE`) is plain cosine, so the data may
  choose it); each row's preconditioned features are scaled to unit norm, so
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
paid query's prompt needs no vocabulary-wide projection. An index may read the modules of the decoder's
top layers only (`upper_layers`; adapter_index.GRADIENT_LAYERS): the layers below still run with the
adapter, without a graph, and the backward stops at the lowest layer read - the gradients of the modules
read are those of a whole pass.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache, partial

import numpy as np
import torch

from ..peft_layers import lora_modules
from ..rows import IGNORE, Example, collate
from . import lanes
from .decoder import Decoder, Reached, Trace, decoder
from .swept_head import SweptHead

METHODS = ("ours", "datainf", "grad_dot")
NO_CURVATURE = 0.0  # ours' damping that drops the Fisher: plain cosine (`ours_operator`)
# ours' power of the damped Fisher (module doc): the influence function's inverse, or its square root - the
# preconditioner an Adam step applies, which is how the fine-tune (AdamW) actually moved the adapter
INVERSE, UPDATE = 1.0, 0.5
POWERS = (INVERSE, UPDATE)
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


def adapter_layout(model, adapter: str = "default") -> list[list]:
    """Every LoRA module of the adapter as [name, A size, B size] - read or not, each changes the forward."""
    return [[m.name, m.a_size, m.b_size] for m in module_layout(lora_modules(model, adapter), adapter)]


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
    retrained model is measured by; attribution's passes run `Decoder` and `SweptHead`). Only LLaMA-family
    decoders come here (the head follows the decoder directly)."""
    causal = _causal(model)
    hidden = causal.get_decoder()(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                                  use_cache=False).last_hidden_state
    return _head(causal, hidden, batch["labels"])


def ready(model) -> None:
    """Arrange the model's decoder for queries now (weights packed, forward and backward), so that the first
    query after an adapter is loaded is as fast as the next."""
    decoder(_causal(model)).ready_for_gradients()


def _with_and_without(run: Decoder, batch: dict[str, torch.Tensor], modules, adapter: str, trace: Trace | None = None,
                      token_normalized: bool = False) -> tuple[float, Future[float], torch.Tensor, torch.Tensor | None]:
    """(the loss with the adapter, the loss without any adapter - to come -, the hidden states with it [1, t, hidden]
    and, with `trace`, the gradient there of its loss - token-normalised or not, its tokens weighted when the
    batch carries weights; the losses never are) of a one-example batch. The run without the adapter (the frozen
    base's own: nothing to switch off) goes on the second lane (`lanes`) while this thread runs the one with it;
    each run's head is one sweep over the vocabulary (`SweptHead`), the second half of the traced run's made on
    the lane as soon as its forward is done, the run without the adapter's after it - while this thread's
    backward may already run."""
    if len(batch["input_ids"]) != 1:
        raise ValueError("a query is one example")
    base = lanes.beside(lambda: run.hidden(batch["input_ids"]))
    tuned = run.hidden(batch["input_ids"], run.terms(modules, adapter), trace)
    losses, grad = _losses_and_gradient(run.head, tuned, batch["labels"], 1 if trace is not None else 0,
                                        token_normalized, batch.get("weights"))
    base_loss = lanes.beside(lambda: float(_losses_and_gradient(run.head, base.result(), batch["labels"], 0,
                                                                False)[0][0]))
    return float(losses[0]), base_loss, tuned, grad


def _losses_and_gradient(head: SweptHead, hidden: torch.Tensor, labels: torch.Tensor, graded: int,
                         token_normalized: bool, weights: torch.Tensor | None = None
                         ) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(each row's mean next-token loss over its labelled tokens [b], and the first `graded` rows' gradients of
    their own losses - each token's weighted by the batch's `weights`, when it has them - at the hidden
    states [graded, t, hidden] - None when none is) from the decoder's hidden states [b, t, hidden] and the
    batch's labels. Positions before the batch's first labelled one are never projected onto the vocabulary
    (a paid query's prompt)."""
    labels = labels[:, 1:]
    labelled = (labels != IGNORE).any(0).nonzero()
    start = int(labelled[0]) if len(labelled) else labels.shape[1] - 1
    losses, grad = head.sweep(hidden[:, start:-1].detach(), labels[:, start:], graded, token_normalized,
                              None if weights is None else weights[:, 1:][:, start:])
    if grad is None:
        return losses, None
    return losses, torch.cat([grad.new_zeros(graded, start, grad.shape[-1]), grad,
                              grad.new_zeros(graded, 1, grad.shape[-1])], dim=1)


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


def _mean_loss(logits: torch.Tensor, labels: torch.Tensor, token_normalized: bool,
               weights: torch.Tensor | None = None) -> torch.Tensor:
    losses = torch.nn.functional.cross_entropy(logits.transpose(1, 2), labels.clamp(min=0), reduction="none")
    mask = (labels != IGNORE).float() * (1.0 if weights is None else weights)
    if token_normalized:
        with torch.no_grad():
            residual = logits.softmax(-1)
            residual.scatter_add_(-1, labels.clamp(min=0)[..., None], -torch.ones_like(residual[..., :1]))
            mask = mask / residual.norm(dim=-1).clamp(min=1e-6)
    return (losses * mask).sum(1) / (labels != IGNORE).float().sum(1).clamp(min=1)


def per_example_loss(model, batch: dict[str, torch.Tensor], token_normalized: bool = False) -> torch.Tensor:
    """Each example's mean next-token cross-entropy over its own labelled tokens (0 when it has none), each
    token's times its weight when the batch carries weights (a reading's loss: the one its gradient is of).
    `token_normalized`: each token's loss is divided by the norm of its logit gradient ‖softmax − onehot‖
    (held constant), so every token pulls the gradient with the same strength, however surprising it is."""
    logits, labels = _labelled_logits(model, batch)
    weights = batch.get("weights")
    return _mean_loss(logits, labels, token_normalized,
                      None if weights is None else weights[:, 1:][:, -labels.shape[1]:])


def upper_layers(model, layers: int, adapter: str = "default") -> list[str]:
    """The names of the adapter's LoRA modules on the top `layers` of the decoder's layers that carry it (all of
    them on an adapter carried by no more): what an index built to read those layers reads (`traced`)."""
    if layers < 1:
        raise ValueError(f"an index reads at least one layer, not {layers}")
    run = decoder(_causal(model))
    modules = lora_modules(model, adapter)
    # a module on no decoder layer (the head) counts as the lowest: refused by name when the terms are stacked
    carrying = sorted({run.layer_of.get(id(layer), 0) for _, layer in modules})
    lowest = carrying[-layers:][0]
    return [name for name, layer in modules if run.layer_of.get(id(layer), 0) >= lowest]


def per_example_gradients(model, examples: list[Example], pad_id: int, adapter: str = "default",
                          batch_size: int = 16, token_normalized: bool = False,
                          traced: Collection[str] | None = None) -> tuple[list[Module], np.ndarray]:
    """(modules, gradients [n, Σ sizes] float64): ∇ of each example's own mean loss w.r.t. the adapter, whole
    (the benches' yardsticks; the index and its queries use `per_example_projections`); `traced`: the
    LoRA modules read (by name; None: all)."""
    return _per_example(model, examples, pad_id, adapter, batch_size, token_normalized, None, traced)


def per_example_projections(model, examples: list[Example], pad_id: int, k: int, seed: int,
                            adapter: str = "default", batch_size: int = 16, token_normalized: bool = False,
                            traced: Collection[str] | None = None) -> tuple[list[Module], list[np.ndarray]]:
    """(modules, per module [n, k_l] float64): each example's gradient sketched from its factors
    (`project_layers` of `per_example_gradients`, without forming them)."""
    layout, flat = _per_example(model, examples, pad_id, adapter, batch_size, token_normalized, (k, seed), traced)
    return layout, _split(flat, [_sketched_size(m, k) for m in layout])


def _read(model, adapter: str, traced: Collection[str] | None, adapter_modules: list[list] | None = None):
    """(the model's Decoder, every LoRA module of the adapter - its terms apply on every layer -, the layout of
    those read, the lowest layer holding one: the backward goes no further down). With `adapter_modules`
    (`adapter_layout` of the adapter an index was built for), a ValueError unless the adapter is laid out so."""
    modules = lora_modules(model, adapter)
    if adapter_modules is not None and [[m.name, m.a_size, m.b_size] for m in module_layout(modules, adapter)] \
            != adapter_modules:
        raise ValueError("the index was built for another adapter layout than the one loaded")
    wanted = None if traced is None else set(traced)
    read = modules if wanted is None else [(name, layer) for name, layer in modules if name in wanted]
    lacking = sorted((wanted or set()) - {name for name, _ in read})
    if lacking or not read:
        raise ValueError(f"the adapter {adapter!r} has no LoRA module {', '.join(lacking[:3]) or '(none named)'}"
                         f"{' and more' if len(lacking) > 3 else ''}: the modules to read are not the adapter's "
                         "(an index built for another adapter?)")
    run = decoder(_causal(model))
    # a module on no decoder layer (the head) is refused by name when the adapter's terms are stacked
    return run, modules, module_layout(read, adapter), min(run.layer_of.get(id(layer), 0) for _, layer in read)


def _per_example(model, examples, pad_id, adapter, batch_size, token_normalized, sketch, traced):
    run, modules, layout, lowest = _read(model, adapter, traced)
    device, out = modules[0][1].lora_A[adapter].weight.device, []
    for start in range(0, len(examples), batch_size):
        batch = collate(examples[start:start + batch_size], pad_id, device)
        sketches = _Sketches(layout, *(sketch or (0, 0)), lowest)
        hidden = run.hidden(batch["input_ids"], run.terms(modules, adapter), sketches.trace)  # to each module read
        hidden.backward(_losses_and_gradient(run.head, hidden, batch["labels"], len(hidden), token_normalized,
                                             batch.get("weights"))[1])
        out.append(sketches.gathered())
    return layout, np.concatenate(out)


def query_projection(model, example: Example, pad_id: int, k: int, seed: int, adapter: str = "default",
                     token_normalized: bool = False, traced: Collection[str] | None = None,
                     adapter_modules: list[list] | None = None) -> tuple[float, list[Module], list[np.ndarray] | None]:
    """One generation's (`fine_tune_gain`, modules, sketched gradient blocks [1, k_l]) - the blocks None when the gain
    is 0 (nothing to credit). The tuned loss comes from the forward the gradient needs: two forwards and a
    backward in all; the gradient is of the example's loss as its reading weighs it (`Example.weights`), the
    gain of its unweighted loss. The backward starts before the gain is known (the loss without the adapter is
    still being made on the second lane): a query with nothing to credit costs one backward more than it needs,
    every other one is that much sooner. `traced`: the LoRA modules read (None: all); `adapter_modules`: the
    adapter's layout it must have (`_read`)."""
    run, modules, layout, lowest = _read(model, adapter, traced, adapter_modules)
    batch = collate([example], pad_id, modules[0][1].lora_A[adapter].weight.device)
    sketches = _Sketches(layout, k, seed, lowest)
    tuned_loss, base_loss, hidden, grad = _with_and_without(run, batch, modules, adapter, sketches.trace,
                                                            token_normalized)
    hidden.backward(grad)
    blocks = sketches.gathered()
    gain = _gain(tuned_loss, base_loss.result())
    return gain, layout, _split(blocks, [_sketched_size(m, k) for m in layout]) if gain > 0 else None


class _Sketches:
    """A traced pass's per-example gradients [b, Σ sizes] (modules in `layout`'s order), sketched to about `k`
    dims per module (`k` 0: whole) from each group's factors, on the second lane while the backward goes on
    below (`trace`: each group handed over as the backward reaches it; bench/lora_attribution.py: ~45 ms of
    a 64-token query off its path). Per group, not per module: the group's input by its modules'
    input-side sketches side by side, its output gradient by their output-side ones block-diagonal, then one
    product each with the A gradient and the A products (`_group_sides`), each module's block read out of
    them: on SmolLM2, 4 products per layer-group instead of 4 per module, whose calls cost more than their
    arithmetic. ∇A = Σ_t a_grad_t (R_inᵀ x_t)ᵀ; ∇B = s·R_outᵀ Σ_t grad_t h_tᵀ, scaled after the sketch. The
    products run in the factors' float32 (sums over a row's tokens: ~1e-6 relative, far inside what the
    sketch itself approximates); the gradients leave as float64, as every later step keeps them."""

    def __init__(self, layout: list[Module], k: int, seed: int, lowest: int = 0):
        self.layout, self.k, self.seed = layout, k, seed
        self.position = {module.name: i for i, module in enumerate(layout)}
        self.pending: list[Future[dict[str, list[torch.Tensor]]]] = []
        self.trace = Trace(self._reached, lowest)

    def _reached(self, reached: Reached) -> None:
        if any(name in self.position for name, *_ in reached.members):
            self.pending.append(lanes.beside(partial(self._sketched, reached)))

    def _sketched(self, reached: Reached) -> dict[str, list[torch.Tensor]]:
        """Per LoRA module of one group that is read: its A and B blocks [b, ·]."""
        factors = reached.factors()
        members = [member for member in reached.members if member[0] in self.position]
        placed = tuple((self.position[name], self.layout[self.position[name]], columns.start, columns.stop)
                       for name, columns, _, _ in members)
        r_in, r_out, in_cols, out_cols = _group_sides(self.seed, self.k, factors.grad.shape[-1], placed)
        a = torch.einsum("btr,btw->brw", factors.a_grad, factors.x @ r_in.to(factors.x))
        b = torch.einsum("btw,btr->bwr", factors.grad @ r_out.to(factors.grad), factors.h)
        return {name: [a[:, ranks, ins].flatten(1), b[:, outs, ranks].flatten(1) * scaling]
                for (name, _, ranks, scaling), ins, outs in zip(members, in_cols, out_cols, strict=True)}

    def gathered(self) -> np.ndarray:
        """After the backward: every group's blocks, in the layout's order."""
        parts: dict[str, list[torch.Tensor]] = {}
        for pending in self.pending:
            parts.update(pending.result())
        return torch.cat([part for module in self.layout for part in parts[module.name]], dim=1).double().cpu().numpy()


@lru_cache(maxsize=4096)
def _group_sides(seed: int, k: int, width: int, members: tuple[tuple[int, Module, int, int], ...]):
    """(the input-side sketches of a group's modules side by side [in, Σw], their output-side ones placed at
    each module's columns of the group's output [width, Σw'], each module's columns of the two) - members as
    (position in the layout, module, its first and past-last output column); `k` 0 or a side no wider than
    its sketch: that side whole (an identity block). float32, made once per process."""
    ins, out_blocks, in_cols, out_cols = [], [], [], []
    for position, module, start, stop in members:
        dim_in = module.a_size // module.rank
        sketched = _side_width(module, k) if k else 0
        r_in = _side(seed, position, 0, dim_in, sketched) if k else None
        r_out = _side(seed, position, 1, module.b_size // module.rank, sketched) if k else None
        ins.append(r_in if r_in is not None else torch.eye(dim_in, dtype=torch.float64))
        out_blocks.append((start, stop, r_out if r_out is not None else torch.eye(stop - start, dtype=torch.float64)))
    r_out = torch.zeros(width, sum(block.shape[1] for _, _, block in out_blocks), dtype=torch.float64)
    at_in = at_out = 0
    for r_in, (start, stop, block) in zip(ins, out_blocks, strict=True):
        r_out[start:stop, at_out:at_out + block.shape[1]] = block
        in_cols.append(slice(at_in, at_in + r_in.shape[1]))
        out_cols.append(slice(at_out, at_out + block.shape[1]))
        at_in, at_out = at_in + r_in.shape[1], at_out + block.shape[1]
    return torch.cat(ins, dim=1).float(), r_out.float(), in_cols, out_cols


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
        tuned, base = _with_and_without(decoder(_causal(model)), batch, modules, adapter)[:2]
        return _gain(tuned, base.result())


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


def ours_operator(phi: np.ndarray, damping: float, power: float = INVERSE) -> np.ndarray:
    """(G + λI)^-power for the layer's Fisher G (`damped_inverse`)."""
    return damped_inverse(*np.linalg.eigh(fisher(phi)), damping, power)


def damped_inverse(values: np.ndarray, vectors: np.ndarray, damping: float, power: float = INVERSE) -> np.ndarray:
    """(G + λI)^-power from G's eigendecomposition, λ = damping × G's mean eigenvalue (what a damping choice
    decomposes once and inverts per candidate): power `INVERSE` (1) is the influence function's inverse,
    `UPDATE` (1/2) its square root (module doc); damping `NO_CURVATURE` (0): the identity whatever the
    power - no Fisher at all, so a row's unit feature is its whole sketched gradient's direction and a query
    ranks rows by plain cosine (a large damping instead divides each module by its own λ's power, which
    weighs the modules otherwise)."""
    if power not in POWERS:
        raise ValueError(f"a curvature power is one of {POWERS}, not {power}")
    if damping == NO_CURVATURE:
        return np.eye(len(values))
    values = np.maximum(values, 0.0)  # a Fisher has none below zero: eigh's rounding may leave a few
    lam = damping * max(float(values.mean()), 1e-30)
    return (vectors / (values + lam) ** power) @ vectors.T


def datainf_operator(phi: np.ndarray, true_dim: int) -> np.ndarray:
    """DataInf's approximate inverse (1/λ)(I − (1/n) Σ_j φ_jφ_jᵀ/(λ + ‖φ_j‖²)), λ by its own rule."""
    norms = np.einsum("ij,ij->i", phi, phi)
    lam = max(DATAINF_DAMPING * float(norms.mean()) / true_dim, 1e-30)
    weighted = phi / (lam + norms)[:, None]
    return (np.eye(phi.shape[1]) - weighted.T @ phi / len(phi)) / lam


def operators(blocks: list[np.ndarray], layout: list[Module], method: str, damping: float,
              power: float = INVERSE) -> list[np.ndarray]:
    if method == "ours":
        return [ours_operator(phi, damping, power) for phi in blocks]
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


def setting_features(blocks: list[np.ndarray], layout: list[Module], method: str, damping: float = 0.0,
                     power: float = INVERSE) -> np.ndarray:
    """The index's rows under one setting of `method` (its damping and power): `row_features` of its
    `operators`."""
    return row_features(blocks, operators(blocks, layout, method, damping, power), method)


def scores(query_blocks: list[np.ndarray], features: np.ndarray) -> np.ndarray:
    """s(q, i) for every row i: [queries, n]."""
    return np.concatenate(query_blocks, axis=1) @ features.T
