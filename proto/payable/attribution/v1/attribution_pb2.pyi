from payable import options_pb2 as _options_pb2
from payable.datanet.v1 import datanet_pb2 as _datanet_pb2
from payable.inference.v1 import inference_pb2 as _inference_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ContributionProof(_message.Message):
    __slots__ = ("datanet", "version", "proof")
    DATANET_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    PROOF_FIELD_NUMBER: _ClassVar[int]
    datanet: int
    version: int
    proof: _datanet_pb2.MembershipProof
    def __init__(self, datanet: _Optional[int] = ..., version: _Optional[int] = ..., proof: _Optional[_Union[_datanet_pb2.MembershipProof, _Mapping]] = ...) -> None: ...

class ContributionScore(_message.Message):
    __slots__ = ("contribution_id", "contributor", "score_ppb")
    CONTRIBUTION_ID_FIELD_NUMBER: _ClassVar[int]
    CONTRIBUTOR_FIELD_NUMBER: _ClassVar[int]
    SCORE_PPB_FIELD_NUMBER: _ClassVar[int]
    contribution_id: int
    contributor: bytes
    score_ppb: int
    def __init__(self, contribution_id: _Optional[int] = ..., contributor: _Optional[bytes] = ..., score_ppb: _Optional[int] = ...) -> None: ...

class Span(_message.Message):
    __slots__ = ("start", "length", "count", "contribution_ids")
    START_FIELD_NUMBER: _ClassVar[int]
    LENGTH_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    CONTRIBUTION_IDS_FIELD_NUMBER: _ClassVar[int]
    start: int
    length: int
    count: int
    contribution_ids: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, start: _Optional[int] = ..., length: _Optional[int] = ..., count: _Optional[int] = ..., contribution_ids: _Optional[_Iterable[int]] = ...) -> None: ...

class AttributionResult(_message.Message):
    __slots__ = ("model_hash", "index_hash", "input_hash", "output_hash", "method", "params_json", "top_k", "worker", "request_id", "spans", "input_tokens", "output_tokens", "label", "draw_seed", "tail_root", "tail_ppb", "tail_contributions")
    MODEL_HASH_FIELD_NUMBER: _ClassVar[int]
    INDEX_HASH_FIELD_NUMBER: _ClassVar[int]
    INPUT_HASH_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_HASH_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    PARAMS_JSON_FIELD_NUMBER: _ClassVar[int]
    TOP_K_FIELD_NUMBER: _ClassVar[int]
    WORKER_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    SPANS_FIELD_NUMBER: _ClassVar[int]
    INPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    DRAW_SEED_FIELD_NUMBER: _ClassVar[int]
    TAIL_ROOT_FIELD_NUMBER: _ClassVar[int]
    TAIL_PPB_FIELD_NUMBER: _ClassVar[int]
    TAIL_CONTRIBUTIONS_FIELD_NUMBER: _ClassVar[int]
    model_hash: bytes
    index_hash: bytes
    input_hash: bytes
    output_hash: bytes
    method: str
    params_json: str
    top_k: _containers.RepeatedCompositeFieldContainer[ContributionScore]
    worker: bytes
    request_id: bytes
    spans: _containers.RepeatedCompositeFieldContainer[Span]
    input_tokens: int
    output_tokens: int
    label: int
    draw_seed: bytes
    tail_root: bytes
    tail_ppb: int
    tail_contributions: int
    def __init__(self, model_hash: _Optional[bytes] = ..., index_hash: _Optional[bytes] = ..., input_hash: _Optional[bytes] = ..., output_hash: _Optional[bytes] = ..., method: _Optional[str] = ..., params_json: _Optional[str] = ..., top_k: _Optional[_Iterable[_Union[ContributionScore, _Mapping]]] = ..., worker: _Optional[bytes] = ..., request_id: _Optional[bytes] = ..., spans: _Optional[_Iterable[_Union[Span, _Mapping]]] = ..., input_tokens: _Optional[int] = ..., output_tokens: _Optional[int] = ..., label: _Optional[int] = ..., draw_seed: _Optional[bytes] = ..., tail_root: _Optional[bytes] = ..., tail_ppb: _Optional[int] = ..., tail_contributions: _Optional[int] = ...) -> None: ...

class SignedAttribution(_message.Message):
    __slots__ = ("result", "signature", "tail")
    RESULT_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    TAIL_FIELD_NUMBER: _ClassVar[int]
    result: bytes
    signature: bytes
    tail: _containers.RepeatedCompositeFieldContainer[ContributionScore]
    def __init__(self, result: _Optional[bytes] = ..., signature: _Optional[bytes] = ..., tail: _Optional[_Iterable[_Union[ContributionScore, _Mapping]]] = ...) -> None: ...

class Refusal(_message.Message):
    __slots__ = ("request_id", "model_hash", "input_hash", "worker", "reason", "input_tokens", "max_new_tokens", "limit")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    MODEL_HASH_FIELD_NUMBER: _ClassVar[int]
    INPUT_HASH_FIELD_NUMBER: _ClassVar[int]
    WORKER_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    INPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    MAX_NEW_TOKENS_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    request_id: bytes
    model_hash: bytes
    input_hash: bytes
    worker: bytes
    reason: _inference_pb2.RefusalReason
    input_tokens: int
    max_new_tokens: int
    limit: int
    def __init__(self, request_id: _Optional[bytes] = ..., model_hash: _Optional[bytes] = ..., input_hash: _Optional[bytes] = ..., worker: _Optional[bytes] = ..., reason: _Optional[_Union[_inference_pb2.RefusalReason, str]] = ..., input_tokens: _Optional[int] = ..., max_new_tokens: _Optional[int] = ..., limit: _Optional[int] = ...) -> None: ...

class SignedRefusal(_message.Message):
    __slots__ = ("refusal", "signature")
    REFUSAL_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    refusal: bytes
    signature: bytes
    def __init__(self, refusal: _Optional[bytes] = ..., signature: _Optional[bytes] = ...) -> None: ...

class SubmitRefusal(_message.Message):
    __slots__ = ("request", "signed_refusal")
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    SIGNED_REFUSAL_FIELD_NUMBER: _ClassVar[int]
    request: int
    signed_refusal: bytes
    def __init__(self, request: _Optional[int] = ..., signed_refusal: _Optional[bytes] = ...) -> None: ...

class SubmitResult(_message.Message):
    __slots__ = ("request", "signed_attribution", "proofs")
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    SIGNED_ATTRIBUTION_FIELD_NUMBER: _ClassVar[int]
    PROOFS_FIELD_NUMBER: _ClassVar[int]
    request: int
    signed_attribution: bytes
    proofs: _containers.RepeatedCompositeFieldContainer[ContributionProof]
    def __init__(self, request: _Optional[int] = ..., signed_attribution: _Optional[bytes] = ..., proofs: _Optional[_Iterable[_Union[ContributionProof, _Mapping]]] = ...) -> None: ...

class PayTail(_message.Message):
    __slots__ = ("request", "leaves", "next", "proofs")
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    LEAVES_FIELD_NUMBER: _ClassVar[int]
    NEXT_FIELD_NUMBER: _ClassVar[int]
    PROOFS_FIELD_NUMBER: _ClassVar[int]
    request: int
    leaves: _containers.RepeatedCompositeFieldContainer[ContributionScore]
    next: bytes
    proofs: _containers.RepeatedCompositeFieldContainer[ContributionProof]
    def __init__(self, request: _Optional[int] = ..., leaves: _Optional[_Iterable[_Union[ContributionScore, _Mapping]]] = ..., next: _Optional[bytes] = ..., proofs: _Optional[_Iterable[_Union[ContributionProof, _Mapping]]] = ...) -> None: ...

class CloseTail(_message.Message):
    __slots__ = ("request",)
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    request: int
    def __init__(self, request: _Optional[int] = ...) -> None: ...

class ClaimOwed(_message.Message):
    __slots__ = ("contributor",)
    CONTRIBUTOR_FIELD_NUMBER: _ClassVar[int]
    contributor: bytes
    def __init__(self, contributor: _Optional[bytes] = ...) -> None: ...

class Challenge(_message.Message):
    __slots__ = ("request", "signed_attribution", "proofs")
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    SIGNED_ATTRIBUTION_FIELD_NUMBER: _ClassVar[int]
    PROOFS_FIELD_NUMBER: _ClassVar[int]
    request: int
    signed_attribution: bytes
    proofs: _containers.RepeatedCompositeFieldContainer[ContributionProof]
    def __init__(self, request: _Optional[int] = ..., signed_attribution: _Optional[bytes] = ..., proofs: _Optional[_Iterable[_Union[ContributionProof, _Mapping]]] = ...) -> None: ...

class ExtrinsicRef(_message.Message):
    __slots__ = ("block", "index")
    BLOCK_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    block: int
    index: int
    def __init__(self, block: _Optional[int] = ..., index: _Optional[int] = ...) -> None: ...

class StoredResult(_message.Message):
    __slots__ = ("worker", "output_hash", "contribution_ids", "scores_ppb", "input_tokens", "output_tokens", "included", "refused", "max_new_tokens", "limit", "tail_root", "tail_ppb", "tail_contributions")
    WORKER_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_HASH_FIELD_NUMBER: _ClassVar[int]
    CONTRIBUTION_IDS_FIELD_NUMBER: _ClassVar[int]
    SCORES_PPB_FIELD_NUMBER: _ClassVar[int]
    INPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    INCLUDED_FIELD_NUMBER: _ClassVar[int]
    REFUSED_FIELD_NUMBER: _ClassVar[int]
    MAX_NEW_TOKENS_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    TAIL_ROOT_FIELD_NUMBER: _ClassVar[int]
    TAIL_PPB_FIELD_NUMBER: _ClassVar[int]
    TAIL_CONTRIBUTIONS_FIELD_NUMBER: _ClassVar[int]
    worker: bytes
    output_hash: bytes
    contribution_ids: _containers.RepeatedScalarFieldContainer[int]
    scores_ppb: _containers.RepeatedScalarFieldContainer[int]
    input_tokens: int
    output_tokens: int
    included: ExtrinsicRef
    refused: _inference_pb2.RefusalReason
    max_new_tokens: int
    limit: int
    tail_root: bytes
    tail_ppb: int
    tail_contributions: int
    def __init__(self, worker: _Optional[bytes] = ..., output_hash: _Optional[bytes] = ..., contribution_ids: _Optional[_Iterable[int]] = ..., scores_ppb: _Optional[_Iterable[int]] = ..., input_tokens: _Optional[int] = ..., output_tokens: _Optional[int] = ..., included: _Optional[_Union[ExtrinsicRef, _Mapping]] = ..., refused: _Optional[_Union[_inference_pb2.RefusalReason, str]] = ..., max_new_tokens: _Optional[int] = ..., limit: _Optional[int] = ..., tail_root: _Optional[bytes] = ..., tail_ppb: _Optional[int] = ..., tail_contributions: _Optional[int] = ...) -> None: ...

class Tail(_message.Message):
    __slots__ = ("request", "model", "next", "amount", "paid", "tail_ppb", "left", "requested_at", "expires_at", "paid_leaves")
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    NEXT_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    PAID_FIELD_NUMBER: _ClassVar[int]
    TAIL_PPB_FIELD_NUMBER: _ClassVar[int]
    LEFT_FIELD_NUMBER: _ClassVar[int]
    REQUESTED_AT_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    PAID_LEAVES_FIELD_NUMBER: _ClassVar[int]
    request: int
    model: int
    next: bytes
    amount: bytes
    paid: bytes
    tail_ppb: int
    left: int
    requested_at: int
    expires_at: int
    paid_leaves: int
    def __init__(self, request: _Optional[int] = ..., model: _Optional[int] = ..., next: _Optional[bytes] = ..., amount: _Optional[bytes] = ..., paid: _Optional[bytes] = ..., tail_ppb: _Optional[int] = ..., left: _Optional[int] = ..., requested_at: _Optional[int] = ..., expires_at: _Optional[int] = ..., paid_leaves: _Optional[int] = ...) -> None: ...

class Payment(_message.Message):
    __slots__ = ("account", "amount", "role", "contribution_id", "datanet")
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    CONTRIBUTION_ID_FIELD_NUMBER: _ClassVar[int]
    DATANET_FIELD_NUMBER: _ClassVar[int]
    account: bytes
    amount: bytes
    role: str
    contribution_id: int
    datanet: int
    def __init__(self, account: _Optional[bytes] = ..., amount: _Optional[bytes] = ..., role: _Optional[str] = ..., contribution_id: _Optional[int] = ..., datanet: _Optional[int] = ...) -> None: ...

class Settlement(_message.Message):
    __slots__ = ("request", "model", "fee", "payments", "settled_at", "agreeing_workers", "slashed_workers", "challenge_until", "escrow", "refund", "input_tokens", "output_tokens", "evidence", "refused", "max_new_tokens", "limit", "tail_root", "tail_worker")
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    FEE_FIELD_NUMBER: _ClassVar[int]
    PAYMENTS_FIELD_NUMBER: _ClassVar[int]
    SETTLED_AT_FIELD_NUMBER: _ClassVar[int]
    AGREEING_WORKERS_FIELD_NUMBER: _ClassVar[int]
    SLASHED_WORKERS_FIELD_NUMBER: _ClassVar[int]
    CHALLENGE_UNTIL_FIELD_NUMBER: _ClassVar[int]
    ESCROW_FIELD_NUMBER: _ClassVar[int]
    REFUND_FIELD_NUMBER: _ClassVar[int]
    INPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    EVIDENCE_FIELD_NUMBER: _ClassVar[int]
    REFUSED_FIELD_NUMBER: _ClassVar[int]
    MAX_NEW_TOKENS_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    TAIL_ROOT_FIELD_NUMBER: _ClassVar[int]
    TAIL_WORKER_FIELD_NUMBER: _ClassVar[int]
    request: int
    model: int
    fee: bytes
    payments: _containers.RepeatedCompositeFieldContainer[Payment]
    settled_at: int
    agreeing_workers: _containers.RepeatedScalarFieldContainer[bytes]
    slashed_workers: _containers.RepeatedScalarFieldContainer[bytes]
    challenge_until: int
    escrow: bytes
    refund: bytes
    input_tokens: int
    output_tokens: int
    evidence: _containers.RepeatedCompositeFieldContainer[ExtrinsicRef]
    refused: _inference_pb2.RefusalReason
    max_new_tokens: int
    limit: int
    tail_root: bytes
    tail_worker: bytes
    def __init__(self, request: _Optional[int] = ..., model: _Optional[int] = ..., fee: _Optional[bytes] = ..., payments: _Optional[_Iterable[_Union[Payment, _Mapping]]] = ..., settled_at: _Optional[int] = ..., agreeing_workers: _Optional[_Iterable[bytes]] = ..., slashed_workers: _Optional[_Iterable[bytes]] = ..., challenge_until: _Optional[int] = ..., escrow: _Optional[bytes] = ..., refund: _Optional[bytes] = ..., input_tokens: _Optional[int] = ..., output_tokens: _Optional[int] = ..., evidence: _Optional[_Iterable[_Union[ExtrinsicRef, _Mapping]]] = ..., refused: _Optional[_Union[_inference_pb2.RefusalReason, str]] = ..., max_new_tokens: _Optional[int] = ..., limit: _Optional[int] = ..., tail_root: _Optional[bytes] = ..., tail_worker: _Optional[bytes] = ...) -> None: ...

class Dispute(_message.Message):
    __slots__ = ("request", "challenger", "claim", "jury", "votes", "bond", "resolved", "upheld")
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    CHALLENGER_FIELD_NUMBER: _ClassVar[int]
    CLAIM_FIELD_NUMBER: _ClassVar[int]
    JURY_FIELD_NUMBER: _ClassVar[int]
    VOTES_FIELD_NUMBER: _ClassVar[int]
    BOND_FIELD_NUMBER: _ClassVar[int]
    RESOLVED_FIELD_NUMBER: _ClassVar[int]
    UPHELD_FIELD_NUMBER: _ClassVar[int]
    request: int
    challenger: bytes
    claim: StoredResult
    jury: _containers.RepeatedScalarFieldContainer[bytes]
    votes: _containers.RepeatedCompositeFieldContainer[StoredResult]
    bond: bytes
    resolved: bool
    upheld: bool
    def __init__(self, request: _Optional[int] = ..., challenger: _Optional[bytes] = ..., claim: _Optional[_Union[StoredResult, _Mapping]] = ..., jury: _Optional[_Iterable[bytes]] = ..., votes: _Optional[_Iterable[_Union[StoredResult, _Mapping]]] = ..., bond: _Optional[bytes] = ..., resolved: _Optional[bool] = ..., upheld: _Optional[bool] = ...) -> None: ...

class ResultAccepted(_message.Message):
    __slots__ = ("request", "worker")
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    WORKER_FIELD_NUMBER: _ClassVar[int]
    request: int
    worker: bytes
    def __init__(self, request: _Optional[int] = ..., worker: _Optional[bytes] = ...) -> None: ...

class Challenged(_message.Message):
    __slots__ = ("request", "challenger", "jury")
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    CHALLENGER_FIELD_NUMBER: _ClassVar[int]
    JURY_FIELD_NUMBER: _ClassVar[int]
    request: int
    challenger: bytes
    jury: _containers.RepeatedScalarFieldContainer[bytes]
    def __init__(self, request: _Optional[int] = ..., challenger: _Optional[bytes] = ..., jury: _Optional[_Iterable[bytes]] = ...) -> None: ...

class DisputeResolved(_message.Message):
    __slots__ = ("request", "challenger", "upheld", "amount")
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    CHALLENGER_FIELD_NUMBER: _ClassVar[int]
    UPHELD_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    request: int
    challenger: bytes
    upheld: bool
    amount: bytes
    def __init__(self, request: _Optional[int] = ..., challenger: _Optional[bytes] = ..., upheld: _Optional[bool] = ..., amount: _Optional[bytes] = ...) -> None: ...

class Settled(_message.Message):
    __slots__ = ("request", "fee", "payments")
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    FEE_FIELD_NUMBER: _ClassVar[int]
    PAYMENTS_FIELD_NUMBER: _ClassVar[int]
    request: int
    fee: bytes
    payments: int
    def __init__(self, request: _Optional[int] = ..., fee: _Optional[bytes] = ..., payments: _Optional[int] = ...) -> None: ...

class OwedHeld(_message.Message):
    __slots__ = ("account", "amount", "owed")
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    OWED_FIELD_NUMBER: _ClassVar[int]
    account: bytes
    amount: bytes
    owed: bytes
    def __init__(self, account: _Optional[bytes] = ..., amount: _Optional[bytes] = ..., owed: _Optional[bytes] = ...) -> None: ...

class OwedPaid(_message.Message):
    __slots__ = ("account", "amount")
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    account: bytes
    amount: bytes
    def __init__(self, account: _Optional[bytes] = ..., amount: _Optional[bytes] = ...) -> None: ...

class RefusalAccepted(_message.Message):
    __slots__ = ("request", "worker", "reason")
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    WORKER_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    request: int
    worker: bytes
    reason: _inference_pb2.RefusalReason
    def __init__(self, request: _Optional[int] = ..., worker: _Optional[bytes] = ..., reason: _Optional[_Union[_inference_pb2.RefusalReason, str]] = ...) -> None: ...

class RequestRefused(_message.Message):
    __slots__ = ("request", "reason", "fee", "refund")
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    FEE_FIELD_NUMBER: _ClassVar[int]
    REFUND_FIELD_NUMBER: _ClassVar[int]
    request: int
    reason: _inference_pb2.RefusalReason
    fee: bytes
    refund: bytes
    def __init__(self, request: _Optional[int] = ..., reason: _Optional[_Union[_inference_pb2.RefusalReason, str]] = ..., fee: _Optional[bytes] = ..., refund: _Optional[bytes] = ...) -> None: ...

class TailPaid(_message.Message):
    __slots__ = ("request", "leaves", "amount", "left")
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    LEAVES_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    LEFT_FIELD_NUMBER: _ClassVar[int]
    request: int
    leaves: int
    amount: bytes
    left: int
    def __init__(self, request: _Optional[int] = ..., leaves: _Optional[int] = ..., amount: _Optional[bytes] = ..., left: _Optional[int] = ...) -> None: ...

class TailClosed(_message.Message):
    __slots__ = ("request", "amount", "left")
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    LEFT_FIELD_NUMBER: _ClassVar[int]
    request: int
    amount: bytes
    left: int
    def __init__(self, request: _Optional[int] = ..., amount: _Optional[bytes] = ..., left: _Optional[int] = ...) -> None: ...

class Paid(_message.Message):
    __slots__ = ("request", "model", "account", "amount", "role", "contribution_id", "datanet")
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    CONTRIBUTION_ID_FIELD_NUMBER: _ClassVar[int]
    DATANET_FIELD_NUMBER: _ClassVar[int]
    request: int
    model: int
    account: bytes
    amount: bytes
    role: str
    contribution_id: int
    datanet: int
    def __init__(self, request: _Optional[int] = ..., model: _Optional[int] = ..., account: _Optional[bytes] = ..., amount: _Optional[bytes] = ..., role: _Optional[str] = ..., contribution_id: _Optional[int] = ..., datanet: _Optional[int] = ...) -> None: ...

class ModelContributor(_message.Message):
    __slots__ = ("contributor", "earned", "payments")
    CONTRIBUTOR_FIELD_NUMBER: _ClassVar[int]
    EARNED_FIELD_NUMBER: _ClassVar[int]
    PAYMENTS_FIELD_NUMBER: _ClassVar[int]
    contributor: bytes
    earned: bytes
    payments: int
    def __init__(self, contributor: _Optional[bytes] = ..., earned: _Optional[bytes] = ..., payments: _Optional[int] = ...) -> None: ...

class SettlementRequest(_message.Message):
    __slots__ = ("request",)
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    request: int
    def __init__(self, request: _Optional[int] = ...) -> None: ...

class EarningsRequest(_message.Message):
    __slots__ = ("contributor",)
    CONTRIBUTOR_FIELD_NUMBER: _ClassVar[int]
    contributor: bytes
    def __init__(self, contributor: _Optional[bytes] = ...) -> None: ...

class Earnings(_message.Message):
    __slots__ = ("total", "payments", "owed")
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    PAYMENTS_FIELD_NUMBER: _ClassVar[int]
    OWED_FIELD_NUMBER: _ClassVar[int]
    total: bytes
    payments: _containers.RepeatedCompositeFieldContainer[Payment]
    owed: bytes
    def __init__(self, total: _Optional[bytes] = ..., payments: _Optional[_Iterable[_Union[Payment, _Mapping]]] = ..., owed: _Optional[bytes] = ...) -> None: ...

class ModelEarningsRequest(_message.Message):
    __slots__ = ("model",)
    MODEL_FIELD_NUMBER: _ClassVar[int]
    model: int
    def __init__(self, model: _Optional[int] = ...) -> None: ...

class ModelEarnings(_message.Message):
    __slots__ = ("settled", "fees")
    SETTLED_FIELD_NUMBER: _ClassVar[int]
    FEES_FIELD_NUMBER: _ClassVar[int]
    settled: int
    fees: bytes
    def __init__(self, settled: _Optional[int] = ..., fees: _Optional[bytes] = ...) -> None: ...

class ResultRequest(_message.Message):
    __slots__ = ("request", "worker")
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    WORKER_FIELD_NUMBER: _ClassVar[int]
    request: int
    worker: bytes
    def __init__(self, request: _Optional[int] = ..., worker: _Optional[bytes] = ...) -> None: ...

class EarningsPageRequest(_message.Message):
    __slots__ = ("contributor", "start_after", "limit")
    CONTRIBUTOR_FIELD_NUMBER: _ClassVar[int]
    START_AFTER_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    contributor: bytes
    start_after: int
    limit: int
    def __init__(self, contributor: _Optional[bytes] = ..., start_after: _Optional[int] = ..., limit: _Optional[int] = ...) -> None: ...

class EarnedRequest(_message.Message):
    __slots__ = ("request", "model", "settled_at", "amount", "payments")
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    SETTLED_AT_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    PAYMENTS_FIELD_NUMBER: _ClassVar[int]
    request: int
    model: int
    settled_at: int
    amount: bytes
    payments: _containers.RepeatedCompositeFieldContainer[Payment]
    def __init__(self, request: _Optional[int] = ..., model: _Optional[int] = ..., settled_at: _Optional[int] = ..., amount: _Optional[bytes] = ..., payments: _Optional[_Iterable[_Union[Payment, _Mapping]]] = ...) -> None: ...

class EarningsPage(_message.Message):
    __slots__ = ("items", "total", "next_start_after", "owed")
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    NEXT_START_AFTER_FIELD_NUMBER: _ClassVar[int]
    OWED_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[EarnedRequest]
    total: bytes
    next_start_after: int
    owed: bytes
    def __init__(self, items: _Optional[_Iterable[_Union[EarnedRequest, _Mapping]]] = ..., total: _Optional[bytes] = ..., next_start_after: _Optional[int] = ..., owed: _Optional[bytes] = ...) -> None: ...

class ModelContributorsRequest(_message.Message):
    __slots__ = ("model", "offset", "limit")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    model: int
    offset: int
    limit: int
    def __init__(self, model: _Optional[int] = ..., offset: _Optional[int] = ..., limit: _Optional[int] = ...) -> None: ...

class ModelContributors(_message.Message):
    __slots__ = ("contributors", "total", "next_offset")
    CONTRIBUTORS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    NEXT_OFFSET_FIELD_NUMBER: _ClassVar[int]
    contributors: _containers.RepeatedCompositeFieldContainer[ModelContributor]
    total: int
    next_offset: int
    def __init__(self, contributors: _Optional[_Iterable[_Union[ModelContributor, _Mapping]]] = ..., total: _Optional[int] = ..., next_offset: _Optional[int] = ...) -> None: ...
