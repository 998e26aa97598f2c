from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Call(_message.Message):
    __slots__ = ("pallet", "call_index", "args")
    PALLET_FIELD_NUMBER: _ClassVar[int]
    CALL_INDEX_FIELD_NUMBER: _ClassVar[int]
    ARGS_FIELD_NUMBER: _ClassVar[int]
    pallet: str
    call_index: int
    args: bytes
    def __init__(self, pallet: _Optional[str] = ..., call_index: _Optional[int] = ..., args: _Optional[bytes] = ...) -> None: ...

class ExtrinsicBody(_message.Message):
    __slots__ = ("signer", "nonce", "tip", "valid_until", "genesis_hash", "call")
    SIGNER_FIELD_NUMBER: _ClassVar[int]
    NONCE_FIELD_NUMBER: _ClassVar[int]
    TIP_FIELD_NUMBER: _ClassVar[int]
    VALID_UNTIL_FIELD_NUMBER: _ClassVar[int]
    GENESIS_HASH_FIELD_NUMBER: _ClassVar[int]
    CALL_FIELD_NUMBER: _ClassVar[int]
    signer: bytes
    nonce: int
    tip: bytes
    valid_until: int
    genesis_hash: bytes
    call: Call
    def __init__(self, signer: _Optional[bytes] = ..., nonce: _Optional[int] = ..., tip: _Optional[bytes] = ..., valid_until: _Optional[int] = ..., genesis_hash: _Optional[bytes] = ..., call: _Optional[_Union[Call, _Mapping]] = ...) -> None: ...

class SignedExtrinsic(_message.Message):
    __slots__ = ("body", "signature")
    BODY_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    body: bytes
    signature: bytes
    def __init__(self, body: _Optional[bytes] = ..., signature: _Optional[bytes] = ...) -> None: ...

class Extrinsic(_message.Message):
    __slots__ = ("signed", "inherent")
    SIGNED_FIELD_NUMBER: _ClassVar[int]
    INHERENT_FIELD_NUMBER: _ClassVar[int]
    signed: SignedExtrinsic
    inherent: Call
    def __init__(self, signed: _Optional[_Union[SignedExtrinsic, _Mapping]] = ..., inherent: _Optional[_Union[Call, _Mapping]] = ...) -> None: ...

class Header(_message.Message):
    __slots__ = ("parent_hash", "number", "state_root", "extrinsics_root", "timestamp_ms", "author", "weight", "length")
    PARENT_HASH_FIELD_NUMBER: _ClassVar[int]
    NUMBER_FIELD_NUMBER: _ClassVar[int]
    STATE_ROOT_FIELD_NUMBER: _ClassVar[int]
    EXTRINSICS_ROOT_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_MS_FIELD_NUMBER: _ClassVar[int]
    AUTHOR_FIELD_NUMBER: _ClassVar[int]
    WEIGHT_FIELD_NUMBER: _ClassVar[int]
    LENGTH_FIELD_NUMBER: _ClassVar[int]
    parent_hash: bytes
    number: int
    state_root: bytes
    extrinsics_root: bytes
    timestamp_ms: int
    author: bytes
    weight: int
    length: int
    def __init__(self, parent_hash: _Optional[bytes] = ..., number: _Optional[int] = ..., state_root: _Optional[bytes] = ..., extrinsics_root: _Optional[bytes] = ..., timestamp_ms: _Optional[int] = ..., author: _Optional[bytes] = ..., weight: _Optional[int] = ..., length: _Optional[int] = ...) -> None: ...

class Block(_message.Message):
    __slots__ = ("header", "extrinsics", "seal")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    EXTRINSICS_FIELD_NUMBER: _ClassVar[int]
    SEAL_FIELD_NUMBER: _ClassVar[int]
    header: bytes
    extrinsics: _containers.RepeatedScalarFieldContainer[bytes]
    seal: bytes
    def __init__(self, header: _Optional[bytes] = ..., extrinsics: _Optional[_Iterable[bytes]] = ..., seal: _Optional[bytes] = ...) -> None: ...

class EventRecord(_message.Message):
    __slots__ = ("phase", "extrinsic_index", "pallet", "code", "name", "data")
    class Phase(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        INITIALIZATION: _ClassVar[EventRecord.Phase]
        APPLY_EXTRINSIC: _ClassVar[EventRecord.Phase]
        FINALIZATION: _ClassVar[EventRecord.Phase]
    INITIALIZATION: EventRecord.Phase
    APPLY_EXTRINSIC: EventRecord.Phase
    FINALIZATION: EventRecord.Phase
    PHASE_FIELD_NUMBER: _ClassVar[int]
    EXTRINSIC_INDEX_FIELD_NUMBER: _ClassVar[int]
    PALLET_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    phase: EventRecord.Phase
    extrinsic_index: int
    pallet: str
    code: int
    name: str
    data: bytes
    def __init__(self, phase: _Optional[_Union[EventRecord.Phase, str]] = ..., extrinsic_index: _Optional[int] = ..., pallet: _Optional[str] = ..., code: _Optional[int] = ..., name: _Optional[str] = ..., data: _Optional[bytes] = ...) -> None: ...

class BlockEvents(_message.Message):
    __slots__ = ("events",)
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[EventRecord]
    def __init__(self, events: _Optional[_Iterable[_Union[EventRecord, _Mapping]]] = ...) -> None: ...

class StateProof(_message.Message):
    __slots__ = ("levels", "other_key_hash", "other_value_hash")
    LEVELS_FIELD_NUMBER: _ClassVar[int]
    OTHER_KEY_HASH_FIELD_NUMBER: _ClassVar[int]
    OTHER_VALUE_HASH_FIELD_NUMBER: _ClassVar[int]
    levels: _containers.RepeatedScalarFieldContainer[bytes]
    other_key_hash: bytes
    other_value_hash: bytes
    def __init__(self, levels: _Optional[_Iterable[bytes]] = ..., other_key_hash: _Optional[bytes] = ..., other_value_hash: _Optional[bytes] = ...) -> None: ...
