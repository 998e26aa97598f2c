from google.protobuf import descriptor_pb2 as _descriptor_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Weight(_message.Message):
    __slots__ = ("ref_time_ns", "reads", "writes")
    REF_TIME_NS_FIELD_NUMBER: _ClassVar[int]
    READS_FIELD_NUMBER: _ClassVar[int]
    WRITES_FIELD_NUMBER: _ClassVar[int]
    ref_time_ns: int
    reads: int
    writes: int
    def __init__(self, ref_time_ns: _Optional[int] = ..., reads: _Optional[int] = ..., writes: _Optional[int] = ...) -> None: ...

class CallMetadata(_message.Message):
    __slots__ = ("index", "name", "args_type", "weight", "inherent", "doc")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    ARGS_TYPE_FIELD_NUMBER: _ClassVar[int]
    WEIGHT_FIELD_NUMBER: _ClassVar[int]
    INHERENT_FIELD_NUMBER: _ClassVar[int]
    DOC_FIELD_NUMBER: _ClassVar[int]
    index: int
    name: str
    args_type: str
    weight: Weight
    inherent: bool
    doc: str
    def __init__(self, index: _Optional[int] = ..., name: _Optional[str] = ..., args_type: _Optional[str] = ..., weight: _Optional[_Union[Weight, _Mapping]] = ..., inherent: _Optional[bool] = ..., doc: _Optional[str] = ...) -> None: ...

class StorageMetadata(_message.Message):
    __slots__ = ("name", "kind", "hasher", "value_type", "prefix", "doc")
    NAME_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    HASHER_FIELD_NUMBER: _ClassVar[int]
    VALUE_TYPE_FIELD_NUMBER: _ClassVar[int]
    PREFIX_FIELD_NUMBER: _ClassVar[int]
    DOC_FIELD_NUMBER: _ClassVar[int]
    name: str
    kind: str
    hasher: str
    value_type: str
    prefix: bytes
    doc: str
    def __init__(self, name: _Optional[str] = ..., kind: _Optional[str] = ..., hasher: _Optional[str] = ..., value_type: _Optional[str] = ..., prefix: _Optional[bytes] = ..., doc: _Optional[str] = ...) -> None: ...

class EventMetadata(_message.Message):
    __slots__ = ("code", "name", "data_type", "doc")
    CODE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DATA_TYPE_FIELD_NUMBER: _ClassVar[int]
    DOC_FIELD_NUMBER: _ClassVar[int]
    code: int
    name: str
    data_type: str
    doc: str
    def __init__(self, code: _Optional[int] = ..., name: _Optional[str] = ..., data_type: _Optional[str] = ..., doc: _Optional[str] = ...) -> None: ...

class ErrorMetadata(_message.Message):
    __slots__ = ("code", "name", "doc")
    CODE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DOC_FIELD_NUMBER: _ClassVar[int]
    code: int
    name: str
    doc: str
    def __init__(self, code: _Optional[int] = ..., name: _Optional[str] = ..., doc: _Optional[str] = ...) -> None: ...

class QueryMetadata(_message.Message):
    __slots__ = ("name", "request_type", "response_type", "doc")
    NAME_FIELD_NUMBER: _ClassVar[int]
    REQUEST_TYPE_FIELD_NUMBER: _ClassVar[int]
    RESPONSE_TYPE_FIELD_NUMBER: _ClassVar[int]
    DOC_FIELD_NUMBER: _ClassVar[int]
    name: str
    request_type: str
    response_type: str
    doc: str
    def __init__(self, name: _Optional[str] = ..., request_type: _Optional[str] = ..., response_type: _Optional[str] = ..., doc: _Optional[str] = ...) -> None: ...

class PalletMetadata(_message.Message):
    __slots__ = ("name", "doc", "prefix", "calls", "storage", "events", "errors", "queries", "config_json")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DOC_FIELD_NUMBER: _ClassVar[int]
    PREFIX_FIELD_NUMBER: _ClassVar[int]
    CALLS_FIELD_NUMBER: _ClassVar[int]
    STORAGE_FIELD_NUMBER: _ClassVar[int]
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    ERRORS_FIELD_NUMBER: _ClassVar[int]
    QUERIES_FIELD_NUMBER: _ClassVar[int]
    CONFIG_JSON_FIELD_NUMBER: _ClassVar[int]
    name: str
    doc: str
    prefix: bytes
    calls: _containers.RepeatedCompositeFieldContainer[CallMetadata]
    storage: _containers.RepeatedCompositeFieldContainer[StorageMetadata]
    events: _containers.RepeatedCompositeFieldContainer[EventMetadata]
    errors: _containers.RepeatedCompositeFieldContainer[ErrorMetadata]
    queries: _containers.RepeatedCompositeFieldContainer[QueryMetadata]
    config_json: str
    def __init__(self, name: _Optional[str] = ..., doc: _Optional[str] = ..., prefix: _Optional[bytes] = ..., calls: _Optional[_Iterable[_Union[CallMetadata, _Mapping]]] = ..., storage: _Optional[_Iterable[_Union[StorageMetadata, _Mapping]]] = ..., events: _Optional[_Iterable[_Union[EventMetadata, _Mapping]]] = ..., errors: _Optional[_Iterable[_Union[ErrorMetadata, _Mapping]]] = ..., queries: _Optional[_Iterable[_Union[QueryMetadata, _Mapping]]] = ..., config_json: _Optional[str] = ...) -> None: ...

class RuntimeMetadata(_message.Message):
    __slots__ = ("chain_name", "chain_id", "pallets", "types", "runtime_json")
    CHAIN_NAME_FIELD_NUMBER: _ClassVar[int]
    CHAIN_ID_FIELD_NUMBER: _ClassVar[int]
    PALLETS_FIELD_NUMBER: _ClassVar[int]
    TYPES_FIELD_NUMBER: _ClassVar[int]
    RUNTIME_JSON_FIELD_NUMBER: _ClassVar[int]
    chain_name: str
    chain_id: str
    pallets: _containers.RepeatedCompositeFieldContainer[PalletMetadata]
    types: _descriptor_pb2.FileDescriptorSet
    runtime_json: str
    def __init__(self, chain_name: _Optional[str] = ..., chain_id: _Optional[str] = ..., pallets: _Optional[_Iterable[_Union[PalletMetadata, _Mapping]]] = ..., types: _Optional[_Union[_descriptor_pb2.FileDescriptorSet, _Mapping]] = ..., runtime_json: _Optional[str] = ...) -> None: ...
