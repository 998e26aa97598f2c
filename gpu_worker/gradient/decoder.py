"""A LLaMA-family decoder run from weights arranged once: the forward and backward passes of LoRA attribution.

A LoRA query is two forwards (with and without the adapter) and a backward down to the lowest layer its index
reads, and an index build one forward and backward per batch of rows. Through transformers' decoder and PEFT's layers,
most of that time on a CPU was not arithmetic but the cost of calls: each of the 210 bfloat16 base
linears of SmolLM2 re-laying its weight out for the CPU's matrix unit on every call (oneDNN re-orders an
un-packed weight each time: 134 us for a 576 x 1536 product of one row), three casts per linear, PEFT's
dispatch and hooks, its adapters switched off and on again for the base loss. Here the same arithmetic
runs from weights arranged once per model:

- each layer's q/k/v and gate/up projections are one product of their stacked weights, bfloat16 weights
  pre-packed for oneDNN (`_Product`; its transpose packed too, on the first backward: the gradient to a
  product's input is a product by the transpose) - in the precision `frozen_base` holds the base layers
  in, input cast to it, output float32, as `LowPrecisionLinear` computes it;
- an adapter adds, per stacked product, x·A_catᵀ (its A factors stacked) then ·B_blockᵀ (its scaled B
  factors block-diagonal): two small products where PEFT made six;
- what attribution reads of each LoRA module - its input x, its A product h = x·Aᵀ and the gradient at
  its B product's output (the module's output gradient times its scaling) - is kept as the pass runs and
  handed over per group (`Trace`: one gradient hook per group, as the backward reaches it), instead of
  through forward hooks and a tensor hook per module;
- a query's forward without the adapter needs no graph and runs beside the traced one, on a second lane
  (`lora_influence`, `lanes`);
- the head is one sweep over the vocabulary (`swept_head.SweptHead`): each run's logits and the adapter run's
  loss gradient from each slice of the weight while it is in cache, from float32 slices packed for oneDNN,
  exact where the model is sure of a token (where autograd's float32 softmax − onehot is not).

On SmolLM2 the hidden states without an adapter equal transformers' bit for bit; with one, they and every
row's gradient agree with PEFT's to float rounding (tests/test_lora_decoder.py compares them with
autograd's own gradients of the factors). A facts query at one thread (bench/lora_attribution.py,
LoRA-gradient p50) takes 0.68-0.80x the time it took through transformers and PEFT, measured back to back
(its forward, base forward and backward were ~180 + ~120 + ~160 ms; then ~115 + ~75 + ~150); sweeping the
head and sketching per group (lora_influence._captured) took it further. The packed weights cost memory: one copy of
the base layers for the forward, one of their transposes for the backward (424 MB on SmolLM2 in
bfloat16) and two of the head (226 MB in float32), held while the model is.

LLaMA-family decoders only (LLaMA, Mistral, Qwen2: RMS norms, rotary positions, grouped-query attention, a
gated MLP), adapters on the decoder's seven projections - what OpenLoRA serves - without DoRA and unmerged.
Batches are right-padded (`rows.collate`), so causal attention alone keeps padding out of every real
position (and a padded position's gradient is zero: nothing after it is labelled).
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import torch
import torch.nn.functional as F

from . import onednn
from .swept_head import SweptHead

LLAMA_FAMILY = ("llama", "mistral", "qwen2")
# the projections of one input, stacked into one product: (block, projection names) per layer
GROUPS = (("self_attn", ("q_proj", "k_proj", "v_proj")), ("self_attn", ("o_proj",)),
          ("mlp", ("gate_proj", "up_proj")), ("mlp", ("down_proj",)))


class _Multiplied(torch.autograd.Function):
    """x Wᵀ by a `_Product`; the input's gradient by the transpose (the weight needs none). An input that
    needs no gradient (a run without a trace) builds no graph."""

    @staticmethod
    def forward(ctx, product: _Product, x: torch.Tensor) -> torch.Tensor:
        ctx.product = product
        return _rows(product.forward_rows, x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        return None, _rows(ctx.product.backward_rows, grad)


def _rows(product, x: torch.Tensor) -> torch.Tensor:
    """`product` (of a [n, in] matrix) of a [..., in] input, as [..., out]."""
    return product(x.reshape(-1, x.shape[-1])).view(*x.shape[:-1], -1)


class _Product:
    """x Wᵀ (+ b) for frozen weights of one precision, stacked (the projections of one input): bfloat16 packed
    for oneDNN where the CPU multiplies it natively, else as they are; input cast to their precision, output
    float32."""

    def __init__(self, linears: list[torch.nn.Module]):
        self.linears = linears
        weights = [layer.weight.detach() for layer in linears]
        weight = torch.cat(weights) if len(weights) > 1 else weights[0]
        biases = [layer.bias for layer in linears]
        self.bias = None if all(b is None for b in biases) else torch.cat(
            [b.detach().float() if b is not None else w.new_zeros(len(w), dtype=torch.float32)
             for b, w in zip(biases, weights, strict=True)])
        self.packed = onednn.bfloat16_native(weight)
        self.weight = onednn.pack(weight) if self.packed else weight
        self._transposed: torch.Tensor | None = None

    def pack_transposes(self) -> None:
        if self.packed:
            self.transposed()

    def transposed(self) -> torch.Tensor:
        if self._transposed is None:
            self._transposed = onednn.pack(torch.cat([layer.weight.detach().t() for layer in self.linears], dim=1))
        return self._transposed

    def forward_rows(self, flat: torch.Tensor) -> torch.Tensor:
        if self.packed:
            return _packed(flat, self.weight)
        return F.linear(flat.to(self.weight.dtype), self.weight).float()

    def backward_rows(self, grad: torch.Tensor) -> torch.Tensor:
        """The gradient to the rows' input: by W itself (unpacked) or its packed transpose."""
        if self.packed:
            return _packed(grad, self.transposed())
        return (grad.to(self.weight.dtype) @ self.weight).float()

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        y = _Multiplied.apply(self, x)
        return y if self.bias is None else y + self.bias


def _packed(flat: torch.Tensor, packed: torch.Tensor) -> torch.Tensor:
    return onednn.multiply(flat.to(torch.bfloat16), packed).float()


class _Side:
    """Projections of one input held in different precisions (an adapter targeting some of them had their
    base layers converted): a product each, outputs side by side."""

    def __init__(self, linears: list[torch.nn.Module]):
        self.products = [_Product([layer]) for layer in linears]

    def pack_transposes(self) -> None:
        for product in self.products:
            product.pack_transposes()

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([product(x) for product in self.products], dim=-1)


def _base_linear(module: torch.nn.Module) -> torch.nn.Module:
    """The frozen linear under a PEFT LoRA layer (itself, where the module carries no adapter)."""
    return module.get_base_layer() if hasattr(module, "get_base_layer") else module


@dataclass
class _Group:
    """One input's projections: the modules (PEFT LoRA layers or plain linears), their output widths, and
    their base weights as one product where one precision holds them."""

    modules: list[torch.nn.Module]
    widths: list[int]
    product: _Product | _Side

    @classmethod
    def of(cls, modules: list[torch.nn.Module]) -> _Group:
        linears = [_base_linear(module) for module in modules]
        product = _Product(linears) if len({layer.weight.dtype for layer in linears}) == 1 else _Side(linears)
        return cls(modules, [layer.out_features for layer in linears], product)


@dataclass
class _Terms:
    """An adapter's terms on one group: its A factors stacked [Σr, in], its scaled B factors block-diagonal
    [Σout, Σr], and per LoRA module (name, output columns, rank rows, scaling)."""

    a: torch.Tensor
    b: torch.Tensor
    modules: list[tuple[str, slice, slice, float]]


@dataclass
class Trace:
    """Where a traced forward sends each group's LoRA factors: `reached` is called, on the backward's thread,
    with a `Reached` per group with an adapter on the layers from `lowest` up, as soon as the backward has its
    output gradient - the layers below are still to come, so the caller may work on it meanwhile (on the
    second lane: `lanes`)."""

    reached: Callable[[Reached], None]
    lowest: int = 0  # the lowest layer read: the layers below it run without a graph, the backward stops there


@dataclass
class Reached:
    """One group's part of a traced pass, once the backward reached it: the adapter's terms there, the group's
    input x and A products h (kept by the forward) and the gradient at its output."""

    terms: _Terms
    x: torch.Tensor
    h: torch.Tensor
    grad: torch.Tensor

    @property
    def members(self) -> list[tuple[str, slice, slice, float]]:
        """Per LoRA module of the group: (name, its columns of the output gradient, its ranks of the A product,
        its scaling)."""
        return self.terms.modules

    def factors(self) -> Factors:
        """The factors the group's LoRA modules share (a_grad: one product by the stacked, scaled B factors)."""
        return Factors(self.x, self.grad @ self.terms.b, self.h, self.grad)


@dataclass
class Factors:
    """What one group's LoRA modules' gradients are made of, per example and token: the group's input x
    [b, t, in] (each module's A input), the gradient at its A products [b, t, Σr] and the products
    themselves h [b, t, Σr] (each module's B input), and the gradient at its output [b, t, Σout] (each
    module's, before its scaling): ∇A = Σ_t a_grad_t x_tᵀ, ∇B = s · Σ_t grad_t h_tᵀ per module."""

    x: torch.Tensor
    a_grad: torch.Tensor
    h: torch.Tensor
    grad: torch.Tensor


class Decoder:
    """A LLaMA-family causal LM's decoder, from its base weights arranged once; an adapter's factors are
    read from its PEFT layers at every pass (a slot's factors change between queries)."""

    def __init__(self, causal):
        # transformers' rotation itself; imported here, with a model already loaded, not when a worker starts
        # (its modeling modules pull in the generation stack: seconds)
        from transformers.models.llama.modeling_llama import apply_rotary_pos_emb

        self.rotate = apply_rotary_pos_emb
        config = causal.config
        if config.model_type not in LLAMA_FAMILY:
            raise ValueError(f"the base is a {config.model_type!r} model; LoRA attribution reads LLaMA-family "
                             f"decoders ({', '.join(LLAMA_FAMILY)})")
        decoder = causal.get_decoder()
        self.decoder, self.sources = decoder, _sources(causal)
        self.heads, self.kv_heads = config.num_attention_heads, config.num_key_value_heads
        self.head_dim = getattr(config, "head_dim", None) or config.hidden_size // self.heads
        self.windows = _windows(config, len(decoder.layers))
        self._terms: tuple[tuple, list[list[_Terms | None]]] | None = None  # the last adapter's, by its factors
        self.groups = [[_Group.of([getattr(getattr(layer, block), name) for name in names]) for block, names in GROUPS]
                       for layer in decoder.layers]
        # each projection's layer, by the identity of its module (a PEFT LoRA layer or a plain linear)
        self.layer_of = {id(module): i for i, groups in enumerate(self.groups) for group in groups
                         for module in group.modules}
        self.head = SweptHead(causal.get_output_embeddings())

    def ready_for_gradients(self) -> None:
        """Pack every product's transpose now (what a first backward would), not on a paid query."""
        for layer_groups in self.groups:
            for group in layer_groups:
                group.product.pack_transposes()

    def terms(self, modules: list[tuple[str, torch.nn.Module]], adapter: str) -> list[list[_Terms | None]]:
        """The adapter's terms per layer and group, from `modules` (peft_layers.lora_modules: its LoRA layers);
        a ValueError when it has a LoRA layer this decoder does not run, or one it cannot (DoRA, merged).
        Stacked again only when a factor changed (the attributor copies the next adapter into a slot)."""
        factors = [(layer.lora_A[adapter].weight, layer.lora_B[adapter].weight) for _, layer in modules]
        key = (adapter, tuple((name, id(a), a._version, id(b), b._version)
                              for (name, _), (a, b) in zip(modules, factors, strict=True)))
        if self._terms is None or self._terms[0] != key:
            self._terms = (key, self._stack(modules, adapter))
        return self._terms[1]

    def _stack(self, modules: list[tuple[str, torch.nn.Module]], adapter: str) -> list[list[_Terms | None]]:
        names = {id(layer): name for name, layer in modules}
        covered = set()
        terms = []
        for layer_groups in self.groups:
            terms.append([])
            for group in layer_groups:
                terms[-1].append(self._group_terms(group, names, adapter, covered))
        missing = sorted(name for name, layer in modules if id(layer) not in covered)
        if missing:
            raise ValueError(f"the adapter {adapter!r} has LoRA layers on {', '.join(missing)}; LoRA attribution "
                             "reads adapters on the decoder's projections (q, k, v, o, gate, up, down) only")
        return terms

    @staticmethod
    def _group_terms(group: _Group, names: dict[int, str], adapter: str, covered: set) -> _Terms | None:
        a_parts, b_parts, found, column, rank = [], [], [], 0, 0
        for module, width in zip(group.modules, group.widths, strict=True):
            if id(module) in names:
                if getattr(module, "merged", False) or module.use_dora.get(adapter, False):
                    raise ValueError(f"{names[id(module)]}: LoRA attribution reads unmerged LoRA factors, not "
                                     "a merged or DoRA adapter")
                a, b = module.lora_A[adapter].weight.detach(), module.lora_B[adapter].weight.detach()
                scaling = float(module.scaling[adapter])
                found.append((names[id(module)], slice(column, column + width), slice(rank, rank + len(a)), scaling))
                a_parts.append(a)
                b_parts.append((column, rank, b * scaling))
                rank += len(a)
                covered.add(id(module))
            column += width
        if not found:
            return None
        stacked = torch.zeros(column, rank, dtype=a_parts[0].dtype, device=a_parts[0].device)
        for start, ranks_start, scaled in b_parts:
            stacked[start:start + len(scaled), ranks_start:ranks_start + scaled.shape[1]] = scaled
        return _Terms(torch.cat(a_parts), stacked, found)

    def hidden(self, input_ids: torch.Tensor, terms: list[list[_Terms | None]] | None = None,
               trace: Trace | None = None) -> torch.Tensor:
        """The decoder's last hidden states [b, t, hidden] (normed), positions 0..t-1 in every row; with
        `terms`, the adapter's; with `trace`, a graph from the trace's lowest layer up, whose backward reaches
        every LoRA module there (the weights need no gradient), each group's factors handed to the trace as the
        backward reaches it. Without a trace, no graph."""
        b, t = input_ids.shape
        h = self.decoder.embed_tokens(input_ids).detach()
        cos, sin = self.decoder.rotary_emb(h, torch.arange(t, device=h.device)[None])
        masks = {window: _mask(t, window, h.device) for window in set(self.windows)}
        for i, (layer, groups, layer_terms, window) in enumerate(zip(
                self.decoder.layers, self.groups, terms or [[None] * len(GROUPS)] * len(self.groups), self.windows,
                strict=True)):
            graphed = trace is not None and i >= trace.lowest
            if graphed and i == trace.lowest:
                h = h.detach().requires_grad_(True)
            with torch.set_grad_enabled(graphed):
                qkv, out, gate_up, down = (partial(self._project, group, group_terms, trace if graphed else None)
                                           for group, group_terms in zip(groups, layer_terms, strict=True))
                h = h + out(self._attend(layer, qkv(layer.input_layernorm(h)), cos, sin, masks[window]))
                gate, up = gate_up(layer.post_attention_layernorm(h)).chunk(2, dim=-1)
                h = h + down(layer.mlp.act_fn(gate) * up)
        with torch.set_grad_enabled(trace is not None):
            return self.decoder.norm(h)

    def _attend(self, layer, mixed: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor,
                mask: torch.Tensor | None) -> torch.Tensor:
        """One layer's attention from its stacked q/k/v projections [b, t, (heads + 2 kv_heads) · head_dim]."""
        b, t, _ = mixed.shape
        q_end, k_end = self.heads * self.head_dim, (self.heads + self.kv_heads) * self.head_dim
        q, k = self.rotate(self._heads(mixed[..., :q_end], self.heads),
                           self._heads(mixed[..., q_end:k_end], self.kv_heads), cos, sin)
        v = self._heads(mixed[..., k_end:], self.kv_heads)
        attended = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=mask is None,
                                                  scale=layer.self_attn.scaling, enable_gqa=self.heads != self.kv_heads)
        return attended.transpose(1, 2).reshape(b, t, -1)

    @staticmethod
    def _project(group: _Group, terms: _Terms | None, trace: Trace | None, x: torch.Tensor) -> torch.Tensor:
        """The group's projection of its input: the base product, then the adapter's terms."""
        y = group.product(x)
        return y if terms is None else _adapt(terms, x, y, trace)

    def _heads(self, x: torch.Tensor, heads: int) -> torch.Tensor:
        return x.view(*x.shape[:2], heads, self.head_dim).transpose(1, 2)


def _adapt(terms: _Terms, x: torch.Tensor, y: torch.Tensor, trace: Trace | None) -> torch.Tensor:
    """y plus the adapter's terms on x; with `trace`, what the factors' gradients need goes to it when the
    backward reaches y (the hook keeps the gradient it is handed unchanged)."""
    h = x @ terms.a.t()
    y = y + h @ terms.b.t()
    if trace is not None:
        kept_x, kept_h = x.detach(), h.detach()
        y.register_hook(lambda grad: trace.reached(Reached(terms, kept_x, kept_h, grad)))
    return y


def _windows(config, layers: int) -> list[int | None]:
    """Each layer's sliding attention window (None: full causal attention), as transformers applies them:
    per `layer_types` where the config lists them (Qwen2's windowed upper layers), else Mistral's one
    window for every layer."""
    window = getattr(config, "sliding_window", None)
    kinds = getattr(config, "layer_types", None)
    if kinds:
        return [window if kind == "sliding_attention" else None for kind in kinds]
    return [window if getattr(config, "use_sliding_window", True) else None] * layers


def _mask(t: int, window: int | None, device) -> torch.Tensor | None:
    """None (causal) unless a window shorter than the sequence applies: then causal and banded."""
    if not window or t <= window:
        return None
    i = torch.arange(t, device=device)
    return (i[None, :] <= i[:, None]) & (i[:, None] - i[None, :] < window)


def _sources(causal) -> tuple[int, ...]:
    """What a Decoder was arranged from: its head's and base layers' weights (a layer `frozen_base` converts
    anew is new) and the projections' modules (a linear PEFT wraps anew, for an adapter on more targets, is
    new)."""
    projections = [getattr(getattr(layer, block), name) for layer in causal.get_decoder().layers
                   for block, names in GROUPS for name in names]
    return (id(causal.get_output_embeddings().weight), *(id(_base_linear(module).weight) for module in projections),
            *(id(module) for module in projections))


_ARRANGED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def decoder(causal) -> Decoder:
    """The model's Decoder, arranged on first use and again when its base layers were replaced."""
    found = _ARRANGED.get(causal)
    if found is None or found.sources != _sources(causal):
        found = _ARRANGED[causal] = Decoder(causal)
    return found
