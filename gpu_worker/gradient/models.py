"""Classifier networks built from their declared config (`gpu_worker.configs.ModelConfig`).

Weights travel as safetensors; the ONNX graph for inference is written from the same weights with
onnx.helper (Gemm and Relu nodes), so what ONNX Runtime runs is exactly the trained function.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from payable.worker.v1 import worker_pb2 as pb

from ..configs import ModelConfig
from ..device import building_models
from ..onnx_graph import finish_graph


def build(config: ModelConfig) -> nn.Sequential:
    """The torch module for a config: Linear layers with ReLU between them (built under `building_models`: a
    language model loading on another thread must not put these parameters on the meta device)."""
    layers: list[nn.Module] = []
    widths = config.widths
    with building_models():
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


def artifact_from_state(config: ModelConfig, state: dict[str, torch.Tensor]) -> pb.ModelArtifact:
    """A classifier's artifact: its config, float64 safetensors weights and the ONNX graph of the same weights."""
    from safetensors.torch import save as save_safetensors

    tensors = {k: v.detach().to(torch.float64).contiguous() for k, v in sorted(state.items())}
    return pb.ModelArtifact(config_json=config.to_json(), weights=save_safetensors(tensors),
                            onnx=to_onnx(config, state))
