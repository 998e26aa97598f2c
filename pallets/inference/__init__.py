"""The inference pallet.

Overview
    Workers bond OPEN (through the token pallet's staking) and register the models they serve. A
    paid inference request escrows the model's price from the requester and is assigned,
    deterministically from on-chain data (the parent block hash and the request id), to a
    chain-configured number of eligible workers. A request with no settled result by its deadline
    is refunded and its silent workers are slashed; a worker that cannot answer says so instead, with a
    signed refusal (the attribution pallet checks it), which closes the request as REFUSED with its
    reason, refunds it and slashes nobody. What the chain can check of a request by itself (the model's
    state, the input's presence and size, the token bounds against its limits and the base's context, the
    price, a worker to assign) is checked before any fee is taken (`validate_transaction`): such a
    request is invalid, typed (`ContextExceeded`, `InputTooLarge`, `NoInput`, ...), never charged.
    Settling - checking results and splitting the
    fee - is the attribution pallet's job, through this pallet's public interface: the escrow is this
    pallet's hold (`inference/escrow` in the token pallet) from request to settlement or expiry, and
    the attribution pallet pays it out (`pay_escrow`) and refunds what the real counts left
    (`refund_escrow`) through here.

Terminology
    eligible worker: registered, not deregistering, bond at least the chain minimum, serving the model.
    escrow: the requester's OPEN held for one request under `inference/escrow` (the model's price at the
    request's token bounds).

Invariants (checked by `try_state`)
    Every pending request has a deadline entry not yet passed; what each account holds under
    `inference/escrow` is exactly the sum of the escrows of its pending requests (nothing else holds
    under it, nothing settled or expired is left on it); every worker's recorded bond is backed by
    bonded or unbonding OPEN.

Public interface: `pallets.inference.interface` (request, worker, record_answer, pay_escrow,
refund_escrow, mark_settled, mark_refused, slash_worker, escalate, draw_workers).
"""

from payable.inference.v1 import inference_pb2
from runtime.pallet import Pallet

from . import hooks
from .calls import calls
from .config import InferenceConfig
from .errors import InferenceError
from .events import events
from .queries import queries
from .storage import storage

pallet = Pallet("inference", doc=__doc__, calls=calls, storage=storage, events=events, errors=InferenceError,
                queries=queries, config=InferenceConfig, hooks=hooks, proto_files=(inference_pb2.DESCRIPTOR,),
                query_service=inference_pb2.DESCRIPTOR.services_by_name["InferenceQuery"],
                requires=("token", "datanet", "modelregistry"))
