"""The attribution pallet: Proof of Attribution checked on chain, and the exact fee split.

Overview
    An assigned worker submits its signed attribution result for a request. The chain checks what a
    chain can check: the signer is an assigned, bonded worker that has not answered yet; the result's
    signature is the worker's over exactly its bytes; it is bound to this request and its input; the
    model and attribution-index hashes and the method match the model record; every credited
    contribution carries a Merkle membership proof into one of the snapshots the model cites; the
    fixed-point shares sum to at most one. When every assigned worker has answered, agreeing results
    (same output, same contributions, scores within a tolerance) that form a majority settle the
    request: the escrow (the inference pallet's `inference/escrow` hold, paid out through its interface)
    is split exactly by the model's basis points and the contributors' scores; workers outside the
    majority are slashed. Each accepted result records where it was included (block, extrinsic index),
    and the settlement lists those places for its agreeing workers, so the signed result behind a
    payment is one block read away. Without a majority the request escalates: more workers are
    assigned and the majority is taken over all results once they answer (with no workers left, the
    request is refunded at its deadline). For `challenge_window` blocks after settlement, any bonded
    worker outside the majority may challenge with its own verified, disagreeing result and a bond; a
    jury of other workers is drawn and votes with their own verified results (the bond is held under
    `attribution/challenge_bond` meanwhile): upheld, the settled majority is slashed and the challenger
    rewarded with the slashed amount; rejected, the challenger's bond goes to the treasury. (Payments
    already made are not reversed.) A worker that will not answer submits a signed refusal instead
    (`submit_refusal`, see `refusals`): verified like a result, it counts as the worker's answer; agreeing
    refusals close the request as REFUSED (refunded, less the workers' part of the flat fee when the request
    was at fault), abstentions (busy, artifacts unavailable) leave the decision to the others, and no
    refusal is ever slashed. A result lists at most `max_credited` contributions and commits to the rest
    of those it credits, its tail (`tail`): settling sets the tail's part of the pool aside in TAIL_SHARES,
    and `pay_tail` pays it a page at a time, each contribution its exact share; a tail left unpaid past
    `tail_window` blocks is closed to the treasury by `close_tail`.

Terminology
    result: a worker's signed `AttributionResult` for one request - output hash, method, index hash
    and the top-k credited contributions with fixed-point scores (ppb, parts per 10^9 of the
    contributors' pool). replicas: the workers assigned to one request; they must agree within
    `score_tolerance_ppb`. majority: the largest group of agreeing results, if it is more than half.
    settlement: the exact split of a request's escrowed fee among contributors (pro rata by score,
    largest-remainder rounding), the model owner, the protocol (treasury) and the majority workers. A
    contribution withdrawn or taken down at or before the request's block is paid nothing: its share goes
    to the other credited contributions (`calls.earning_scores` says why). A contributor's payment below the
    existential deposit for its empty account is held for it (`Owed`, the funds in the protocol account
    OWED_TO_CONTRIBUTORS) and paid out whole with the payment that brings it up to the deposit, or with the
    next one once the account exists, or by `claim_owed` (anyone may ask once the account holds something);
    anyone else's goes to the treasury.
    evidence: where each agreeing result's extrinsic was included - (block, index in the block), the
    `included` of its stored result.
    challenge: a bonded worker's dispute of a settlement, decided by a jury drawn from the parent
    hash; bond: what the challenger puts on hold, lost if the jury sides with the settlement.

Invariants (checked by `try_state`)
    A settlement's payments sum to its fee, and fee + refund == escrow; a settlement has one evidence
    entry per agreeing worker, included no later than the settling block; what each account holds under
    `attribution/challenge_bond` is exactly the bonds of its unresolved disputes; OWED_TO_CONTRIBUTORS holds
    at least what `Owed` says is owed, each amount below the existential deposit; TAIL_SHARES holds at least
    what the open tails have left to pay.

Public interface
    None for other pallets: this pallet calls the others (`token` to hold bonds, `inference` for
    requests and workers, to slash them and to pay out or refund a request's escrow, `modelregistry`
    for the model record, `datanet` for snapshots and contributor statistics). For clients: calls
    `submit_result`, `challenge`, `vote`, `submit_refusal`, `claim_owed`, `pay_tail`, `close_tail`;
    queries `get_settlement` (with its evidence), `get_result`, `get_tail`, `get_earnings` and
    `list_earnings` (with what is held for the contributor), `get_model_earnings`, `list_model_contributors`
    (service `AttributionQuery`). The bytes a result must carry to name its request are
    `sdk.wire.request_id_bytes`.
"""

from payable.attribution.v1 import attribution_pb2
from runtime.pallet import Pallet

from . import hooks
from .calls import calls
from .config import AttributionConfig
from .errors import AttributionError
from .events import events
from .queries import queries
from .storage import storage

pallet = Pallet("attribution", doc=__doc__, calls=calls, storage=storage, events=events, errors=AttributionError,
                queries=queries, config=AttributionConfig, hooks=hooks, proto_files=(attribution_pb2.DESCRIPTOR,),
                query_service=attribution_pb2.DESCRIPTOR.services_by_name["AttributionQuery"],
                requires=("token", "datanet", "modelregistry", "inference"))
