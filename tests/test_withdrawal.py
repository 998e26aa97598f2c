"""Withdrawal of approved data (issue 30 §2), on an in-process dev chain: a contributor withdraws an approved
contribution, an owner or curator takes one down with a reason code; both are refused with a clear error
when they do not apply; new snapshots leave it out while the old ones stay provable; the chain says which
blobs no node may serve (unless another DataNet's contribution still holds the same bytes) and which blobs
a block frees; and every model trained on a snapshot holding it is flagged, computed from chain state."""

from __future__ import annotations

from payable.datanet.v1 import datanet_pb2 as dn
from payable.modelregistry.v1 import modelregistry_pb2 as mr
from runtime.codec import ONE_OPEN, encode_u128
from sdk.wire import verify_membership

H = [bytes([i]) * 32 for i in range(1, 40)]


def _query(chain, pallet, call, request, response):
    return response.FromString(chain.ex.query(pallet, call, request.SerializeToString()))


def _contribution(chain, cid) -> dn.Contribution:
    return _query(chain, "datanet", "list_contributions", dn.ContributionsRequest(start_after=cid - 1, limit=1),
                  dn.ContributionList).contributions[0]


def _world(chain):
    """DataNet 1 (Alice owns and curates): Bob, Charlie and Dave each an approved contribution (1, 2, 3),
    snapshot 1; DataNet 2 holds Dave's same bytes (contribution 4, approved); Bob's contribution 5 pending in
    DataNet 1; model 1 trained on DataNet 1 v1."""
    for name in ("one", "two"):
        assert chain.run(chain.alice, "datanet", "create_datanet", dn.CreateDataNet(
            name=name, domain="text", license="CC-BY-4.0", contribution_deposit=encode_u128(ONE_OPEN),
            accepted_formats=["jsonl"])) is None
    for net, who, content in ((1, chain.bob, H[1]), (1, chain.charlie, H[2]), (1, chain.dave, H[3]),
                              (2, chain.dave, H[3])):
        assert chain.run(who, "datanet", "contribute", dn.Contribute(
            datanet=net, content_hash=content, size=100 + net, format="jsonl")) is None
    for cid in (1, 2, 3, 4):
        assert chain.run(chain.alice, "datanet", "approve", dn.Decide(contribution=cid)) is None
    assert chain.run(chain.bob, "datanet", "contribute", dn.Contribute(datanet=1, content_hash=H[5], size=7,
                                                                        format="jsonl")) is None
    assert chain.run(chain.alice, "datanet", "publish_snapshot", dn.PublishSnapshot(datanet=1)) is None
    assert chain.run(chain.dave, "modelregistry", "register_base_model", mr.RegisterBaseModel(
        artifact_hash=H[30], architecture="llama", format=mr.HF_DIRECTORY, license="Apache-2.0")) is None
    _register(chain, version=1, artifact=H[31])


def _register(chain, version, artifact):
    assert chain.run(chain.dave, "modelregistry", "register_model", mr.RegisterModel(
        base_model=1, snapshots=[mr.SnapshotRef(datanet=1, version=version)], training_config_hash=H[32],
        artifact_hash=artifact, attribution_index_hash=H[33], price_per_inference=encode_u128(ONE_OPEN),
        split=mr.RewardSplit(contributors=7000, model_owner=2000, protocol=500, worker=500))) is None


def test_withdrawals_and_takedowns_are_refused_where_they_do_not_apply(chain):
    c = chain
    _world(c)
    assert c.run(c.charlie, "datanet", "withdraw", dn.ContributionRef(contribution=1)) == (
        "NotContributor", "contribution 1 is not the caller's")
    assert c.run(c.bob, "datanet", "take_down", dn.TakeDown(contribution=2, reason=dn.TAKEDOWN_COPYRIGHT)) == (
        "NotCurator", "the caller is not a curator of DataNet 1")
    refused = c.run(c.alice, "datanet", "take_down", dn.TakeDown(contribution=2))
    assert refused == ("BadInput", "reason must be a takedown reason code: 1 copyright, 2 personal data, "
                                   "3 consent withdrawn, 4 illegal content, 5 other")
    assert c.run(c.alice, "datanet", "take_down", dn.TakeDown(contribution=2, reason=9))[0] == "BadInput"
    assert c.run(c.alice, "datanet", "take_down", dn.TakeDown(contribution=99, reason=1))[0] == "UnknownContribution"
    assert c.run(c.bob, "datanet", "withdraw", dn.ContributionRef(contribution=1)) is None
    assert c.run(c.bob, "datanet", "withdraw", dn.ContributionRef(contribution=1)) == (
        "NotWithdrawable", "contribution 1 is already withdrawn")
    assert c.run(c.alice, "datanet", "take_down", dn.TakeDown(contribution=1, reason=1)) == (
        "NotWithdrawable", "contribution 1 is already withdrawn")
    assert c.run(c.alice, "datanet", "take_down", dn.TakeDown(contribution=2, reason=5)) is None
    assert c.run(c.charlie, "datanet", "withdraw", dn.ContributionRef(contribution=2)) == (
        "NotWithdrawable", "contribution 2 is already taken down")
    c.ex.try_state()


def test_a_withdrawn_contribution_leaves_new_snapshots_its_bytes_and_the_models_trained_on_it(chain):
    c = chain
    _world(c)
    assert c.ex.content_withdrawn(H[1]) is None
    built = c.block(c.sign(c.bob, "datanet", "withdraw", dn.ContributionRef(contribution=1)))
    assert built.outcomes[0].ok, built.outcomes[0].error
    withdrawn_at = built.header.number
    found = _contribution(c, 1)
    assert (found.status, found.withdrawn_at, found.decided_at) == (dn.WITHDRAWN, withdrawn_at, 7)  # approved at 7
    events = [(e.pallet, e.name) for e in c.ex.db.require_events(withdrawn_at).events if e.pallet == "datanet"]
    assert events == [("datanet", "Withdrawn")]
    assert c.ex.content_withdrawn(H[1]) == (f"contribution 1 of DataNet 1 was withdrawn by its contributor at "
                                            f"block {withdrawn_at}")
    assert c.ex.released_content(withdrawn_at) == [H[1]]  # the block frees its bytes on every node

    # a takedown of bytes another DataNet still holds (approved): refused to nobody, freed nowhere
    built = c.block(c.sign(c.alice, "datanet", "take_down", dn.TakeDown(contribution=3,
                                                                        reason=dn.TAKEDOWN_COPYRIGHT)))
    assert built.outcomes[0].ok, built.outcomes[0].error
    taken_at = built.header.number
    found = _contribution(c, 3)
    assert (found.status, found.takedown, found.taken_down_by, found.withdrawn_at) == (
        dn.TAKEN_DOWN, dn.TAKEDOWN_COPYRIGHT, c.alice.public, taken_at)
    assert c.ex.content_withdrawn(H[3]) is None and c.ex.released_content(taken_at) == []
    assert c.run(c.alice, "datanet", "take_down", dn.TakeDown(contribution=4, reason=dn.TAKEDOWN_COPYRIGHT)) is None
    assert c.ex.content_withdrawn(H[3]) == (
        f"contribution 3 of DataNet 1 was taken down (copyright) at block {taken_at}; "
        f"contribution 4 of DataNet 2 was taken down (copyright) at block {c.ex.head.number}")
    assert c.ex.released_content(c.ex.head.number) == [H[3]]

    # new snapshots leave them out; the old one keeps its leaves and every proof still verifies
    assert c.run(c.alice, "datanet", "publish_snapshot", dn.PublishSnapshot(datanet=1)) is None
    old, new = (_query(c, "datanet", "get_snapshot", dn.SnapshotRequest(datanet=1, version=v), dn.SnapshotWithProofs)
                for v in (1, 2))
    assert list(old.snapshot.contribution_ids) == [1, 2, 3] and list(new.snapshot.contribution_ids) == [2]
    assert all(verify_membership(old.snapshot.root, p) for p in old.proofs)
    assert old.proofs[0].leaf.content_hash == H[1]  # the hash stays on chain

    # model 1 (trained on v1) is flagged; model 2, retrained on v2, is not
    _register(c, version=2, artifact=H[34])
    flagged = _query(c, "modelregistry", "get_withdrawn", mr.ModelRequest(model=1), mr.WithdrawnData)
    assert [(w.contribution, w.datanet, list(w.versions), w.status, w.takedown, w.withdrawn_at, w.size)
            for w in flagged.contributions] == [
        (1, 1, [1], dn.WITHDRAWN, dn.TAKEDOWN_NONE, withdrawn_at, 101),
        (3, 1, [1], dn.TAKEN_DOWN, dn.TAKEDOWN_COPYRIGHT, taken_at, 101)]
    assert (flagged.training_contributions, flagged.withdrawn_size, flagged.training_size, flagged.since) == (
        3, 202, 303, withdrawn_at)
    provenance = _query(c, "modelregistry", "get_provenance", mr.ModelRequest(model=1), mr.Provenance)
    assert provenance.withdrawn == flagged
    clean = _query(c, "modelregistry", "get_withdrawn", mr.ModelRequest(model=2), mr.WithdrawnData)
    assert (list(clean.contributions), clean.training_contributions, clean.since) == ([], 1, 0)

    # the same bytes submitted again are a new contribution with a new consent: served again while it lives
    assert c.run(c.bob, "datanet", "contribute", dn.Contribute(datanet=1, content_hash=H[1], size=101,
                                                                format="jsonl")) is None
    assert c.ex.content_withdrawn(H[1]) is None
    c.ex.try_state()


def test_pending_rejected_and_revoked_contributions_can_be_withdrawn_or_taken_down_too(chain):
    """Rejecting or revoking leaves the bytes served (curation); withdrawing or taking one down does not, in
    any status. A pending one's deposit goes back to its contributor, on a takedown too."""
    from pallets.token import interface as token

    c = chain
    _world(c)
    assert token.account(c.ex.read_context(), c.bob.public).reserved == ONE_OPEN  # contribution 5's deposit
    built = c.block(c.sign(c.alice, "datanet", "take_down", dn.TakeDown(contribution=5,
                                                                        reason=dn.TAKEDOWN_PERSONAL_DATA)))
    assert built.outcomes[0].ok, built.outcomes[0].error
    found = _contribution(c, 5)
    assert (found.status, found.withdrawn_at, found.decided_at) == (dn.TAKEN_DOWN, built.header.number,
                                                                     built.header.number)
    assert token.account(c.ex.read_context(), c.bob.public).reserved == 0  # returned, not slashed
    event = [e for e in c.ex.db.require_events(built.header.number).events if e.name == "TakenDown"][0]
    assert dn.ContributionEvent.FromString(event.data).amount == encode_u128(ONE_OPEN)
    assert c.ex.content_withdrawn(H[5]) == (f"contribution 5 of DataNet 1 was taken down (personal data) at "
                                            f"block {built.header.number}")

    # revoked: curation only, still served; its contributor withdraws it: refused from then on
    assert c.run(c.alice, "datanet", "revoke", dn.Decide(contribution=2, reason=3)) is None
    assert c.ex.content_withdrawn(H[2]) is None
    # the same bytes contributed again (live): the revoked one's withdrawal leaves the new one's slot alone
    assert c.run(c.bob, "datanet", "contribute", dn.Contribute(datanet=1, content_hash=H[2], size=101,
                                                                format="jsonl")) is None
    assert c.run(c.charlie, "datanet", "withdraw", dn.ContributionRef(contribution=2)) is None
    assert _contribution(c, 2).status == dn.WITHDRAWN
    assert c.ex.content_withdrawn(H[2]) is None  # contribution 6 holds them, pending
    assert c.run(c.bob, "datanet", "contribute", dn.Contribute(datanet=1, content_hash=H[2], size=101,
                                                                format="jsonl"))[0] == "DuplicateContent"
    assert c.run(c.bob, "datanet", "withdraw", dn.ContributionRef(contribution=6)) is None  # deposit back
    assert c.ex.content_withdrawn(H[2]).startswith("contribution 6 of DataNet 1 was withdrawn by its contributor")
    assert token.account(c.ex.read_context(), c.bob.public).reserved == 0
    c.ex.try_state()


def test_withdrawing_a_hash_others_use_takes_nothing_from_them(chain):
    """Anyone may contribute any hash to a DataNet of their own and withdraw or take it down: that must neither
    refuse nor delete a blob another record uses (a base model's files, a model's weights, index, config), nor
    open a permissioned DataNet's live copy of the same bytes, nor a permissioned DataNet's withdrawn data."""
    c = chain
    _world(c)
    assert c.run(c.bob, "datanet", "create_datanet", dn.CreateDataNet(
        name="mine", domain="text", license="CC-BY-4.0", contribution_deposit=encode_u128(ONE_OPEN),
        accepted_formats=["jsonl"])) is None  # DataNet 3, Bob's own
    for content in (H[30], H[31], H[33]):  # the base's files, model 1's weights and its attribution index
        assert c.run(c.bob, "datanet", "contribute", dn.Contribute(datanet=3, content_hash=content, size=9,
                                                                    format="jsonl")) is None
    first = c.ex.head.number
    assert c.run(c.bob, "datanet", "approve", dn.Decide(contribution=7)) is None
    assert c.run(c.bob, "datanet", "withdraw", dn.ContributionRef(contribution=6)) is None
    assert c.run(c.bob, "datanet", "take_down", dn.TakeDown(contribution=7, reason=dn.TAKEDOWN_COPYRIGHT)) is None
    assert c.run(c.bob, "datanet", "withdraw", dn.ContributionRef(contribution=8)) is None
    for content in (H[30], H[31], H[33]):
        assert c.ex.content_withdrawn(content) is None and c.ex.content_readable(content, b"")
    assert all(c.ex.released_content(n) == [] for n in range(first, c.ex.head.number + 1))

    # the same bytes in public DataNet 1 (withdrawn) and permissioned DataNet 2 (live): still DataNet 2's rules
    assert c.run(c.alice, "datanet", "set_permissioned", dn.SetPermissioned(datanet=2, permissioned=True)) is None
    assert c.run(c.dave, "datanet", "withdraw", dn.ContributionRef(contribution=3)) is None
    assert c.ex.content_withdrawn(H[3]) is None
    assert not c.ex.content_readable(H[3], b"") and not c.ex.content_readable(H[3], c.charlie.public)
    assert c.ex.content_readable(H[3], c.dave.public)  # its contributor (and DataNet 2's curators) still read it
    # permissioned DataNet 2's data withdrawn while a model records the same hash: served for the model's sake,
    # but not opened to everyone
    _register(c, version=1, artifact=H[3])
    assert c.run(c.dave, "datanet", "withdraw", dn.ContributionRef(contribution=4)) is None
    assert c.ex.content_withdrawn(H[3]) is None and not c.ex.content_readable(H[3], b"")
