"""The declared architectures of every model family the worker runs - artifacts are data, never code.

A model artifact carries one of these as JSON; the worker builds the network from it (classifiers in
`gradient.models`, the tiny causal LM in `span.lm`) and never runs code that came with a model:
    {"family": "mlp", "inputs": 64, "hidden": [32], "classes": 10}
    {"family": "logreg", "inputs": 64, "classes": 10}
    {"family": "tiny-lm", "vocab": 2000, "d_model": 64, "heads": 4, "layers": 2, "context": 64}
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

FAMILIES = ("logreg", "mlp")


@dataclass(frozen=True)
class ModelConfig:
    family: str
    inputs: int
    classes: int
    hidden: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if self.family not in FAMILIES:
            raise ValueError(f"unknown model family {self.family!r}; known: {FAMILIES}")
        if self.inputs < 1 or self.classes < 2:
            raise ValueError("a model needs at least 1 input and 2 classes")
        if self.family == "logreg" and self.hidden:
            raise ValueError("logreg has no hidden layers")
        if self.family == "mlp" and (not self.hidden or min(self.hidden) < 1):
            raise ValueError("an mlp needs at least one hidden layer of positive width")

    @classmethod
    def from_json(cls, text: str | bytes) -> ModelConfig:
        doc = json.loads(text)
        unknown = sorted(set(doc) - {"family", "inputs", "classes", "hidden"})
        if unknown:
            raise ValueError(f"unknown model config keys {unknown}")
        return cls(doc["family"], int(doc["inputs"]), int(doc["classes"]), tuple(int(h) for h in doc.get("hidden", ())))

    def to_json(self) -> str:
        return json.dumps({"family": self.family, "inputs": self.inputs, "classes": self.classes,
                           "hidden": list(self.hidden)}, sort_keys=True)

    @property
    def widths(self) -> list[int]:
        return [self.inputs, *self.hidden, self.classes]



@dataclass(frozen=True)
class LMConfig:
    vocab: int
    d_model: int = 64
    heads: int = 4
    layers: int = 2
    context: int = 64
    family: str = "tiny-lm"

    def __post_init__(self) -> None:
        if self.family != "tiny-lm" or self.d_model % self.heads or min(self.vocab, self.layers, self.context) < 1:
            raise ValueError("a tiny-lm config needs vocab, layers, context ≥ 1 and d_model divisible by heads")

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str | bytes) -> LMConfig:
        return cls(**json.loads(text))


def config_from_json(text: str | bytes) -> ModelConfig | LMConfig:
    """The config of whichever family the JSON names (ValueError if it is malformed or unknown)."""
    return LMConfig.from_json(text) if json.loads(text).get("family") == "tiny-lm" else ModelConfig.from_json(text)
