"""LoRA for specialized (non-LM) ONNX models through ONNX Runtime's own adapter API.

The graph takes each layer's LoRA factors as inputs whose default initializers are zero, so the model
alone is the base model; an adapter is an ONNX Runtime adapter file (`AdapterFormat`) holding those
factors, loaded memory-mapped with `LoraAdapter` and made active per `run` with `RunOptions`. ONNX
Runtime applies one adapter set per run, so a mixed batch is split into one run per adapter group.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..configs import ModelConfig
from ..onnx_graph import finish_graph


def lora_onnx(config: ModelConfig, state: dict[str, torch.Tensor], rank: int) -> bytes:
    """The model's ONNX graph, each Linear layer plus (x Aᵀ) Bᵀ with A, B adapter inputs (default zero)."""
    from onnx import TensorProto, helper, numpy_helper

    nodes, inits, inputs = [], [], [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", config.inputs])]
    current, count = "input", len(config.widths) - 1
    for i in range(count):
        fan_in, fan_out = config.widths[i], config.widths[i + 1]
        weight = state[f"{2 * i}.weight"].detach().cpu().numpy().astype(np.float32)
        bias = state[f"{2 * i}.bias"].detach().cpu().numpy().astype(np.float32)
        inits += [numpy_helper.from_array(weight, f"w{i}"), numpy_helper.from_array(bias, f"b{i}"),
                  numpy_helper.from_array(np.zeros((rank, fan_in), np.float32), f"lora_A{i}"),
                  numpy_helper.from_array(np.zeros((fan_out, rank), np.float32), f"lora_B{i}")]
        inputs += [helper.make_tensor_value_info(f"lora_A{i}", TensorProto.FLOAT, [rank, fan_in]),
                   helper.make_tensor_value_info(f"lora_B{i}", TensorProto.FLOAT, [fan_out, rank])]
        nodes += [helper.make_node("Gemm", [current, f"w{i}", f"b{i}"], [f"base{i}"], transB=1),
                  helper.make_node("Gemm", [current, f"lora_A{i}"], [f"down{i}"], transB=1),
                  helper.make_node("Gemm", [f"down{i}", f"lora_B{i}"], [f"delta{i}"], transB=1)]
        out = "logits" if i == count - 1 else f"h{i}"
        nodes.append(helper.make_node("Add", [f"base{i}", f"delta{i}"], [out]))
        if i < count - 1:
            nodes.append(helper.make_node("Relu", [out], [f"r{i}"]))
            out = f"r{i}"
        current = out
    return finish_graph("payable_lora_model", nodes, inputs, inits, config.classes)


def export_adapter(factors: list[tuple[np.ndarray, np.ndarray]], scaling: float, path: Path) -> None:
    """Write an ONNX Runtime adapter file: per layer i, lora_A{i} [r, in] and lora_B{i}·scaling [out, r]."""
    import onnxruntime as ort

    params = {}
    for i, (a, b) in enumerate(factors):
        params[f"lora_A{i}"] = ort.OrtValue.ortvalue_from_numpy(np.ascontiguousarray(a, dtype=np.float32))
        params[f"lora_B{i}"] = ort.OrtValue.ortvalue_from_numpy(np.ascontiguousarray(b * scaling, dtype=np.float32))
    adapter = ort.AdapterFormat()
    adapter.set_adapter_version(1)
    adapter.set_model_version(1)
    adapter.set_parameters(params)
    adapter.export_adapter(str(path))


class OnnxLoRARunner:
    """One ONNX Runtime session for the base graph; adapters loaded once, one run per adapter group."""

    def __init__(self, model: bytes, providers: list[str] | None = None):
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        self.session = ort.InferenceSession(model, options, providers=providers or ["CPUExecutionProvider"])
        self.adapters: dict[str, object] = {}

    def load(self, name: str, path: Path) -> None:
        import onnxruntime as ort

        adapter = ort.LoraAdapter()
        adapter.Load(str(path))
        self.adapters[name] = adapter

    def run(self, x: np.ndarray, adapter_names: list[str | None]) -> np.ndarray:
        """Logits for each row of x under its own adapter (None: the base model)."""
        import onnxruntime as ort

        out = np.empty((len(x), self.session.get_outputs()[0].shape[1]), dtype=np.float32)
        for name in dict.fromkeys(adapter_names):  # each adapter group once, in first-seen order
            rows = [i for i, n in enumerate(adapter_names) if n == name]
            options = ort.RunOptions()
            if name is not None:
                options.add_active_adapter(self.adapters[name])
            out[rows] = self.session.run(["logits"], {"input": x[rows].astype(np.float32)}, options)[0]
        return out
