"""Permissioned DataNets: who may cite a snapshot in a model, and who may read its blobs from the content
store over gRPC - the owner, curators, contributors, granted accounts and workers serving a model that
cites it; everyone else is refused, anonymous or signed."""

from __future__ import annotations

import time

import grpc
import pytest

from payable.content.v1 import content_pb2
from payable.datanet.v1 import datanet_pb2 as dn
from payable.modelregistry.v1 import modelregistry_pb2 as mr
from runtime.codec import ONE_OPEN, encode_u128
from runtime.crypto import Keypair, blake2_256
from sdk.client import ClientError

UPLOADER = Keypair.from_uri("//Alice")  # signs the blobs the tests store (an account on chain)

H = [bytes([i]) * 32 for i in range(1, 10)]
SPLIT = mr.RewardSplit(contributors=7000, model_owner=2000, protocol=500, worker=500)


def _run(chain, signer, pallet, call, args):
    """None when the call succeeded, else its error's class name (`DevChain.run`)."""
    failed = chain.run(signer, pallet, call, args)
    return failed and failed[0]


def _register(chain, signer, base=1, snapshot=(1, 1)):
    """Each signer registers its own adapter (the chain refuses one account's adapter hash from another)."""
    return _run(chain, signer, "modelregistry", "register_model", mr.RegisterModel(
        base_model=base, snapshots=[mr.SnapshotRef(datanet=snapshot[0], version=snapshot[1])],
        training_config_hash=H[5], artifact_hash=blake2_256(H[6] + signer.public),
        price_per_inference=encode_u128(ONE_OPEN), split=SPLIT,
        format=mr.PEFT_LORA, attribution_method=mr.LORA_GRADIENT))


@pytest.fixture
def gated(chain):
    """DataNet 1 (owner Alice, permissioned) with snapshot 1 of Bob's approved contribution; base model 1."""
    c = chain
    assert _run(c, c.alice, "datanet", "create_datanet", dn.CreateDataNet(
        name="clinic", domain="medical", license="CC-BY-4.0", contribution_deposit=encode_u128(ONE_OPEN),
        accepted_formats=["jsonl"])) is None
    assert _run(c, c.alice, "datanet", "set_permissioned", dn.SetPermissioned(datanet=1, permissioned=True)) is None
    assert _run(c, c.bob, "datanet", "contribute",
                dn.Contribute(datanet=1, content_hash=H[0], size=5, format="jsonl")) is None
    assert _run(c, c.alice, "datanet", "approve", dn.Decide(contribution=1)) is None
    assert _run(c, c.alice, "datanet", "publish_snapshot", dn.PublishSnapshot(datanet=1)) is None
    assert _run(c, c.dave, "modelregistry", "register_base_model", mr.RegisterBaseModel(
        artifact_hash=H[4], architecture="llama", format=mr.HF_DIRECTORY, license="MIT", size_bytes=10,
        parameters=5)) is None
    return c


def test_a_model_may_cite_a_permissioned_snapshot_only_with_a_grant(gated):
    c = gated
    assert _register(c, c.dave, base=9) == "UnknownBaseModel"
    assert _register(c, c.dave, snapshot=(1, 2)) == "UnknownSnapshot"
    assert _register(c, c.dave) == "AccessRequired"
    assert _register(c, c.bob) == "AccessRequired"  # contributing is not a licence to train on everyone's data
    assert _run(c, c.dave, "datanet", "request_access", dn.RequestAccess(datanet=1, note="research")) is None
    assert _run(c, c.dave, "datanet", "request_access", dn.RequestAccess(datanet=1)) == "AccessExists"
    assert _register(c, c.dave) == "AccessRequired"  # asking is not being granted
    assert _run(c, c.bob, "datanet", "grant_access", dn.AccessChange(datanet=1, account=c.dave.public)) == "NotCurator"
    assert _run(c, c.alice, "datanet", "grant_access", dn.AccessChange(datanet=1, account=c.dave.public)) is None
    assert _run(c, c.alice, "datanet", "grant_access",
                dn.AccessChange(datanet=1, account=c.dave.public)) == "AccessExists"
    assert _register(c, c.dave) is None
    assert _register(c, c.alice) is None  # the owner needs no grant
    assert _run(c, c.alice, "datanet", "revoke_access", dn.AccessChange(datanet=1, account=c.dave.public)) is None
    assert _register(c, c.dave) == "AccessRequired"
    assert _run(c, c.alice, "datanet", "revoke_access", dn.AccessChange(datanet=1, account=c.dave.public)) == "NoAccess"
    listed = dn.AccessList.FromString(c.ex.query("datanet", "list_access", dn.DataNetRequest(datanet=1)
                                                 .SerializeToString()))
    assert [(e.account, e.access.state, e.access.note) for e in listed.entries] == [
        (c.dave.public, dn.ACCESS_REVOKED, "research")]
    # public again: anyone may cite it, and access calls no longer apply
    assert _run(c, c.alice, "datanet", "set_permissioned", dn.SetPermissioned(datanet=1, permissioned=False)) is None
    assert _register(c, c.dave) is None
    assert _run(c, c.charlie, "datanet", "request_access", dn.RequestAccess(datanet=1)) == "NotPermissioned"
    assert _run(c, c.bob, "datanet", "set_permissioned", dn.SetPermissioned(datanet=1, permissioned=True)) == "NotOwner"
    c.ex.try_state()


def _signed(client, digest: bytes, reader: Keypair, issued_at: int | None = None) -> content_pb2.BlobRequest:
    request = client.blob_request(digest, reader)
    if issued_at is not None:
        from sdk.wire import content_read_message

        request.issued_at = issued_at
        request.signature = reader.sign(content_read_message(client.genesis_hash, digest, reader.public, issued_at))
    return request


def _read(client, request) -> grpc.StatusCode:
    try:
        b"".join(chunk.data for chunk in client.content.Download(request, timeout=30))
        return grpc.StatusCode.OK
    except grpc.RpcError as exc:
        return exc.code()


@pytest.mark.e2e
def test_the_content_store_serves_permissioned_data_only_to_allowed_readers(start_node):
    node = start_node("gated", "--dev", "--instant-seal")
    alice, bob, carol, dave, eve, ferdie = (Keypair.from_uri(n) for n in
                                            ("//Alice", "//Bob", "//Charlie", "//Dave", "//Eve", "//Ferdie"))
    stranger = Keypair.from_uri("//Stranger")
    with node.client() as client:
        client.submit_call(alice, "datanet", "create_datanet", name="clinic", domain="medical", license="CC-BY-4.0",
                           contribution_deposit="1", accepted_formats=["jsonl"], curators=[alice.public, carol.public])
        client.submit_call(alice, "datanet", "set_permissioned", datanet=1, permissioned=True)
        secret, public_blob = b'{"prompt": "symptom", "response": "diagnosis"}', b"public text"
        stored = client.upload(secret, uploader=UPLOADER)
        client.submit_call(bob, "datanet", "contribute", datanet=1, content_hash=stored.hash, size=stored.size,
                           format="jsonl")
        client.submit_call(alice, "datanet", "approve", contribution=1)
        client.submit_call(alice, "datanet", "publish_snapshot", datanet=1)
        digest = stored.hash

        assert _read(client, content_pb2.BlobRequest(hash=digest)) == grpc.StatusCode.PERMISSION_DENIED
        with pytest.raises(ClientError, match="permissioned DataNet"):
            client.download(digest)
        for reader in (stranger, dave, eve):
            assert _read(client, _signed(client, digest, reader)) == grpc.StatusCode.PERMISSION_DENIED
        for reader in (alice, carol, bob):  # owner, curator, contributor
            assert client.download(digest, reader=reader) == secret
        # a request is not a grant; a grant is; a revoked grant is not
        client.submit_call(dave, "datanet", "request_access", datanet=1, note="study")
        assert _read(client, _signed(client, digest, dave)) == grpc.StatusCode.PERMISSION_DENIED
        client.submit_call(carol, "datanet", "grant_access", datanet=1, account=dave.public)
        assert client.download(digest, reader=dave) == secret
        # a worker serving a model that cites the DataNet may read it; before it serves one, it may not
        client.submit_call(dave, "modelregistry", "register_base_model", artifact_hash=blake2_256(b"base"),
                           architecture="llama", format="hf_directory", license="MIT")
        client.submit_call(dave, "modelregistry", "register_model", base_model=1,
                           snapshots=[{"datanet": 1, "version": 1}], training_config_hash=blake2_256(b"c"),
                           artifact_hash=blake2_256(b"a"), attribution_index_hash=blake2_256(b"i"),
                           price_per_inference="1", format="peft_lora", attribution_method="lora_gradient",
                           split={"contributors": 7000, "model_owner": 2000, "protocol": 500, "worker": 500})
        client.submit_call(dave, "modelregistry", "register_base_model", artifact_hash=blake2_256(b"other base"),
                           architecture="llama", format="hf_directory", license="MIT")
        assert client.submit_call(ferdie, "inference", "register_worker", endpoint="127.0.0.1:1", base_models=[2],
                                  device="cpu", bond="100").success
        assert _read(client, _signed(client, digest, ferdie)) == grpc.StatusCode.PERMISSION_DENIED
        assert client.submit_call(eve, "inference", "register_worker", endpoint="127.0.0.1:2", models=[1],
                                  device="cpu", bond="100").success
        assert client.download(digest, reader=eve) == secret
        # model 1 is an adapter on base 1: a worker serving base 1 serves it, so it may read its data too
        client.submit_call(alice, "token", "transfer_keep_alive", dest=stranger.public, amount="200")
        assert _read(client, _signed(client, digest, stranger)) == grpc.StatusCode.PERMISSION_DENIED
        assert client.submit_call(stranger, "inference", "register_worker", endpoint="127.0.0.1:3",
                                  base_models=[1], device="cpu", bond="100").success
        assert client.download(digest, reader=stranger) == secret
        client.submit_call(alice, "datanet", "revoke_access", datanet=1, account=dave.public)
        assert _read(client, _signed(client, digest, dave)) == grpc.StatusCode.PERMISSION_DENIED
        # forged, stale and malformed signatures are refused before the chain is asked
        stale = _signed(client, digest, alice, issued_at=int(time.time()) - 3600)
        assert _read(client, stale) == grpc.StatusCode.UNAUTHENTICATED
        forged = _signed(client, digest, alice)
        forged.reader = stranger.public
        assert _read(client, forged) == grpc.StatusCode.UNAUTHENTICATED
        short = content_pb2.BlobRequest(hash=digest, reader=alice.public, signature=b"x")
        assert _read(client, short) == grpc.StatusCode.INVALID_ARGUMENT
        # blobs outside any permissioned DataNet stay public
        other = client.upload(public_blob, uploader=UPLOADER)
        assert client.download(other.hash) == public_blob
