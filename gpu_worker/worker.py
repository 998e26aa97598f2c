"""The worker: one signing key, one device, one content-addressed store, and its engines.

Each engine is a package of the same shape - `gradient/` (classifiers, influence), `span/` (language
models, suffix-array attribution), `lora/` (OpenLoRA serving), `finetune/` (ModelFactory jobs) - with
an `engine.py` whose class the gRPC service (`service.py`) and the chain follower (`chain.py`) delegate
to. A new engine is a new
sibling package with its engine class, constructed here.
"""

from __future__ import annotations

from pathlib import Path

import structlog

from payable.worker.v1 import worker_pb2 as pb
from runtime.crypto import Keypair

from .artifacts import Store
from .device import deterministic, pick_device
from .finetune.engine import FinetuneEngine
from .gradient.engine import GradientEngine
from .lora.attribution import build_for_publish
from .lora.engine import LoRAEngine
from .paid import PaidEngine
from .span.engine import SpanEngine

log = structlog.get_logger("payable.worker")


class Worker:
    def __init__(self, data_dir: str | Path, key: Keypair, device: str = "auto", node: str | None = None):
        """`node`: the node whose content store and DataNets fine-tuning jobs read (None: no fine-tuning)."""
        deterministic(1)
        self.device = pick_device(device)
        self.store = Store(Path(data_dir))
        self.key = key
        self.gradient = GradientEngine(self.store, key, self.device)
        self.span = SpanEngine(self.store, key, self.device)
        self.lora = LoRAEngine(str(self.device))
        self.paid = PaidEngine(Path(data_dir), key, self.lora, self.device)
        self.finetune = FinetuneEngine(Path(data_dir), key, self.device, node, build_index=build_for_publish)

    def status(self) -> pb.StatusResponse:
        return pb.StatusResponse(device=str(self.device), worker=self.key.public, models=self.store.models(),
                                 indexes=[*self.gradient.index_summaries(), *self.span.index_summaries()])

    def close(self) -> None:
        self.lora.close()
