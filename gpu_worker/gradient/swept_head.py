"""The output head arranged for attribution's losses and their gradient: one sweep over the vocabulary.

A LoRA attribution query needs, from the decoder's last hidden states, each run's mean next-token loss (the
adapter's and the base's: `fine_tune_gain`) and the adapter run's loss gradient at those states (where its
backward starts); an index build the same for a batch of rows. Through autograd that reads the head's
weight (113 MB in float32 on SmolLM2's 49k-word vocabulary) two or three times and holds [rows, positions,
V] logits; here it is one sweep (`SweptHead.sweep`), exact where autograd's float32 is not, its two halves
swept side by side (the second on `lanes`' thread) and merged.
"""

from __future__ import annotations

from functools import partial

import torch

from ..rows import IGNORE
from . import lanes, onednn


class SweptHead:
    """The output head arranged for `sweep`: its vocabulary in slices, each slice's weight laid out once for the
    two products a sweep makes of it - the logits (x · W_sᵀ) and the softmax-weighted sum of its rows (e · W_s).
    On a CPU with oneDNN both are float32 weights packed for it, which multiplies a query's few rows by them
    in 16 and 12 ms on SmolLM2 where the GEMM of the unpacked weight took 24 and 17.5; the packed copies cost
    two copies of the head's weight (226 MB on SmolLM2), held while the model is."""

    def __init__(self, head: torch.nn.Module, rows: int = 4096):
        if getattr(head, "bias", None) is not None:
            raise ValueError("LoRA attribution reads a bias-free output head (the LLaMA family's)")
        weight = head.weight.detach()
        self.weight = weight
        packed = onednn.float32_packable(weight)
        self.slices = []
        for start in range(0, len(weight), rows):
            part = weight[start:start + rows]
            self.slices.append((start, len(part), onednn.pack(part) if packed else part,
                                onednn.pack(part.t().contiguous()) if packed else part.t()))
        self.packed = packed

    def _product(self, x: torch.Tensor, laid_out: torch.Tensor) -> torch.Tensor:
        if self.packed:
            return onednn.multiply(x, laid_out)
        return (x.to(laid_out.dtype) @ laid_out.t()).float()

    def sweep(self, hidden: torch.Tensor, labels: torch.Tensor, graded: int, token_normalized: bool,
              weights: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(each row's mean loss over its labelled positions [b], and the first `graded` rows' gradients of
        their own losses - token-normalised or plain, each position's loss times its `weights` [b, positions]
        when given - at their hidden states [graded, positions, hidden]) from the hidden states [b, positions,
        hidden] predicting `labels` [b, positions], in one sweep over the vocabulary. The losses are never
        weighted: they say how well the row is predicted, whatever a reading of its gradient weighs.

        Autograd through the head would read its weight twice or more (the logits, then the gradient
        Σ_v p_v w_v − w_y) and hold and re-read [b, positions, V] logits; here each slice of the vocabulary
        gives its logits, and the graded rows' softmax-weighted sums of the slice's weight rows are
        accumulated while the slice is in cache, online as in flash attention (a running maximum and the sums
        rescaled to it). The sums leave the label's own term out - Σ_{v≠y} p_v (w_v − w_y) for the gradient,
        1 − p_y = Σ_{v≠y} p_v and ‖p − onehot‖² = Σ_{v≠y} p_v² + (1 − p_y)² for the token-normalised weight
        (held constant, as lora_influence._mean_loss holds it) - so a token the model is sure of (p_y ≈ 1:
        most of a fine-tuned fact) keeps its small gradient's digits. Autograd's softmax − onehot in float32
        kept ~1e-7 of it absolutely: on the SmolLM2 facts its gradients at the hidden states were 1e-3
        (plain) and 2-4e-2 (token-normalised) off float64's, these ~1e-6 (tests/test_lora_decoder.py). The
        losses are _mean_loss's unweighted ones to float rounding."""
        b, positions, width = hidden.shape
        rows = hidden.reshape(-1, width).float()
        target, kept = labels.clamp(min=0).reshape(-1), graded * positions
        half = (len(self.slices) + 1) // 2
        other = lanes.beside(partial(self._swept, rows, target, kept, self.slices[half:]))
        peak, norm, others, at_label, pulled, squares = _merged(self._swept(rows, target, kept, self.slices[:half]),
                                                                other.result())
        mask = (labels != IGNORE).float()
        count = mask.sum(1, keepdim=True).clamp(min=1)
        losses = ((peak + norm.log() - at_label).view(b, positions) * mask / count).sum(1)
        if not kept:
            return losses, None
        scale = (mask / count if weights is None else mask * weights / count)[:graded].reshape(-1)
        norm, others = norm[:kept], others[:kept]
        if token_normalized:
            scale = scale / ((squares / norm ** 2 + (others / norm) ** 2).sqrt()).clamp(min=1e-6)
        grad = scale[:, None] * (pulled - others[:, None] * self.weight[target[:kept]].float()) / norm[:, None]
        return losses, grad.view(graded, positions, width)

    def _swept(self, rows: torch.Tensor, target: torch.Tensor, kept: int, slices: list) -> _Swept:
        """One part of the vocabulary swept: per row its running maximum, Σ e (all words), Σ e (words but the
        label), its label's logit (0 where the label is elsewhere), and for the first `kept` rows Σ e w and
        Σ e² (label left out), e = exp(logit − maximum)."""
        peak = rows.new_full((len(rows),), -torch.inf)
        norm, others, at_label = rows.new_zeros(len(rows)), rows.new_zeros(len(rows)), rows.new_zeros(len(rows))
        pulled, squares = rows.new_zeros(kept, rows.shape[1]), rows.new_zeros(kept)
        for start, size, for_logits, for_sums in slices:
            logits = self._product(rows, for_logits)
            top = torch.maximum(peak, logits.max(1).values)
            inside = ((target >= start) & (target < start + size)).nonzero()[:, 0]
            at_label[inside] = logits[inside, target[inside] - start]
            rescale, e = torch.exp(peak - top), logits.sub_(top[:, None]).exp_()  # in place: one [rows, slice] buffer
            norm = norm * rescale + e.sum(1)
            e[inside, target[inside] - start] = 0
            others = others * rescale + e.sum(1)
            if kept:
                first = e[:kept]
                pulled = pulled * rescale[:kept, None] + self._product(first, for_sums)
                squares = squares * rescale[:kept] ** 2 + (first * first).sum(1)
            peak = top
        return peak, norm, others, at_label, pulled, squares


_Swept = tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]


def _merged(one: _Swept, two: _Swept) -> _Swept:
    """Two parts of the vocabulary's sums as one: each rescaled to the larger maximum (an empty part's -inf
    maximum scales its zeros by 0)."""
    top = torch.maximum(one[0], two[0])
    r1, r2 = torch.exp(one[0] - top), torch.exp(two[0] - top)
    kept = len(one[4])
    return (top, one[1] * r1 + two[1] * r2, one[2] * r1 + two[2] * r2, one[3] + two[3],
            one[4] * r1[:kept, None] + two[4] * r2[:kept, None], one[5] * r1[:kept] ** 2 + two[5] * r2[:kept] ** 2)
