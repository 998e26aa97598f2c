"""The node's gRPC server: the `payable.node.v1.Node` service, one typed query service per pallet,
the standard health service and server reflection, all on 127.0.0.1.

Every malformed input is answered with INVALID_ARGUMENT and the reason (what it echoes of the input is
capped); the node keeps serving.

The server runs on asyncio (`sdk.grpcserver.AioServerThread`): the streams that stay open - head
subscriptions, watched submissions, uploads and downloads - are coroutines on one event loop, and what
they need of the node (validation, the chain lock, the disk) runs on the thread pool for a moment at a
time; unary calls and health checks run on that pool too, so idle streams, however many, never take the
threads they need. Open streams are capped per client connection and in all (`StreamLimits`): the one
past a cap is refused with RESOURCE_EXHAUSTED.
"""

from __future__ import annotations

import asyncio
import functools
import re
import time
from concurrent import futures
from typing import Any, NoReturn

import grpc
from google.protobuf import message_factory
from google.protobuf.message import DecodeError

from payable.content.v1 import content_pb2, content_pb2_grpc
from payable.node.v1 import node_pb2, node_pb2_grpc
from payable.runtime.v1.extrinsic_pb2 import Block, EventRecord, Header
from runtime import system
from runtime.chainindex import HOOKS, account_history, locate_extrinsic
from runtime.codec import CodecError, encode_u128
from runtime.crypto import blake2_256, encode_address, verify
from runtime.errors import Invalid, InvalidTransaction, PalletError
from sdk.grpcserver import SERVER_OPTIONS, AioRefuseMalformed, AioServerThread, StreamLimiter, StreamLimits
from sdk.wire import CONTENT_READ_MAX_SKEW_S, content_read_message, content_upload_message

from .contentstore import ContentError, ContentStore
from .ipfs.kubo import KuboUnreachable
from .ipfs.replication import SwarmBusy
from .node import Node
from .txpool import PoolRejected, Unconfirmed

MAX_DETAILS = 1000  # characters of an error's details: what a refusal echoes of its input stays bounded


def clip(details: str) -> str:
    return details if len(details) <= MAX_DETAILS else f"{details[:MAX_DETAILS]}... ({len(details)} characters)"


def unsubmitted(exc: ConnectionError) -> str:
    """What a client reads when the consensus engine behind this node does not answer: nothing was
    submitted, so it is safe to send the same signed bytes again (no new nonce needed) - or, when the engine
    took the request but did not answer in time (`Unconfirmed`), it may still be included: never sign anew."""
    if isinstance(exc, Unconfirmed):
        return (f"unconfirmed: {exc}. It may have reached the network and may still be included (this node keeps "
                f"it in its pool): do not sign it again - send the same extrinsic again (it is never applied "
                f"twice) or look it up by its hash")
    return (f"not submitted: {exc}. Nothing of it reached the network; send the same extrinsic again, to this "
            f"node once its consensus engine is back or to another node")


def abort(context: grpc.ServicerContext, code: grpc.StatusCode, details: str) -> NoReturn:
    """End the RPC with `code` (a thread-pool handler): `context.abort` raises, which this says to the type
    checker."""
    context.abort(code, clip(details))
    raise AssertionError("grpc.ServicerContext.abort returned instead of raising")


async def abort_async(context, code: grpc.StatusCode, details: str) -> NoReturn:
    """End the RPC with `code` (a coroutine handler, whose `abort` is awaited)."""
    await context.abort(code, clip(details))
    raise AssertionError("grpc.aio.ServicerContext.abort returned instead of raising")


class Refused(Exception):
    """A check's answer that ends the RPC, for code shared by thread-pool and coroutine handlers."""

    def __init__(self, code: grpc.StatusCode, details: str):
        super().__init__(details)
        self.code, self.details = code, details


def check_hash(value: bytes, what: str) -> None:
    """A 32-byte hash, or INVALID_ARGUMENT that names its length (never echoes it: it may be megabytes)."""
    if len(value) != 32:
        raise Refused(grpc.StatusCode.INVALID_ARGUMENT, f"{what} is 32 bytes, got {len(value)}")


def check_signed(what: str, role: str, signer: bytes, issued_at: int, signature: bytes, message: bytes) -> None:
    """A content request's signature (an upload's, a read's): issued within CONTENT_READ_MAX_SKEW_S of now
    and valid for `message`, else Refused UNAUTHENTICATED saying which."""
    skew = abs(time.time() - issued_at)
    if skew > CONTENT_READ_MAX_SKEW_S:
        raise Refused(grpc.StatusCode.UNAUTHENTICATED, f"the {what} signature was issued {skew:.0f} s away from now; "
                                                       f"at most {CONTENT_READ_MAX_SKEW_S} s (sign afresh)")
    if not verify(signer, message, signature):
        raise Refused(grpc.StatusCode.UNAUTHENTICATED, f"the {what} signature does not verify for this {role}, blob "
                                                       f"and chain")


MAX_BATCH = 4096
POOL_STATUS = {"duplicate": grpc.StatusCode.ALREADY_EXISTS, "pool_full": grpc.StatusCode.RESOURCE_EXHAUSTED,
               "sender_limit": grpc.StatusCode.RESOURCE_EXHAUSTED, "future_limit": grpc.StatusCode.RESOURCE_EXHAUSTED,
               "future_queue_full": grpc.StatusCode.RESOURCE_EXHAUSTED}


def snake_case(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


STREAM_BACKLOG = 1024  # messages a stream may fall behind before the node ends it


class LoopSink:
    """A node subscription (`node.Sink`) for a coroutine stream: the node's threads `put`, the stream awaits.
    Bounded: a client that stops reading falls STREAM_BACKLOG behind and is cut off, not buffered forever."""

    def __init__(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.queue: asyncio.Queue = asyncio.Queue()
        self.overflowed = False

    def put(self, item: Any) -> None:
        try:
            self.loop.call_soon_threadsafe(self._put, item)
        except RuntimeError:  # the server's loop has closed: nobody is listening
            pass

    def _put(self, item: Any) -> None:
        if self.overflowed:
            return
        if item is not None and self.queue.qsize() >= STREAM_BACKLOG:
            self.overflowed, item = True, None
        self.queue.put_nowait(item)


async def _drain(sink: LoopSink, context):
    """Yield a subscription's messages until the node ends it (None); a client that hangs up cancels this."""
    while (message := await sink.queue.get()) is not None:
        yield message
    if sink.overflowed:
        await abort_async(context, grpc.StatusCode.RESOURCE_EXHAUSTED,
                          f"this stream fell {STREAM_BACKLOG} messages behind: read it, or close it")


MAX_HISTORY_PAGE = 500


class NodeService(node_pb2_grpc.NodeServicer):
    """Unary methods run on the server's thread pool; streaming ones are coroutines (see the module doc)."""

    def __init__(self, node: Node, executor: futures.Executor | None = None):
        self.node = node
        self.executor = executor

    async def _in_pool(self, fn, *args, **kwargs):
        """Run blocking node work (validation, the chain lock, the disk) on the thread pool."""
        return await asyncio.get_running_loop().run_in_executor(self.executor, functools.partial(fn, *args, **kwargs))

    # --- extrinsics ----------------------------------------------------------------------------
    def _submit(self, request, context, watch: bool):
        if not request.extrinsic:
            abort(context, grpc.StatusCode.INVALID_ARGUMENT, "empty extrinsic")
        try:
            return self.node.submit(request.extrinsic, watch=watch)
        except PoolRejected as exc:
            abort(context, POOL_STATUS.get(exc.code, grpc.StatusCode.INVALID_ARGUMENT), str(exc))
        except ConnectionError as exc:
            abort(context, grpc.StatusCode.UNAVAILABLE, unsubmitted(exc))

    def SubmitExtrinsic(self, request, context):
        tx_hash, _ = self._submit(request, context, watch=False)
        return node_pb2.SubmitResponse(hash=tx_hash)

    def SubmitBatch(self, request, context):
        if len(request.extrinsics) > MAX_BATCH:
            abort(context, grpc.StatusCode.INVALID_ARGUMENT, f"at most {MAX_BATCH} extrinsics per batch")
        results = []
        for tx_hash, error in self.node.submit_batch(list(request.extrinsics)):
            if isinstance(error, PoolRejected):
                results.append(node_pb2.SubmitResult(hash=tx_hash, error_code=error.code, error=error.detail))
            elif error is not None:
                results.append(node_pb2.SubmitResult(hash=tx_hash, error_code="unavailable", error=unsubmitted(error)))
            else:
                results.append(node_pb2.SubmitResult(hash=tx_hash))
        return node_pb2.SubmitBatchResponse(results=results)

    async def SubmitAndWatch(self, request, context):
        if not request.extrinsic:
            await abort_async(context, grpc.StatusCode.INVALID_ARGUMENT, "empty extrinsic")
        sink = LoopSink()
        try:
            tx_hash, _ = await self._in_pool(self.node.submit, request.extrinsic, watch=True, sink=sink)
        except PoolRejected as exc:
            await abort_async(context, POOL_STATUS.get(exc.code, grpc.StatusCode.INVALID_ARGUMENT), str(exc))
        except ConnectionError as exc:
            await abort_async(context, grpc.StatusCode.UNAVAILABLE, unsubmitted(exc))
        try:
            async for status in _drain(sink, context):
                yield status
        finally:
            self.node._unwatch(tx_hash, sink)

    # --- blocks --------------------------------------------------------------------------------
    def _number(self, request, context) -> int:
        db = self.node.executive.db
        which = request.WhichOneof("at")
        if which == "number":
            number = request.number
        elif which == "hash":
            try:
                check_hash(request.hash, "a block hash")
            except Refused as refused:
                abort(context, refused.code, refused.details)
            number = db.number_of(request.hash)
            if number is None:
                abort(context, grpc.StatusCode.NOT_FOUND, f"no block with hash {request.hash.hex()}")
        else:
            number = self.node.executive.head.number
        best = self.node.executive.head.number
        if number > best:
            abort(context, grpc.StatusCode.NOT_FOUND, f"no block #{number} yet (best is #{best})")
        return number

    def _kept(self, read, number: int, context):
        """`read(number)` of a block this node may not keep: below the snapshot it joined from by state sync
        (or pruned) a block is NOT_FOUND, saying so, not an UNKNOWN error."""
        try:
            return read(number)
        except LookupError as exc:
            abort(context, grpc.StatusCode.NOT_FOUND, f"{exc.args[0] if exc.args else exc}: this node does not "
                                                      "keep it (it joined by state sync after it, or pruned it); "
                                                      "ask a node that keeps the whole chain")

    def GetBlock(self, request, context):
        block = self._kept(self.node.executive.db.require_block, self._number(request, context), context)
        header = Header.FromString(block.header)
        return node_pb2.BlockResponse(hash=blake2_256(block.header), block=block, header=header)

    def GetHeader(self, request, context):
        return _header_response(self._kept(self.node.executive.db.require_block, self._number(request, context),
                                           context))

    async def StreamHeads(self, request, context):
        """The current head, then each new one: subscribed first, so no block falls between the two (one
        committed meanwhile comes once)."""
        sink = LoopSink()
        self.node.subscribe_heads(sink)
        try:
            current = _header_response(self.node.executive.db.require_block(self.node.executive.head.number))
            yield current
            async for head in _drain(sink, context):
                if head.header.number > current.header.number:
                    yield head
        finally:
            self.node.unsubscribe_heads(sink)

    def GetEvents(self, request, context):
        number = self._number(request, context)
        events = self._kept(self.node.executive.db.require_events, number, context).events
        return node_pb2.EventsResponse(block_number=number, events=events)

    # --- state ---------------------------------------------------------------------------------
    def GetAccount(self, request, context):
        """Nonce (committed, and the next one counting this node's pool), plus balances when a pallet of the
        chain holds them (its `account_balances` hook)."""
        if len(request.account) != 32:
            abort(context, grpc.StatusCode.INVALID_ARGUMENT, "account ids are 32 bytes")
        executive = self.node.executive
        with self.node.lock:
            nonce = system.account_nonce(executive.read_context(), request.account)
            response = node_pb2.AccountResponse(nonce=nonce, block_number=executive.head.number)
            balances = executive.account_balances(request.account)
        # the pool's lock is taken outside the node's: a committed block updates the pool under the pool's lock
        # and reads nonces under the node's (TxPool.after_block), so holding both here the other way round
        # deadlocked the node under concurrent callers
        response.next_nonce = self.node.pool.next_nonce(request.account, nonce)
        for name, amount in (balances or {}).items():
            setattr(response, name, encode_u128(amount))
        return response

    def QueryStorage(self, request, context):
        if not request.key or len(request.key) > 1024:
            abort(context, grpc.StatusCode.INVALID_ARGUMENT, "a storage key is 1 to 1024 bytes")
        db = self.node.executive.db
        with self.node.lock:
            value = db.state_value(request.key)
            head = self.node.executive.head
            return node_pb2.StorageResponse(exists=value is not None, value=value or b"", proof=db.prove(request.key),
                                            block_number=head.number, block_hash=head.hash,
                                            state_root=head.state_root)

    def GetChainInfo(self, request, context):
        executive = self.node.executive
        ready, future = self.node.pool.counts()
        head = executive.head
        return node_pb2.ChainInfo(chain_name=executive.runtime.spec.name, chain_id=executive.runtime.spec.id,
                                  genesis_hash=executive.genesis_hash, best_number=head.number, best_hash=head.hash,
                                  pallets=list(executive.runtime.pallets), txpool_ready=ready, txpool_future=future)

    def GetMetadata(self, request, context):
        return self.node.executive.runtime.metadata()

    def Query(self, request, context):
        response = self._query(request.pallet, request.name, request.request, context)
        return node_pb2.PalletQueryResponse(response=response, block_number=self.node.executive.head.number)

    # --- explorer index --------------------------------------------------------------------------
    def GetExtrinsic(self, request, context):
        try:
            check_hash(request.hash, "an extrinsic hash")
        except Refused as refused:
            abort(context, refused.code, refused.details)
        db = self.node.executive.db
        found = locate_extrinsic(db.backend, request.hash)
        if found is None:
            abort(context, grpc.StatusCode.NOT_FOUND, f"no extrinsic with hash {request.hash.hex()} on this chain")
        number, index = found
        block = self._kept(db.require_block, number, context)
        events = [e for e in self._kept(db.require_events, number, context).events
                  if e.phase == EventRecord.APPLY_EXTRINSIC and e.extrinsic_index == index]
        return node_pb2.ExtrinsicResponse(block_number=number, block_hash=blake2_256(block.header), index=index,
                                          extrinsic=block.extrinsics[index], events=events)

    def DryRun(self, request, context):
        """`Executive.dry_run` of an unsigned body: a malformed one is INVALID_ARGUMENT; one the pool would
        refuse is answered (valid false, why) as a verdict, not an error."""
        try:
            with self.node.lock:
                ran = self.node.executive.dry_run(request.body)
        except InvalidTransaction as exc:
            if exc.reason in (Invalid.BAD_ENCODING, Invalid.OVERSIZE):
                abort(context, grpc.StatusCode.INVALID_ARGUMENT, f"the body does not decode: {exc}")
            return node_pb2.DryRunResponse(valid=False, invalid=str(exc))
        return node_pb2.DryRunResponse(valid=True, success=ran.error is None, error=ran.error.named if ran.error
                                       else "", fee=encode_u128(ran.fee), events=ran.events,
                                       block_number=ran.block_number)

    def GetAccountHistory(self, request, context):
        if len(request.account) != 32:
            abort(context, grpc.StatusCode.INVALID_ARGUMENT, "account ids are 32 bytes")
        if request.limit > MAX_HISTORY_PAGE:
            abort(context, grpc.StatusCode.INVALID_ARGUMENT, f"limit {request.limit} is above {MAX_HISTORY_PAGE}")
        db = self.node.executive.db
        entries, next_before = account_history(db.backend, request.account, request.before_block,
                                               request.limit or 50)
        out = node_pb2.AccountHistory(next_before_block=next_before)
        blocks: dict[int, Block] = {}  # a block read once for all its entries on the page
        for entry in entries:
            tx_hash = b""
            if entry.extrinsic_index != HOOKS:
                if entry.block_number not in blocks:
                    blocks[entry.block_number] = db.require_block(entry.block_number)
                tx_hash = blake2_256(blocks[entry.block_number].extrinsics[entry.extrinsic_index])
            out.entries.add(block_number=entry.block_number, extrinsic_index=entry.extrinsic_index,
                            roles=entry.roles, extrinsic_hash=tx_hash)
        return out

    def _query(self, pallet: str, name: str, request: bytes, context) -> bytes:
        try:
            with self.node.lock:
                return self.node.executive.query(pallet, name, request)
        except LookupError as exc:  # KeyError: no such pallet or query; NotFound: what it asks about
            abort(context, grpc.StatusCode.NOT_FOUND, str(exc.args[0]))
        except (DecodeError, CodecError) as exc:
            abort(context, grpc.StatusCode.INVALID_ARGUMENT, f"bad request: {exc}")
        except PalletError as exc:
            code = grpc.StatusCode.NOT_FOUND if type(exc).__name__.startswith("Unknown") else \
                grpc.StatusCode.INVALID_ARGUMENT
            abort(context, code, exc.named)


class ContentService(content_pb2_grpc.ContentStoreServicer):
    """Streaming upload and download of the node's content-addressed blobs.

    An upload is signed by an account the chain lets store blobs (one that exists: `_check_uploader`). A
    download (on a network's node, of a blob this node lacks: fetched from the swarm first,
    `node.ipfs.replication`) is served unless the chain withdrew the blob's data (refused to everyone,
    FAILED_PRECONDITION saying who withdrew it and at which block: `Runtime.content_withdrawn`), or restricts
    the blob (it belongs only to permissioned DataNets) and the request is not signed by a reader the chain
    allows (`Runtime.content_readable`).
    """

    def __init__(self, node: Node, executor: futures.Executor | None = None):
        self.node = node
        self.store: ContentStore = node.content
        self.executor = executor

    async def _in_pool(self, fn, *args):
        return await asyncio.get_running_loop().run_in_executor(self.executor, fn, *args)

    async def Upload(self, request_iterator, context):
        first = await anext(aiter(request_iterator), None)
        if first is None:
            await abort_async(context, grpc.StatusCode.INVALID_ARGUMENT, "no data")
        try:
            await self._in_pool(self._check_uploader, first)
        except Refused as exc:
            await abort_async(context, exc.code, exc.details)
        upload = None
        try:
            upload = await self._in_pool(self.store.begin, first.expected_hash or None, first.total_size or None)
            await self._in_pool(upload.write, first.data)
            async for message in request_iterator:
                await self._in_pool(upload.write, message.data)
            stored = await self._in_pool(upload.finish)
        except ContentError as exc:
            await abort_async(context, grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        finally:
            if upload is not None:
                upload.discard()
        if self.node.swarm is not None:
            self.node.swarm.uploaded(stored.hash)
        return content_pb2.BlobInfo(hash=stored.hash, size=stored.size, already_stored=stored.already_stored)

    def _check_uploader(self, first) -> None:
        """An upload's first chunk names the blob (`expected_hash`) and is signed, freshly, by an account the
        chain lets store blobs (`Runtime.content_uploader`: one that exists); else Refused, nothing stored."""
        check_hash(first.expected_hash, "the upload's expected_hash (the blob's blake2b-256, signed by its uploader)")
        if len(first.uploader) != 32 or len(first.signature) != 64:
            raise Refused(grpc.StatusCode.UNAUTHENTICATED, "sign the upload: the first chunk needs a 32-byte "
                                                           "uploader, issued_at and a 64-byte signature over "
                                                           "content_upload_message (sdk.wire)")
        check_signed("upload", "uploader", first.uploader, first.issued_at, first.signature, content_upload_message(
            self.node.executive.genesis_hash, first.expected_hash, first.uploader, first.issued_at))
        with self.node.lock:
            allowed = self.node.executive.content_uploader(first.uploader)
        if not allowed:
            raise Refused(grpc.StatusCode.PERMISSION_DENIED, f"account {encode_address(first.uploader)} does not "
                                                             "exist on this chain: only an account holding OPEN "
                                                             "stores blobs")

    def _reader(self, request) -> bytes:
        """The signing reader of a request (empty: anonymous); a bad or stale signature is Refused."""
        if not (request.reader or request.signature):
            return b""
        if len(request.reader) != 32 or len(request.signature) != 64:
            raise Refused(grpc.StatusCode.INVALID_ARGUMENT, "a signed read needs a 32-byte reader and a 64-byte "
                                                            "signature")
        check_signed("read", "reader", request.reader, request.issued_at, request.signature, content_read_message(
            self.node.executive.genesis_hash, request.hash, request.reader, request.issued_at))
        return request.reader

    def _authorize_read(self, request) -> None:
        """What every read of a blob (its bytes, or whether it exists and its size) must pass: a 32-byte hash,
        a valid signature when signed, and a reader the chain allows when the blob is permissioned; else
        Refused (a non-reader learns nothing of the blob from this node, not even whether it holds it)."""
        check_hash(request.hash, "a content hash")
        with self.node.lock:
            withdrawn = self.node.executive.content_withdrawn(request.hash)
        if withdrawn is not None:
            self.store.delete(request.hash)  # in case this node missed the block's release (e.g. state sync)
            raise Refused(grpc.StatusCode.FAILED_PRECONDITION,
                          f"blob {request.hash.hex()} is no longer served: {withdrawn} (its hash stays on chain, "
                          f"so the snapshots that hold it remain provable)")
        reader = self._reader(request)
        with self.node.lock:
            readable = self.node.executive.content_readable(request.hash, reader)
        if not readable:
            who = "an anonymous request" if not reader else "this reader"
            raise Refused(grpc.StatusCode.PERMISSION_DENIED,
                          f"blob {request.hash.hex()} belongs to a permissioned DataNet and {who} has no access: "
                          f"sign the request as its owner, a curator, a contributor, a granted account or a worker "
                          f"serving a model that cites it")

    def _ensure_local(self, digest: bytes) -> None:
        """A blob this node lacks is fetched from the network's swarm, where it has one, and verified (after
        the read was authorized: the swarm never answers a reader the chain refuses). A copy that fails its
        hash is Refused with DATA_LOSS; a blob nowhere to be had stays absent (NOT_FOUND follows); with too
        many reads already waiting on the swarm, RESOURCE_EXHAUSTED at once (retry)."""
        if self.node.swarm is None or self.store.size(digest) is not None:
            return
        try:
            self.node.swarm.fetch(digest)
        except ContentError as exc:
            raise Refused(grpc.StatusCode.DATA_LOSS, str(exc)) from None
        except SwarmBusy as exc:
            raise Refused(grpc.StatusCode.RESOURCE_EXHAUSTED, str(exc)) from None
        except KuboUnreachable as exc:
            raise Refused(grpc.StatusCode.UNAVAILABLE, f"this node lacks blob {digest.hex()} and its IPFS daemon "
                                                       f"does not answer to fetch it ({exc}): retry, or read from "
                                                       f"another node") from None

    async def Download(self, request, context):
        try:
            await self._in_pool(self._authorize_read, request)
            await self._in_pool(self._ensure_local, request.hash)
        except Refused as refused:
            await abort_async(context, refused.code, refused.details)
        reader = None
        try:
            reader = await self._in_pool(self.store.open_read, request.hash)
            while (chunk := await self._in_pool(reader.next_chunk)) is not None:
                yield content_pb2.DownloadChunk(data=chunk)
        except ContentError as exc:
            code = grpc.StatusCode.NOT_FOUND if str(exc).startswith("no blob") else grpc.StatusCode.DATA_LOSS
            await abort_async(context, code, str(exc))
        finally:
            if reader is not None:
                reader.close()

    def Stat(self, request, context):
        """Whether the node holds a blob, and its size: told only to those who may read it (as Download)."""
        try:
            self._authorize_read(request)
            self._ensure_local(request.hash)
        except Refused as refused:
            abort(context, refused.code, refused.details)
        size = self.store.size(request.hash)
        if size is None:
            abort(context, grpc.StatusCode.NOT_FOUND, f"no blob {request.hash.hex()}")
        return content_pb2.BlobInfo(hash=request.hash, size=size, already_stored=True)


def pallet_query_handlers(service: NodeService) -> list[grpc.GenericRpcHandler]:
    """One typed gRPC service per pallet that declares one, served from the pallet's query table."""
    handlers = []
    for name, pallet in service.node.executive.runtime.pallets.items():
        if pallet.query_service is None:
            continue
        methods = {}
        for method in pallet.query_service.methods:
            query = snake_case(method.name)
            request_type = message_factory.GetMessageClass(method.input_type)
            response_type = message_factory.GetMessageClass(method.output_type)

            def handle(request, context, pallet_name=name, query_name=query, out=response_type):
                raw = service._query(pallet_name, query_name, request.SerializeToString(), context)
                return out.FromString(raw)

            methods[method.name] = grpc.unary_unary_rpc_method_handler(
                handle, request_deserializer=request_type.FromString,
                response_serializer=lambda m: m.SerializeToString(deterministic=True))
        handlers.append(grpc.method_handlers_generic_handler(pallet.query_service.full_name, methods))
    return handlers


def serve(node: Node, port: int = 0, workers: int = 32,
          limits: StreamLimits | None = None) -> tuple[AioServerThread, int]:
    """Start the gRPC server on 127.0.0.1:port (0 picks a free port); returns (server, bound port).

    `workers` threads run unary calls and the blocking steps of streams; `limits` caps the open streams
    (default: StreamLimits() with uploads and downloads as transfers)."""
    executor = futures.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="grpc")
    content_name = content_pb2.DESCRIPTOR.services_by_name["ContentStore"].full_name
    limits = limits or StreamLimits(transfer_methods=frozenset({f"/{content_name}/Upload",
                                                                f"/{content_name}/Download"}))

    def build() -> tuple[grpc.aio.Server, list[str]]:
        server = grpc.aio.server(migration_thread_pool=executor, options=SERVER_OPTIONS,
                                 interceptors=[StreamLimiter(limits), AioRefuseMalformed()])
        service = NodeService(node, executor)
        node_pb2_grpc.add_NodeServicer_to_server(service, server)
        content_pb2_grpc.add_ContentStoreServicer_to_server(ContentService(node, executor), server)
        server.add_generic_rpc_handlers(pallet_query_handlers(service))
        names = [node_pb2.DESCRIPTOR.services_by_name["Node"].full_name, content_name]
        names += [p.query_service.full_name for p in node.executive.runtime.pallets.values() if p.query_service]
        return server, names

    server = AioServerThread(build, port, executor)
    return server, server.port


def _header_response(block) -> node_pb2.HeaderResponse:
    """A stored block's header as GetHeader and StreamHeads answer it."""
    return node_pb2.HeaderResponse(hash=blake2_256(block.header), header_bytes=block.header,
                                   header=Header.FromString(block.header))
