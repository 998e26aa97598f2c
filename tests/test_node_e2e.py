"""A real node process over real gRPC on loopback: transfers, proofs, streams, services, CLI, shutdown."""

import json
import subprocess
import sys
import urllib.request

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from payable.node.v1 import node_pb2
from payable.token.v1 import token_pb2, token_pb2_grpc
from runtime.codec import ONE_OPEN, decode_u128
from runtime.crypto import Keypair
from runtime.extrinsic import sign_extrinsic
from sdk.client import ClientError

pytestmark = pytest.mark.e2e

ALICE, BOB = Keypair.from_uri("//Alice"), Keypair.from_uri("//Bob")


@pytest.fixture
def node(start_node):
    return start_node("dev", "--dev", "--instant-seal", metrics=True)


def test_transfer_inclusion_and_proven_balance(node):
    with node.client() as client:
        before, _ = client.account_data(BOB.public, prove=True)
        result = client.submit_call(ALICE, "token", "transfer_keep_alive", dest=BOB.address, amount="2.5")
        assert result.success and result.block_number >= 1
        after, proven_at = client.account_data(BOB.public, prove=True)
        assert decode_u128(after.free) - decode_u128(before.free) == 5 * ONE_OPEN // 2
        assert proven_at >= result.block_number
        block = client.block(result.block_number)
        assert block.block.extrinsics[result.extrinsic_index]
        names = [e.name for e in client.events(result.block_number).events]
        assert "Transferred" in names and "ExtrinsicSuccess" in names
        failed = client.submit_call(BOB, "token", "transfer_keep_alive", dest=ALICE.address, amount="99999999")
        assert not failed.success and "InsufficientBalance" in failed.error
        assert client.nonce(BOB.public) == 1


def test_watch_reports_ready_then_in_block_then_finalized(node):
    with node.client() as client:
        raw = client.sign(ALICE, client.call("token", "transfer_keep_alive", dest=BOB.public, amount=ONE_OPEN))
        states = [node_pb2.TxStatus.State.Name(s.state) for s in client.watch(raw)]
        assert states == ["READY", "IN_BLOCK", "FINALIZED"]


def test_heads_stream_and_typed_pallet_query_service(node):
    with node.client() as client:
        heads = client.heads()
        current = next(heads)  # the head when the stream opened
        assert current.header_bytes == client.node.GetHeader(node_pb2.BlockRequest(
            number=current.header.number), timeout=10).header_bytes
        client.submit_call(ALICE, "token", "transfer_keep_alive", dest=BOB.public, amount="1")
        head = next(heads)
        heads.cancel()
        assert head.header.number == current.header.number + 1
        stub = token_pb2_grpc.TokenQueryStub(grpc.insecure_channel(node.target))
        issuance = stub.TotalIssuance(token_pb2.Empty(), timeout=10)
        assert decode_u128(issuance.value) == 6 * 1_000_000 * ONE_OPEN
        account = stub.Account(token_pb2.AccountRequest(account=ALICE.public), timeout=10)
        assert decode_u128(account.free) > 0


def test_health_reflection_and_metrics(node):
    with node.client() as client:
        client.submit_call(ALICE, "token", "transfer_keep_alive", dest=BOB.public, amount="1")
    channel = grpc.insecure_channel(node.target)
    health = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=""), timeout=10)
    assert health.status == health_pb2.HealthCheckResponse.SERVING
    answers = reflection_pb2_grpc.ServerReflectionStub(channel).ServerReflectionInfo(
        iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=10)
    services = {s.name for s in next(answers).list_services_response.service}
    assert {"payable.node.v1.Node", "payable.token.v1.TokenQuery", "grpc.health.v1.Health"} <= services
    text = urllib.request.urlopen(f"http://127.0.0.1:{node.metrics_port}/metrics", timeout=10).read().decode()
    assert "payable_block_height" in text and "payable_extrinsics_included_total 1.0" in text


def test_bad_input_is_rejected_with_reasons_and_leaves_the_state_alone(node):
    with node.client() as client:
        client.submit_call(ALICE, "token", "transfer_keep_alive", dest=BOB.public, amount="1")
        root = client.header().header.state_root
        good = client.sign(ALICE, client.call("token", "transfer_keep_alive", dest=BOB.public, amount="1"))
        forged = bytearray(good)
        forged[-5] ^= 0xFF
        other_chain = sign_extrinsic(ALICE, client.call("token", "transfer_keep_alive", dest=BOB.public, amount="1"),
                                     nonce=client.nonce(ALICE.public), genesis_hash=b"\x42" * 32)
        replay = client.block(1).block.extrinsics[1]
        spent = sign_extrinsic(ALICE, client.call("token", "transfer_keep_alive", dest=BOB.public, amount="2"),
                               nonce=0, genesis_hash=client.genesis_hash)  # another call on the nonce #1 spent
        cases = {
            b"": "empty", b"\xff\xfe garbage": "bad_encoding", good[: len(good) // 2]: "bad_encoding",
            bytes(forged): "bad_signature", other_chain: "wrong_genesis", spent: "stale_nonce",
            b"\x0a" + b"\x00" * 200_000: "oversize|bad_encoding",
        }
        for raw, reason in cases.items():
            with pytest.raises(ClientError) as info:
                client.submit(raw)
            assert "INVALID_ARGUMENT" in str(info.value)
            assert any(r in str(info.value) for r in reason.split("|")), (reason, str(info.value))
        # the same bytes sent again: not "stale nonce" (which reads like somebody else spent it) but where it is
        with pytest.raises(ClientError, match=r"ALREADY_EXISTS.*already in block #1 \(index 1\)"):
            client.submit(replay)
        with pytest.raises(ClientError, match="takes 1 key"):
            client.storage_key("token", "Account")  # wrong arity is caught before anything is sent
        with pytest.raises(ClientError, match="INVALID_ARGUMENT"):
            client._rpc(client.node.QueryStorage, node_pb2.StorageRequest(key=b""))
        assert client.header().header.state_root == root
        assert client.chain_info().txpool_ready == 0


def test_cli_against_the_node(node):
    def cli(*args):
        done = subprocess.run([sys.executable, "-m", "cli", *args, "--node", node.target, "--json"],
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    with node.client():
        pass
    sent = cli("transfer", "--from", "//Alice", "--to", BOB.address, "--amount", "1.25")
    assert sent["success"] and sent["block"] >= 1
    balance = cli("query", "balance", "//Bob", "--prove")
    assert balance["proven"] and balance["free"] == "1000001.25"  # OPEN, exact, as every --json amount
    earned = cli("query", "earnings", "//Bob")  # no paid inference yet: nothing earned, nothing held
    assert (earned["account"], earned["total"], earned["owed"], earned["payouts"]) == (BOB.address, "0", "0", [])
    generic = cli("tx", "token", "bond", "--arg", "amount=3", "--from", "//Charlie")
    assert generic["success"]
    block = cli("block", str(generic["block"]))
    assert "token.Bonded" in block["events"]
    bad = subprocess.run([sys.executable, "-m", "cli", "transfer", "--from", "//Alice", "--to", "nonsense",
                          "--amount", "1", "--node", node.target], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "error:" in bad.stderr
    negative = subprocess.run([sys.executable, "-m", "cli", "query", "earnings", "//Bob", "--last", "-1", "--node",
                               node.target], capture_output=True, text=True, timeout=60)
    assert negative.returncode == 2 and "below the least allowed, 0" in negative.stderr


def test_sigterm_shuts_down_cleanly_and_restart_resumes(node, start_node):
    with node.client() as client:
        result = client.submit_call(ALICE, "token", "transfer_keep_alive", dest=BOB.public, amount="1")
        head = client.chain_info().best_hash
    assert node.stop() == 0
    again = start_node("dev", "--dev", "--instant-seal")
    with again.client() as client:
        assert client.chain_info().best_hash == head
        assert client.block(result.block_number).block.extrinsics


def test_batch_submission_reports_each_extrinsic(start_node):
    slow = start_node("slow", "--dev", "--block-time", "600")  # nothing is sealed while the batch runs
    with slow.client() as client:
        call = client.call("token", "transfer_keep_alive", dest=BOB.public, amount="1")
        first, second, gap = (client.sign(ALICE, call, nonce=n) for n in (0, 1, 5))
        results = client.submit_batch([first, b"\x01junk", second, first, gap])
        assert [r.error_code for r in results] == ["", "bad_encoding", "", "duplicate", ""]
        assert results[3].hash == results[0].hash
        info = client.chain_info()
        assert (info.txpool_ready, info.txpool_future) == (2, 1)


def test_explorer_index_finds_extrinsics_by_hash_and_pages_an_account_history(node, start_node):
    """The node's derived index: an extrinsic by hash with its events; an account's history newest first,
    paged without splitting a block; rebuilt on open for a database written before the index existed."""
    charlie = Keypair.from_uri("//Charlie")
    with node.client() as client:
        results = [client.submit_call(ALICE, "token", "transfer_keep_alive", dest=charlie.address, amount="1")
                   for _ in range(3)]
        found = client.extrinsic(results[0].hash)
        assert (found.block_number, found.index) == (results[0].block_number, results[0].extrinsic_index)
        assert [e.name for e in found.events][-1] == "ExtrinsicSuccess"
        with pytest.raises(ClientError, match="no extrinsic with hash"):
            client.extrinsic(bytes(32))
        history = client.account_history(charlie.public)
        assert [e.block_number for e in history.entries] == [r.block_number for r in reversed(results)]
        assert all("call:dest" in e.roles and "token.Transferred" in e.roles for e in history.entries)
        assert history.entries[0].extrinsic_hash == results[-1].hash
        pages, before = [], 0
        while True:
            page = client.account_history(charlie.public, before_block=before, limit=1)
            pages.append([e.block_number for e in page.entries])
            if not page.next_before_block:
                break
            before = page.next_before_block
        assert pages == [[r.block_number] for r in reversed(results)]
        alice = client.account_history(ALICE.public, limit=500)
        assert {"signer"} <= set(alice.entries[0].roles)
        with pytest.raises(ClientError, match="above 500"):
            client.account_history(ALICE.public, limit=501)
    assert node.stop() == 0
    from runtime.chainindex import ACCOUNT, INDEXED, TX
    from runtime.storage.backend import RocksBackend

    backend = RocksBackend(node.base_path / "db")
    backend.write_batch({key: None for prefix in (ACCOUNT, TX, INDEXED) for key, _ in backend.iter_prefix(prefix)})
    backend.close()
    again = start_node("dev", "--dev", "--instant-seal")
    with again.client() as client:
        assert client.extrinsic(results[1].hash).block_number == results[1].block_number
        assert len(client.account_history(charlie.public).entries) == 3


def test_a_block_the_node_does_not_keep_is_not_found_saying_why(start_node):
    """A node that joined by state sync holds the blocks after its snapshot only: asked for an earlier block,
    header or events it answers NOT_FOUND saying it does not keep them (not UNKNOWN with a LookupError) -
    here a dev node's store with its first two blocks taken out, as a restored one lacks them."""
    from runtime.chaindb import BLOCK, EVENTS
    from runtime.storage.backend import RocksBackend

    node = start_node("dev", "--dev", "--instant-seal")
    with node.client() as client:
        for _ in range(3):
            client.submit_call(ALICE, "token", "transfer_keep_alive", dest=BOB.address, amount="1")
    assert node.stop() == 0
    backend = RocksBackend(node.base_path / "db")
    backend.write_batch({prefix + n.to_bytes(8, "big"): None for prefix in (BLOCK, EVENTS) for n in (1, 2)})
    backend.close()
    again = start_node("dev", "--dev", "--instant-seal")
    with again.client() as client:
        for read in (client.block, client.header, client.events):
            with pytest.raises(ClientError, match=r"NOT_FOUND: .*#1\b.*: this node does not keep it"):
                read(1)
        assert client.block(3).header.number == 3 and len(client.events(3).events) > 0


def test_a_dry_run_says_what_a_body_would_do_and_changes_nothing(node):
    """`DryRun` of an unsigned body: the pool's verdict, the fee, the call's outcome and events - a wallet
    shows a call sure to fail before it is signed and charged; the state is as it was."""
    from runtime.extrinsic import extrinsic_body

    with node.client() as client:
        assert client.submit_call(ALICE, "token", "transfer_keep_alive", dest=BOB.public, amount="1").success
        root, nonce = client.header().header.state_root, client.nonce(ALICE.public)

        def body(call, **fields):
            return extrinsic_body(ALICE.public, client.call("token", call, **fields), nonce=nonce,
                                  genesis_hash=client.genesis_hash)

        fine = client.dry_run(body("transfer_keep_alive", dest=BOB.public, amount="1"))
        assert fine.valid and fine.success and decode_u128(fine.fee) > 0
        assert [e.name for e in fine.events] == ["Transferred"]
        too_much = client.dry_run(body("transfer_keep_alive", dest=BOB.public, amount="1000000000"))
        assert too_much.valid and not too_much.success and too_much.error.startswith("token.")
        zero = client.dry_run(body("transfer", dest=BOB.public, amount="0"))
        assert not zero.valid and "token.ZeroAmount" in zero.invalid  # refused at the door: nothing charged
        stale = client.dry_run(extrinsic_body(ALICE.public, client.call("token", "transfer", dest=BOB.public,
                                                                        amount="1"), nonce=0,
                                              genesis_hash=client.genesis_hash))
        assert not stale.valid and "stale_nonce" in stale.invalid  # nonce 0 is spent
        with pytest.raises(ClientError, match="INVALID_ARGUMENT"):
            client.dry_run(b"\xff\xfe not a body")
        assert client.header().header.state_root == root and client.nonce(ALICE.public) == nonce
