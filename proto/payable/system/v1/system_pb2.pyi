from payable import options_pb2 as _options_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor

class AccountNonce(_message.Message):
    __slots__ = ("nonce",)
    NONCE_FIELD_NUMBER: _ClassVar[int]
    nonce: int
    def __init__(self, nonce: _Optional[int] = ...) -> None: ...

class BlockInfo(_message.Message):
    __slots__ = ("number", "parent_hash", "timestamp_ms")
    NUMBER_FIELD_NUMBER: _ClassVar[int]
    PARENT_HASH_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_MS_FIELD_NUMBER: _ClassVar[int]
    number: int
    parent_hash: bytes
    timestamp_ms: int
    def __init__(self, number: _Optional[int] = ..., parent_hash: _Optional[bytes] = ..., timestamp_ms: _Optional[int] = ...) -> None: ...

class SetTimestamp(_message.Message):
    __slots__ = ("now_ms",)
    NOW_MS_FIELD_NUMBER: _ClassVar[int]
    now_ms: int
    def __init__(self, now_ms: _Optional[int] = ...) -> None: ...

class Remark(_message.Message):
    __slots__ = ("data",)
    DATA_FIELD_NUMBER: _ClassVar[int]
    data: bytes
    def __init__(self, data: _Optional[bytes] = ...) -> None: ...

class ExtrinsicSuccess(_message.Message):
    __slots__ = ("weight", "fee")
    WEIGHT_FIELD_NUMBER: _ClassVar[int]
    FEE_FIELD_NUMBER: _ClassVar[int]
    weight: int
    fee: bytes
    def __init__(self, weight: _Optional[int] = ..., fee: _Optional[bytes] = ...) -> None: ...

class ExtrinsicFailed(_message.Message):
    __slots__ = ("pallet", "code", "error", "message", "weight", "fee")
    PALLET_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    WEIGHT_FIELD_NUMBER: _ClassVar[int]
    FEE_FIELD_NUMBER: _ClassVar[int]
    pallet: str
    code: int
    error: str
    message: str
    weight: int
    fee: bytes
    def __init__(self, pallet: _Optional[str] = ..., code: _Optional[int] = ..., error: _Optional[str] = ..., message: _Optional[str] = ..., weight: _Optional[int] = ..., fee: _Optional[bytes] = ...) -> None: ...

class Remarked(_message.Message):
    __slots__ = ("sender", "hash")
    SENDER_FIELD_NUMBER: _ClassVar[int]
    HASH_FIELD_NUMBER: _ClassVar[int]
    sender: bytes
    hash: bytes
    def __init__(self, sender: _Optional[bytes] = ..., hash: _Optional[bytes] = ...) -> None: ...

class NonceRequest(_message.Message):
    __slots__ = ("account",)
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    account: bytes
    def __init__(self, account: _Optional[bytes] = ...) -> None: ...

class Empty(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...
