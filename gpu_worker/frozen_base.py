"""A LoRA model's frozen base laid out for speed: its base layers in bfloat16 where that is native, its head
transposed - arranged once, when a model is loaded, instead of paid on every step or query.

LoRA fine-tuning (ModelFactory) and LoRA attribution (a query is two forwards and a backward through every
layer; an index build that per row) spend their time in the base model's matmuls, and the base weights
never change nor need a gradient of their own. Two things follow:

- precision: on hardware with native bfloat16 matmuls (a CPU with AMX or AVX-512 BF16, a CUDA GPU) the
  LoRA base layers are held in bfloat16: each casts its input to bfloat16, multiplies (accumulating in
  float32) and hands float32 on, while the embeddings, norms, attention, the head, the LoRA factors,
  their gradients, the optimizer and the losses stay float32 (QLoRA's split, at 16 bits instead of 4).
  One SmolLM2 [55 × 576] × [576 × 1536] product takes 0.27 ms instead of 0.81 ms on this 2-core VM's
  CPU; a ModelFactory step on SmolLM2 ~0.8× the time, a facts query ~0.8×; the query's row scores
  correlate with the float32 ones at ≥ 0.998 (tests/test_lora_attribution.py checks ≥ 0.999 on its tiny
  model) and rank the fact's rows alike. Casting a float32 model per operation (torch.autocast) is slower
  than float32 on a CPU - every weight is copied at every call - hence weights converted once. In
  bfloat16 the head moved attribution scores further (correlation 0.993), so it stays float32.
- the head: SmolLM2's 49k-word head is tied to the input embeddings ([V, hidden]); a forward multiplies
  by its transpose, which the CPU's GEMM does 2.3× slower than by a contiguous [hidden, V] copy (54 vs
  23 ms for a 14-token answer), while the backward wants the original. The head keeps both.

The precision is part of what a result is a function of, so it is recorded where the result is: a
training config's `base_dtype` (verify re-runs it) and an attribution index's (a query must be computed in
the same one). `arranged` gives a model laid out for a precision (the model itself, or a copy sharing every
other tensor with it), `arrange` lays out a model the caller owns.
"""

from __future__ import annotations

import copy

import torch

from .peft_layers import lora_modules

BASE_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16}


class LowPrecisionLinear(torch.nn.Module):
    """A frozen Linear whose weight is held in a lower precision; its input and output stay float32."""

    def __init__(self, linear: torch.nn.Linear, dtype: torch.dtype):
        super().__init__()
        self.in_features, self.out_features = linear.in_features, linear.out_features
        self.weight = torch.nn.Parameter(linear.weight.detach().to(dtype), requires_grad=False)
        self.bias = None if linear.bias is None else torch.nn.Parameter(linear.bias.detach().clone(),
                                                                        requires_grad=False)
        # PEFT gives an adapter loaded later the dtype of its base layer's weight unless the layer names a
        # compute dtype: the LoRA factors stay float32
        self.compute_dtype = torch.float32

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.nn.functional.linear(x.to(self.weight.dtype), self.weight).to(x.dtype)
        return y if self.bias is None else y + self.bias


class _HeadProduct(torch.autograd.Function):
    """x Wᵀ from the contiguous transpose; the gradient to x from W itself (each the GEMM's fast layout)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, weight: torch.Tensor, transposed: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(weight)
        return x @ transposed

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        (weight,) = ctx.saved_tensors
        return grad @ weight, None, None


class TransposedHead(torch.nn.Module):
    """A frozen, bias-free output head that also keeps its weight's contiguous transpose."""

    def __init__(self, head: torch.nn.Linear):
        super().__init__()
        self.in_features, self.out_features = head.in_features, head.out_features
        self.weight = head.weight  # shared (with the input embeddings, when tied)
        self.register_buffer("transposed", head.weight.detach().t().contiguous(), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _HeadProduct.apply(x, self.weight.detach(), self.transposed)


def native_dtype(device: torch.device | str) -> str:
    """bfloat16 where the device multiplies it natively, else float32 (emulated bfloat16 is slower)."""
    device = torch.device(device)
    if device.type == "cuda":
        return "bfloat16" if torch.cuda.is_bf16_supported() else "float32"
    return "bfloat16" if torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported() \
        else "float32"


def _lora_layers(model) -> list[torch.nn.Module]:
    return [layer for _, layer in lora_modules(model, None)]


def _causal(model):
    return model.get_base_model() if hasattr(model, "get_base_model") else model


def base_dtype(model) -> str:
    """The precision the model's LoRA base layers are held in (one for all, or a ValueError)."""
    found = {str(layer.base_layer.weight.dtype).removeprefix("torch.") for layer in _lora_layers(model)}
    if len(found) != 1:
        raise ValueError(f"the model's LoRA base layers are held in {sorted(found) or 'no'} precision(s), not one")
    return found.pop()


def arrange(model, dtype: str, transposed_head: bool = True):
    """Lay out `model` (the caller's own) in `dtype`, in place (what is laid out already is left); returns it.
    `transposed_head=False` leaves the head as it is: a training step runs it forward once, on the answer
    tokens only, so its transpose's memory (113 MB on SmolLM2) buys little there.

    A checkpoint is memory-mapped, and converting its base layers reads their float32 pages, which then stay
    resident for as long as any tensor still views the file (the embeddings do): 0.5 GB on SmolLM2, above a
    float32 run's peak. So once base layers were converted, the frozen float32 tensors left (embeddings,
    norms) are copied into the process's own memory and the file's mapping goes."""
    changed = _lay_out(model, dtype, transposed_head)
    if changed and BASE_DTYPES[dtype] != torch.float32:
        with torch.no_grad():
            for param in model.parameters():
                if not param.requires_grad and param.dtype == torch.float32:
                    param.data = param.data.clone()
    return model


def _lay_out(model, dtype: str, transposed_head: bool = True) -> bool:
    """Convert what is not laid out yet; whether any base layer was converted."""
    if dtype not in BASE_DTYPES:
        raise ValueError(f"unknown base layer precision {dtype!r}; known: {sorted(BASE_DTYPES)}")
    target, changed = BASE_DTYPES[dtype], False
    for layer in _lora_layers(model):
        base = layer.base_layer
        if base.weight.dtype == target:
            continue
        if not isinstance(base, torch.nn.Linear):
            raise ValueError(f"a LoRA base layer held in {base.weight.dtype} cannot be held in {dtype} (its weights "
                             "were rounded): load the base again")
        layer.base_layer, changed = LowPrecisionLinear(base, target), True
    causal = _causal(model)
    head = causal.get_output_embeddings()
    if transposed_head and not _head_laid_out(head):
        if head.bias is not None:
            raise ValueError("a laid-out model expects an output head without a bias (the LLaMA family's)")
        causal.set_output_embeddings(TransposedHead(head))
    return changed


def _head_laid_out(head) -> bool:
    """Transposed already, or an adapter's own layer (left where its adapter looks for it)."""
    return isinstance(head, TransposedHead) or hasattr(head, "lora_A")


def arranged(model, dtype: str):
    """`model` itself when it is laid out for `dtype` already, else a copy that is: the copy shares every
    tensor but the LoRA factors (copied, so training the copy's adapter leaves the caller's alone) and the
    base layers it converts, so it costs the converted weights' memory and the head's transpose."""
    if base_dtype(model) == dtype and _head_laid_out(_causal(model).get_output_embeddings()):
        return model
    factors = {id(p) for layer in _lora_layers(model) for name in ("lora_A", "lora_B")
               for p in getattr(layer, name).parameters()}
    shared = {id(t): t for t in [*model.parameters(), *model.buffers()] if id(t) not in factors}
    copied = copy.deepcopy(model, memo=shared)
    _lay_out(copied, dtype)
    return copied
