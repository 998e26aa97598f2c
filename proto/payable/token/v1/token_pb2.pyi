from payable import options_pb2 as _options_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class UnlockChunk(_message.Message):
    __slots__ = ("amount", "unlock_at")
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    UNLOCK_AT_FIELD_NUMBER: _ClassVar[int]
    amount: bytes
    unlock_at: int
    def __init__(self, amount: _Optional[bytes] = ..., unlock_at: _Optional[int] = ...) -> None: ...

class AccountData(_message.Message):
    __slots__ = ("free", "reserved", "bonded", "unlocking", "holds")
    FREE_FIELD_NUMBER: _ClassVar[int]
    RESERVED_FIELD_NUMBER: _ClassVar[int]
    BONDED_FIELD_NUMBER: _ClassVar[int]
    UNLOCKING_FIELD_NUMBER: _ClassVar[int]
    HOLDS_FIELD_NUMBER: _ClassVar[int]
    free: bytes
    reserved: bytes
    bonded: bytes
    unlocking: _containers.RepeatedCompositeFieldContainer[UnlockChunk]
    holds: _containers.RepeatedCompositeFieldContainer[Hold]
    def __init__(self, free: _Optional[bytes] = ..., reserved: _Optional[bytes] = ..., bonded: _Optional[bytes] = ..., unlocking: _Optional[_Iterable[_Union[UnlockChunk, _Mapping]]] = ..., holds: _Optional[_Iterable[_Union[Hold, _Mapping]]] = ...) -> None: ...

class Hold(_message.Message):
    __slots__ = ("reason", "amount")
    REASON_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    reason: str
    amount: bytes
    def __init__(self, reason: _Optional[str] = ..., amount: _Optional[bytes] = ...) -> None: ...

class Amount(_message.Message):
    __slots__ = ("value",)
    VALUE_FIELD_NUMBER: _ClassVar[int]
    value: bytes
    def __init__(self, value: _Optional[bytes] = ...) -> None: ...

class Transfer(_message.Message):
    __slots__ = ("dest", "amount")
    DEST_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    dest: bytes
    amount: bytes
    def __init__(self, dest: _Optional[bytes] = ..., amount: _Optional[bytes] = ...) -> None: ...

class Bond(_message.Message):
    __slots__ = ("amount",)
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    amount: bytes
    def __init__(self, amount: _Optional[bytes] = ...) -> None: ...

class Unbond(_message.Message):
    __slots__ = ("amount",)
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    amount: bytes
    def __init__(self, amount: _Optional[bytes] = ...) -> None: ...

class WithdrawUnbonded(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class Transferred(_message.Message):
    __slots__ = ("to", "amount")
    FROM_FIELD_NUMBER: _ClassVar[int]
    TO_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    to: bytes
    amount: bytes
    def __init__(self, to: _Optional[bytes] = ..., amount: _Optional[bytes] = ..., **kwargs) -> None: ...

class AccountAmount(_message.Message):
    __slots__ = ("account", "amount")
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    account: bytes
    amount: bytes
    def __init__(self, account: _Optional[bytes] = ..., amount: _Optional[bytes] = ...) -> None: ...

class ReserveRepatriated(_message.Message):
    __slots__ = ("to", "amount", "to_reserved", "reason")
    FROM_FIELD_NUMBER: _ClassVar[int]
    TO_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    TO_RESERVED_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    to: bytes
    amount: bytes
    to_reserved: bool
    reason: str
    def __init__(self, to: _Optional[bytes] = ..., amount: _Optional[bytes] = ..., to_reserved: _Optional[bool] = ..., reason: _Optional[str] = ..., **kwargs) -> None: ...

class HoldAmount(_message.Message):
    __slots__ = ("account", "amount", "reason")
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    account: bytes
    amount: bytes
    reason: str
    def __init__(self, account: _Optional[bytes] = ..., amount: _Optional[bytes] = ..., reason: _Optional[str] = ...) -> None: ...

class Unbonded(_message.Message):
    __slots__ = ("account", "amount", "unlock_at")
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    UNLOCK_AT_FIELD_NUMBER: _ClassVar[int]
    account: bytes
    amount: bytes
    unlock_at: int
    def __init__(self, account: _Optional[bytes] = ..., amount: _Optional[bytes] = ..., unlock_at: _Optional[int] = ...) -> None: ...

class AccountRequest(_message.Message):
    __slots__ = ("account",)
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    account: bytes
    def __init__(self, account: _Optional[bytes] = ...) -> None: ...

class Empty(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...
