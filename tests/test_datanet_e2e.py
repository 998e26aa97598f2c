"""The DataNet story over gRPC and the CLI, on a real dev node process."""

import inspect
import json
import subprocess
import sys

import pytest

from payable.datanet.v1 import datanet_pb2 as dn
from payable.modelregistry.v1 import modelregistry_pb2 as mr
from runtime.codec import ONE_OPEN, decode_u128
from runtime.crypto import Keypair, blake2_256
from runtime.merkle import verify_merkle_proof
from sdk.wire import leaf_bytes

UPLOADER = Keypair.from_uri("//Alice")  # signs the blobs the tests store (an account on chain)

pytestmark = pytest.mark.e2e


def test_datanet_to_model_provenance_through_the_cli(start_node, tmp_path):
    import csv as csv_module
    import json as json_module
    import textwrap as textwrap_module

    node = start_node("datanet", "--dev", "--instant-seal")

    def cli(*args):
        done = subprocess.run([sys.executable, "-m", "cli", *args, "--node", node.target, "--json"],
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    with node.client():
        pass
    files = {}
    for who, module in (("//Bob", csv_module), ("//Charlie", json_module), ("//Dave", textwrap_module)):
        path = tmp_path / f"{module.__name__}.py.txt"
        path.write_text(inspect.getsource(module))  # real text that ships with Python
        files[who] = path
    net = cli("datanet", "create", "--name", "python-docs", "--domain", "code", "--license", "PSF-2.0",
              "--deposit", "2", "--formats", "text", "--from", "//Alice")["datanet"]
    made = {who: cli("datanet", "contribute", str(net), str(path), "--format", "text", "--from", who)
            for who, path in files.items()}
    assert all(m["content_hash"] == blake2_256(files[w].read_bytes()).hex() for w, m in made.items())
    cli("datanet", "approve", str(made["//Bob"]["contribution"]), "--from", "//Alice")
    cli("datanet", "approve", str(made["//Charlie"]["contribution"]), "--from", "//Alice")
    cli("datanet", "reject", str(made["//Dave"]["contribution"]), "--reason", "3", "--from", "//Alice")
    snapshot = cli("datanet", "snapshot", str(net), "--from", "//Alice")
    assert snapshot["version"] == 1 and snapshot["contributions"] == 2
    shown = cli("datanet", "show", str(net))
    assert [c["status"] for c in shown["contributions"]] == ["APPROVED", "APPROVED", "REJECTED"]
    import numpy as np
    from safetensors.numpy import save_file

    base_dir = tmp_path / "tiny-mlp"  # a model directory as Hugging Face lays it out
    base_dir.mkdir()
    (base_dir / "config.json").write_text(json.dumps({"model_type": "mlp", "architectures": ["TinyMLP"]}))
    save_file({"fc.weight": np.zeros((10, 64), np.float32), "fc.bias": np.zeros(10, np.float32)},
              str(base_dir / "model.safetensors"))
    registered = cli("model", "register-base", str(base_dir), "--license", "Apache-2.0", "--from", "//Eve")
    assert registered["parameters"] == 650 and registered["files"] == ["config.json", "model.safetensors"]
    assert registered["context_length"] == 0  # not a language model: no context declared
    base = registered["base_model"]
    model = cli("model", "register", "--base-model", str(base), "--snapshot", f"{net}:1", "--artifact-hash",
                "22" * 32, "--training-config-hash", "33" * 32, "--index-hash", "44" * 32, "--price", "0.5",
                "--from", "//Eve")["model"]
    provenance = cli("model", "provenance", str(model))
    assert provenance["all_proofs_verified"]
    assert sorted(r["contribution"] for r in provenance["contributions"]) == sorted(
        made[w]["contribution"] for w in ("//Bob", "//Charlie"))

    with node.client() as client:
        # independent client-side check: proofs against the snapshot root, content against the uploaded files
        prov = client.pallet_query("modelregistry", "get_provenance", mr.ModelRequest(model=model), mr.Provenance)
        leaves = prov.snapshots[0].contributions
        root = prov.snapshots[0].snapshot.root
        for proof in leaves:
            assert verify_merkle_proof(root, leaf_bytes(proof.leaf), proof.index, proof.count, list(proof.siblings))
            assert client.download(proof.leaf.content_hash) in {p.read_bytes() for p in files.values()}
        assert {p.leaf.contributor for p in leaves} == {Keypair.from_uri(u).public for u in ("//Bob", "//Charlie")}
        # Dave's deposit was slashed, Bob's returned
        dave, _ = client.account_data(Keypair.from_uri("//Dave").public, prove=True)
        assert decode_u128(dave.reserved) == 0
        stats = client.pallet_query("datanet", "get_stats", dn.StatsRequest(
            datanet=net, contributor=Keypair.from_uri("//Dave").public), dn.ContributorStats)
        assert (stats.contributions, stats.rejected) == (1, 1)
        listing = client.pallet_query("modelregistry", "list_models", mr.ModelsRequest(datanet=net), mr.ModelList)
        assert [m.id for m in listing.models] == [model]
        assert decode_u128(listing.models[0].price_per_inference) == ONE_OPEN // 2


def test_content_store_over_grpc_refuses_bad_bytes(start_node, tmp_path):
    import pytest

    from sdk.client import ClientError

    node = start_node("content", "--dev", "--instant-seal", "--blob-limit", "8")
    big = tmp_path / "big.bin"
    big.write_bytes(bytes(range(256)) * 20_000)  # ~5 MB, streamed in 1 MiB chunks
    with node.client() as client:
        seen = []
        info = client.upload(big, progress=lambda sent, total: seen.append(sent), uploader=UPLOADER)
        assert info.hash == blake2_256(big.read_bytes()) and len(seen) == 5
        assert client.download(info.hash) == big.read_bytes()
        with pytest.raises(ClientError, match="not the expected"):
            client.upload(b"some bytes", expected=b"\x01" * 32, uploader=UPLOADER)
        with pytest.raises(ClientError, match="NOT_FOUND"):
            client.download(b"\x02" * 32)
        too_big = tmp_path / "too_big.bin"
        too_big.write_bytes(b"\0" * (9 << 20))
        with pytest.raises(ClientError, match="limit"):
            client.upload(too_big, uploader=UPLOADER)
        _uploads_are_signed_by_an_account_on_chain(client, node, tmp_path)
        blob = node.base_path / "blobs" / info.hash.hex()[:2] / info.hash.hex()
        blob.write_bytes(b"corrupted")
        with pytest.raises(ClientError, match="DATA_LOSS|do not match"):
            client.download(info.hash)


def _uploads_are_signed_by_an_account_on_chain(client, node, tmp_path) -> None:
    """Storing bytes on a node is something an account answers for: an unsigned upload, a signature by
    another key, for another blob or chain, a stale one, or one by a key with no account on the chain is
    refused - and nothing lands in the store."""
    import time

    import grpc
    import pytest

    from payable.content.v1 import content_pb2, content_pb2_grpc
    from sdk.client import ClientError, UploadSignature
    from sdk.wire import content_upload_message

    data = b"bytes somebody must answer for"
    digest = blake2_256(data)
    stub = content_pb2_grpc.ContentStoreStub(grpc.insecure_channel(node.target))

    def refused(first: content_pb2.UploadChunk) -> tuple[grpc.StatusCode, str]:
        with pytest.raises(grpc.RpcError) as answer:
            stub.Upload(iter([first]), timeout=30)
        return answer.value.code(), answer.value.details()

    genesis, now = client.genesis_hash, int(time.time())
    good = UploadSignature.signed(genesis, UPLOADER, digest)
    stranger = Keypair.from_uri("//NobodyOnChain")
    unauthenticated = grpc.StatusCode.UNAUTHENTICATED
    assert refused(content_pb2.UploadChunk(data=data, expected_hash=digest))[0] == unauthenticated
    wrong = {
        "another blob": UploadSignature.signed(genesis, UPLOADER, blake2_256(b"other")),
        "another chain": UploadSignature.signed(b"\x07" * 32, UPLOADER, digest),
        "another key": UploadSignature(Keypair.from_uri("//Bob").public, good.issued_at, good.signature),
        "an hour ago": UploadSignature(UPLOADER.public, now - 3600, UPLOADER.sign(
            content_upload_message(genesis, digest, UPLOADER.public, now - 3600))),
    }
    for what, signed in wrong.items():
        code, details = refused(signed.first_chunk(digest, data, len(data)))
        assert code == unauthenticated, what
        assert ("away from now" if what == "an hour ago" else "does not verify") in details, (what, details)
    code, details = refused(UploadSignature.signed(genesis, stranger, digest).first_chunk(digest, data, len(data)))
    assert code == grpc.StatusCode.PERMISSION_DENIED and stranger.address in details and "does not exist" in details
    with pytest.raises(ClientError, match="PERMISSION_DENIED"):
        client.upload(data, uploader=stranger)
    assert not list((node.base_path / "blobs").rglob(digest.hex()))  # nothing stored by any of them
    assert client.upload(data, uploader=UPLOADER).hash == digest
