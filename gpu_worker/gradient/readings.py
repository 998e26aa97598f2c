"""Readings of a row's gradient: which loss an index differentiates, for its rows and its queries alike.

A LoRA-gradient index reads each fine-tuning row (and each paid generation) as the gradient of a loss over
its answer tokens; the reading says which: the token-normalised loss (lora_influence's module doc) or the
plain loss, either with the answer tokens that echo the prompt (`echoes`) at a lower weight or not. The
copied words hold most of an answer's loss and their gradients match every row holding the same words,
whatever its task; at a quarter weight they still say which words a task copies, and where, without drowning
what the row adds (bench/lora_attribution.py: ad-hoc runs on its response-only task sets found row AUC
0.94 -> 0.996 on separators, 0.95 -> 0.97 on suffixes, 0.94 -> 0.97 on the distinct tasks, plain cosine of
whole gradients, every token -> echoes at 0.25; at 0 it fell again on two of them, and a weak model's
generations lose the copying that marks their task). Both weighings compose: token normalisation evens out
how hard each token pulls, the echo weight then says how much a copied token counts (bench/lora_attribution.py,
ad-hoc, cosine of whole sketched gradients, token-normalised every token -> echoes at 0.5: row AUC 0.941 ->
0.956 on the distinct tasks, where no plain reading passed 0.944; 0.960 -> 0.985 on suffixes). Which
reading serves an adapter is the data's choice, with its damping (`damping.choose_adapter_damping`): the
whole answer's loss is what an LDS check measures, and the lower the echoes' weight, the less the gradient
predicts it.

An echo reading's row gradients are exact mixtures of two passes (the gradient is linear in the tokens'
weights, and token normalisation's scales are held constant): G_w = G_0 + w (G_1 - G_0), G_1 the loss's with
every token, G_0 its with the echoes left out, token-normalised or not as the reading is - so every weight
costs nothing more once the two passes are made (an index reading both kinds of loss makes four passes over
its rows); a query, one generation, is read with its weights directly.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

import numpy as np

from ..rows import Example
from . import echoes
from .lora_influence import Module, per_example_projections


@dataclass(frozen=True)
class Reading:
    """The loss a gradient is read from: token-normalised or plain, and what an echoing answer token's loss
    counts for (1: as every other token's)."""

    token_normalized: bool
    echo_weight: float = 1.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.echo_weight <= 1.0:
            raise ValueError(f"an echo weight is within 0..1, not {self.echo_weight}")

    @classmethod
    def of(cls, setting: Mapping) -> Reading:
        """The reading a recorded setting names (an index's, a rule's choice): its `token_normalized` and
        `echo_weight` (1 where an index from before echo readings records none)."""
        return cls(setting["token_normalized"], setting.get("echo_weight", 1.0))

    @property
    def name(self) -> str:
        if self.echo_weight == 1.0:
            return "token" if self.token_normalized else "plain"
        return f"{'token_' if self.token_normalized else ''}echoes_{self.echo_weight:g}"

    @property
    def passes(self) -> tuple[Reading, Reading]:
        """The two passes this reading mixes (`mixed`): every token's, and the echoes' left out, each read as
        this reading reads a loss (token-normalised or plain)."""
        return Reading(self.token_normalized), Reading(self.token_normalized, 0.0)

    def read(self, example: Example, tokenizer) -> Example:
        """The example as this reading differentiates it (its echoes weighted, or itself)."""
        return example if self.echo_weight == 1.0 else echoes.weighted(example, tokenizer, self.echo_weight)

    def mixed(self, every: np.ndarray, without: np.ndarray) -> np.ndarray:
        """This echo reading's gradients (whole or sketched) from its two `passes`' of the same examples:
        G_w = G_0 + w (G_1 - G_0) (module doc)."""
        return without + self.echo_weight * (every - without)


TOKEN, PLAIN = Reading(True), Reading(False)
# what an index chooses among, in this order of preference when the data cannot tell them apart
READINGS = (TOKEN, PLAIN, Reading(False, 0.5), Reading(False, 0.25), Reading(True, 0.5), Reading(True, 0.25))


def projections(model, tokenizer, examples: list[Example], pad_id: int, k: int, seed: int, adapter: str,
                readings: Collection[Reading], traced: Collection[str] | None = None
                ) -> tuple[list[Module], dict[Reading, list[np.ndarray]]]:
    """(modules, per reading: per module [n, k_l]) - each example's sketched gradient under every reading
    asked for, the echo readings mixed from their two passes (module doc)."""
    if not readings:
        raise ValueError("no reading asked for")
    passes: dict[Reading, tuple[list[Module], list[np.ndarray]]] = {}

    def sketched(reading: Reading) -> tuple[list[Module], list[np.ndarray]]:
        if reading not in passes:
            passes[reading] = per_example_projections(model, [reading.read(e, tokenizer) for e in examples], pad_id,
                                                      k, seed, adapter, token_normalized=reading.token_normalized,
                                                      traced=traced)
        return passes[reading]

    out = {}
    for reading in readings:
        if reading.echo_weight in (0.0, 1.0):
            out[reading] = sketched(reading)[1]
        else:
            every, without = reading.passes
            out[reading] = [reading.mixed(w1, w0) for w1, w0 in zip(sketched(every)[1], sketched(without)[1],
                                                                     strict=True)]
    return next(iter(passes.values()))[0], out
