from payable.runtime.v1 import extrinsic_pb2 as _extrinsic_pb2
from payable.runtime.v1 import metadata_pb2 as _metadata_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SubmitRequest(_message.Message):
    __slots__ = ("extrinsic",)
    EXTRINSIC_FIELD_NUMBER: _ClassVar[int]
    extrinsic: bytes
    def __init__(self, extrinsic: _Optional[bytes] = ...) -> None: ...

class SubmitResponse(_message.Message):
    __slots__ = ("hash",)
    HASH_FIELD_NUMBER: _ClassVar[int]
    hash: bytes
    def __init__(self, hash: _Optional[bytes] = ...) -> None: ...

class SubmitBatchRequest(_message.Message):
    __slots__ = ("extrinsics",)
    EXTRINSICS_FIELD_NUMBER: _ClassVar[int]
    extrinsics: _containers.RepeatedScalarFieldContainer[bytes]
    def __init__(self, extrinsics: _Optional[_Iterable[bytes]] = ...) -> None: ...

class SubmitResult(_message.Message):
    __slots__ = ("hash", "error_code", "error")
    HASH_FIELD_NUMBER: _ClassVar[int]
    ERROR_CODE_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    hash: bytes
    error_code: str
    error: str
    def __init__(self, hash: _Optional[bytes] = ..., error_code: _Optional[str] = ..., error: _Optional[str] = ...) -> None: ...

class SubmitBatchResponse(_message.Message):
    __slots__ = ("results",)
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[SubmitResult]
    def __init__(self, results: _Optional[_Iterable[_Union[SubmitResult, _Mapping]]] = ...) -> None: ...

class TxStatus(_message.Message):
    __slots__ = ("state", "hash", "block_number", "block_hash", "extrinsic_index", "success", "error", "reason")
    class State(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        READY: _ClassVar[TxStatus.State]
        FUTURE: _ClassVar[TxStatus.State]
        IN_BLOCK: _ClassVar[TxStatus.State]
        FINALIZED: _ClassVar[TxStatus.State]
        INVALID: _ClassVar[TxStatus.State]
        DROPPED: _ClassVar[TxStatus.State]
    READY: TxStatus.State
    FUTURE: TxStatus.State
    IN_BLOCK: TxStatus.State
    FINALIZED: TxStatus.State
    INVALID: TxStatus.State
    DROPPED: TxStatus.State
    STATE_FIELD_NUMBER: _ClassVar[int]
    HASH_FIELD_NUMBER: _ClassVar[int]
    BLOCK_NUMBER_FIELD_NUMBER: _ClassVar[int]
    BLOCK_HASH_FIELD_NUMBER: _ClassVar[int]
    EXTRINSIC_INDEX_FIELD_NUMBER: _ClassVar[int]
    SUCCESS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    state: TxStatus.State
    hash: bytes
    block_number: int
    block_hash: bytes
    extrinsic_index: int
    success: bool
    error: str
    reason: str
    def __init__(self, state: _Optional[_Union[TxStatus.State, str]] = ..., hash: _Optional[bytes] = ..., block_number: _Optional[int] = ..., block_hash: _Optional[bytes] = ..., extrinsic_index: _Optional[int] = ..., success: _Optional[bool] = ..., error: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class BlockRequest(_message.Message):
    __slots__ = ("number", "hash", "latest")
    NUMBER_FIELD_NUMBER: _ClassVar[int]
    HASH_FIELD_NUMBER: _ClassVar[int]
    LATEST_FIELD_NUMBER: _ClassVar[int]
    number: int
    hash: bytes
    latest: bool
    def __init__(self, number: _Optional[int] = ..., hash: _Optional[bytes] = ..., latest: _Optional[bool] = ...) -> None: ...

class BlockResponse(_message.Message):
    __slots__ = ("hash", "block", "header")
    HASH_FIELD_NUMBER: _ClassVar[int]
    BLOCK_FIELD_NUMBER: _ClassVar[int]
    HEADER_FIELD_NUMBER: _ClassVar[int]
    hash: bytes
    block: _extrinsic_pb2.Block
    header: _extrinsic_pb2.Header
    def __init__(self, hash: _Optional[bytes] = ..., block: _Optional[_Union[_extrinsic_pb2.Block, _Mapping]] = ..., header: _Optional[_Union[_extrinsic_pb2.Header, _Mapping]] = ...) -> None: ...

class HeaderResponse(_message.Message):
    __slots__ = ("hash", "header_bytes", "header")
    HASH_FIELD_NUMBER: _ClassVar[int]
    HEADER_BYTES_FIELD_NUMBER: _ClassVar[int]
    HEADER_FIELD_NUMBER: _ClassVar[int]
    hash: bytes
    header_bytes: bytes
    header: _extrinsic_pb2.Header
    def __init__(self, hash: _Optional[bytes] = ..., header_bytes: _Optional[bytes] = ..., header: _Optional[_Union[_extrinsic_pb2.Header, _Mapping]] = ...) -> None: ...

class StreamHeadsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class EventsResponse(_message.Message):
    __slots__ = ("block_number", "events")
    BLOCK_NUMBER_FIELD_NUMBER: _ClassVar[int]
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    block_number: int
    events: _containers.RepeatedCompositeFieldContainer[_extrinsic_pb2.EventRecord]
    def __init__(self, block_number: _Optional[int] = ..., events: _Optional[_Iterable[_Union[_extrinsic_pb2.EventRecord, _Mapping]]] = ...) -> None: ...

class AccountRequest(_message.Message):
    __slots__ = ("account",)
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    account: bytes
    def __init__(self, account: _Optional[bytes] = ...) -> None: ...

class AccountResponse(_message.Message):
    __slots__ = ("nonce", "free", "reserved", "bonded", "unbonding", "block_number", "next_nonce")
    NONCE_FIELD_NUMBER: _ClassVar[int]
    FREE_FIELD_NUMBER: _ClassVar[int]
    RESERVED_FIELD_NUMBER: _ClassVar[int]
    BONDED_FIELD_NUMBER: _ClassVar[int]
    UNBONDING_FIELD_NUMBER: _ClassVar[int]
    BLOCK_NUMBER_FIELD_NUMBER: _ClassVar[int]
    NEXT_NONCE_FIELD_NUMBER: _ClassVar[int]
    nonce: int
    free: bytes
    reserved: bytes
    bonded: bytes
    unbonding: bytes
    block_number: int
    next_nonce: int
    def __init__(self, nonce: _Optional[int] = ..., free: _Optional[bytes] = ..., reserved: _Optional[bytes] = ..., bonded: _Optional[bytes] = ..., unbonding: _Optional[bytes] = ..., block_number: _Optional[int] = ..., next_nonce: _Optional[int] = ...) -> None: ...

class StorageRequest(_message.Message):
    __slots__ = ("key",)
    KEY_FIELD_NUMBER: _ClassVar[int]
    key: bytes
    def __init__(self, key: _Optional[bytes] = ...) -> None: ...

class StorageResponse(_message.Message):
    __slots__ = ("exists", "value", "proof", "block_number", "block_hash", "state_root")
    EXISTS_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    PROOF_FIELD_NUMBER: _ClassVar[int]
    BLOCK_NUMBER_FIELD_NUMBER: _ClassVar[int]
    BLOCK_HASH_FIELD_NUMBER: _ClassVar[int]
    STATE_ROOT_FIELD_NUMBER: _ClassVar[int]
    exists: bool
    value: bytes
    proof: _extrinsic_pb2.StateProof
    block_number: int
    block_hash: bytes
    state_root: bytes
    def __init__(self, exists: _Optional[bool] = ..., value: _Optional[bytes] = ..., proof: _Optional[_Union[_extrinsic_pb2.StateProof, _Mapping]] = ..., block_number: _Optional[int] = ..., block_hash: _Optional[bytes] = ..., state_root: _Optional[bytes] = ...) -> None: ...

class ChainInfoRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ChainInfo(_message.Message):
    __slots__ = ("chain_name", "chain_id", "genesis_hash", "best_number", "best_hash", "pallets", "txpool_ready", "txpool_future")
    CHAIN_NAME_FIELD_NUMBER: _ClassVar[int]
    CHAIN_ID_FIELD_NUMBER: _ClassVar[int]
    GENESIS_HASH_FIELD_NUMBER: _ClassVar[int]
    BEST_NUMBER_FIELD_NUMBER: _ClassVar[int]
    BEST_HASH_FIELD_NUMBER: _ClassVar[int]
    PALLETS_FIELD_NUMBER: _ClassVar[int]
    TXPOOL_READY_FIELD_NUMBER: _ClassVar[int]
    TXPOOL_FUTURE_FIELD_NUMBER: _ClassVar[int]
    chain_name: str
    chain_id: str
    genesis_hash: bytes
    best_number: int
    best_hash: bytes
    pallets: _containers.RepeatedScalarFieldContainer[str]
    txpool_ready: int
    txpool_future: int
    def __init__(self, chain_name: _Optional[str] = ..., chain_id: _Optional[str] = ..., genesis_hash: _Optional[bytes] = ..., best_number: _Optional[int] = ..., best_hash: _Optional[bytes] = ..., pallets: _Optional[_Iterable[str]] = ..., txpool_ready: _Optional[int] = ..., txpool_future: _Optional[int] = ...) -> None: ...

class MetadataRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class DryRunRequest(_message.Message):
    __slots__ = ("body",)
    BODY_FIELD_NUMBER: _ClassVar[int]
    body: bytes
    def __init__(self, body: _Optional[bytes] = ...) -> None: ...

class DryRunResponse(_message.Message):
    __slots__ = ("valid", "invalid", "success", "error", "fee", "events", "block_number")
    VALID_FIELD_NUMBER: _ClassVar[int]
    INVALID_FIELD_NUMBER: _ClassVar[int]
    SUCCESS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    FEE_FIELD_NUMBER: _ClassVar[int]
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    BLOCK_NUMBER_FIELD_NUMBER: _ClassVar[int]
    valid: bool
    invalid: str
    success: bool
    error: str
    fee: bytes
    events: _containers.RepeatedCompositeFieldContainer[_extrinsic_pb2.EventRecord]
    block_number: int
    def __init__(self, valid: _Optional[bool] = ..., invalid: _Optional[str] = ..., success: _Optional[bool] = ..., error: _Optional[str] = ..., fee: _Optional[bytes] = ..., events: _Optional[_Iterable[_Union[_extrinsic_pb2.EventRecord, _Mapping]]] = ..., block_number: _Optional[int] = ...) -> None: ...

class PalletQueryRequest(_message.Message):
    __slots__ = ("pallet", "name", "request")
    PALLET_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    pallet: str
    name: str
    request: bytes
    def __init__(self, pallet: _Optional[str] = ..., name: _Optional[str] = ..., request: _Optional[bytes] = ...) -> None: ...

class PalletQueryResponse(_message.Message):
    __slots__ = ("response", "block_number")
    RESPONSE_FIELD_NUMBER: _ClassVar[int]
    BLOCK_NUMBER_FIELD_NUMBER: _ClassVar[int]
    response: bytes
    block_number: int
    def __init__(self, response: _Optional[bytes] = ..., block_number: _Optional[int] = ...) -> None: ...

class ExtrinsicRequest(_message.Message):
    __slots__ = ("hash",)
    HASH_FIELD_NUMBER: _ClassVar[int]
    hash: bytes
    def __init__(self, hash: _Optional[bytes] = ...) -> None: ...

class ExtrinsicResponse(_message.Message):
    __slots__ = ("block_number", "block_hash", "index", "extrinsic", "events")
    BLOCK_NUMBER_FIELD_NUMBER: _ClassVar[int]
    BLOCK_HASH_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    EXTRINSIC_FIELD_NUMBER: _ClassVar[int]
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    block_number: int
    block_hash: bytes
    index: int
    extrinsic: bytes
    events: _containers.RepeatedCompositeFieldContainer[_extrinsic_pb2.EventRecord]
    def __init__(self, block_number: _Optional[int] = ..., block_hash: _Optional[bytes] = ..., index: _Optional[int] = ..., extrinsic: _Optional[bytes] = ..., events: _Optional[_Iterable[_Union[_extrinsic_pb2.EventRecord, _Mapping]]] = ...) -> None: ...

class AccountHistoryRequest(_message.Message):
    __slots__ = ("account", "before_block", "limit")
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    BEFORE_BLOCK_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    account: bytes
    before_block: int
    limit: int
    def __init__(self, account: _Optional[bytes] = ..., before_block: _Optional[int] = ..., limit: _Optional[int] = ...) -> None: ...

class AccountHistoryEntry(_message.Message):
    __slots__ = ("block_number", "extrinsic_index", "roles", "extrinsic_hash")
    BLOCK_NUMBER_FIELD_NUMBER: _ClassVar[int]
    EXTRINSIC_INDEX_FIELD_NUMBER: _ClassVar[int]
    ROLES_FIELD_NUMBER: _ClassVar[int]
    EXTRINSIC_HASH_FIELD_NUMBER: _ClassVar[int]
    block_number: int
    extrinsic_index: int
    roles: _containers.RepeatedScalarFieldContainer[str]
    extrinsic_hash: bytes
    def __init__(self, block_number: _Optional[int] = ..., extrinsic_index: _Optional[int] = ..., roles: _Optional[_Iterable[str]] = ..., extrinsic_hash: _Optional[bytes] = ...) -> None: ...

class AccountHistory(_message.Message):
    __slots__ = ("entries", "next_before_block")
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    NEXT_BEFORE_BLOCK_FIELD_NUMBER: _ClassVar[int]
    entries: _containers.RepeatedCompositeFieldContainer[AccountHistoryEntry]
    next_before_block: int
    def __init__(self, entries: _Optional[_Iterable[_Union[AccountHistoryEntry, _Mapping]]] = ..., next_before_block: _Optional[int] = ...) -> None: ...
