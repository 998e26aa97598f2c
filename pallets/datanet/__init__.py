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
    contribution: one submitted item (content hash, size, format) with its terms. live: pending or
    approved - the content cannot be submitted again to the same DataNet. snapshot: version N of a
    DataNet's approved set; its leaves are (contribution id, contributor, content hash, size, terms),
    ordered by id, and it records its license mix (members by license) and its personal-data count.
    terms: a contribution's license (SPDX id, or "custom" with the terms' hash), whether it contains
    personal data, whether its contributor opts out of text-and-data mining. A DataNet accepts its own
    license plus the `accepted_licenses` of its metadata, personal data only if `personal_data_allowed`,
    and no TDM opt-out (its data exists to be trained on); a contribution without terms gets the
    DataNet's license, no personal data, no opt-out. The license rule is `payable.datanet.v1.licenses`.
    withdrawn / taken down: a contribution its contributor withdrew, or that the owner or a curator took down
    with a `TakedownReason`, from any other status (a pending one's deposit goes back). From its `withdrawn_at`
    block no new snapshot holds it, no node serves its bytes (`hooks.content_withdrawn`, unless another
    DataNet's contribution of the same bytes still stands; a node deletes them on committing the block:
    `hooks.released_content`), the models trained on a snapshot that holds it are flagged
    (`modelregistry.get_withdrawn`), and it earns nothing from requests made from then on (the attribution
    pallet's settlement). Old snapshots keep its leaf, so they stay provable. revoked: an approved
    contribution a curator (or its contributor) took out of future snapshots - curation only, nothing more.

Invariants (checked by `try_state`)
    Pending and approved contributions hold their content's live slot; the approved index is exactly
    the approved contributions; `withdrawn_at` is set only on withdrawn and taken-down ones (on every
    taken-down one), a takedown reason exactly on taken-down ones; every snapshot's root equals the root
    of its recorded leaves, its license mix and personal-data count are its leaves' terms, and versions
    run 1..snapshot_count; what each
    account holds under `datanet/creation_deposit` is exactly the creation deposits of its DataNets, and
    under `datanet/contribution_deposit` exactly the deposits of its pending contributions.

Public interface: `pallets.datanet.interface` (datanet, contribution, snapshot, membership_proofs,
record_earnings, RETIRED and withdrawn_by for withdrawn data; a snapshot leaf is `leaf_of`, its encoding
`sdk.wire.leaf_bytes` on every side).
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
                query_service=datanet_pb2.DESCRIPTOR.services_by_name["DataNetQuery"],
                requires=("token",))
