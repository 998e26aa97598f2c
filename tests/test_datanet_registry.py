"""DataNet and model registry: each bad input is a clear, typed error; the content store refuses bad bytes."""

import pytest

from node.contentstore import ContentError, ContentStore
from pallets.modelregistry import interface as registry
from payable.datanet.v1 import datanet_pb2 as dn
from payable.modelregistry.v1 import modelregistry_pb2 as mr
from runtime.codec import ONE_OPEN, encode_u128
from runtime.crypto import blake2_256

H = [bytes([i]) * 32 for i in range(1, 10)]


def _run(chain, signer, pallet, call, args):
    """None when the call succeeded, else its error's class name (`DevChain.run`)."""
    failed = chain.run(signer, pallet, call, args)
    return failed and failed[0]


@pytest.fixture
def net(chain):
    """A DataNet (id 1) curated by Alice with two pending contributions (ids 1 and 2)."""
    assert _run(chain, chain.alice, "datanet", "create_datanet", dn.CreateDataNet(
        name="legal", domain="legal", license="CC-BY-4.0", contribution_deposit=encode_u128(ONE_OPEN),
        accepted_formats=["text", "csv"])) is None
    for who, content in ((chain.bob, H[0]), (chain.charlie, H[1])):
        assert _run(chain, who, "datanet", "contribute", dn.Contribute(datanet=1, content_hash=content, size=5,
                                                                       format="text")) is None
    return chain


def test_datanet_bad_inputs(net):
    c = net
    assert _run(c, c.bob, "datanet", "contribute", dn.Contribute(datanet=99, content_hash=H[2], size=1,
                                                                 format="text")) == "UnknownDataNet"
    assert _run(c, c.bob, "datanet", "contribute", dn.Contribute(datanet=1, content_hash=H[0], size=1,
                                                                 format="text")) == "DuplicateContent"
    assert _run(c, c.bob, "datanet", "contribute", dn.Contribute(datanet=1, content_hash=H[2], size=1,
                                                                 format="png")) == "FormatNotAccepted"
    assert _run(c, c.bob, "datanet", "contribute", dn.Contribute(datanet=1, content_hash=b"short", size=1,
                                                                 format="text")) == "BadInput"
    assert _run(c, c.bob, "datanet", "approve", dn.Decide(contribution=1)) == "NotCurator"
    assert _run(c, c.alice, "datanet", "approve", dn.Decide(contribution=1)) is None
    assert _run(c, c.alice, "datanet", "approve", dn.Decide(contribution=1)) == "NotPending"  # double approval
    assert _run(c, c.alice, "datanet", "approve", dn.Decide(contribution=77)) == "UnknownContribution"
    # what the arguments alone rule out is refused at the pool's door with the typed error, before any fee
    from runtime.errors import Invalid, InvalidTransaction

    for bad, said in ((dn.CreateDataNet(name="x", domain="x", license="not a license!",
                                        contribution_deposit=encode_u128(ONE_OPEN), accepted_formats=["text"]),
                       "datanet.BadInput: license 'not a license!' is not an SPDX identifier"),
                      (dn.CreateDataNet(name="x", domain="x", license="MIT", contribution_deposit=encode_u128(ONE_OPEN),
                                        accepted_formats=["jsonl,csv"]), "datanet.BadInput: format 'jsonl,csv' must"),
                      (dn.CreateDataNet(name="x", domain="x", license="MIT", accepted_formats=["text"]),
                       "datanet.BadInput: contribution_deposit must be at least 0.01 OPEN"),
                      (dn.CreateDataNet(name="x", domain="x", license="MIT", contribution_deposit=encode_u128(ONE_OPEN),
                                        accepted_formats=["text"], curators=[c.bob.public, c.bob.public]),
                       "datanet.BadInput: curators must be distinct"),
                      (dn.CreateDataNet(name="x", domain="x", license="MIT", contribution_deposit=encode_u128(ONE_OPEN),
                                        accepted_formats=["text"], curators=[bytes([i]) * 32 for i in range(1, 40)]),
                       "datanet.TooManyCurators: 39 curators")):
        with pytest.raises(InvalidTransaction) as refused:
            c.ex.validate_transaction(c.sign(c.alice, "datanet", "create_datanet", bad))
        assert refused.value.reason == Invalid.REJECTED_BY_PALLET and said in refused.value.detail
    with pytest.raises(InvalidTransaction, match="datanet.BadInput: accepted license 'nope!'"):
        c.ex.validate_transaction(c.sign(c.alice, "datanet", "update_metadata", dn.UpdateMetadata(
            datanet=1, license="MIT", accepted_formats=["text"], accepted_licenses=["nope!"])))
    assert _run(c, c.bob, "datanet", "update_metadata", dn.UpdateMetadata(datanet=1, license="MIT",
                                                                          accepted_formats=["text"])) == "NotOwner"
    c.ex.try_state()


def test_rejection_slashes_and_snapshots_exclude_it(net):
    from pallets.token import interface as token
    from runtime.protocol import TREASURY

    c = net
    treasury = token.free_balance(c.ex.read_context(), TREASURY)
    assert _run(c, c.alice, "datanet", "reject", dn.Decide(contribution=2, reason=4)) is None
    assert token.account(c.ex.read_context(), c.charlie.public).reserved == 0
    gained = token.free_balance(c.ex.read_context(), TREASURY) - treasury
    assert gained >= ONE_OPEN  # the deposit (plus the treasury's share of fees)
    assert _run(c, c.alice, "datanet", "publish_snapshot", dn.PublishSnapshot(datanet=1)) == "NothingApproved"
    assert _run(c, c.alice, "datanet", "approve", dn.Decide(contribution=1)) is None
    assert _run(c, c.alice, "datanet", "publish_snapshot", dn.PublishSnapshot(datanet=1)) is None
    snap = dn.SnapshotWithProofs.FromString(c.ex.query(
        "datanet", "get_snapshot", dn.SnapshotRequest(datanet=1).SerializeToString()))
    assert list(snap.snapshot.contribution_ids) == [1]


def test_model_registry_bad_inputs(net):
    c = net
    assert _run(c, c.alice, "datanet", "approve", dn.Decide(contribution=1)) is None
    assert _run(c, c.alice, "datanet", "publish_snapshot", dn.PublishSnapshot(datanet=1)) is None
    assert _run(c, c.dave, "modelregistry", "register_base_model",
                mr.RegisterBaseModel(artifact_hash=H[5], architecture="mlp",
                                     license="MIT")) is None

    def register(**changes):
        fields = dict(base_model=1, snapshots=[mr.SnapshotRef(datanet=1, version=1)], training_config_hash=H[6],
                      artifact_hash=H[7], attribution_index_hash=H[8], price_per_inference=encode_u128(ONE_OPEN),
                      split=mr.RewardSplit(contributors=7000, model_owner=2000, protocol=500, worker=500))
        fields.update(changes)
        return _run(c, c.dave, "modelregistry", "register_model", mr.RegisterModel(**fields))

    assert register(split=mr.RewardSplit(contributors=7000, model_owner=2000, protocol=500, worker=400)) == "BadSplit"
    assert register(split=mr.RewardSplit(contributors=1000, model_owner=8000, protocol=500, worker=500)) == "BadSplit"
    assert register(snapshots=[mr.SnapshotRef(datanet=1, version=2)]) == "UnknownSnapshot"
    assert register(snapshots=[mr.SnapshotRef(datanet=5, version=1)]) == "UnknownSnapshot"
    assert register(base_model=9) == "UnknownBaseModel"
    assert register(price_per_inference=b"") == "BadInput"
    assert register() is None
    # the adapter is Dave's: another account may not register the same bytes as its own model; Dave may
    assert _run(c, c.bob, "modelregistry", "register_model", mr.RegisterModel(
        base_model=1, snapshots=[mr.SnapshotRef(datanet=1, version=1)], training_config_hash=H[6],
        artifact_hash=H[7], attribution_index_hash=H[8], price_per_inference=encode_u128(ONE_OPEN),
        split=mr.RewardSplit(contributors=7000, model_owner=2000, protocol=500, worker=500))) == "ArtifactTaken"
    assert register(price_per_inference=encode_u128(2 * ONE_OPEN)) is None
    assert [m.owner for m in (registry.model(c.ex.read_context(), i) for i in (1, 2))] == [c.dave.public] * 2
    assert _run(c, c.dave, "modelregistry", "deprecate", mr.ModelRef(model=2)) is None
    assert _run(c, c.bob, "modelregistry", "update_price",
                mr.UpdatePrice(model=1, price_per_inference=encode_u128(5))) == \
        "NotOwner"
    assert _run(c, c.dave, "modelregistry", "deprecate", mr.ModelRef(model=1)) is None
    assert _run(c, c.dave, "modelregistry", "deprecate", mr.ModelRef(model=1)) == "Deprecated"
    from pallets.modelregistry.errors import Deprecated

    ctx = c.ex.read_context()
    with pytest.raises(Deprecated):
        registry.active_model(ctx, 1)
    c.ex.try_state()


def test_content_store_refuses_mismatched_oversized_and_corrupted_blobs(tmp_path):
    store = ContentStore(tmp_path, max_blob=1000, quota=1500)
    data = b"real bytes " * 50
    stored = store.put([data[:100], data[100:]])
    assert stored.hash == blake2_256(data) and stored.size == len(data) and not stored.already_stored
    assert store.put([data]).already_stored and store.used == len(data)  # deduplicated
    assert b"".join(store.read(stored.hash)) == data
    with pytest.raises(ContentError, match="not the expected"):
        store.put([b"other bytes"], expected=stored.hash)
    with pytest.raises(ContentError, match="limit"):
        store.put([b"x" * 600, b"x" * 600])
    with pytest.raises(ContentError, match="quota"):
        store.put([b"y" * 999])
    assert not list((tmp_path / "tmp").iterdir())  # nothing half-written is left behind
    path = tmp_path / stored.hash.hex()[:2] / stored.hash.hex()
    path.write_bytes(b"tampered" + data[8:])
    with pytest.raises(ContentError, match="corrupted"):
        b"".join(store.read(stored.hash))
