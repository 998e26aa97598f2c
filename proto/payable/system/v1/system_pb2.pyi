from payable import options_pb2 as _options_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

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

class NoteConsensus(_message.Message):
    __slots__ = ("proposer", "votes", "misbehavior")
    PROPOSER_FIELD_NUMBER: _ClassVar[int]
    VOTES_FIELD_NUMBER: _ClassVar[int]
    MISBEHAVIOR_FIELD_NUMBER: _ClassVar[int]
    proposer: bytes
    votes: _containers.RepeatedCompositeFieldContainer[ConsensusVote]
    misbehavior: _containers.RepeatedCompositeFieldContainer[Misbehavior]
    def __init__(self, proposer: _Optional[bytes] = ..., votes: _Optional[_Iterable[_Union[ConsensusVote, _Mapping]]] = ..., misbehavior: _Optional[_Iterable[_Union[Misbehavior, _Mapping]]] = ...) -> None: ...

class ConsensusVote(_message.Message):
    __slots__ = ("validator", "power", "signed", "absent")
    VALIDATOR_FIELD_NUMBER: _ClassVar[int]
    POWER_FIELD_NUMBER: _ClassVar[int]
    SIGNED_FIELD_NUMBER: _ClassVar[int]
    ABSENT_FIELD_NUMBER: _ClassVar[int]
    validator: bytes
    power: int
    signed: bool
    absent: bool
    def __init__(self, validator: _Optional[bytes] = ..., power: _Optional[int] = ..., signed: _Optional[bool] = ..., absent: _Optional[bool] = ...) -> None: ...

class Misbehavior(_message.Message):
    __slots__ = ("kind", "validator", "power", "height", "total_power")
    class Kind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        UNKNOWN: _ClassVar[Misbehavior.Kind]
        DUPLICATE_VOTE: _ClassVar[Misbehavior.Kind]
        LIGHT_CLIENT_ATTACK: _ClassVar[Misbehavior.Kind]
    UNKNOWN: Misbehavior.Kind
    DUPLICATE_VOTE: Misbehavior.Kind
    LIGHT_CLIENT_ATTACK: Misbehavior.Kind
    KIND_FIELD_NUMBER: _ClassVar[int]
    VALIDATOR_FIELD_NUMBER: _ClassVar[int]
    POWER_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    TOTAL_POWER_FIELD_NUMBER: _ClassVar[int]
    kind: Misbehavior.Kind
    validator: bytes
    power: int
    height: int
    total_power: int
    def __init__(self, kind: _Optional[_Union[Misbehavior.Kind, str]] = ..., validator: _Optional[bytes] = ..., power: _Optional[int] = ..., height: _Optional[int] = ..., total_power: _Optional[int] = ...) -> None: ...

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
