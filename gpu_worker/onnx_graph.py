"""Finishing an ONNX graph the same way for every model the worker exports: opset 17, checked, and
serialized deterministically (so the same weights always give the same artifact hash)."""

from __future__ import annotations


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
