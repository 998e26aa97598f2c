from payable import options_pb2 as _options_pb2
from payable.modelregistry.v1 import modelregistry_pb2 as _modelregistry_pb2
from payable.attribution.v1 import attribution_pb2 as _attribution_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ModelArtifact(_message.Message):
    __slots__ = ("config_json", "weights", "onnx", "tokenizer_json")
    CONFIG_JSON_FIELD_NUMBER: _ClassVar[int]
    WEIGHTS_FIELD_NUMBER: _ClassVar[int]
    ONNX_FIELD_NUMBER: _ClassVar[int]
    TOKENIZER_JSON_FIELD_NUMBER: _ClassVar[int]
    config_json: str
    weights: bytes
    onnx: bytes
    tokenizer_json: str
    def __init__(self, config_json: _Optional[str] = ..., weights: _Optional[bytes] = ..., onnx: _Optional[bytes] = ..., tokenizer_json: _Optional[str] = ...) -> None: ...

class Contribution(_message.Message):
    __slots__ = ("id", "contributor")
    ID_FIELD_NUMBER: _ClassVar[int]
    CONTRIBUTOR_FIELD_NUMBER: _ClassVar[int]
    id: int
    contributor: bytes
    def __init__(self, id: _Optional[int] = ..., contributor: _Optional[bytes] = ...) -> None: ...

class Example(_message.Message):
    __slots__ = ("features", "label", "contribution")
    FEATURES_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    CONTRIBUTION_FIELD_NUMBER: _ClassVar[int]
    features: _containers.RepeatedScalarFieldContainer[float]
    label: int
    contribution: int
    def __init__(self, features: _Optional[_Iterable[float]] = ..., label: _Optional[int] = ..., contribution: _Optional[int] = ...) -> None: ...

class Dataset(_message.Message):
    __slots__ = ("examples", "contributions")
    EXAMPLES_FIELD_NUMBER: _ClassVar[int]
    CONTRIBUTIONS_FIELD_NUMBER: _ClassVar[int]
    examples: _containers.RepeatedCompositeFieldContainer[Example]
    contributions: _containers.RepeatedCompositeFieldContainer[Contribution]
    def __init__(self, examples: _Optional[_Iterable[_Union[Example, _Mapping]]] = ..., contributions: _Optional[_Iterable[_Union[Contribution, _Mapping]]] = ...) -> None: ...

class TextDocument(_message.Message):
    __slots__ = ("text", "contribution")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    CONTRIBUTION_FIELD_NUMBER: _ClassVar[int]
    text: str
    contribution: int
    def __init__(self, text: _Optional[str] = ..., contribution: _Optional[int] = ...) -> None: ...

class TextDataset(_message.Message):
    __slots__ = ("documents", "contributions")
    DOCUMENTS_FIELD_NUMBER: _ClassVar[int]
    CONTRIBUTIONS_FIELD_NUMBER: _ClassVar[int]
    documents: _containers.RepeatedCompositeFieldContainer[TextDocument]
    contributions: _containers.RepeatedCompositeFieldContainer[Contribution]
    def __init__(self, documents: _Optional[_Iterable[_Union[TextDocument, _Mapping]]] = ..., contributions: _Optional[_Iterable[_Union[Contribution, _Mapping]]] = ...) -> None: ...

class TrainLanguageModelRequest(_message.Message):
    __slots__ = ("dataset", "vocab_size", "steps", "seed")
    DATASET_FIELD_NUMBER: _ClassVar[int]
    VOCAB_SIZE_FIELD_NUMBER: _ClassVar[int]
    STEPS_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    dataset: TextDataset
    vocab_size: int
    steps: int
    seed: int
    def __init__(self, dataset: _Optional[_Union[TextDataset, _Mapping]] = ..., vocab_size: _Optional[int] = ..., steps: _Optional[int] = ..., seed: _Optional[int] = ...) -> None: ...

class SpanIndexRequest(_message.Message):
    __slots__ = ("model_hash", "dataset_hash")
    MODEL_HASH_FIELD_NUMBER: _ClassVar[int]
    DATASET_HASH_FIELD_NUMBER: _ClassVar[int]
    model_hash: bytes
    dataset_hash: bytes
    def __init__(self, model_hash: _Optional[bytes] = ..., dataset_hash: _Optional[bytes] = ...) -> None: ...

class GenerateRequest(_message.Message):
    __slots__ = ("model_hash", "prompt", "max_tokens")
    MODEL_HASH_FIELD_NUMBER: _ClassVar[int]
    PROMPT_FIELD_NUMBER: _ClassVar[int]
    MAX_TOKENS_FIELD_NUMBER: _ClassVar[int]
    model_hash: bytes
    prompt: str
    max_tokens: int
    def __init__(self, model_hash: _Optional[bytes] = ..., prompt: _Optional[str] = ..., max_tokens: _Optional[int] = ...) -> None: ...

class GenerateResponse(_message.Message):
    __slots__ = ("text", "tokens", "output_hash", "prompt_tokens")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    TOKENS_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_HASH_FIELD_NUMBER: _ClassVar[int]
    PROMPT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    text: str
    tokens: _containers.RepeatedScalarFieldContainer[int]
    output_hash: bytes
    prompt_tokens: int
    def __init__(self, text: _Optional[str] = ..., tokens: _Optional[_Iterable[int]] = ..., output_hash: _Optional[bytes] = ..., prompt_tokens: _Optional[int] = ...) -> None: ...

class SpanAttributeRequest(_message.Message):
    __slots__ = ("model_hash", "index_hash", "tokens", "top_k", "request_id", "min_length", "max_count", "input_hash", "input_tokens", "draw_seed")
    MODEL_HASH_FIELD_NUMBER: _ClassVar[int]
    INDEX_HASH_FIELD_NUMBER: _ClassVar[int]
    TOKENS_FIELD_NUMBER: _ClassVar[int]
    TOP_K_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    MIN_LENGTH_FIELD_NUMBER: _ClassVar[int]
    MAX_COUNT_FIELD_NUMBER: _ClassVar[int]
    INPUT_HASH_FIELD_NUMBER: _ClassVar[int]
    INPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    DRAW_SEED_FIELD_NUMBER: _ClassVar[int]
    model_hash: bytes
    index_hash: bytes
    tokens: _containers.RepeatedScalarFieldContainer[int]
    top_k: int
    request_id: bytes
    min_length: int
    max_count: int
    input_hash: bytes
    input_tokens: int
    draw_seed: bytes
    def __init__(self, model_hash: _Optional[bytes] = ..., index_hash: _Optional[bytes] = ..., tokens: _Optional[_Iterable[int]] = ..., top_k: _Optional[int] = ..., request_id: _Optional[bytes] = ..., min_length: _Optional[int] = ..., max_count: _Optional[int] = ..., input_hash: _Optional[bytes] = ..., input_tokens: _Optional[int] = ..., draw_seed: _Optional[bytes] = ...) -> None: ...

class TrainRequest(_message.Message):
    __slots__ = ("dataset", "model_config_json", "seed", "weight_decay")
    DATASET_FIELD_NUMBER: _ClassVar[int]
    MODEL_CONFIG_JSON_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    WEIGHT_DECAY_FIELD_NUMBER: _ClassVar[int]
    dataset: Dataset
    model_config_json: str
    seed: int
    weight_decay: float
    def __init__(self, dataset: _Optional[_Union[Dataset, _Mapping]] = ..., model_config_json: _Optional[str] = ..., seed: _Optional[int] = ..., weight_decay: _Optional[float] = ...) -> None: ...

class TrainResponse(_message.Message):
    __slots__ = ("model_hash", "dataset_hash", "train_accuracy")
    MODEL_HASH_FIELD_NUMBER: _ClassVar[int]
    DATASET_HASH_FIELD_NUMBER: _ClassVar[int]
    TRAIN_ACCURACY_FIELD_NUMBER: _ClassVar[int]
    model_hash: bytes
    dataset_hash: bytes
    train_accuracy: float
    def __init__(self, model_hash: _Optional[bytes] = ..., dataset_hash: _Optional[bytes] = ..., train_accuracy: _Optional[float] = ...) -> None: ...

class LoadModelRequest(_message.Message):
    __slots__ = ("artifact", "expected_hash")
    ARTIFACT_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_HASH_FIELD_NUMBER: _ClassVar[int]
    artifact: ModelArtifact
    expected_hash: bytes
    def __init__(self, artifact: _Optional[_Union[ModelArtifact, _Mapping]] = ..., expected_hash: _Optional[bytes] = ...) -> None: ...

class LoadModelResponse(_message.Message):
    __slots__ = ("model_hash",)
    MODEL_HASH_FIELD_NUMBER: _ClassVar[int]
    model_hash: bytes
    def __init__(self, model_hash: _Optional[bytes] = ...) -> None: ...

class BuildIndexRequest(_message.Message):
    __slots__ = ("model_hash", "dataset_hash", "method", "ensemble", "projection", "damping", "weight_decay")
    MODEL_HASH_FIELD_NUMBER: _ClassVar[int]
    DATASET_HASH_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    ENSEMBLE_FIELD_NUMBER: _ClassVar[int]
    PROJECTION_FIELD_NUMBER: _ClassVar[int]
    DAMPING_FIELD_NUMBER: _ClassVar[int]
    WEIGHT_DECAY_FIELD_NUMBER: _ClassVar[int]
    model_hash: bytes
    dataset_hash: bytes
    method: str
    ensemble: int
    projection: int
    damping: float
    weight_decay: float
    def __init__(self, model_hash: _Optional[bytes] = ..., dataset_hash: _Optional[bytes] = ..., method: _Optional[str] = ..., ensemble: _Optional[int] = ..., projection: _Optional[int] = ..., damping: _Optional[float] = ..., weight_decay: _Optional[float] = ...) -> None: ...

class IndexProgress(_message.Message):
    __slots__ = ("phase", "done", "total", "examples_per_s", "eta_s", "index_hash", "index_bytes")
    PHASE_FIELD_NUMBER: _ClassVar[int]
    DONE_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    EXAMPLES_PER_S_FIELD_NUMBER: _ClassVar[int]
    ETA_S_FIELD_NUMBER: _ClassVar[int]
    INDEX_HASH_FIELD_NUMBER: _ClassVar[int]
    INDEX_BYTES_FIELD_NUMBER: _ClassVar[int]
    phase: str
    done: int
    total: int
    examples_per_s: float
    eta_s: float
    index_hash: bytes
    index_bytes: int
    def __init__(self, phase: _Optional[str] = ..., done: _Optional[int] = ..., total: _Optional[int] = ..., examples_per_s: _Optional[float] = ..., eta_s: _Optional[float] = ..., index_hash: _Optional[bytes] = ..., index_bytes: _Optional[int] = ...) -> None: ...

class InferRequest(_message.Message):
    __slots__ = ("model_hash", "input")
    MODEL_HASH_FIELD_NUMBER: _ClassVar[int]
    INPUT_FIELD_NUMBER: _ClassVar[int]
    model_hash: bytes
    input: _containers.RepeatedScalarFieldContainer[float]
    def __init__(self, model_hash: _Optional[bytes] = ..., input: _Optional[_Iterable[float]] = ...) -> None: ...

class InferResponse(_message.Message):
    __slots__ = ("logits", "label", "output_hash")
    LOGITS_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_HASH_FIELD_NUMBER: _ClassVar[int]
    logits: _containers.RepeatedScalarFieldContainer[float]
    label: int
    output_hash: bytes
    def __init__(self, logits: _Optional[_Iterable[float]] = ..., label: _Optional[int] = ..., output_hash: _Optional[bytes] = ...) -> None: ...

class AttributeRequest(_message.Message):
    __slots__ = ("model_hash", "index_hash", "input", "label", "top_k", "request_id", "draw_seed")
    MODEL_HASH_FIELD_NUMBER: _ClassVar[int]
    INDEX_HASH_FIELD_NUMBER: _ClassVar[int]
    INPUT_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    TOP_K_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    DRAW_SEED_FIELD_NUMBER: _ClassVar[int]
    model_hash: bytes
    index_hash: bytes
    input: _containers.RepeatedScalarFieldContainer[float]
    label: int
    top_k: int
    request_id: bytes
    draw_seed: bytes
    def __init__(self, model_hash: _Optional[bytes] = ..., index_hash: _Optional[bytes] = ..., input: _Optional[_Iterable[float]] = ..., label: _Optional[int] = ..., top_k: _Optional[int] = ..., request_id: _Optional[bytes] = ..., draw_seed: _Optional[bytes] = ...) -> None: ...

class StatusRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class StatusResponse(_message.Message):
    __slots__ = ("device", "worker", "models", "indexes", "followed_block")
    class IndexInfo(_message.Message):
        __slots__ = ("index_hash", "bytes", "examples", "method")
        INDEX_HASH_FIELD_NUMBER: _ClassVar[int]
        BYTES_FIELD_NUMBER: _ClassVar[int]
        EXAMPLES_FIELD_NUMBER: _ClassVar[int]
        METHOD_FIELD_NUMBER: _ClassVar[int]
        index_hash: bytes
        bytes: int
        examples: int
        method: str
        def __init__(self, index_hash: _Optional[bytes] = ..., bytes: _Optional[int] = ..., examples: _Optional[int] = ..., method: _Optional[str] = ...) -> None: ...
    DEVICE_FIELD_NUMBER: _ClassVar[int]
    WORKER_FIELD_NUMBER: _ClassVar[int]
    MODELS_FIELD_NUMBER: _ClassVar[int]
    INDEXES_FIELD_NUMBER: _ClassVar[int]
    FOLLOWED_BLOCK_FIELD_NUMBER: _ClassVar[int]
    device: str
    worker: bytes
    models: _containers.RepeatedScalarFieldContainer[bytes]
    indexes: _containers.RepeatedCompositeFieldContainer[StatusResponse.IndexInfo]
    followed_block: int
    def __init__(self, device: _Optional[str] = ..., worker: _Optional[bytes] = ..., models: _Optional[_Iterable[bytes]] = ..., indexes: _Optional[_Iterable[_Union[StatusResponse.IndexInfo, _Mapping]]] = ..., followed_block: _Optional[int] = ...) -> None: ...

class LoadBaseRequest(_message.Message):
    __slots__ = ("directory", "max_batch")
    DIRECTORY_FIELD_NUMBER: _ClassVar[int]
    MAX_BATCH_FIELD_NUMBER: _ClassVar[int]
    directory: str
    max_batch: int
    def __init__(self, directory: _Optional[str] = ..., max_batch: _Optional[int] = ...) -> None: ...

class LoadAdapterRequest(_message.Message):
    __slots__ = ("directory", "expected_hash")
    DIRECTORY_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_HASH_FIELD_NUMBER: _ClassVar[int]
    directory: str
    expected_hash: bytes
    def __init__(self, directory: _Optional[str] = ..., expected_hash: _Optional[bytes] = ...) -> None: ...

class AdapterInfo(_message.Message):
    __slots__ = ("hash", "rank", "bytes")
    HASH_FIELD_NUMBER: _ClassVar[int]
    RANK_FIELD_NUMBER: _ClassVar[int]
    BYTES_FIELD_NUMBER: _ClassVar[int]
    hash: bytes
    rank: int
    bytes: int
    def __init__(self, hash: _Optional[bytes] = ..., rank: _Optional[int] = ..., bytes: _Optional[int] = ...) -> None: ...

class ListAdaptersRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListAdaptersResponse(_message.Message):
    __slots__ = ("hashes",)
    HASHES_FIELD_NUMBER: _ClassVar[int]
    hashes: _containers.RepeatedScalarFieldContainer[bytes]
    def __init__(self, hashes: _Optional[_Iterable[bytes]] = ...) -> None: ...

class LoRAGenerateRequest(_message.Message):
    __slots__ = ("adapter_hash", "prompt", "max_new_tokens")
    ADAPTER_HASH_FIELD_NUMBER: _ClassVar[int]
    PROMPT_FIELD_NUMBER: _ClassVar[int]
    MAX_NEW_TOKENS_FIELD_NUMBER: _ClassVar[int]
    adapter_hash: bytes
    prompt: _containers.RepeatedScalarFieldContainer[int]
    max_new_tokens: int
    def __init__(self, adapter_hash: _Optional[bytes] = ..., prompt: _Optional[_Iterable[int]] = ..., max_new_tokens: _Optional[int] = ...) -> None: ...

class TokenAlternative(_message.Message):
    __slots__ = ("token", "piece", "logprob")
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    PIECE_FIELD_NUMBER: _ClassVar[int]
    LOGPROB_FIELD_NUMBER: _ClassVar[int]
    token: int
    piece: bytes
    logprob: float
    def __init__(self, token: _Optional[int] = ..., piece: _Optional[bytes] = ..., logprob: _Optional[float] = ...) -> None: ...

class GeneratedToken(_message.Message):
    __slots__ = ("token", "index", "text", "piece", "logprob", "top_logprobs", "stop")
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    PIECE_FIELD_NUMBER: _ClassVar[int]
    LOGPROB_FIELD_NUMBER: _ClassVar[int]
    TOP_LOGPROBS_FIELD_NUMBER: _ClassVar[int]
    STOP_FIELD_NUMBER: _ClassVar[int]
    token: int
    index: int
    text: str
    piece: bytes
    logprob: float
    top_logprobs: _containers.RepeatedCompositeFieldContainer[TokenAlternative]
    stop: bool
    def __init__(self, token: _Optional[int] = ..., index: _Optional[int] = ..., text: _Optional[str] = ..., piece: _Optional[bytes] = ..., logprob: _Optional[float] = ..., top_logprobs: _Optional[_Iterable[_Union[TokenAlternative, _Mapping]]] = ..., stop: _Optional[bool] = ...) -> None: ...

class PaidStreamRequest(_message.Message):
    __slots__ = ("request", "requester", "issued_at", "signature", "logprobs", "top_logprobs")
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    REQUESTER_FIELD_NUMBER: _ClassVar[int]
    ISSUED_AT_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    LOGPROBS_FIELD_NUMBER: _ClassVar[int]
    TOP_LOGPROBS_FIELD_NUMBER: _ClassVar[int]
    request: int
    requester: bytes
    issued_at: int
    signature: bytes
    logprobs: bool
    top_logprobs: int
    def __init__(self, request: _Optional[int] = ..., requester: _Optional[bytes] = ..., issued_at: _Optional[int] = ..., signature: _Optional[bytes] = ..., logprobs: _Optional[bool] = ..., top_logprobs: _Optional[int] = ...) -> None: ...

class PaidStreamEnd(_message.Message):
    __slots__ = ("input_tokens", "output_tokens", "output_hash", "error")
    INPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_HASH_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    input_tokens: int
    output_tokens: int
    output_hash: bytes
    error: str
    def __init__(self, input_tokens: _Optional[int] = ..., output_tokens: _Optional[int] = ..., output_hash: _Optional[bytes] = ..., error: _Optional[str] = ...) -> None: ...

class PaidStreamEvent(_message.Message):
    __slots__ = ("token", "end")
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    token: GeneratedToken
    end: PaidStreamEnd
    def __init__(self, token: _Optional[_Union[GeneratedToken, _Mapping]] = ..., end: _Optional[_Union[PaidStreamEnd, _Mapping]] = ...) -> None: ...

class LoRAStatsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class LoRAStats(_message.Message):
    __slots__ = ("active", "queued", "steps", "completed", "registered", "host_resident", "device_resident", "host_bytes", "device_bytes", "disk_loads", "evictions")
    ACTIVE_FIELD_NUMBER: _ClassVar[int]
    QUEUED_FIELD_NUMBER: _ClassVar[int]
    STEPS_FIELD_NUMBER: _ClassVar[int]
    COMPLETED_FIELD_NUMBER: _ClassVar[int]
    REGISTERED_FIELD_NUMBER: _ClassVar[int]
    HOST_RESIDENT_FIELD_NUMBER: _ClassVar[int]
    DEVICE_RESIDENT_FIELD_NUMBER: _ClassVar[int]
    HOST_BYTES_FIELD_NUMBER: _ClassVar[int]
    DEVICE_BYTES_FIELD_NUMBER: _ClassVar[int]
    DISK_LOADS_FIELD_NUMBER: _ClassVar[int]
    EVICTIONS_FIELD_NUMBER: _ClassVar[int]
    active: int
    queued: int
    steps: int
    completed: int
    registered: int
    host_resident: int
    device_resident: int
    host_bytes: int
    device_bytes: int
    disk_loads: int
    evictions: int
    def __init__(self, active: _Optional[int] = ..., queued: _Optional[int] = ..., steps: _Optional[int] = ..., completed: _Optional[int] = ..., registered: _Optional[int] = ..., host_resident: _Optional[int] = ..., device_resident: _Optional[int] = ..., host_bytes: _Optional[int] = ..., device_bytes: _Optional[int] = ..., disk_loads: _Optional[int] = ..., evictions: _Optional[int] = ...) -> None: ...

class DatasetPreviewRequest(_message.Message):
    __slots__ = ("dataset_spec_json", "base_model", "cutoff", "limit", "offset", "split", "auth")
    DATASET_SPEC_JSON_FIELD_NUMBER: _ClassVar[int]
    BASE_MODEL_FIELD_NUMBER: _ClassVar[int]
    CUTOFF_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    SPLIT_FIELD_NUMBER: _ClassVar[int]
    AUTH_FIELD_NUMBER: _ClassVar[int]
    dataset_spec_json: str
    base_model: str
    cutoff: int
    limit: int
    offset: int
    split: str
    auth: JobAuth
    def __init__(self, dataset_spec_json: _Optional[str] = ..., base_model: _Optional[str] = ..., cutoff: _Optional[int] = ..., limit: _Optional[int] = ..., offset: _Optional[int] = ..., split: _Optional[str] = ..., auth: _Optional[_Union[JobAuth, _Mapping]] = ...) -> None: ...

class PreviewExample(_message.Message):
    __slots__ = ("rendered", "tokens", "trained_tokens", "contribution", "contributor", "line", "split", "index")
    RENDERED_FIELD_NUMBER: _ClassVar[int]
    TOKENS_FIELD_NUMBER: _ClassVar[int]
    TRAINED_TOKENS_FIELD_NUMBER: _ClassVar[int]
    CONTRIBUTION_FIELD_NUMBER: _ClassVar[int]
    CONTRIBUTOR_FIELD_NUMBER: _ClassVar[int]
    LINE_FIELD_NUMBER: _ClassVar[int]
    SPLIT_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    rendered: str
    tokens: int
    trained_tokens: int
    contribution: int
    contributor: str
    line: int
    split: str
    index: int
    def __init__(self, rendered: _Optional[str] = ..., tokens: _Optional[int] = ..., trained_tokens: _Optional[int] = ..., contribution: _Optional[int] = ..., contributor: _Optional[str] = ..., line: _Optional[int] = ..., split: _Optional[str] = ..., index: _Optional[int] = ...) -> None: ...

class DatasetPreview(_message.Message):
    __slots__ = ("examples", "errors", "train_examples", "eval_examples", "train_tokens", "next_offset", "listed", "near_duplicates")
    EXAMPLES_FIELD_NUMBER: _ClassVar[int]
    ERRORS_FIELD_NUMBER: _ClassVar[int]
    TRAIN_EXAMPLES_FIELD_NUMBER: _ClassVar[int]
    EVAL_EXAMPLES_FIELD_NUMBER: _ClassVar[int]
    TRAIN_TOKENS_FIELD_NUMBER: _ClassVar[int]
    NEXT_OFFSET_FIELD_NUMBER: _ClassVar[int]
    LISTED_FIELD_NUMBER: _ClassVar[int]
    NEAR_DUPLICATES_FIELD_NUMBER: _ClassVar[int]
    examples: _containers.RepeatedCompositeFieldContainer[PreviewExample]
    errors: _containers.RepeatedScalarFieldContainer[str]
    train_examples: int
    eval_examples: int
    train_tokens: int
    next_offset: int
    listed: int
    near_duplicates: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, examples: _Optional[_Iterable[_Union[PreviewExample, _Mapping]]] = ..., errors: _Optional[_Iterable[str]] = ..., train_examples: _Optional[int] = ..., eval_examples: _Optional[int] = ..., train_tokens: _Optional[int] = ..., next_offset: _Optional[int] = ..., listed: _Optional[int] = ..., near_duplicates: _Optional[_Iterable[str]] = ...) -> None: ...

class JobConfigRequest(_message.Message):
    __slots__ = ("config_json",)
    CONFIG_JSON_FIELD_NUMBER: _ClassVar[int]
    config_json: str
    def __init__(self, config_json: _Optional[str] = ...) -> None: ...

class JobEstimate(_message.Message):
    __slots__ = ("steps", "train_tokens", "trainable_params", "memory_bytes", "seconds")
    STEPS_FIELD_NUMBER: _ClassVar[int]
    TRAIN_TOKENS_FIELD_NUMBER: _ClassVar[int]
    TRAINABLE_PARAMS_FIELD_NUMBER: _ClassVar[int]
    MEMORY_BYTES_FIELD_NUMBER: _ClassVar[int]
    SECONDS_FIELD_NUMBER: _ClassVar[int]
    steps: int
    train_tokens: int
    trainable_params: int
    memory_bytes: int
    seconds: float
    def __init__(self, steps: _Optional[int] = ..., train_tokens: _Optional[int] = ..., trainable_params: _Optional[int] = ..., memory_bytes: _Optional[int] = ..., seconds: _Optional[float] = ...) -> None: ...

class JobAuth(_message.Message):
    __slots__ = ("owner", "issued_at", "signature")
    OWNER_FIELD_NUMBER: _ClassVar[int]
    ISSUED_AT_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    owner: bytes
    issued_at: int
    signature: bytes
    def __init__(self, owner: _Optional[bytes] = ..., issued_at: _Optional[int] = ..., signature: _Optional[bytes] = ...) -> None: ...

class StartJobRequest(_message.Message):
    __slots__ = ("config_json", "prompts", "auth")
    CONFIG_JSON_FIELD_NUMBER: _ClassVar[int]
    PROMPTS_FIELD_NUMBER: _ClassVar[int]
    AUTH_FIELD_NUMBER: _ClassVar[int]
    config_json: str
    prompts: _containers.RepeatedScalarFieldContainer[str]
    auth: JobAuth
    def __init__(self, config_json: _Optional[str] = ..., prompts: _Optional[_Iterable[str]] = ..., auth: _Optional[_Union[JobAuth, _Mapping]] = ...) -> None: ...

class JobRef(_message.Message):
    __slots__ = ("job", "auth")
    JOB_FIELD_NUMBER: _ClassVar[int]
    AUTH_FIELD_NUMBER: _ClassVar[int]
    job: str
    auth: JobAuth
    def __init__(self, job: _Optional[str] = ..., auth: _Optional[_Union[JobAuth, _Mapping]] = ...) -> None: ...

class JobInfo(_message.Message):
    __slots__ = ("id", "state", "error", "owner", "config_json", "config_hash", "results_json", "step", "total_steps")
    ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    CONFIG_JSON_FIELD_NUMBER: _ClassVar[int]
    CONFIG_HASH_FIELD_NUMBER: _ClassVar[int]
    RESULTS_JSON_FIELD_NUMBER: _ClassVar[int]
    STEP_FIELD_NUMBER: _ClassVar[int]
    TOTAL_STEPS_FIELD_NUMBER: _ClassVar[int]
    id: str
    state: str
    error: str
    owner: str
    config_json: str
    config_hash: bytes
    results_json: str
    step: int
    total_steps: int
    def __init__(self, id: _Optional[str] = ..., state: _Optional[str] = ..., error: _Optional[str] = ..., owner: _Optional[str] = ..., config_json: _Optional[str] = ..., config_hash: _Optional[bytes] = ..., results_json: _Optional[str] = ..., step: _Optional[int] = ..., total_steps: _Optional[int] = ...) -> None: ...

class JobList(_message.Message):
    __slots__ = ("jobs",)
    JOBS_FIELD_NUMBER: _ClassVar[int]
    jobs: _containers.RepeatedCompositeFieldContainer[JobInfo]
    def __init__(self, jobs: _Optional[_Iterable[_Union[JobInfo, _Mapping]]] = ...) -> None: ...

class WatchRequest(_message.Message):
    __slots__ = ("job", "since")
    JOB_FIELD_NUMBER: _ClassVar[int]
    SINCE_FIELD_NUMBER: _ClassVar[int]
    job: str
    since: int
    def __init__(self, job: _Optional[str] = ..., since: _Optional[int] = ...) -> None: ...

class ProgressPoint(_message.Message):
    __slots__ = ("step", "total_steps", "loss", "has_loss", "eval_loss", "has_eval", "lr", "tokens_per_s", "eta_s", "epoch")
    STEP_FIELD_NUMBER: _ClassVar[int]
    TOTAL_STEPS_FIELD_NUMBER: _ClassVar[int]
    LOSS_FIELD_NUMBER: _ClassVar[int]
    HAS_LOSS_FIELD_NUMBER: _ClassVar[int]
    EVAL_LOSS_FIELD_NUMBER: _ClassVar[int]
    HAS_EVAL_FIELD_NUMBER: _ClassVar[int]
    LR_FIELD_NUMBER: _ClassVar[int]
    TOKENS_PER_S_FIELD_NUMBER: _ClassVar[int]
    ETA_S_FIELD_NUMBER: _ClassVar[int]
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    step: int
    total_steps: int
    loss: float
    has_loss: bool
    eval_loss: float
    has_eval: bool
    lr: float
    tokens_per_s: float
    eta_s: float
    epoch: float
    def __init__(self, step: _Optional[int] = ..., total_steps: _Optional[int] = ..., loss: _Optional[float] = ..., has_loss: _Optional[bool] = ..., eval_loss: _Optional[float] = ..., has_eval: _Optional[bool] = ..., lr: _Optional[float] = ..., tokens_per_s: _Optional[float] = ..., eta_s: _Optional[float] = ..., epoch: _Optional[float] = ...) -> None: ...

class ProgressUpdate(_message.Message):
    __slots__ = ("job", "points")
    JOB_FIELD_NUMBER: _ClassVar[int]
    POINTS_FIELD_NUMBER: _ClassVar[int]
    job: JobInfo
    points: _containers.RepeatedCompositeFieldContainer[ProgressPoint]
    def __init__(self, job: _Optional[_Union[JobInfo, _Mapping]] = ..., points: _Optional[_Iterable[_Union[ProgressPoint, _Mapping]]] = ...) -> None: ...

class TryRequest(_message.Message):
    __slots__ = ("job", "prompts", "max_new_tokens", "auth")
    JOB_FIELD_NUMBER: _ClassVar[int]
    PROMPTS_FIELD_NUMBER: _ClassVar[int]
    MAX_NEW_TOKENS_FIELD_NUMBER: _ClassVar[int]
    AUTH_FIELD_NUMBER: _ClassVar[int]
    job: str
    prompts: _containers.RepeatedScalarFieldContainer[str]
    max_new_tokens: int
    auth: JobAuth
    def __init__(self, job: _Optional[str] = ..., prompts: _Optional[_Iterable[str]] = ..., max_new_tokens: _Optional[int] = ..., auth: _Optional[_Union[JobAuth, _Mapping]] = ...) -> None: ...

class Sample(_message.Message):
    __slots__ = ("prompt", "completion")
    PROMPT_FIELD_NUMBER: _ClassVar[int]
    COMPLETION_FIELD_NUMBER: _ClassVar[int]
    prompt: str
    completion: str
    def __init__(self, prompt: _Optional[str] = ..., completion: _Optional[str] = ...) -> None: ...

class TryResponse(_message.Message):
    __slots__ = ("samples",)
    SAMPLES_FIELD_NUMBER: _ClassVar[int]
    samples: _containers.RepeatedCompositeFieldContainer[Sample]
    def __init__(self, samples: _Optional[_Iterable[_Union[Sample, _Mapping]]] = ...) -> None: ...

class EvaluationResult(_message.Message):
    __slots__ = ("eval_loss", "base_eval_loss", "eval_examples")
    EVAL_LOSS_FIELD_NUMBER: _ClassVar[int]
    BASE_EVAL_LOSS_FIELD_NUMBER: _ClassVar[int]
    EVAL_EXAMPLES_FIELD_NUMBER: _ClassVar[int]
    eval_loss: float
    base_eval_loss: float
    eval_examples: int
    def __init__(self, eval_loss: _Optional[float] = ..., base_eval_loss: _Optional[float] = ..., eval_examples: _Optional[int] = ...) -> None: ...

class ExportResult(_message.Message):
    __slots__ = ("adapter_dir", "merged_dir", "max_logit_difference", "changed_tensors", "logit_shift_from_base")
    ADAPTER_DIR_FIELD_NUMBER: _ClassVar[int]
    MERGED_DIR_FIELD_NUMBER: _ClassVar[int]
    MAX_LOGIT_DIFFERENCE_FIELD_NUMBER: _ClassVar[int]
    CHANGED_TENSORS_FIELD_NUMBER: _ClassVar[int]
    LOGIT_SHIFT_FROM_BASE_FIELD_NUMBER: _ClassVar[int]
    adapter_dir: str
    merged_dir: str
    max_logit_difference: float
    changed_tensors: int
    logit_shift_from_base: float
    def __init__(self, adapter_dir: _Optional[str] = ..., merged_dir: _Optional[str] = ..., max_logit_difference: _Optional[float] = ..., changed_tensors: _Optional[int] = ..., logit_shift_from_base: _Optional[float] = ...) -> None: ...

class PublishRequest(_message.Message):
    __slots__ = ("job", "price_per_inference", "price_per_output_token", "split", "price_per_input_token", "attribution_method", "span_weight_bps", "auth")
    JOB_FIELD_NUMBER: _ClassVar[int]
    PRICE_PER_INFERENCE_FIELD_NUMBER: _ClassVar[int]
    PRICE_PER_OUTPUT_TOKEN_FIELD_NUMBER: _ClassVar[int]
    SPLIT_FIELD_NUMBER: _ClassVar[int]
    PRICE_PER_INPUT_TOKEN_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTION_METHOD_FIELD_NUMBER: _ClassVar[int]
    SPAN_WEIGHT_BPS_FIELD_NUMBER: _ClassVar[int]
    AUTH_FIELD_NUMBER: _ClassVar[int]
    job: str
    price_per_inference: str
    price_per_output_token: str
    split: _modelregistry_pb2.RewardSplit
    price_per_input_token: str
    attribution_method: str
    span_weight_bps: int
    auth: JobAuth
    def __init__(self, job: _Optional[str] = ..., price_per_inference: _Optional[str] = ..., price_per_output_token: _Optional[str] = ..., split: _Optional[_Union[_modelregistry_pb2.RewardSplit, _Mapping]] = ..., price_per_input_token: _Optional[str] = ..., attribution_method: _Optional[str] = ..., span_weight_bps: _Optional[int] = ..., auth: _Optional[_Union[JobAuth, _Mapping]] = ...) -> None: ...

class PublishedArtifacts(_message.Message):
    __slots__ = ("attribution_index_hash", "adapter_hash", "training_config_hash", "register_model")
    ATTRIBUTION_INDEX_HASH_FIELD_NUMBER: _ClassVar[int]
    ADAPTER_HASH_FIELD_NUMBER: _ClassVar[int]
    TRAINING_CONFIG_HASH_FIELD_NUMBER: _ClassVar[int]
    REGISTER_MODEL_FIELD_NUMBER: _ClassVar[int]
    attribution_index_hash: bytes
    adapter_hash: bytes
    training_config_hash: bytes
    register_model: _modelregistry_pb2.RegisterModel
    def __init__(self, attribution_index_hash: _Optional[bytes] = ..., adapter_hash: _Optional[bytes] = ..., training_config_hash: _Optional[bytes] = ..., register_model: _Optional[_Union[_modelregistry_pb2.RegisterModel, _Mapping]] = ...) -> None: ...
