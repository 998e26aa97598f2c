"""The worker's gRPC face: `payable.worker.v1.Worker` and `payable.worker.v1.OpenLoRA`, each method a thin
call into an engine of `gpu_worker.worker.Worker`.

Bad input is INVALID_ARGUMENT and unknown hashes NOT_FOUND, with the reason; nothing else escapes.
"""

from __future__ import annotations

import queue
from concurrent import futures

import grpc
import numpy as np

from payable.worker.v1 import worker_pb2 as pb
from payable.worker.v1 import worker_pb2_grpc
from runtime.grpcserver import MESSAGE_OPTIONS, start_with_health_and_reflection

from .errors import ArtifactError, ArtifactNotFound
from .worker import Worker


def _abort_for(context, exc: Exception) -> None:
    """One mapping of engine errors to status codes, for unary and streaming methods alike."""
    code = grpc.StatusCode.NOT_FOUND if isinstance(exc, ArtifactNotFound) else grpc.StatusCode.INVALID_ARGUMENT
    context.abort(code, str(exc))


class WorkerService(worker_pb2_grpc.WorkerServicer):
    def __init__(self, worker: Worker):
        self.worker = worker

    def _guard(self, context, fn, *args):
        try:
            return fn(*args)
        except (ValueError, KeyError) as exc:
            _abort_for(context, exc)

    def _guard_stream(self, context, messages):
        """`_guard` for streaming methods: the same error mapping while the stream runs."""
        try:
            yield from messages
        except ValueError as exc:
            _abort_for(context, exc)

    def Train(self, request, context):  # noqa: N802 - gRPC method names
        return self._guard(context, self.worker.gradient.train, request)

    def LoadModel(self, request, context):  # noqa: N802
        if len(request.expected_hash) != 32:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                          "expected_hash must be the 32-byte hash the chain registered")
        digest = self._guard(context, self.worker.store.put_model, request.artifact, request.expected_hash)
        return pb.LoadModelResponse(model_hash=digest)

    def BuildIndex(self, request, context):  # noqa: N802
        return self._guard_stream(context, self.worker.gradient.build_index(request))

    def Infer(self, request, context):  # noqa: N802
        return self._guard(context, self.worker.gradient.infer, request.model_hash,
                           np.asarray(request.input, dtype=np.float32))

    def Attribute(self, request, context):  # noqa: N802
        return self._guard(context, self.worker.gradient.attribute, request)

    def Status(self, request, context):  # noqa: N802
        return self.worker.status()

    def TrainLanguageModel(self, request, context):  # noqa: N802
        return self._guard(context, self.worker.span.train, request)

    def BuildSpanIndex(self, request, context):  # noqa: N802
        return self._guard_stream(context, self.worker.span.build_index(request))

    def Generate(self, request, context):  # noqa: N802
        return self._guard(context, self.worker.span.generate, request)

    def AttributeSpans(self, request, context):  # noqa: N802
        return self._guard(context, self.worker.span.attribute, request)


class OpenLoRAService(worker_pb2_grpc.OpenLoRAServicer):
    def __init__(self, worker: Worker):
        self.engine = worker.lora

    def _stats(self) -> pb.LoRAStats:
        s = self.engine.stats()
        return pb.LoRAStats(active=s["active"], queued=s["queued"], steps=s["steps"], completed=s["completed"],
                            registered=s["registered"], host_resident=s["host"], device_resident=s["device"],
                            host_bytes=s["host_bytes"], device_bytes=s["device_bytes"], disk_loads=s["disk_loads"],
                            evictions=s["evictions"])

    def LoadBase(self, request, context):  # noqa: N802 - gRPC method names
        try:
            self.engine.load_base(request.directory, request.max_batch or 64)
        except ArtifactError as exc:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        return self._stats()

    def LoadAdapter(self, request, context):  # noqa: N802
        try:
            adapter = self.engine.load_adapter(request.directory, request.expected_hash or None)
        except ArtifactError as exc:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        return pb.AdapterInfo(hash=adapter.hash, rank=adapter.rank, bytes=adapter.nbytes)

    def ListAdapters(self, request, context):  # noqa: N802
        return pb.ListAdaptersResponse(hashes=self.engine.adapters())

    def Generate(self, request, context):  # noqa: N802
        try:
            job = self.engine.submit(request.adapter_hash or None, list(request.prompt), request.max_new_tokens or 32)
        except RuntimeError as exc:
            context.abort(grpc.StatusCode.FAILED_PRECONDITION, str(exc))
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


def serve(worker: Worker, port: int = 0) -> tuple[grpc.Server, int]:
    """Start the worker's gRPC server on 127.0.0.1:port (0 picks a free port)."""
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8, thread_name_prefix="worker-grpc"),
                         options=MESSAGE_OPTIONS)
    worker_pb2_grpc.add_WorkerServicer_to_server(WorkerService(worker), server)
    worker_pb2_grpc.add_OpenLoRAServicer_to_server(OpenLoRAService(worker), server)
    names = [pb.DESCRIPTOR.services_by_name[name].full_name for name in ("Worker", "OpenLoRA")]
    return start_with_health_and_reflection(server, names, port)
