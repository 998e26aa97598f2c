"""The client SDK: what an application imports to talk to a Payable node over gRPC.

    from sdk.client import Client
    from runtime.crypto import Keypair

    with Client("127.0.0.1:9944") as client:
        alice = Keypair.from_uri("//Alice")
        result = client.submit_call(alice, "token", "transfer_keep_alive", dest=bob_address, amount="1.5")
        account, proven = client.account_data(alice.public, prove=True)

Calls are built from the node's runtime metadata (any pallet, any call, no generated code needed):
keyword arguments are converted by the field's declared meaning - amount fields take an int of base
units or an OPEN string ('1.5'), account fields take an address or 32 bytes. Proofs are checked
against the state root in the block header the client fetched, not against the node's word.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import grpc
from google.protobuf.descriptor import FieldDescriptor

from payable import options_pb2
from payable.content.v1 import content_pb2, content_pb2_grpc
from payable.node.v1 import node_pb2, node_pb2_grpc
from payable.runtime.v1.extrinsic_pb2 import Call
from payable.runtime.v1.metadata_pb2 import RuntimeMetadata
from runtime.codec import encode_u128, parse_open
from runtime.crypto import Keypair, blake2_128, blake2_256, decode_address
from runtime.extrinsic import sign_extrinsic
from runtime.metadata import message_class_lookup
from runtime.storage.proof import verify_proof
from sdk.grpcserver import MAX_MESSAGE
from sdk.wire import content_read_message, content_upload_message

CHUNK = 1 << 20


@dataclass(frozen=True)
class UploadSignature:
    """An uploader's signature over `sdk.wire.content_upload_message` for one blob (made here by `signed`, or
    where the key is: a browser)."""

    uploader: bytes
    issued_at: int
    signature: bytes

    @classmethod
    def signed(cls, genesis_hash: bytes, uploader: Keypair, content_hash: bytes) -> UploadSignature:
        import time

        issued_at = int(time.time())
        return cls(uploader.public, issued_at,
                   uploader.sign(content_upload_message(genesis_hash, content_hash, uploader.public, issued_at)))

    def first_chunk(self, content_hash: bytes, data: bytes, total_size: int) -> content_pb2.UploadChunk:
        """An upload's first message: its bytes with the blob's hash, size and this signature."""
        return content_pb2.UploadChunk(data=data, expected_hash=content_hash, total_size=total_size,
                                       uploader=self.uploader, issued_at=self.issued_at, signature=self.signature)


def _file_hash(path) -> bytes:
    """A file's blake2b-256, read in chunks (a content hash, as the node's store computes it)."""
    import hashlib

    digest = hashlib.blake2b(digest_size=32)
    with open(path, "rb") as src:
        while data := src.read(CHUNK):
            digest.update(data)
    return digest.digest()


HASHERS = {"blake2_128_concat": lambda k: blake2_128(k) + k, "identity": lambda k: k, "blake2_256": blake2_256}
Status = node_pb2.TxStatus
# refusals that mean "another extrinsic took this nonce": sign again with a fresh next nonce
NONCE_CONFLICTS = ("stale_nonce", "duplicate", "replacement_underpriced")
_SIGNERS: dict[bytes, threading.Lock] = {}  # one nonce allocator per key in this process
_SIGNERS_GUARD = threading.Lock()


def signer_lock(public: bytes) -> threading.Lock:
    """The lock this process holds while it picks a nonce for `public` and the pool admits it."""
    with _SIGNERS_GUARD:
        return _SIGNERS.setdefault(bytes(public), threading.Lock())


class ClientError(RuntimeError):
    """The node refused a request or answered something that does not check out."""


@dataclass(frozen=True)
class TxResult:
    hash: bytes
    block_number: int
    block_hash: bytes
    extrinsic_index: int
    success: bool
    error: str


class Client:
    def __init__(self, target: str = "127.0.0.1:9944", timeout: float = 30.0):
        self.target = target
        self.timeout = timeout
        self._channel = grpc.insecure_channel(target, options=[("grpc.max_receive_message_length", MAX_MESSAGE)])
        self.node = node_pb2_grpc.NodeStub(self._channel)
        self.content = content_pb2_grpc.ContentStoreStub(self._channel)
        self._metadata: RuntimeMetadata | None = None
        self._info: node_pb2.ChainInfo | None = None

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._channel.close()

    def _rpc(self, method, request, **kwargs):
        try:
            return method(request, timeout=kwargs.pop("timeout", self.timeout), **kwargs)
        except grpc.RpcError as exc:
            raise ClientError(f"{exc.code().name}: {exc.details()}") from exc

    # --- chain ---------------------------------------------------------------------------------
    def wait_ready(self, timeout: float = 30.0) -> None:
        """Block until the node answers (e.g. right after starting its process)."""
        try:
            grpc.channel_ready_future(self._channel).result(timeout=timeout)
        except grpc.FutureTimeoutError as exc:
            raise ClientError(f"no node answered at {self.target} within {timeout}s") from exc

    def chain_info(self) -> node_pb2.ChainInfo:
        self._info = self._rpc(self.node.GetChainInfo, node_pb2.ChainInfoRequest())
        return self._info

    @property
    def genesis_hash(self) -> bytes:
        return (self._info or self.chain_info()).genesis_hash

    @property
    def metadata(self) -> RuntimeMetadata:
        if self._metadata is None:
            self._metadata = self._rpc(self.node.GetMetadata, node_pb2.MetadataRequest())
            self._classes = message_class_lookup(self._metadata)
        return self._metadata

    def header(self, number: int | None = None, block_hash: bytes | None = None) -> node_pb2.HeaderResponse:
        """A header, checked: its hash is recomputed from the exact header bytes."""
        response = self._rpc(self.node.GetHeader, _block_request(number, block_hash))
        if blake2_256(response.header_bytes) != response.hash:
            raise ClientError("the node sent a header whose bytes do not hash to its claimed hash")
        return response

    def block(self, number: int | None = None, block_hash: bytes | None = None) -> node_pb2.BlockResponse:
        return self._rpc(self.node.GetBlock, _block_request(number, block_hash))

    def events(self, number: int) -> node_pb2.EventsResponse:
        return self._rpc(self.node.GetEvents, node_pb2.BlockRequest(number=number))

    def extrinsic(self, extrinsic_hash: bytes) -> node_pb2.ExtrinsicResponse:
        """Where an extrinsic landed (block, index), its bytes and the events it emitted."""
        return self._rpc(self.node.GetExtrinsic, node_pb2.ExtrinsicRequest(hash=extrinsic_hash))

    def account_history(self, account: bytes, before_block: int = 0, limit: int = 50) -> node_pb2.AccountHistory:
        """What touched an account, newest first; pass `next_before_block` back for the next page."""
        return self._rpc(self.node.GetAccountHistory, node_pb2.AccountHistoryRequest(
            account=account, before_block=before_block, limit=limit))

    def emitted(self, block_number: int, extrinsic_index: int, name: str, message_type):
        """The event `name` an included extrinsic emitted, decoded as `message_type` (to learn what it
        created: a request id, a DataNet id); ClientError when it emitted none."""
        for event in self.events(block_number).events:
            if event.extrinsic_index == extrinsic_index and event.name == name:
                return message_type.FromString(event.data)
        raise ClientError(f"no {name} event from extrinsic {block_number}-{extrinsic_index}")

    def heads(self) -> Iterator[node_pb2.HeaderResponse]:
        """The best header now, then each new one as it is produced (iterate; cancel by closing the client)."""
        return self.node.StreamHeads(node_pb2.StreamHeadsRequest())

    # --- building calls ------------------------------------------------------------------------
    def call(self, pallet: str, name: str, /, **fields) -> Call:
        """Build any call from metadata, converting amounts and accounts by their declared meaning."""
        for p in self.metadata.pallets:
            if p.name == pallet:
                for c in p.calls:
                    if c.name == name:
                        message = self._classes(c.args_type)()
                        _fill(message, fields)
                        return Call(pallet=pallet, call_index=c.index,
                                    args=message.SerializeToString(deterministic=True))
                raise ClientError(f"pallet {pallet!r} has no call {name!r}; calls: {[c.name for c in p.calls]}")
        raise ClientError(f"the chain has no pallet {pallet!r}; pallets: {[p.name for p in self.metadata.pallets]}")

    def call_with(self, pallet: str, name: str, args) -> Call:
        """A call from an already-built argument message (checked to be the type the call takes)."""
        for p in self.metadata.pallets:
            for c in p.calls:
                if p.name == pallet and c.name == name:
                    if args.DESCRIPTOR.full_name != c.args_type:
                        raise ClientError(f"{pallet}.{name} takes {c.args_type}, not {args.DESCRIPTOR.full_name}")
                    return Call(pallet=pallet, call_index=c.index, args=args.SerializeToString(deterministic=True))
        raise ClientError(f"the chain has no call {pallet}.{name}")

    def nonce(self, account: bytes) -> int:
        """The account's committed nonce (what its included extrinsics used up)."""
        return self._rpc(self.node.GetAccount, node_pb2.AccountRequest(account=account)).nonce

    def next_nonce(self, account: bytes) -> int:
        """The nonce its next extrinsic should carry: the committed one plus its extrinsics already pooled
        (Substrate's `accountNextIndex`)."""
        return self._rpc(self.node.GetAccount, node_pb2.AccountRequest(account=account)).next_nonce

    def sign(self, keypair: Keypair, call: Call, *, nonce: int | None = None, tip: int = 0,
             valid_until: int = 0) -> bytes:
        """Sign `call` with `nonce`, by default the account's next nonce counting the node's pool. Threads
        that sign for one key at once should use `submit_signed`, which takes turns for the nonce."""
        nonce = self.next_nonce(keypair.public) if nonce is None else nonce
        return sign_extrinsic(keypair, call, nonce=nonce, genesis_hash=self.genesis_hash, tip=tip,
                              valid_until=valid_until)

    # --- submitting ----------------------------------------------------------------------------
    def submit(self, extrinsic: bytes) -> bytes:
        """Pool an extrinsic; returns its hash. Raises ClientError with the node's reason if refused."""
        return self._rpc(self.node.SubmitExtrinsic, node_pb2.SubmitRequest(extrinsic=extrinsic)).hash

    def submit_batch(self, extrinsics: list[bytes]) -> list[node_pb2.SubmitResult]:
        """Pool many extrinsics in one round trip; each result has its hash or its error."""
        request = node_pb2.SubmitBatchRequest(extrinsics=extrinsics)
        return list(self._rpc(self.node.SubmitBatch, request).results)

    def watch(self, extrinsic: bytes) -> Iterator[node_pb2.TxStatus]:
        try:
            yield from self.node.SubmitAndWatch(node_pb2.SubmitRequest(extrinsic=extrinsic), timeout=self.timeout)
        except grpc.RpcError as exc:
            raise ClientError(f"{exc.code().name}: {exc.details()}") from exc

    def submit_and_wait(self, extrinsic: bytes) -> TxResult:
        """Submit and wait until the extrinsic is in a finalized block (or refused/dropped: ClientError)."""
        return self._finalized(self.watch(extrinsic))

    def submit_signed(self, keypair: Keypair, call: Call, *, tip: int = 0, valid_until: int = 0,
                      attempts: int = 5) -> TxResult:
        """Sign `call` with the key's next nonce, submit it and wait for finality. Every thread of this process
        signing for the key takes its turn only while a nonce is picked and the pool admits the extrinsic (its
        first status), so many calls pipeline into consecutive nonces; a refusal that says the nonce was taken
        (by another process with the same key, say) signs again with a fresh next nonce."""
        with signer_lock(keypair.public):
            for attempt in range(attempts):
                extrinsic = self.sign(keypair, call, tip=tip, valid_until=valid_until)
                statuses = self.node.SubmitAndWatch(node_pb2.SubmitRequest(extrinsic=extrinsic),
                                                    timeout=self.timeout)
                try:
                    first = next(statuses)
                except StopIteration:
                    raise ClientError("the node closed the status stream before admitting the extrinsic") from None
                except grpc.RpcError as exc:
                    if attempt + 1 < attempts and (exc.details() or "").startswith(NONCE_CONFLICTS):
                        continue
                    raise ClientError(f"{exc.code().name}: {exc.details()}") from exc
                break

        def rest() -> Iterator[node_pb2.TxStatus]:
            yield first
            try:
                yield from statuses
            except grpc.RpcError as exc:  # admitted: the network may still include it - never sign it anew
                raise ClientError(f"{exc.code().name}: {exc.details()}. Extrinsic {blake2_256(extrinsic).hex()} "
                                  f"was admitted and may still be included: do not "
                                  f"sign it again - look it up by that hash (GetExtrinsic, `payable extrinsic "
                                  f"HASH`) or resend the same bytes to watch it") from exc

        return self._finalized(rest())

    @staticmethod
    def _finalized(statuses: Iterator[node_pb2.TxStatus]) -> TxResult:
        for status in statuses:
            if status.state == Status.FINALIZED:
                return TxResult(status.hash, status.block_number, status.block_hash, status.extrinsic_index,
                                status.success, status.error)
            if status.state in (Status.INVALID, Status.DROPPED):
                raise ClientError(f"{Status.State.Name(status.state).lower()}: {status.reason}")
        raise ClientError("the node closed the status stream before the extrinsic was finalized")

    def submit_call(self, keypair: Keypair, pallet: str, name: str, /, *, tip: int = 0, **fields) -> TxResult:
        """Build, sign, submit and wait for finality (`submit_signed`: concurrent calls for one key get
        consecutive nonces). Positional-only names leave every field name free."""
        return self.submit_signed(keypair, self.call(pallet, name, **fields), tip=tip)

    # --- state ---------------------------------------------------------------------------------
    def storage_key(self, pallet: str, item: str, *keys: bytes) -> bytes:
        """The raw state key of a declared storage item, computed from metadata alone."""
        for p in self.metadata.pallets:
            for s in p.storage:
                if p.name == pallet and s.name == item:
                    hashers = [h for h in s.hasher.split(",") if h]
                    if len(hashers) != len(keys):
                        raise ClientError(f"{pallet}.{item} takes {len(hashers)} key(s), got {len(keys)}")
                    return s.prefix + b"".join(HASHERS[h](k) for h, k in zip(hashers, keys, strict=True))
        raise ClientError(f"no storage item {pallet}.{item}")

    def raw_storage(self, key: bytes) -> node_pb2.StorageResponse:
        """The node's answer for a state key - value, proof, block - unchecked (for a verifier elsewhere, such
        as a browser; `read_storage` checks it here)."""
        return self._rpc(self.node.QueryStorage, node_pb2.StorageRequest(key=key))

    def read_storage(self, key: bytes) -> tuple[bytes | None, int]:
        """(value or None, block number) - proven against that block's header, or ClientError."""
        response = self.raw_storage(key)
        header = self.header(response.block_number)
        if header.hash != response.block_hash or header.header.state_root != response.state_root:
            raise ClientError("the proof's state root is not the one in the block header")
        value = response.value if response.exists else None
        if not verify_proof(header.header.state_root, key, value, response.proof):
            raise ClientError(f"the node's proof for key {key.hex()} does not verify against block "
                              f"#{response.block_number}'s state root")
        return value, response.block_number

    def query(self, pallet: str, name: str, request) -> bytes:
        payload = request if isinstance(request, bytes) else request.SerializeToString(deterministic=True)
        return self._rpc(self.node.Query, node_pb2.PalletQueryRequest(pallet=pallet, name=name,
                                                                      request=payload)).response

    # --- content store -------------------------------------------------------------------------
    def upload(self, source, *, uploader: Keypair | UploadSignature, expected: bytes | None = None,
               progress=None) -> content_pb2.BlobInfo:
        """Stream a file path or a bytes object to the node's content store in 1 MiB chunks, signed by
        `uploader` (an account that exists on the chain; or a signature made elsewhere - a browser's - over
        `expected`). The blob's hash is computed first when not given (the signature names it).

        progress(sent_bytes, total_bytes) is called after each chunk (for progress bars).
        """
        import os

        in_memory = isinstance(source, bytes | bytearray)
        total = len(source) if in_memory else os.path.getsize(source)
        if isinstance(uploader, UploadSignature):
            if expected is None:
                raise ValueError("an upload signed elsewhere names its blob: pass expected=")
            signed = uploader
        else:
            expected = expected or (blake2_256(bytes(source)) if in_memory else _file_hash(source))
            signed = UploadSignature.signed(self.genesis_hash, uploader, expected)

        def chunks():
            sent = 0
            first = True
            stream = None if in_memory else open(source, "rb")
            try:
                while True:
                    data = stream.read(CHUNK) if stream else bytes(source[sent:sent + CHUNK])
                    if not data:
                        break
                    sent += len(data)
                    yield signed.first_chunk(expected, data, total) if first else content_pb2.UploadChunk(data=data)
                    first = False
                    if progress:
                        progress(sent, total)
            finally:
                if stream:
                    stream.close()

        return self._rpc(self.content.Upload, chunks())

    def dry_run(self, body: bytes) -> node_pb2.DryRunResponse:
        """What an extrinsic body (unsigned yet) would do in the next block: the pool's verdict, its fee, the
        call's outcome and events (`Executive.dry_run`); nothing is written or charged."""
        return self._rpc(self.node.DryRun, node_pb2.DryRunRequest(body=body))

    def blob_request(self, content_hash: bytes, reader: Keypair | None = None) -> content_pb2.BlobRequest:
        """A download request; signed by `reader` (needed for a permissioned DataNet's data)."""
        import time

        request = content_pb2.BlobRequest(hash=content_hash)
        if reader is not None:
            request.reader, request.issued_at = reader.public, int(time.time())
            request.signature = reader.sign(content_read_message(self.genesis_hash, content_hash, reader.public,
                                                                 request.issued_at))
        return request

    def download(self, content_hash: bytes, destination=None, *, reader: Keypair | None = None) -> bytes | None:
        """Fetch a blob, checking its hash; written to `destination` (a path) or returned as bytes. Sign the
        request as `reader` to read a permissioned DataNet's data."""
        import hashlib

        check = hashlib.blake2b(digest_size=32)
        parts: list[bytes] = []  # the blob, when it is returned rather than written
        out = open(destination, "wb") if destination is not None else None
        try:
            for chunk in self.content.Download(self.blob_request(content_hash, reader), timeout=self.timeout):
                check.update(chunk.data)
                if out:
                    out.write(chunk.data)
                else:
                    parts.append(chunk.data)
        except grpc.RpcError as exc:
            raise ClientError(f"{exc.code().name}: {exc.details()}") from exc
        finally:
            if out:
                out.close()
        if check.digest() != content_hash:
            raise ClientError(f"downloaded bytes do not match {content_hash.hex()}")
        return None if destination is not None else b"".join(parts)

    def pallet_query(self, pallet: str, name: str, request, response_type):
        """A typed pallet query: request message in, `response_type` message out."""
        return response_type.FromString(self.query(pallet, name, request))

    def pallet_items(self, pallet: str, name: str, request, response_type, field: str) -> Iterator:
        """Every item of a paged list query, page after page (`request` carries the filters; its `start_after`
        and `limit` are set here; the response's `next_start_after` says where the next page starts)."""
        request.limit = 100
        while True:
            page = self.pallet_query(pallet, name, request, response_type)
            yield from getattr(page, field)
            if not page.next_start_after:
                return
            request.start_after = page.next_start_after

    def account(self, account: bytes) -> node_pb2.AccountResponse:
        return self._rpc(self.node.GetAccount, node_pb2.AccountRequest(account=account))

    def account_data(self, account: bytes, *, prove: bool = False, pallet: str = "token"):
        """The currency pallet's record of an account (`pallet`, the token pallet on Payable chains);
        with prove=True it comes from a Merkle proof verified against the block header.

        Types come from the runtime metadata (the pallet's `Account` storage item and `account`
        query), so the SDK needs no generated code of the pallet. Returns (record, block number or None).
        """
        if prove:
            value_type = next((s.value_type for p in self.metadata.pallets if p.name == pallet
                               for s in p.storage if s.name == "Account"), None)
            if value_type is None:
                raise ClientError(f"the chain has no storage item {pallet}.Account")
            record = self._classes(value_type)
            raw, number = self.read_storage(self.storage_key(pallet, "Account", account))
            return (record.FromString(raw) if raw else record()), number
        query = next((q for p in self.metadata.pallets if p.name == pallet for q in p.queries
                      if q.name == "account"), None)
        if query is None:
            raise ClientError(f"the chain has no query {pallet}.account")
        request = self._classes(query.request_type)(account=account)
        return self._classes(query.response_type).FromString(self.query(pallet, "account", request)), None


def _block_request(number: int | None, block_hash: bytes | None) -> node_pb2.BlockRequest:
    if block_hash is not None:
        return node_pb2.BlockRequest(hash=block_hash)
    if number is not None:
        return node_pb2.BlockRequest(number=number)
    return node_pb2.BlockRequest(latest=True)


def _fill(message, fields: dict) -> None:
    """Set message fields from Python values, converting declared amounts and accounts."""
    by_name = {f.name: f for f in message.DESCRIPTOR.fields}
    unknown = sorted(set(fields) - set(by_name))
    if unknown:
        raise ClientError(f"{message.DESCRIPTOR.full_name} has no field(s) {unknown}; fields: {sorted(by_name)}")
    for name, value in fields.items():
        field = by_name[name]
        values = list(value) if isinstance(value, list | tuple) else [value]  # a list field takes one or many
        if not field.is_repeated and len(values) != 1:
            raise ClientError(f"field {name!r} takes one value, got {len(values)}: {values!r}")
        try:
            if field.type == FieldDescriptor.TYPE_MESSAGE:
                target = getattr(message, name)
                for item in values:  # a message given as text (the CLI's --arg) is JSON: {"field": value, ...}
                    _fill(target.add() if field.is_repeated else target,
                          json.loads(item) if isinstance(item, str) else item)
            elif field.is_repeated:
                getattr(message, name).extend(_convert(field, v) for v in values)
            else:
                setattr(message, name, _convert(field, value))
        except (TypeError, ValueError, KeyError, AttributeError) as exc:
            raise ClientError(f"field {name!r}: {exc}") from exc


TRUE_WORDS, FALSE_WORDS = ("true", "1", "yes"), ("false", "0", "no")


def _convert(field, value):
    """One Python value as the field's wire value (amounts, accounts, hex bytes, numbers, booleans, enums)."""
    options = field.GetOptions()
    if options.Extensions[options_pb2.amount]:
        return encode_u128(parse_open(value) if isinstance(value, str) else int(value))
    if options.Extensions[options_pb2.account]:
        return decode_address(value) if isinstance(value, str) else bytes(value)
    if field.type == FieldDescriptor.TYPE_BYTES and isinstance(value, str):
        return bytes.fromhex(value.removeprefix("0x"))
    if field.type in (FieldDescriptor.TYPE_UINT64, FieldDescriptor.TYPE_UINT32, FieldDescriptor.TYPE_INT64,
                      FieldDescriptor.TYPE_INT32):
        if isinstance(value, bool) or isinstance(value, float) and not value.is_integer():
            raise ValueError(f"{value!r} is not a whole number")  # 1.5 was cut to 1, true made 1
        return int(value)
    if field.type == FieldDescriptor.TYPE_BOOL and isinstance(value, str):
        word = value.strip().lower()
        if word not in TRUE_WORDS + FALSE_WORDS:  # a typo ('ture', 'maybe') is not false
            raise ValueError(f"{value!r} is not true or false (one of {', '.join(TRUE_WORDS + FALSE_WORDS)})")
        return word in TRUE_WORDS
    if field.type == FieldDescriptor.TYPE_ENUM and isinstance(value, str):
        return field.enum_type.values_by_name[value.upper()].number
    return value
