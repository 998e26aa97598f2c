"""Choosing each generated token, reproducibly: greedy, or sampling from a seeded stream.

Replicated workers must produce the same bytes, so nothing here depends on the machine: the random
stream is PCG64 seeded from on-chain data (`seed_for`), one uniform number per token; probabilities are
float64 from the float32 logits; the nucleus is cut over a stable sort. With bit-identical logits
(`model.LlamaRuntime(batch_invariant=True)` on the same kind of device) two workers draw the same tokens.
"""

from __future__ import annotations

import numpy as np
import torch

from runtime.crypto import blake2_256


def seed_for(request_id: int, input_hash: bytes, created_at: int) -> int:
    """The sampling seed of a paid request: every replica computes it from the request's on-chain record."""
    digest = blake2_256(b"payable/sampling" + request_id.to_bytes(8, "big") + input_hash +
                        created_at.to_bytes(8, "big"))
    return int.from_bytes(digest[:8], "big")


def requester_seed(seed: int) -> int:
    """The sampling seed of a paid request whose requester chose `seed` (OpenAI's `seed`): the same seed, the
    same random stream, whatever the request's id."""
    return int.from_bytes(blake2_256(b"payable/sampling-seed" + seed.to_bytes(8, "big"))[:8], "big")


class Sampler:
    """Greedy when temperature is 0; otherwise temperature + nucleus (top-p) sampling from `seed`."""

    def __init__(self, temperature: float = 0.0, top_p: float = 1.0, seed: int = 0):
        if not 0.0 <= temperature <= 2.0 or not 0.0 < top_p <= 1.0:
            raise ValueError("temperature must be within 0..2 and top_p within (0, 1]")
        self.temperature, self.top_p = temperature, top_p
        self.rng = np.random.Generator(np.random.PCG64(seed))

    def __call__(self, logits: torch.Tensor) -> int:
        if self.temperature == 0.0:
            return int(logits.argmax())
        z = logits.detach().cpu().double().numpy() / self.temperature
        p = np.exp(z - z.max())
        p /= p.sum()
        order = np.argsort(-p, kind="stable")
        if self.top_p < 1.0:
            order = order[: int(np.searchsorted(np.cumsum(p[order]), self.top_p)) + 1]
        cdf = np.cumsum(p[order])
        u = self.rng.random() * cdf[-1]
        return int(order[min(int(np.searchsorted(cdf, u, side="right")), len(order) - 1)])
