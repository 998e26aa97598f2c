"""Whether credited contributions are the model's: each one's Merkle proof into a snapshot the model cites."""

from __future__ import annotations

from pallets.datanet import interface as datanet
from pallets.datanet.errors import DataNetError
from sdk.wire import verify_membership

from . import errors


def check_proofs(ctx, credited, proofs, model) -> None:
    """Every credit (a result's listed contribution or a tail page's leaf) carries a membership proof into a
    snapshot `model` cites, whose leaf names the credited contributor; BadProof otherwise."""
    cited = {(s.datanet, s.version) for s in model.snapshots}
    by_id = {p.proof.leaf.contribution_id: p for p in proofs}
    for credit in credited:
        proof = by_id.get(credit.contribution_id)
        if proof is None or (proof.datanet, proof.version) not in cited:
            raise errors.BadProof(f"contribution {credit.contribution_id}: no proof into a snapshot the model cites")
        if proof.proof.leaf.contributor != credit.contributor:
            raise errors.BadProof(f"contribution {credit.contribution_id}: credited to someone else than its leaf")
        try:
            snapshot = datanet.snapshot(ctx, proof.datanet, proof.version)
        except DataNetError as exc:
            raise errors.BadProof(exc.message) from exc
        if not verify_membership(snapshot.root, proof.proof):
            raise errors.BadProof(f"contribution {credit.contribution_id}: the Merkle proof does not verify")
