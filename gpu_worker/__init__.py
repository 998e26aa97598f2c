"""The GPU worker: a sidecar process that trains, serves and attributes models for the chain.

`worker.Worker` holds the key, device and store, and one engine per package of the same shape:
`gradient/`, `span/`, `lora/` (each with `engine.py`). `service.py` is the thin gRPC layer over them,
`chain.py` the follower that answers the paid requests assigned to this worker. Shared pieces sit at
the top: `configs` (declared architectures), `datasets`, `artifacts` (the content-addressed store),
`results` (signed attribution results), `onnx_graph`, `device`, `snapshots`.

Torch and ONNX Runtime are needed here and only here: the chain itself never imports this package,
and this package reaches the chain only over gRPC (`sdk.client`).
"""
