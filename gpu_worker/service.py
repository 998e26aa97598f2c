"""The worker's gRPC face: one service per engine - `payable.worker.v1.Gradient`, `Span`, `OpenLoRA`,
`Finetune` - and `WorkerInfo`, each method a thin call into an engine of `gpu_worker.worker.Worker`.

Bad input is INVALID_ARGUMENT and unknown hashes NOT_FOUND, with the reason; nothing else escapes.
"""

from __future__ import annotations

import json
import queue
import threading
import time
from concurrent import futures

import grpc
import numpy as np

from payable.worker.v1 import worker_pb2 as pb
from payable.worker.v1 import worker_pb2_grpc
from runtime.crypto import blake2_256, decode_address, encode_address, verify
from sdk.client import ClientError
from sdk.grpcserver import SERVER_OPTIONS, RefuseMalformed, start_with_health_and_reflection
from sdk.wire import CONTENT_READ_MAX_SKEW_S, finetune_message, start_subject, try_subject

from .errors import ArtifactError, ArtifactNotFound
from .finetune.config import TrainingConfig
from .finetune.dataset import DatasetSpec
from .finetune.engine import Job, JobError
from .finetune.sources import ReadDenied
from .lora.sampling import TOP_LOGPROBS
from .paid import StreamRefused
from .worker import Worker


def _abort_for(context, exc: Exception) -> None:
    """One mapping of engine errors to status codes, for unary and streaming methods alike."""
    code = grpc.StatusCode.NOT_FOUND if isinstance(exc, ArtifactNotFound) else grpc.StatusCode.INVALID_ARGUMENT
    context.abort(code, str(exc))


def _guard(context, fn, *args):
    """Call into an engine; its ValueError / KeyError become the status `_abort_for` picks, with the reason."""
    try:
        return fn(*args)
    except (ValueError, KeyError) as exc:
        _abort_for(context, exc)


def _guard_stream(context, messages):
    """`_guard` for streaming methods: the same error mapping while the stream runs."""
    try:
        yield from messages
    except ValueError as exc:
        _abort_for(context, exc)


class GradientService(worker_pb2_grpc.GradientServicer):
    """Classifiers: train, load, index, infer and attribute (`gradient/`)."""

    def __init__(self, worker: Worker):
        self.worker = worker

    def Train(self, request, context):  # gRPC method names
        return _guard(context, self.worker.gradient.train, request)

    def LoadModel(self, request, context):
        if len(request.expected_hash) != 32:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                          "expected_hash must be the 32-byte hash the chain registered")
        digest = _guard(context, self.worker.store.put_model, request.artifact, request.expected_hash)
        return pb.LoadModelResponse(model_hash=digest)

    def BuildIndex(self, request, context):
        return _guard_stream(context, self.worker.gradient.build_index(request))

    def Infer(self, request, context):
        return _guard(context, self.worker.gradient.infer, request.model_hash,
                      np.asarray(request.input, dtype=np.float32))

    def Attribute(self, request, context):
        return _guard(context, self.worker.gradient.attribute, request)


class SpanService(worker_pb2_grpc.SpanServicer):
    """Language models: train, span index, generate and attribute spans (`span/`)."""

    def __init__(self, worker: Worker):
        self.engine = worker.span

    def TrainLanguageModel(self, request, context):  # gRPC method names
        return _guard(context, self.engine.train, request)

    def BuildSpanIndex(self, request, context):
        return _guard_stream(context, self.engine.build_index(request))

    def Generate(self, request, context):
        return _guard(context, self.engine.generate, request)

    def AttributeSpans(self, request, context):
        return _guard(context, self.engine.attribute, request)


class WorkerInfoService(worker_pb2_grpc.WorkerInfoServicer):
    def __init__(self, worker: Worker):
        self.worker = worker

    def Status(self, request, context):  # gRPC method names
        return self.worker.status()


class OpenLoRAService(worker_pb2_grpc.OpenLoRAServicer):
    def __init__(self, worker: Worker):
        self.engine = worker.lora
        self.paid = worker.paid

    def _stats(self) -> pb.LoRAStats:
        s = self.engine.stats()
        return pb.LoRAStats(active=s["active"], queued=s["queued"], steps=s["steps"], completed=s["completed"],
                            registered=s["registered"], host_resident=s["host"], device_resident=s["device"],
                            host_bytes=s["host_bytes"], device_bytes=s["device_bytes"], disk_loads=s["disk_loads"],
                            evictions=s["evictions"])

    def LoadBase(self, request, context):  # gRPC method names
        try:
            self.engine.load_base(request.directory, request.max_batch or 64)
        except ArtifactError as exc:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        return self._stats()

    def LoadAdapter(self, request, context):
        try:
            adapter = self.engine.load_adapter(request.directory, request.expected_hash or None)
        except ArtifactError as exc:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        return pb.AdapterInfo(hash=adapter.hash, rank=adapter.rank, bytes=adapter.nbytes)

    def ListAdapters(self, request, context):
        return pb.ListAdaptersResponse(hashes=self.engine.adapters())

    def Generate(self, request, context):
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
                if job.error:  # the stream ends early, and says why
                    context.abort(grpc.StatusCode.FAILED_PRECONDITION, job.error)
                return
            yield pb.GeneratedToken(token=token, index=index)
            index += 1

    def Stats(self, request, context):
        return self._stats()

    def StreamPaid(self, request, context):
        """A paid request's tokens, to its requester only (UNAUTHENTICATED / PERMISSION_DENIED otherwise)."""
        try:
            stream = self.paid.open_stream(request.request, request.requester, request.issued_at, request.signature)
        except StreamRefused as exc:
            context.abort(getattr(grpc.StatusCode, exc.code), str(exc))
        if request.top_logprobs > TOP_LOGPROBS:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"top_logprobs is at most {TOP_LOGPROBS}")
        yield from stream.events(context.is_active, request.logprobs, request.top_logprobs)


def job_info(job: Job) -> pb.JobInfo:
    last = job.points[-1] if job.points else {}
    return pb.JobInfo(id=job.id, state=job.state, error=job.error, owner=job.owner,
                      config_json=job.config.to_json().decode(), config_hash=job.config.hash(),
                      results_json=json.dumps(job.results, sort_keys=True), step=last.get("step", 0),
                      total_steps=last.get("total_steps", 0))


def progress_point(point: dict) -> pb.ProgressPoint:
    out = pb.ProgressPoint(step=point["step"], total_steps=point["total_steps"], lr=point.get("lr", 0.0),
                           tokens_per_s=point.get("tokens_per_s", 0.0), eta_s=point.get("eta_s", 0.0),
                           epoch=point.get("epoch", 0.0))
    if point.get("loss") is not None:
        out.loss, out.has_loss = point["loss"], True
    if point.get("eval_loss") is not None:
        out.eval_loss, out.has_eval = point["eval_loss"], True
    return out


class FinetuneService(worker_pb2_grpc.FinetuneServicer):
    """ModelFactory jobs. A bad config, spec or job request is INVALID_ARGUMENT (FAILED_PRECONDITION for a job
    in the wrong state, NOT_FOUND for an unknown one), with the reason.

    A job belongs to the key that started it: Start, Abort, Resume, Try, Evaluate, Export and PublishArtifacts
    carry the owner's signature (`JobAuth` over `sdk.wire.finetune_message`); a missing, stale or wrong one is
    UNAUTHENTICATED, another key's PERMISSION_DENIED. An unpublished adapter answers, and spends this worker's
    time, for its owner alone: a job on a permissioned DataNet would otherwise recite its rows to anyone. The
    same signed Start sent twice (a double click, a retry) is one job.
    Rows of a permissioned DataNet go only to whom the chain lets read it: a job starts or resumes only for an
    owner allowed to read each such DataNet, and a Preview of one is signed by an allowed reader (else
    PERMISSION_DENIED, or UNAUTHENTICATED unsigned) - the worker's own grant is not the asker's."""

    def __init__(self, worker: Worker):
        self.engine = worker.finetune
        self._started: dict[bytes, tuple[int, str]] = {}  # a Start's signature -> (issued_at, job id)
        self._lock = threading.Lock()

    def _call(self, context, fn, *args):
        try:
            return fn(*args)
        except JobError as exc:
            code = grpc.StatusCode.NOT_FOUND if str(exc).startswith("no fine-tuning job") else \
                grpc.StatusCode.FAILED_PRECONDITION
            context.abort(code, str(exc))
        except ReadDenied as exc:
            context.abort(grpc.StatusCode.UNAUTHENTICATED if exc.unsigned else grpc.StatusCode.PERMISSION_DENIED,
                          str(exc))
        except ClientError as exc:  # the node's own answer (an unknown snapshot, a read denied, no node at all)
            answer = exc.__cause__
            if isinstance(answer, grpc.RpcError):  # passed on with its own code and words, not wrapped again
                context.abort(answer.code(), answer.details())
            context.abort(grpc.StatusCode.FAILED_PRECONDITION, f"the node's answer does not check out: {exc}")
        except (ValueError, KeyError, OSError, RuntimeError) as exc:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"{type(exc).__name__}: {exc}")

    @staticmethod
    def _signer(context, auth: pb.JobAuth, action: str, subject: bytes) -> bytes:
        """The key that signed `action` on `subject`, or the call ends UNAUTHENTICATED."""
        if len(auth.owner) != 32 or len(auth.signature) != 64:
            context.abort(grpc.StatusCode.UNAUTHENTICATED, f"{action}: sign the request with the job owner's key "
                                                           "(JobAuth: owner, issued_at, signature)")
        if abs(time.time() - auth.issued_at) > CONTENT_READ_MAX_SKEW_S:
            context.abort(grpc.StatusCode.UNAUTHENTICATED, f"{action}: the signature's time is more than "
                                                           f"{CONTENT_READ_MAX_SKEW_S} s from this worker's clock")
        if not verify(auth.owner, finetune_message(action, subject, auth.owner, auth.issued_at), auth.signature):
            context.abort(grpc.StatusCode.UNAUTHENTICATED, f"{action}: the signature does not verify")
        return auth.owner

    def _owned(self, context, job_id: str, auth: pb.JobAuth, action: str, subject: bytes | None = None) -> None:
        """Only the job's owner may `action` it; the signature covers `subject` (default: the job id)."""
        signer = encode_address(self._signer(context, auth, action, job_id.encode() if subject is None else subject))
        job = self._call(context, self.engine.job, job_id)
        if job.owner != signer:
            context.abort(grpc.StatusCode.PERMISSION_DENIED, f"job {job_id} belongs to {job.owner or 'no key'}, "
                                                             f"not {signer}: only its owner may {action} it")

    def _config(self, context, raw: str) -> TrainingConfig:
        return self._call(context, lambda: self.engine.config_from(json.loads(raw or "{}")))

    def Preview(self, request, context):  # gRPC method names
        spec = self._call(context, lambda: DatasetSpec.from_dict(json.loads(request.dataset_spec_json or "{}")))
        reader = (self._signer(context, request.auth, "preview", blake2_256(request.dataset_spec_json.encode()))
                  if request.HasField("auth") else b"")
        self._call(context, self.engine.check_inputs, spec, reader)
        found = self._call(context, self.engine.preview, spec, request.base_model, request.cutoff or 256,
                           request.limit or 10, request.offset, request.split)
        return pb.DatasetPreview(examples=[pb.PreviewExample(**e) for e in found["examples"]], errors=found["errors"],
                                 near_duplicates=found["near_duplicates"],
                                 train_examples=found["train_examples"], eval_examples=found["eval_examples"],
                                 train_tokens=found["train_tokens"], next_offset=found["next_offset"],
                                 listed=found["listed"])

    def Estimate(self, request, context):
        return pb.JobEstimate(**self._call(context, self.engine.estimate, self._config(context, request.config_json)))

    def Start(self, request, context):
        owner = self._signer(context, request.auth, "start", start_subject(request.config_json, request.prompts))
        config = self._config(context, request.config_json)
        self._call(context, self.engine.check_inputs, config.dataset, owner)
        with self._lock:
            stale = time.time() - 2 * CONTENT_READ_MAX_SKEW_S
            self._started = {sig: seen for sig, seen in self._started.items() if seen[0] >= stale}
            if (seen := self._started.get(request.auth.signature)) is not None:
                return job_info(self._call(context, self.engine.job, seen[1]))
            job = self._call(context, self.engine.start, config, encode_address(owner), list(request.prompts))
            self._started[request.auth.signature] = (request.auth.issued_at, job.id)
        return job_info(job)

    def Status(self, request, context):
        return job_info(self._call(context, self.engine.job, request.job))

    def ListJobs(self, request, context):
        return pb.JobList(jobs=[job_info(j) for j in sorted(self.engine.jobs.values(), key=lambda j: -j.created_at)])

    def Watch(self, request, context):
        # the job looked up before the stream starts: `watch` is a generator, whose own lookup would only fail
        # once iterated, outside `_call` - an unknown job was UNKNOWN there, not NOT_FOUND
        self._call(context, self.engine.job, request.job)
        for job, points in self.engine.watch(request.job, request.since):
            if not context.is_active():
                return
            yield pb.ProgressUpdate(job=job_info(job), points=[progress_point(p) for p in points])

    def Abort(self, request, context):
        self._owned(context, request.job, request.auth, "abort")
        return job_info(self._call(context, self.engine.abort, request.job))

    def Resume(self, request, context):
        self._owned(context, request.job, request.auth, "resume")
        job = self._call(context, self.engine.job, request.job)
        self._call(context, self.engine.check_inputs, job.config.dataset, decode_address(job.owner))
        return job_info(self._call(context, self.engine.resume, request.job))

    def Try(self, request, context):
        self._owned(context, request.job, request.auth, "try",
                    try_subject(request.job, request.prompts, request.max_new_tokens))
        samples = self._call(context, self.engine.generate, request.job, list(request.prompts),
                             request.max_new_tokens or 40)
        return pb.TryResponse(samples=[pb.Sample(**s) for s in samples])

    def Evaluate(self, request, context):
        self._owned(context, request.job, request.auth, "evaluate")
        found = self._call(context, self.engine.evaluate, request.job)
        return pb.EvaluationResult(eval_loss=found["eval_loss"] or 0.0, base_eval_loss=found["base_eval_loss"] or 0.0,
                                   eval_examples=found["eval_examples"])

    def Export(self, request, context):
        self._owned(context, request.job, request.auth, "export")
        return pb.ExportResult(**self._call(context, self.engine.export, request.job))

    def PublishArtifacts(self, request, context):
        self._owned(context, request.job, request.auth, "publish")
        record = self._call(context, self.engine.publish, request.job, request.split,
                            {"flat": request.price_per_inference, "input": request.price_per_input_token,
                             "output": request.price_per_output_token}, request.attribution_method,
                            request.span_weight_bps)
        return pb.PublishedArtifacts(adapter_hash=record.artifact_hash,
                                     attribution_index_hash=record.attribution_index_hash,
                                     training_config_hash=record.training_config_hash, register_model=record)


def serve(worker: Worker, port: int = 0) -> tuple[grpc.Server, int]:
    """Start the worker's gRPC server on 127.0.0.1:port (0 picks a free port)."""
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8, thread_name_prefix="worker-grpc"),
                         options=SERVER_OPTIONS, interceptors=[RefuseMalformed()])
    worker_pb2_grpc.add_GradientServicer_to_server(GradientService(worker), server)
    worker_pb2_grpc.add_SpanServicer_to_server(SpanService(worker), server)
    worker_pb2_grpc.add_WorkerInfoServicer_to_server(WorkerInfoService(worker), server)
    worker_pb2_grpc.add_OpenLoRAServicer_to_server(OpenLoRAService(worker), server)
    worker_pb2_grpc.add_FinetuneServicer_to_server(FinetuneService(worker), server)
    names = [pb.DESCRIPTOR.services_by_name[name].full_name
             for name in ("Gradient", "Span", "WorkerInfo", "OpenLoRA", "Finetune")]
    return start_with_health_and_reflection(server, names, port)
