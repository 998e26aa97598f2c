"""The GPU worker: a sidecar process that trains, serves and attributes models for the chain.

Torch and ONNX Runtime are needed here and only here: the chain itself never imports this package.
"""
