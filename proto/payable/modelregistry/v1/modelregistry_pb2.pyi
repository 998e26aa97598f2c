from payable import options_pb2 as _options_pb2
from payable.datanet.v1 import datanet_pb2 as _datanet_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ArtifactFormat(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ONNX: _ClassVar[ArtifactFormat]
    TORCH: _ClassVar[ArtifactFormat]
    SAFETENSORS: _ClassVar[ArtifactFormat]
    HF_DIRECTORY: _ClassVar[ArtifactFormat]
    PEFT_LORA: _ClassVar[ArtifactFormat]

class AttributionMethod(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    GRADIENT: _ClassVar[AttributionMethod]
    SPAN: _ClassVar[AttributionMethod]
    LORA_GRADIENT: _ClassVar[AttributionMethod]
    SPAN_AND_LORA_GRADIENT: _ClassVar[AttributionMethod]
ONNX: ArtifactFormat
TORCH: ArtifactFormat
SAFETENSORS: ArtifactFormat
HF_DIRECTORY: ArtifactFormat
PEFT_LORA: ArtifactFormat
GRADIENT: AttributionMethod
SPAN: AttributionMethod
LORA_GRADIENT: AttributionMethod
SPAN_AND_LORA_GRADIENT: AttributionMethod

class BaseModel(_message.Message):
    __slots__ = ("id", "owner", "artifact_hash", "architecture", "format", "license", "registered_at", "size_bytes", "parameters", "context_length", "source")
    ID_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    ARTIFACT_HASH_FIELD_NUMBER: _ClassVar[int]
    ARCHITECTURE_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    LICENSE_FIELD_NUMBER: _ClassVar[int]
    REGISTERED_AT_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_LENGTH_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    id: int
    owner: bytes
    artifact_hash: bytes
    architecture: str
    format: ArtifactFormat
    license: str
    registered_at: int
    size_bytes: int
    parameters: int
    context_length: int
    source: BaseModelSource
    def __init__(self, id: _Optional[int] = ..., owner: _Optional[bytes] = ..., artifact_hash: _Optional[bytes] = ..., architecture: _Optional[str] = ..., format: _Optional[_Union[ArtifactFormat, str]] = ..., license: _Optional[str] = ..., registered_at: _Optional[int] = ..., size_bytes: _Optional[int] = ..., parameters: _Optional[int] = ..., context_length: _Optional[int] = ..., source: _Optional[_Union[BaseModelSource, _Mapping]] = ...) -> None: ...

class BaseModelSource(_message.Message):
    __slots__ = ("file_name", "file_sha256", "package", "version", "quantization", "converter", "training_sources", "sources_declared_in")
    FILE_NAME_FIELD_NUMBER: _ClassVar[int]
    FILE_SHA256_FIELD_NUMBER: _ClassVar[int]
    PACKAGE_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    QUANTIZATION_FIELD_NUMBER: _ClassVar[int]
    CONVERTER_FIELD_NUMBER: _ClassVar[int]
    TRAINING_SOURCES_FIELD_NUMBER: _ClassVar[int]
    SOURCES_DECLARED_IN_FIELD_NUMBER: _ClassVar[int]
    file_name: str
    file_sha256: bytes
    package: str
    version: str
    quantization: str
    converter: str
    training_sources: _containers.RepeatedScalarFieldContainer[str]
    sources_declared_in: str
    def __init__(self, file_name: _Optional[str] = ..., file_sha256: _Optional[bytes] = ..., package: _Optional[str] = ..., version: _Optional[str] = ..., quantization: _Optional[str] = ..., converter: _Optional[str] = ..., training_sources: _Optional[_Iterable[str]] = ..., sources_declared_in: _Optional[str] = ...) -> None: ...

class SnapshotRef(_message.Message):
    __slots__ = ("datanet", "version")
    DATANET_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    datanet: int
    version: int
    def __init__(self, datanet: _Optional[int] = ..., version: _Optional[int] = ...) -> None: ...

class RewardSplit(_message.Message):
    __slots__ = ("contributors", "model_owner", "protocol", "worker")
    CONTRIBUTORS_FIELD_NUMBER: _ClassVar[int]
    MODEL_OWNER_FIELD_NUMBER: _ClassVar[int]
    PROTOCOL_FIELD_NUMBER: _ClassVar[int]
    WORKER_FIELD_NUMBER: _ClassVar[int]
    contributors: int
    model_owner: int
    protocol: int
    worker: int
    def __init__(self, contributors: _Optional[int] = ..., model_owner: _Optional[int] = ..., protocol: _Optional[int] = ..., worker: _Optional[int] = ...) -> None: ...

class EvalMetrics(_message.Message):
    __slots__ = ("eval_loss_ppm", "base_eval_loss_ppm", "eval_examples", "train_examples")
    EVAL_LOSS_PPM_FIELD_NUMBER: _ClassVar[int]
    BASE_EVAL_LOSS_PPM_FIELD_NUMBER: _ClassVar[int]
    EVAL_EXAMPLES_FIELD_NUMBER: _ClassVar[int]
    TRAIN_EXAMPLES_FIELD_NUMBER: _ClassVar[int]
    eval_loss_ppm: int
    base_eval_loss_ppm: int
    eval_examples: int
    train_examples: int
    def __init__(self, eval_loss_ppm: _Optional[int] = ..., base_eval_loss_ppm: _Optional[int] = ..., eval_examples: _Optional[int] = ..., train_examples: _Optional[int] = ...) -> None: ...

class Model(_message.Message):
    __slots__ = ("id", "owner", "base_model", "snapshots", "training_config_hash", "artifact_hash", "attribution_method", "attribution_index_hash", "price_per_inference", "price_per_output_token", "split", "deprecated", "registered_at", "format", "eval", "price_per_input_token", "span_weight_bps", "license", "data_license", "card_hash")
    ID_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    BASE_MODEL_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOTS_FIELD_NUMBER: _ClassVar[int]
    TRAINING_CONFIG_HASH_FIELD_NUMBER: _ClassVar[int]
    ARTIFACT_HASH_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTION_METHOD_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTION_INDEX_HASH_FIELD_NUMBER: _ClassVar[int]
    PRICE_PER_INFERENCE_FIELD_NUMBER: _ClassVar[int]
    PRICE_PER_OUTPUT_TOKEN_FIELD_NUMBER: _ClassVar[int]
    SPLIT_FIELD_NUMBER: _ClassVar[int]
    DEPRECATED_FIELD_NUMBER: _ClassVar[int]
    REGISTERED_AT_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    EVAL_FIELD_NUMBER: _ClassVar[int]
    PRICE_PER_INPUT_TOKEN_FIELD_NUMBER: _ClassVar[int]
    SPAN_WEIGHT_BPS_FIELD_NUMBER: _ClassVar[int]
    LICENSE_FIELD_NUMBER: _ClassVar[int]
    DATA_LICENSE_FIELD_NUMBER: _ClassVar[int]
    CARD_HASH_FIELD_NUMBER: _ClassVar[int]
    id: int
    owner: bytes
    base_model: int
    snapshots: _containers.RepeatedCompositeFieldContainer[SnapshotRef]
    training_config_hash: bytes
    artifact_hash: bytes
    attribution_method: AttributionMethod
    attribution_index_hash: bytes
    price_per_inference: bytes
    price_per_output_token: bytes
    split: RewardSplit
    deprecated: bool
    registered_at: int
    format: ArtifactFormat
    eval: EvalMetrics
    price_per_input_token: bytes
    span_weight_bps: int
    license: str
    data_license: DataLicense
    card_hash: bytes
    def __init__(self, id: _Optional[int] = ..., owner: _Optional[bytes] = ..., base_model: _Optional[int] = ..., snapshots: _Optional[_Iterable[_Union[SnapshotRef, _Mapping]]] = ..., training_config_hash: _Optional[bytes] = ..., artifact_hash: _Optional[bytes] = ..., attribution_method: _Optional[_Union[AttributionMethod, str]] = ..., attribution_index_hash: _Optional[bytes] = ..., price_per_inference: _Optional[bytes] = ..., price_per_output_token: _Optional[bytes] = ..., split: _Optional[_Union[RewardSplit, _Mapping]] = ..., deprecated: _Optional[bool] = ..., registered_at: _Optional[int] = ..., format: _Optional[_Union[ArtifactFormat, str]] = ..., eval: _Optional[_Union[EvalMetrics, _Mapping]] = ..., price_per_input_token: _Optional[bytes] = ..., span_weight_bps: _Optional[int] = ..., license: _Optional[str] = ..., data_license: _Optional[_Union[DataLicense, _Mapping]] = ..., card_hash: _Optional[bytes] = ...) -> None: ...

class DataLicense(_message.Message):
    __slots__ = ("licenses", "any", "allowed")
    LICENSES_FIELD_NUMBER: _ClassVar[int]
    ANY_FIELD_NUMBER: _ClassVar[int]
    ALLOWED_FIELD_NUMBER: _ClassVar[int]
    licenses: _containers.RepeatedScalarFieldContainer[str]
    any: bool
    allowed: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, licenses: _Optional[_Iterable[str]] = ..., any: _Optional[bool] = ..., allowed: _Optional[_Iterable[str]] = ...) -> None: ...

class RegisterBaseModel(_message.Message):
    __slots__ = ("artifact_hash", "architecture", "format", "license", "size_bytes", "parameters", "context_length", "source")
    ARTIFACT_HASH_FIELD_NUMBER: _ClassVar[int]
    ARCHITECTURE_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    LICENSE_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_LENGTH_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    artifact_hash: bytes
    architecture: str
    format: ArtifactFormat
    license: str
    size_bytes: int
    parameters: int
    context_length: int
    source: BaseModelSource
    def __init__(self, artifact_hash: _Optional[bytes] = ..., architecture: _Optional[str] = ..., format: _Optional[_Union[ArtifactFormat, str]] = ..., license: _Optional[str] = ..., size_bytes: _Optional[int] = ..., parameters: _Optional[int] = ..., context_length: _Optional[int] = ..., source: _Optional[_Union[BaseModelSource, _Mapping]] = ...) -> None: ...

class RegisterModel(_message.Message):
    __slots__ = ("base_model", "snapshots", "training_config_hash", "artifact_hash", "attribution_method", "attribution_index_hash", "price_per_inference", "price_per_output_token", "split", "format", "eval", "price_per_input_token", "span_weight_bps", "license", "card_hash")
    BASE_MODEL_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOTS_FIELD_NUMBER: _ClassVar[int]
    TRAINING_CONFIG_HASH_FIELD_NUMBER: _ClassVar[int]
    ARTIFACT_HASH_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTION_METHOD_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTION_INDEX_HASH_FIELD_NUMBER: _ClassVar[int]
    PRICE_PER_INFERENCE_FIELD_NUMBER: _ClassVar[int]
    PRICE_PER_OUTPUT_TOKEN_FIELD_NUMBER: _ClassVar[int]
    SPLIT_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    EVAL_FIELD_NUMBER: _ClassVar[int]
    PRICE_PER_INPUT_TOKEN_FIELD_NUMBER: _ClassVar[int]
    SPAN_WEIGHT_BPS_FIELD_NUMBER: _ClassVar[int]
    LICENSE_FIELD_NUMBER: _ClassVar[int]
    CARD_HASH_FIELD_NUMBER: _ClassVar[int]
    base_model: int
    snapshots: _containers.RepeatedCompositeFieldContainer[SnapshotRef]
    training_config_hash: bytes
    artifact_hash: bytes
    attribution_method: AttributionMethod
    attribution_index_hash: bytes
    price_per_inference: bytes
    price_per_output_token: bytes
    split: RewardSplit
    format: ArtifactFormat
    eval: EvalMetrics
    price_per_input_token: bytes
    span_weight_bps: int
    license: str
    card_hash: bytes
    def __init__(self, base_model: _Optional[int] = ..., snapshots: _Optional[_Iterable[_Union[SnapshotRef, _Mapping]]] = ..., training_config_hash: _Optional[bytes] = ..., artifact_hash: _Optional[bytes] = ..., attribution_method: _Optional[_Union[AttributionMethod, str]] = ..., attribution_index_hash: _Optional[bytes] = ..., price_per_inference: _Optional[bytes] = ..., price_per_output_token: _Optional[bytes] = ..., split: _Optional[_Union[RewardSplit, _Mapping]] = ..., format: _Optional[_Union[ArtifactFormat, str]] = ..., eval: _Optional[_Union[EvalMetrics, _Mapping]] = ..., price_per_input_token: _Optional[bytes] = ..., span_weight_bps: _Optional[int] = ..., license: _Optional[str] = ..., card_hash: _Optional[bytes] = ...) -> None: ...

class UpdatePrice(_message.Message):
    __slots__ = ("model", "price_per_inference", "price_per_output_token", "price_per_input_token")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    PRICE_PER_INFERENCE_FIELD_NUMBER: _ClassVar[int]
    PRICE_PER_OUTPUT_TOKEN_FIELD_NUMBER: _ClassVar[int]
    PRICE_PER_INPUT_TOKEN_FIELD_NUMBER: _ClassVar[int]
    model: int
    price_per_inference: bytes
    price_per_output_token: bytes
    price_per_input_token: bytes
    def __init__(self, model: _Optional[int] = ..., price_per_inference: _Optional[bytes] = ..., price_per_output_token: _Optional[bytes] = ..., price_per_input_token: _Optional[bytes] = ...) -> None: ...

class ModelRef(_message.Message):
    __slots__ = ("model",)
    MODEL_FIELD_NUMBER: _ClassVar[int]
    model: int
    def __init__(self, model: _Optional[int] = ...) -> None: ...

class TransferOwnership(_message.Message):
    __slots__ = ("model", "new_owner")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    NEW_OWNER_FIELD_NUMBER: _ClassVar[int]
    model: int
    new_owner: bytes
    def __init__(self, model: _Optional[int] = ..., new_owner: _Optional[bytes] = ...) -> None: ...

class BaseModelRegistered(_message.Message):
    __slots__ = ("base_model", "owner", "artifact_hash")
    BASE_MODEL_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    ARTIFACT_HASH_FIELD_NUMBER: _ClassVar[int]
    base_model: int
    owner: bytes
    artifact_hash: bytes
    def __init__(self, base_model: _Optional[int] = ..., owner: _Optional[bytes] = ..., artifact_hash: _Optional[bytes] = ...) -> None: ...

class ModelEvent(_message.Message):
    __slots__ = ("model", "owner")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    model: int
    owner: bytes
    def __init__(self, model: _Optional[int] = ..., owner: _Optional[bytes] = ...) -> None: ...

class PriceUpdated(_message.Message):
    __slots__ = ("model", "price_per_inference", "price_per_output_token", "price_per_input_token")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    PRICE_PER_INFERENCE_FIELD_NUMBER: _ClassVar[int]
    PRICE_PER_OUTPUT_TOKEN_FIELD_NUMBER: _ClassVar[int]
    PRICE_PER_INPUT_TOKEN_FIELD_NUMBER: _ClassVar[int]
    model: int
    price_per_inference: bytes
    price_per_output_token: bytes
    price_per_input_token: bytes
    def __init__(self, model: _Optional[int] = ..., price_per_inference: _Optional[bytes] = ..., price_per_output_token: _Optional[bytes] = ..., price_per_input_token: _Optional[bytes] = ...) -> None: ...

class OwnershipTransferred(_message.Message):
    __slots__ = ("model", "to")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    FROM_FIELD_NUMBER: _ClassVar[int]
    TO_FIELD_NUMBER: _ClassVar[int]
    model: int
    to: bytes
    def __init__(self, model: _Optional[int] = ..., to: _Optional[bytes] = ..., **kwargs) -> None: ...

class BaseModelRequest(_message.Message):
    __slots__ = ("base_model",)
    BASE_MODEL_FIELD_NUMBER: _ClassVar[int]
    base_model: int
    def __init__(self, base_model: _Optional[int] = ...) -> None: ...

class ModelRequest(_message.Message):
    __slots__ = ("model",)
    MODEL_FIELD_NUMBER: _ClassVar[int]
    model: int
    def __init__(self, model: _Optional[int] = ...) -> None: ...

class BaseModelsRequest(_message.Message):
    __slots__ = ("start_after", "limit")
    START_AFTER_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    start_after: int
    limit: int
    def __init__(self, start_after: _Optional[int] = ..., limit: _Optional[int] = ...) -> None: ...

class BaseModelList(_message.Message):
    __slots__ = ("base_models", "next_start_after")
    BASE_MODELS_FIELD_NUMBER: _ClassVar[int]
    NEXT_START_AFTER_FIELD_NUMBER: _ClassVar[int]
    base_models: _containers.RepeatedCompositeFieldContainer[BaseModel]
    next_start_after: int
    def __init__(self, base_models: _Optional[_Iterable[_Union[BaseModel, _Mapping]]] = ..., next_start_after: _Optional[int] = ...) -> None: ...

class ModelsRequest(_message.Message):
    __slots__ = ("datanet", "owner", "start_after", "limit")
    DATANET_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    START_AFTER_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    datanet: int
    owner: bytes
    start_after: int
    limit: int
    def __init__(self, datanet: _Optional[int] = ..., owner: _Optional[bytes] = ..., start_after: _Optional[int] = ..., limit: _Optional[int] = ...) -> None: ...

class ModelList(_message.Message):
    __slots__ = ("models", "next_start_after")
    MODELS_FIELD_NUMBER: _ClassVar[int]
    NEXT_START_AFTER_FIELD_NUMBER: _ClassVar[int]
    models: _containers.RepeatedCompositeFieldContainer[Model]
    next_start_after: int
    def __init__(self, models: _Optional[_Iterable[_Union[Model, _Mapping]]] = ..., next_start_after: _Optional[int] = ...) -> None: ...

class SnapshotProvenance(_message.Message):
    __slots__ = ("snapshot", "contributions")
    SNAPSHOT_FIELD_NUMBER: _ClassVar[int]
    CONTRIBUTIONS_FIELD_NUMBER: _ClassVar[int]
    snapshot: _datanet_pb2.Snapshot
    contributions: _containers.RepeatedCompositeFieldContainer[_datanet_pb2.MembershipProof]
    def __init__(self, snapshot: _Optional[_Union[_datanet_pb2.Snapshot, _Mapping]] = ..., contributions: _Optional[_Iterable[_Union[_datanet_pb2.MembershipProof, _Mapping]]] = ...) -> None: ...

class WithdrawnContribution(_message.Message):
    __slots__ = ("contribution", "datanet", "versions", "status", "takedown", "withdrawn_at", "size")
    CONTRIBUTION_FIELD_NUMBER: _ClassVar[int]
    DATANET_FIELD_NUMBER: _ClassVar[int]
    VERSIONS_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    TAKEDOWN_FIELD_NUMBER: _ClassVar[int]
    WITHDRAWN_AT_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    contribution: int
    datanet: int
    versions: _containers.RepeatedScalarFieldContainer[int]
    status: _datanet_pb2.Status
    takedown: _datanet_pb2.TakedownReason
    withdrawn_at: int
    size: int
    def __init__(self, contribution: _Optional[int] = ..., datanet: _Optional[int] = ..., versions: _Optional[_Iterable[int]] = ..., status: _Optional[_Union[_datanet_pb2.Status, str]] = ..., takedown: _Optional[_Union[_datanet_pb2.TakedownReason, str]] = ..., withdrawn_at: _Optional[int] = ..., size: _Optional[int] = ...) -> None: ...

class WithdrawnData(_message.Message):
    __slots__ = ("contributions", "training_contributions", "withdrawn_size", "training_size", "since")
    CONTRIBUTIONS_FIELD_NUMBER: _ClassVar[int]
    TRAINING_CONTRIBUTIONS_FIELD_NUMBER: _ClassVar[int]
    WITHDRAWN_SIZE_FIELD_NUMBER: _ClassVar[int]
    TRAINING_SIZE_FIELD_NUMBER: _ClassVar[int]
    SINCE_FIELD_NUMBER: _ClassVar[int]
    contributions: _containers.RepeatedCompositeFieldContainer[WithdrawnContribution]
    training_contributions: int
    withdrawn_size: int
    training_size: int
    since: int
    def __init__(self, contributions: _Optional[_Iterable[_Union[WithdrawnContribution, _Mapping]]] = ..., training_contributions: _Optional[int] = ..., withdrawn_size: _Optional[int] = ..., training_size: _Optional[int] = ..., since: _Optional[int] = ...) -> None: ...

class Provenance(_message.Message):
    __slots__ = ("model", "base_model", "snapshots", "withdrawn")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    BASE_MODEL_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOTS_FIELD_NUMBER: _ClassVar[int]
    WITHDRAWN_FIELD_NUMBER: _ClassVar[int]
    model: Model
    base_model: BaseModel
    snapshots: _containers.RepeatedCompositeFieldContainer[SnapshotProvenance]
    withdrawn: WithdrawnData
    def __init__(self, model: _Optional[_Union[Model, _Mapping]] = ..., base_model: _Optional[_Union[BaseModel, _Mapping]] = ..., snapshots: _Optional[_Iterable[_Union[SnapshotProvenance, _Mapping]]] = ..., withdrawn: _Optional[_Union[WithdrawnData, _Mapping]] = ...) -> None: ...
