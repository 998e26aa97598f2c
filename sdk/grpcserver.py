"""Starting a gRPC server the way every Payable server starts: on loopback, with the standard health
service and server reflection, under the one message-size limit that servers and the SDK share.

Reflection is served under both names clients ask for: `grpc.reflection.v1` (what current grpcurl,
Postman and grpc-js clients try first) and the older `grpc.reflection.v1alpha`. grpcio-reflection
ships only the v1alpha servicer; the v1 protocol is the same messages under another package name, so
the v1 service is that servicer behind a second method name, with its descriptor registered under
the v1 name so a client can describe it too.

Both kinds of server refuse a request message that does not parse with INVALID_ARGUMENT naming its type
and what was wrong (`refusing_malformed`), where gRPC itself answers UNKNOWN with a Python exception's repr;
health's `List` (declared by its proto, left unimplemented by grpcio-health-checking) lists every service's
status; and reflection finds a method by its full name (`pkg.Service.Method`, what `grpcurl describe`
asks for), which protobuf's descriptor pool does not.

A server with long-lived streams (the node: head subscriptions, watched submissions, uploads that
trickle in) runs on asyncio instead (`AioServerThread`): an idle stream is a suspended coroutine, not
a thread, so no number of them can starve health checks or unary calls, which run on the thread pool
the server is given. `StreamLimiter` caps the open streams per peer (one client connection: gRPC's
peer address, host and port) and in all, refusing the next with RESOURCE_EXHAUSTED and the reason.
"""

from __future__ import annotations

import asyncio
import inspect
import threading
from collections import Counter
from collections.abc import Callable
from concurrent import futures
from dataclasses import dataclass

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool
from google.protobuf.message import DecodeError
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection, reflection_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2 as v1alpha

from runtime.weights import MAX_WIRE_MESSAGE

MAX_MESSAGE = MAX_WIRE_MESSAGE  # every server's receive/send limit and the SDK's receive limit
REFLECTION_V1 = "grpc.reflection.v1.ServerReflection"
MESSAGE_OPTIONS = [("grpc.max_receive_message_length", MAX_MESSAGE), ("grpc.max_send_message_length", MAX_MESSAGE)]
# A client may send thousands of calls at once on one connection. gRPC's core holds the calls the server has
# not taken up yet and, past 1,000 of them, cancels newcomers at random (all past 3,000) with a bare CANCELLED
# that clients do not retry - 22 of 2,000 and 847 of 4,000 concurrent GetChainInfo calls on a dev node. Raised
# so a burst waits its turn: a call waiting costs its stream's flow-control window at most (64 KiB).
SERVER_OPTIONS = [*MESSAGE_OPTIONS, ("grpc.server.max_pending_requests", 8192),
                  ("grpc.server.max_pending_requests_hard_limit", 16384)]


def _register_v1_descriptor() -> None:
    """Add `grpc/reflection/v1/reflection.proto` to the default pool (v1alpha's file, renamed)."""
    pool = descriptor_pool.Default()
    try:
        pool.FindServiceByName(REFLECTION_V1)
        return
    except KeyError:
        pass
    file = descriptor_pb2.FileDescriptorProto()
    v1alpha.DESCRIPTOR.CopyToProto(file)
    file.name, file.package = "grpc/reflection/v1/reflection.proto", "grpc.reflection.v1"
    for message in file.message_type:
        for field in message.field:
            if field.type_name.startswith(".grpc.reflection.v1alpha."):
                field.type_name = field.type_name.replace(".v1alpha.", ".v1.", 1)
    for service in file.service:
        for method in service.method:
            method.input_type = method.input_type.replace(".v1alpha.", ".v1.", 1)
            method.output_type = method.output_type.replace(".v1alpha.", ".v1.", 1)
    pool.Add(file)


def _reflection_v1_handler(servicer: reflection.ReflectionServicer) -> grpc.GenericRpcHandler:
    method = grpc.stream_stream_rpc_method_handler(
        servicer.ServerReflectionInfo, request_deserializer=v1alpha.ServerReflectionRequest.FromString,
        response_serializer=v1alpha.ServerReflectionResponse.SerializeToString)
    return grpc.method_handlers_generic_handler(REFLECTION_V1, {"ServerReflectionInfo": method})


class _MethodsBySymbol:
    """Reflection's file_containing_symbol for a method's full name too: the file of its service (a mixin
    before grpcio-reflection's servicers, whose descriptor pool it reads)."""

    _pool: descriptor_pool.DescriptorPool

    def _file_containing_symbol(self, request, fully_qualified_name):
        service, _, method = fully_qualified_name.rpartition(".")
        try:
            if method in self._pool.FindServiceByName(service).methods_by_name:
                fully_qualified_name = service
        except KeyError:
            pass
        return super()._file_containing_symbol(request, fully_qualified_name)  # type: ignore[misc]


class _Reflection(_MethodsBySymbol, reflection.ReflectionServicer):
    pass


class _AioReflection(_MethodsBySymbol, reflection.aio.ReflectionServicer):
    pass


def _listing(statuses: dict[str, int]) -> health_pb2.HealthListResponse:
    return health_pb2.HealthListResponse(statuses={name: health_pb2.HealthCheckResponse(status=status)
                                                   for name, status in statuses.items()})


class _Health(health.HealthServicer):
    def List(self, request, context):
        with self._lock:
            return _listing(self._server_status)


class _AioHealth(health.aio.HealthServicer):
    async def List(self, request, context):
        return _listing(self._server_status)


@dataclass(frozen=True)
class _Malformed:
    """What a request that did not parse is handed on as (the handler then refuses it)."""

    message: str


def refusing_malformed(handler: grpc.RpcMethodHandler | None) -> grpc.RpcMethodHandler | None:
    """`handler` with a request message that does not parse refused as INVALID_ARGUMENT, naming its type and
    what was wrong: before the handler runs, or - a request stream (an upload, reflection) - when the handler
    reaches that message."""
    if handler is None or handler.request_deserializer is None:
        return handler
    lenient, serializer = _lenient(handler.request_deserializer), handler.response_serializer
    if handler.request_streaming:
        make = (grpc.stream_stream_rpc_method_handler if handler.response_streaming
                else grpc.stream_unary_rpc_method_handler)
        behaviour = handler.stream_stream if handler.response_streaming else handler.stream_unary
        return make(_checked_requests(behaviour), request_deserializer=lenient, response_serializer=serializer)
    if not handler.response_streaming:
        return grpc.unary_unary_rpc_method_handler(_checked_unary(handler.unary_unary), request_deserializer=lenient,
                                                   response_serializer=serializer)
    if getattr(handler.unary_stream, "experimental_non_blocking", False):
        return handler  # health's Watch on a thread-pool server: scheduled its own way, kept
    return grpc.unary_stream_rpc_method_handler(_checked_stream(handler.unary_stream), request_deserializer=lenient,
                                                response_serializer=serializer)


def _lenient(deserialize: Callable[[bytes], object]) -> Callable[[bytes], object]:
    """`deserialize`, handing a message that does not parse on as `_Malformed` instead of raising."""
    kind = getattr(getattr(getattr(deserialize, "__self__", None), "DESCRIPTOR", None), "full_name", "request")

    def lenient(data: bytes):
        try:
            return deserialize(data)
        except DecodeError as exc:
            return _Malformed(f"the request is not a valid {kind} message: {exc}")

    return lenient


def _refuse(request, context) -> None:
    """On a thread: abort the call (it raises) when its request did not parse."""
    if isinstance(request, _Malformed):
        context.abort(grpc.StatusCode.INVALID_ARGUMENT, request.message)


async def _refuse_async(request, context) -> None:
    """On the event loop: the same, awaited."""
    if isinstance(request, _Malformed):
        await context.abort(grpc.StatusCode.INVALID_ARGUMENT, request.message)


def _checked_unary(answer):
    if inspect.iscoroutinefunction(answer):
        async def checked(request, context):
            await _refuse_async(request, context)
            return await answer(request, context)
        return checked

    def checked_in_thread(request, context):
        _refuse(request, context)
        return answer(request, context)
    return checked_in_thread


def _checked_stream(streams):
    if inspect.isasyncgenfunction(streams):
        async def checked(request, context):
            await _refuse_async(request, context)
            async for response in streams(request, context):
                yield response
        return checked
    if inspect.iscoroutinefunction(streams):  # writes its responses itself (context.write: health's Watch)
        async def checked_writing(request, context):
            await _refuse_async(request, context)
            return await streams(request, context)
        return checked_writing

    def checked_in_thread(request, context):
        _refuse(request, context)
        yield from streams(request, context)
    return checked_in_thread


def _checked_requests(behaviour):
    """A request-streaming handler whose request iterator refuses a message that did not parse, when reached."""
    if inspect.isasyncgenfunction(behaviour) or inspect.iscoroutinefunction(behaviour):
        async def checked_aiter(requests, context):
            async for request in requests:
                await _refuse_async(request, context)
                yield request

        if inspect.isasyncgenfunction(behaviour):
            async def checked_streams(requests, context):
                async for response in behaviour(checked_aiter(requests, context), context):
                    yield response
            return checked_streams

        async def checked(requests, context):
            return await behaviour(checked_aiter(requests, context), context)
        return checked

    def checked_iter(requests, context):
        for request in requests:
            _refuse(request, context)
            yield request

    def checked_in_thread(requests, context):
        return behaviour(checked_iter(requests, context), context)
    return checked_in_thread


class RefuseMalformed(grpc.ServerInterceptor):
    """`refusing_malformed` for every method of a thread-pool server."""

    def intercept_service(self, continuation, handler_call_details):
        return refusing_malformed(continuation(handler_call_details))


class AioRefuseMalformed(grpc.aio.ServerInterceptor):
    """`refusing_malformed` for every method of an asyncio server."""

    async def intercept_service(self, continuation, handler_call_details):
        return refusing_malformed(await continuation(handler_call_details))


def start_with_health_and_reflection(server: grpc.Server, services: list[str], port: int) -> tuple[grpc.Server, int]:
    """Add health and reflection (v1 and v1alpha) for `services`, bind 127.0.0.1:port (0 picks a free
    port), start, and mark everything SERVING; returns (server, bound port). Build `server` with
    `RefuseMalformed()` among its interceptors."""
    _register_v1_descriptor()
    health_servicer = _Health()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    names = [*services, health.SERVICE_NAME, reflection.SERVICE_NAME, REFLECTION_V1]
    reflection_servicer = _Reflection(names)
    reflection_pb2_grpc.add_ServerReflectionServicer_to_server(reflection_servicer, server)
    server.add_generic_rpc_handlers([_reflection_v1_handler(reflection_servicer)])
    bound = server.add_insecure_port(f"127.0.0.1:{port}")
    if bound == 0:
        raise OSError(f"could not bind 127.0.0.1:{port} for gRPC")
    server.start()
    for name in ["", *services]:
        health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    return server, bound


# --- asyncio servers ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class StreamLimits:
    """How many streams may be open at once: per peer (one client connection) and in all; `transfer_methods`
    (full method names, e.g. "/pkg.Service/Upload") hold a file each, so they have their own, lower caps."""

    per_peer: int = 1024
    total: int = 16384
    transfers_per_peer: int = 32
    transfers_total: int = 256
    transfer_methods: frozenset[str] = frozenset()


class StreamLimiter(grpc.aio.ServerInterceptor):
    """Counts the open streaming RPCs (either side streaming) per peer and in all, and refuses one past a cap
    with RESOURCE_EXHAUSTED saying which; an accepted stream gets its response headers at once, so a client
    can tell an accepted idle stream from a refused one. Runs on the server's event loop only (no locks)."""

    def __init__(self, limits: StreamLimits):
        self.limits = limits
        self.open: Counter[str] = Counter()       # peer -> open streams
        self.transfers: Counter[str] = Counter()  # peer -> open transfers
        self.open_total = self.transfers_total = 0

    def _refusal(self, peer: str, transfer: bool) -> str | None:
        limits = self.limits
        if self.open[peer] >= limits.per_peer:
            return (f"this connection already has {self.open[peer]} open streams (at most {limits.per_peer} per "
                    f"peer): close one you no longer read before opening another")
        if self.open_total >= limits.total:
            return f"the server has {self.open_total} open streams (at most {limits.total}); try again later"
        if transfer and self.transfers[peer] >= limits.transfers_per_peer:
            return (f"this connection already has {self.transfers[peer]} uploads and downloads open (at most "
                    f"{limits.transfers_per_peer} per peer): finish one first")
        if transfer and self.transfers_total >= limits.transfers_total:
            return (f"the server has {self.transfers_total} uploads and downloads open (at most "
                    f"{limits.transfers_total}); try again later")
        return None

    async def _enter(self, context, transfer: bool) -> str:
        peer = context.peer()
        refusal = self._refusal(peer, transfer)
        if refusal is not None:
            await context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, refusal)
        self.open[peer] += 1
        self.open_total += 1
        if transfer:
            self.transfers[peer] += 1
            self.transfers_total += 1
        return peer

    def _leave(self, peer: str, transfer: bool) -> None:
        self.open[peer] -= 1
        if not self.open[peer]:
            del self.open[peer]
        self.open_total -= 1
        if transfer:
            self.transfers[peer] -= 1
            if not self.transfers[peer]:
                del self.transfers[peer]
            self.transfers_total -= 1

    async def intercept_service(self, continuation, handler_call_details):
        handler = await continuation(handler_call_details)
        if handler is None or not (handler.request_streaming or handler.response_streaming):
            return handler
        transfer = handler_call_details.method in self.limits.transfer_methods
        serializers = {"request_deserializer": handler.request_deserializer,
                       "response_serializer": handler.response_serializer}
        if not handler.response_streaming:  # client streaming: one response
            inner = handler.stream_unary
            if not inspect.iscoroutinefunction(inner):
                return handler  # a thread-pool handler: not counted (the node has none)

            async def stream_unary(request_iterator, context):
                peer = await self._enter(context, transfer)
                try:
                    await context.send_initial_metadata(())
                    return await inner(request_iterator, context)
                finally:
                    self._leave(peer, transfer)

            return grpc.stream_unary_rpc_method_handler(stream_unary, **serializers)
        inner = handler.stream_stream if handler.request_streaming else handler.unary_stream
        if not inspect.isasyncgenfunction(inner):
            return handler

        async def streaming(request, context):
            peer = await self._enter(context, transfer)
            try:
                await context.send_initial_metadata(())
                async for response in inner(request, context):
                    yield response
            finally:
                self._leave(peer, transfer)

        make = grpc.stream_stream_rpc_method_handler if handler.request_streaming else \
            grpc.unary_stream_rpc_method_handler
        return make(streaming, **serializers)


class AioServerThread:
    """A `grpc.aio` server on its own event-loop thread, for a caller that is not asyncio code (build it with
    `AioRefuseMalformed()` among its interceptors).

    `build()` runs on that loop and returns (server, service names to serve health and reflection for);
    the server is bound to 127.0.0.1:port (0 picks a free port) and started before the constructor
    returns. `stop(grace)` returns a threading.Event, like `grpc.Server.stop`."""

    def __init__(self, build: Callable[[], tuple[grpc.aio.Server, list[str]]], port: int,
                 executor: futures.ThreadPoolExecutor | None = None):
        self.loop = asyncio.new_event_loop()
        self.executor = executor
        self.port = 0
        self._server: grpc.aio.Server | None = None
        self._health: health.aio.HealthServicer | None = None
        self._started = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(build, port), name="grpc-aio", daemon=True)
        self._thread.start()
        self._started.wait()
        if self._error is not None:
            self._thread.join()
            raise self._error

    def _run(self, build, port: int) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_until_complete(self._start(build, port))
        except BaseException as exc:  # noqa: BLE001 - handed to the constructor's caller, which re-raises it
            self._error = exc
            self._started.set()
            self.loop.close()
            return
        self._started.set()
        try:
            self.loop.run_forever()
        finally:
            self.loop.run_until_complete(self.loop.shutdown_asyncgens())
            self.loop.close()

    async def _start(self, build, port: int) -> None:
        server, services = build()
        _register_v1_descriptor()
        health_servicer = _AioHealth()
        health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
        names = [*services, health.SERVICE_NAME, reflection.SERVICE_NAME, REFLECTION_V1]
        reflection_servicer = _AioReflection(names)
        reflection_pb2_grpc.add_ServerReflectionServicer_to_server(reflection_servicer, server)
        server.add_generic_rpc_handlers([_reflection_v1_handler(reflection_servicer)])
        bound = server.add_insecure_port(f"127.0.0.1:{port}")
        if bound == 0:
            raise OSError(f"could not bind 127.0.0.1:{port} for gRPC")
        await server.start()
        for name in ["", *services]:
            await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
        self._server, self._health, self.port = server, health_servicer, bound

    def stop(self, grace: float | None = None) -> threading.Event:
        """Stop taking calls, give those in flight `grace` seconds, then cancel them and end the loop."""
        done = threading.Event()
        if not self._thread.is_alive():
            done.set()
            return done

        async def shutdown() -> None:
            if self._health is not None:
                await self._health.enter_graceful_shutdown()
            if self._server is not None:
                await self._server.stop(grace)

        stopping = asyncio.run_coroutine_threadsafe(shutdown(), self.loop)

        def finish() -> None:
            try:
                stopping.result()
            finally:
                self.loop.call_soon_threadsafe(self.loop.stop)
                self._thread.join()
                if self.executor is not None:
                    self.executor.shutdown(wait=False, cancel_futures=True)
                done.set()

        threading.Thread(target=finish, name="grpc-aio-stop", daemon=True).start()
        return done
