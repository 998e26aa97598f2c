"""Choosing each generated token, reproducibly: greedy, or sampling from a seeded stream.

Replicated workers must produce the same bytes, so nothing here depends on the machine: the random
stream is PCG64 seeded from on-chain data (`seed_for`), one uniform number per token; probabilities are
float64 from the float32 logits; the nucleus is cut over a stable sort. With bit-identical logits
(`model.LlamaRuntime(batch_invariant=True)` on the same kind of device) two workers draw the same tokens.

`token_logprobs` reads, from the same logits after the token was chosen, how likely it was and which tokens
were most likely there: information for the requester, never an input to the choice.
"""

from __future__ import annotations

from dataclasses import dataclass

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


TOP_LOGPROBS = 20  # the most alternatives a requester may read per token (OpenAI's bound)


@dataclass(frozen=True)
class TokenLogprobs:
    """A chosen token's log-probability and the `TOP_LOGPROBS` most likely tokens with theirs, most likely first."""

    logprob: float
    top: tuple[tuple[int, float], ...]


def token_logprobs(logits: torch.Tensor, temperatures: list[float], chosen: list[int]) -> list[TokenLogprobs]:
    """For each row of a step's logits [rows, vocab]: the chosen token's log-probability and the most likely
    tokens under the distribution the row was drawn from - softmax(logits / temperature), or softmax(logits)
    for greedy (temperature 0: its chosen token is the first alternative). Before the nucleus cut, as OpenAI
    and vLLM report them: a token outside the nucleus keeps a finite log-probability. One batched log-softmax
    and top-k in float64 (as the sampler's probabilities), two small copies to the host."""
    scale = torch.tensor([t or 1.0 for t in temperatures], dtype=torch.float64, device=logits.device)
    logprobs = torch.log_softmax(logits.detach().double() / scale[:, None], dim=-1)
    top = logprobs.topk(min(TOP_LOGPROBS, logprobs.shape[-1]), dim=-1)
    picked = logprobs.gather(1, torch.tensor(chosen, device=logits.device)[:, None])[:, 0].tolist()
    return [TokenLogprobs(p, tuple(zip(ids, values, strict=True)))
            for p, ids, values in zip(picked, top.indices.tolist(), top.values.tolist(), strict=True)]
