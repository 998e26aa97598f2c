from payable import options_pb2 as _options_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Status(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PENDING: _ClassVar[Status]
    SETTLED: _ClassVar[Status]
    EXPIRED: _ClassVar[Status]
    REFUSED: _ClassVar[Status]

class RefusalReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    NOT_REFUSED: _ClassVar[RefusalReason]
    CONTEXT_EXCEEDED: _ClassVar[RefusalReason]
    INPUT_OVER_BOUND: _ClassVar[RefusalReason]
    INPUT_UNDECODABLE: _ClassVar[RefusalReason]
    ARTIFACT_UNAVAILABLE: _ClassVar[RefusalReason]
    BUSY: _ClassVar[RefusalReason]
PENDING: Status
SETTLED: Status
EXPIRED: Status
REFUSED: Status
NOT_REFUSED: RefusalReason
CONTEXT_EXCEEDED: RefusalReason
INPUT_OVER_BOUND: RefusalReason
INPUT_UNDECODABLE: RefusalReason
ARTIFACT_UNAVAILABLE: RefusalReason
BUSY: RefusalReason

class Worker(_message.Message):
    __slots__ = ("account", "endpoint", "models", "device", "bond", "registered_at", "leaving_at", "base_models")
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    ENDPOINT_FIELD_NUMBER: _ClassVar[int]
    MODELS_FIELD_NUMBER: _ClassVar[int]
    DEVICE_FIELD_NUMBER: _ClassVar[int]
    BOND_FIELD_NUMBER: _ClassVar[int]
    REGISTERED_AT_FIELD_NUMBER: _ClassVar[int]
    LEAVING_AT_FIELD_NUMBER: _ClassVar[int]
    BASE_MODELS_FIELD_NUMBER: _ClassVar[int]
    account: bytes
    endpoint: str
    models: _containers.RepeatedScalarFieldContainer[int]
    device: str
    bond: bytes
    registered_at: int
    leaving_at: int
    base_models: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, account: _Optional[bytes] = ..., endpoint: _Optional[str] = ..., models: _Optional[_Iterable[int]] = ..., device: _Optional[str] = ..., bond: _Optional[bytes] = ..., registered_at: _Optional[int] = ..., leaving_at: _Optional[int] = ..., base_models: _Optional[_Iterable[int]] = ...) -> None: ...

class Request(_message.Message):
    __slots__ = ("id", "requester", "model", "input_hash", "input", "escrow", "workers", "deadline", "status", "created_at", "answered", "max_input_tokens", "max_new_tokens", "flat_fee", "input_token_price", "output_token_price", "sampling", "refused", "draw_seed")
    ID_FIELD_NUMBER: _ClassVar[int]
    REQUESTER_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    INPUT_HASH_FIELD_NUMBER: _ClassVar[int]
    INPUT_FIELD_NUMBER: _ClassVar[int]
    ESCROW_FIELD_NUMBER: _ClassVar[int]
    WORKERS_FIELD_NUMBER: _ClassVar[int]
    DEADLINE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    ANSWERED_FIELD_NUMBER: _ClassVar[int]
    MAX_INPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    MAX_NEW_TOKENS_FIELD_NUMBER: _ClassVar[int]
    FLAT_FEE_FIELD_NUMBER: _ClassVar[int]
    INPUT_TOKEN_PRICE_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_TOKEN_PRICE_FIELD_NUMBER: _ClassVar[int]
    SAMPLING_FIELD_NUMBER: _ClassVar[int]
    REFUSED_FIELD_NUMBER: _ClassVar[int]
    DRAW_SEED_FIELD_NUMBER: _ClassVar[int]
    id: int
    requester: bytes
    model: int
    input_hash: bytes
    input: bytes
    escrow: bytes
    workers: _containers.RepeatedScalarFieldContainer[bytes]
    deadline: int
    status: Status
    created_at: int
    answered: _containers.RepeatedScalarFieldContainer[bytes]
    max_input_tokens: int
    max_new_tokens: int
    flat_fee: bytes
    input_token_price: bytes
    output_token_price: bytes
    sampling: Sampling
    refused: RefusalReason
    draw_seed: bytes
    def __init__(self, id: _Optional[int] = ..., requester: _Optional[bytes] = ..., model: _Optional[int] = ..., input_hash: _Optional[bytes] = ..., input: _Optional[bytes] = ..., escrow: _Optional[bytes] = ..., workers: _Optional[_Iterable[bytes]] = ..., deadline: _Optional[int] = ..., status: _Optional[_Union[Status, str]] = ..., created_at: _Optional[int] = ..., answered: _Optional[_Iterable[bytes]] = ..., max_input_tokens: _Optional[int] = ..., max_new_tokens: _Optional[int] = ..., flat_fee: _Optional[bytes] = ..., input_token_price: _Optional[bytes] = ..., output_token_price: _Optional[bytes] = ..., sampling: _Optional[_Union[Sampling, _Mapping]] = ..., refused: _Optional[_Union[RefusalReason, str]] = ..., draw_seed: _Optional[bytes] = ...) -> None: ...

class Sampling(_message.Message):
    __slots__ = ("temperature_milli", "top_p_milli", "seed")
    TEMPERATURE_MILLI_FIELD_NUMBER: _ClassVar[int]
    TOP_P_MILLI_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    temperature_milli: int
    top_p_milli: int
    seed: int
    def __init__(self, temperature_milli: _Optional[int] = ..., top_p_milli: _Optional[int] = ..., seed: _Optional[int] = ...) -> None: ...

class RegisterWorker(_message.Message):
    __slots__ = ("endpoint", "models", "device", "bond", "base_models")
    ENDPOINT_FIELD_NUMBER: _ClassVar[int]
    MODELS_FIELD_NUMBER: _ClassVar[int]
    DEVICE_FIELD_NUMBER: _ClassVar[int]
    BOND_FIELD_NUMBER: _ClassVar[int]
    BASE_MODELS_FIELD_NUMBER: _ClassVar[int]
    endpoint: str
    models: _containers.RepeatedScalarFieldContainer[int]
    device: str
    bond: bytes
    base_models: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, endpoint: _Optional[str] = ..., models: _Optional[_Iterable[int]] = ..., device: _Optional[str] = ..., bond: _Optional[bytes] = ..., base_models: _Optional[_Iterable[int]] = ...) -> None: ...

class Deregister(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class RequestInference(_message.Message):
    __slots__ = ("model", "input", "input_hash", "max_fee", "max_input_tokens", "max_new_tokens", "sampling")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    INPUT_FIELD_NUMBER: _ClassVar[int]
    INPUT_HASH_FIELD_NUMBER: _ClassVar[int]
    MAX_FEE_FIELD_NUMBER: _ClassVar[int]
    MAX_INPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    MAX_NEW_TOKENS_FIELD_NUMBER: _ClassVar[int]
    SAMPLING_FIELD_NUMBER: _ClassVar[int]
    model: int
    input: bytes
    input_hash: bytes
    max_fee: bytes
    max_input_tokens: int
    max_new_tokens: int
    sampling: Sampling
    def __init__(self, model: _Optional[int] = ..., input: _Optional[bytes] = ..., input_hash: _Optional[bytes] = ..., max_fee: _Optional[bytes] = ..., max_input_tokens: _Optional[int] = ..., max_new_tokens: _Optional[int] = ..., sampling: _Optional[_Union[Sampling, _Mapping]] = ...) -> None: ...

class WorkerEvent(_message.Message):
    __slots__ = ("worker", "bond")
    WORKER_FIELD_NUMBER: _ClassVar[int]
    BOND_FIELD_NUMBER: _ClassVar[int]
    worker: bytes
    bond: bytes
    def __init__(self, worker: _Optional[bytes] = ..., bond: _Optional[bytes] = ...) -> None: ...

class InferenceRequested(_message.Message):
    __slots__ = ("request", "model", "requester", "escrow", "workers", "deadline")
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    REQUESTER_FIELD_NUMBER: _ClassVar[int]
    ESCROW_FIELD_NUMBER: _ClassVar[int]
    WORKERS_FIELD_NUMBER: _ClassVar[int]
    DEADLINE_FIELD_NUMBER: _ClassVar[int]
    request: int
    model: int
    requester: bytes
    escrow: bytes
    workers: _containers.RepeatedScalarFieldContainer[bytes]
    deadline: int
    def __init__(self, request: _Optional[int] = ..., model: _Optional[int] = ..., requester: _Optional[bytes] = ..., escrow: _Optional[bytes] = ..., workers: _Optional[_Iterable[bytes]] = ..., deadline: _Optional[int] = ...) -> None: ...

class Escalated(_message.Message):
    __slots__ = ("request", "added", "deadline")
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    ADDED_FIELD_NUMBER: _ClassVar[int]
    DEADLINE_FIELD_NUMBER: _ClassVar[int]
    request: int
    added: _containers.RepeatedScalarFieldContainer[bytes]
    deadline: int
    def __init__(self, request: _Optional[int] = ..., added: _Optional[_Iterable[bytes]] = ..., deadline: _Optional[int] = ...) -> None: ...

class RequestExpired(_message.Message):
    __slots__ = ("request", "refunded", "penalised")
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    REFUNDED_FIELD_NUMBER: _ClassVar[int]
    PENALISED_FIELD_NUMBER: _ClassVar[int]
    request: int
    refunded: bytes
    penalised: _containers.RepeatedScalarFieldContainer[bytes]
    def __init__(self, request: _Optional[int] = ..., refunded: _Optional[bytes] = ..., penalised: _Optional[_Iterable[bytes]] = ...) -> None: ...

class RequestRef(_message.Message):
    __slots__ = ("request",)
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    request: int
    def __init__(self, request: _Optional[int] = ...) -> None: ...

class WorkerRef(_message.Message):
    __slots__ = ("worker",)
    WORKER_FIELD_NUMBER: _ClassVar[int]
    worker: bytes
    def __init__(self, worker: _Optional[bytes] = ...) -> None: ...

class WorkersRequest(_message.Message):
    __slots__ = ("model",)
    MODEL_FIELD_NUMBER: _ClassVar[int]
    model: int
    def __init__(self, model: _Optional[int] = ...) -> None: ...

class WorkerList(_message.Message):
    __slots__ = ("workers",)
    WORKERS_FIELD_NUMBER: _ClassVar[int]
    workers: _containers.RepeatedCompositeFieldContainer[Worker]
    def __init__(self, workers: _Optional[_Iterable[_Union[Worker, _Mapping]]] = ...) -> None: ...
