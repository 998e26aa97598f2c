"""Model architectures built from a declared config - artifacts are data, never code.

A config is JSON naming a known family and its sizes, e.g.
    {"family": "mlp", "inputs": 64, "hidden": [32], "classes": 10}
    {"family": "logreg", "inputs": 64, "classes": 10}
Weights travel as safetensors; the ONNX graph for inference is written from the same weights with
onnx.helper (Gemm and Relu nodes), so what ONNX Runtime runs is exactly the trained function.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

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


def build(config: ModelConfig) -> nn.Sequential:
    """The torch module for a config: Linear layers with ReLU between them."""
    layers: list[nn.Module] = []
    widths = config.widths
    for i in range(len(widths) - 1):
        layers.append(nn.Linear(widths[i], widths[i + 1]))
        if i < len(widths) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def linear_layers(model: nn.Sequential) -> list[nn.Linear]:
    return [m for m in model if isinstance(m, nn.Linear)]


def to_onnx(config: ModelConfig, state: dict[str, torch.Tensor]) -> bytes:
    """A deterministic ONNX graph (Gemm/Relu) computing the same logits as `build(config)`."""
    from onnx import TensorProto, helper, numpy_helper

    nodes, inits = [], []
    current = "input"
    count = len(config.widths) - 1
    for i in range(count):
        index = 2 * i  # position of the Linear layer inside the Sequential
        weight = state[f"{index}.weight"].detach().cpu().numpy().astype(np.float32)
        bias = state[f"{index}.bias"].detach().cpu().numpy().astype(np.float32)
        inits += [numpy_helper.from_array(weight, f"w{i}"), numpy_helper.from_array(bias, f"b{i}")]
        out = "logits" if i == count - 1 else f"h{i}"
        nodes.append(helper.make_node("Gemm", [current, f"w{i}", f"b{i}"], [out], transB=1))
        if i < count - 1:
            nodes.append(helper.make_node("Relu", [out], [f"r{i}"]))
            out = f"r{i}"
        current = out
    inputs = [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", config.inputs])]
    return finish_graph("payable_model", nodes, inputs, inits, config.classes)


def finish_graph(name: str, nodes: list, inputs: list, initializers: list, classes: int) -> bytes:
    """Wrap nodes into a checked opset-17 model whose output is `logits` [batch, classes]."""
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph(nodes, name, inputs,
                              [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", classes])],
                              initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="payable")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model.SerializeToString(deterministic=True)
