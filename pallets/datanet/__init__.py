"""The DataNet pallet.

Overview
    DataNets are community-owned, domain-specific data repositories. Contributors submit data (its
    blake2b-256 content hash; the bytes live in the node's content store) with a deposit; curators
    approve it (deposit returned) or reject it (deposit slashed to the treasury); approved data is
    frozen into numbered, immutable snapshots whose Merkle roots models cite, so every payment made
    for a model's inference can be traced to the exact data it was trained on. Deposits are named holds
    in the token pallet: `datanet/creation_deposit` on a DataNet's owner for as long as the DataNet
    exists, `datanet/contribution_deposit` on a contributor while its contribution is pending.

Terminology
    contribution: one submitted item (content hash, size, format). live: pending or approved - the
    content cannot be submitted again to the same DataNet. snapshot: version N of a DataNet's approved
    set; its leaves are (contribution id, contributor, content hash, size), ordered by id.

Invariants (checked by `try_state`)
    Pending and approved contributions hold their content's live slot; the approved index is exactly
    the approved contributions; every snapshot's root equals the root of its recorded leaves, and
    versions run 1..snapshot_count; what each account holds under `datanet/creation_deposit` is exactly
    the creation deposits of its DataNets, and under `datanet/contribution_deposit` exactly the deposits
    of its pending contributions.

Public interface: `pallets.datanet.interface` (datanet, contribution, snapshot, membership_proofs,
record_earnings; a snapshot leaf's encoding is `sdk.wire.leaf_bytes`).
"""

from payable.datanet.v1 import datanet_pb2
from runtime.pallet import Pallet

from . import hooks
from .calls import calls
from .config import DataNetConfig
from .errors import DataNetError
from .events import events
from .queries import queries
from .storage import storage

pallet = Pallet("datanet", doc=__doc__, calls=calls, storage=storage, events=events, errors=DataNetError,
                queries=queries, config=DataNetConfig, hooks=hooks, proto_files=(datanet_pb2.DESCRIPTOR,),
                query_service=datanet_pb2.DESCRIPTOR.services_by_name["DataNetQuery"])
