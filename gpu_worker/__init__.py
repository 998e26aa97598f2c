"""The GPU worker: a sidecar process that trains, serves and attributes models for the chain.

Engines only compute; each is a package of the same shape (an `engine.py` class) and none imports
another:
    gradient/   influence: classifiers (train, index, infer, attribute) and LoRA adapters
                (`lora_influence`); one damping choice (`damping`) for both
    span/       language models: suffix-array index, maximal verbatim spans
    lora/       OpenLoRA serving only: model, batching, cache, pool, SGMV/BGMV kernels, KV cache, sampling
    finetune/   ModelFactory jobs: datasets, trainer, export, publish
What two engines share sits beside them, once: `rows` (fine-tuning rows as tokens), `adapter_index`
(an adapter's span + LoRA-gradient index, composing the two engines' methods), `configs` (declared
architectures), `datasets`, `artifacts` (the content-addressed store), `results` (signed attribution
results), `onnx_graph`, `device`, `snapshots`.

`worker.Worker` holds the key, device and store, constructs the engines, and decides which engine
answers a request (`Worker.answer`); `paid/` is an adapter's paid generation, one job per module;
`follower.py` only follows a node's blocks, gathers proofs and submits the answers; `service.py` is
the thin gRPC layer (one service per engine).

Torch and ONNX Runtime are needed here and only here: the chain itself never imports this package,
and this package reaches the chain only over gRPC (`sdk.client`).
"""
