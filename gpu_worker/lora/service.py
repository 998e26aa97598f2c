"""The OpenLoRA gRPC service in the worker: load a base model and adapters, stream mixed-adapter generation."""

from __future__ import annotations

import queue
import threading
from pathlib import Path

import grpc

from payable.worker.v1 import worker_pb2 as pb
from payable.worker.v1 import worker_pb2_grpc

from .adapters import AdapterError, read_adapter
from .cache import AdapterCache
from .engine import Engine
from .model import LlamaRuntime


class OpenLoRAService(worker_pb2_grpc.OpenLoRAServicer):
    def __init__(self, device: str = "cpu", host_bytes: int = 2 << 30, device_bytes: int = 1 << 30):
        self.device = device
        self.cache = AdapterCache(host_bytes, device_bytes, device)
        self.engine: Engine | None = None
        self._lock = threading.Lock()

    def _engine(self, context) -> Engine:
        if self.engine is None:
            context.abort(grpc.StatusCode.FAILED_PRECONDITION, "no base model loaded: call LoadBase first")
        return self.engine

    def _stats(self) -> pb.LoRAStats:
        s = self.engine.stats() if self.engine else {**self.cache.stats(), "active": 0, "queued": 0, "steps": 0,
                                                      "completed": 0}
        return pb.LoRAStats(active=s["active"], queued=s["queued"], steps=s["steps"], completed=s["completed"],
                            registered=s["registered"], host_resident=s["host"], device_resident=s["device"],
                            host_bytes=s["host_bytes"], device_bytes=s["device_bytes"], disk_loads=s["disk_loads"],
                            evictions=s["evictions"])

    def LoadBase(self, request, context):  # noqa: N802 - gRPC method names
        try:
            runtime = LlamaRuntime(Path(request.directory), self.device)
        except (OSError, ValueError, KeyError) as exc:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"cannot load base model: {exc}")
        with self._lock:
            if self.engine is not None:
                self.engine.close()
            self.engine = Engine(runtime, self.cache, max_batch=request.max_batch or 64)
        return self._stats()

    def LoadAdapter(self, request, context):  # noqa: N802
        try:
            adapter = read_adapter(Path(request.directory), request.expected_hash or None)
            self.cache.register(Path(request.directory), adapter.hash)
        except AdapterError as exc:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        return pb.AdapterInfo(hash=adapter.hash, rank=adapter.rank, bytes=adapter.nbytes)

    def ListAdapters(self, request, context):  # noqa: N802
        return pb.ListAdaptersResponse(hashes=sorted(self.cache.registry))

    def Generate(self, request, context):  # noqa: N802
        engine = self._engine(context)
        try:
            job = engine.submit(request.adapter_hash or None, list(request.prompt), request.max_new_tokens or 32)
        except ValueError as exc:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        context.add_callback(job.cancel)  # the client went away: free the slot
        index = 0
        while True:
            try:
                token = job.tokens.get(timeout=0.5)
            except queue.Empty:
                if not context.is_active():
                    job.cancel()
                    return
                continue
            if token is None:
                return
            yield pb.GeneratedToken(token=token, index=index)
            index += 1

    def Stats(self, request, context):  # noqa: N802
        return self._stats()

    def close(self) -> None:
        if self.engine is not None:
            self.engine.close()
