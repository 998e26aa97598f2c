"""The attribution pallet: Proof of Attribution checked on chain, and the exact fee split.

Overview
    An assigned worker submits its signed attribution result for a request. The chain checks what a
    chain can check: the signer is an assigned, bonded worker that has not answered yet; the result's
    signature is the worker's over exactly its bytes; it is bound to this request and its input; the
    model and attribution-index hashes and the method match the model record; every credited
    contribution carries a Merkle membership proof into one of the snapshots the model cites; the
    fixed-point shares sum to at most one. When every assigned worker has answered, agreeing results
    (same output, same contributions, scores within a tolerance) that form a majority settle the
    request: the escrow is split exactly by the model's basis points and the contributors' scores;
    workers outside the majority are slashed. Without a majority the request escalates: more workers are
    assigned and the majority is taken over all results once they answer (with no workers left, the
    request is refunded at its deadline). For `challenge_window` blocks after settlement, any bonded
    worker outside the majority may challenge with its own verified, disagreeing result and a bond; a
    jury of other workers is drawn and votes with their own verified results: upheld, the settled
    majority is slashed and the challenger rewarded with the slashed amount; rejected, the
    challenger's bond goes to the treasury. (Payments already made are not reversed.)

Invariants (checked by `try_state`)
    A settlement's payments sum to its fee; every stored result belongs to an assigned worker.
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
                query_service=attribution_pb2.DESCRIPTOR.services_by_name["AttributionQuery"])
