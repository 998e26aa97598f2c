"""A hostile client against a real node process over raw gRPC: floods from one account cost it and do
not crowd out others, padded extrinsics are refused, the fullest block is readable by a default
client, and the same malformed input gets the same status code on every RPC that takes it."""

from __future__ import annotations

import urllib.request

import grpc
import pytest
from conftest import wait_until
from grpc_health.v1 import health_pb2, health_pb2_grpc

from payable.content.v1 import content_pb2, content_pb2_grpc
from payable.node.v1 import node_pb2, node_pb2_grpc
from payable.token.v1 import token_pb2, token_pb2_grpc
from runtime.codec import ONE_OPEN, encode_u128
from runtime.crypto import Keypair, blake2_256
from runtime.extrinsic import sign_extrinsic
from runtime.runtime import make_call_by_name
from runtime.weights import BlockLimits
from sdk.client import ClientError, UploadSignature

pytestmark = pytest.mark.e2e

ALICE, BOB, CHARLIE, DAVE, FERDIE = (Keypair.from_uri(f"//{n}") for n in ("Alice", "Bob", "Charlie", "Dave", "Ferdie"))


@pytest.fixture
def node(start_node):
    return start_node("dev", "--dev", "--block-time", "0.5", metrics=True)


def _transfer(client, signer, nonce, tip=0, amount=ONE_OPEN, dest=None):
    call = client.call("token", "transfer_keep_alive", dest=dest or DAVE.public, amount=amount)
    return sign_extrinsic(signer, call, nonce=nonce, genesis_hash=client.genesis_hash, tip=tip)


def _remark(client, signer, nonce, size, tip=0):
    return sign_extrinsic(signer, client.call("system", "remark", data=b"\x07" * size), nonce=nonce,
                          genesis_hash=client.genesis_hash, tip=tip)


def _ordinary_senders_get_in(client) -> None:
    """Transfers from three other accounts are all finalized within a few blocks."""
    start = client.chain_info().best_number
    results = [client.submit_and_wait(_transfer(client, who, client.nonce(who.public), tip=1))
               for who in (ALICE, BOB, CHARLIE)]
    assert all(r.success for r in results)
    assert max(r.block_number for r in results) <= start + 6


def test_a_far_future_nonce_flood_neither_fills_the_pool_nor_blocks_others(node):
    with node.client() as client:
        flood = [_transfer(client, FERDIE, nonce) for nonce in range(1, 1001)]  # nonce 0 never comes
        accepted = [r for chunk in range(0, 1000, 250) for r in client.submit_batch(flood[chunk:chunk + 250])
                    if not r.error_code]
        assert len(accepted) <= 64  # one sender's futures are bounded (and expire)
        codes = {r.error_code for r in client.submit_batch(flood[500:510])}
        assert codes <= {"nonce_too_far", "future_limit"}
        _ordinary_senders_get_in(client)
        info = client.chain_info()
        assert info.txpool_future <= 64
        assert client.nonce(FERDIE.public) == 0
    metrics = urllib.request.urlopen(f"http://127.0.0.1:{node.metrics_port}/metrics", timeout=10).read().decode()
    sender_max = float(next(line.split()[1] for line in metrics.splitlines()
                            if line.startswith("payable_txpool_sender_max ")))
    assert 1 <= sender_max <= 64 and "payable_txpool_senders " in metrics and "payable_txpool_expired_total" in metrics


def test_unpayable_tips_buy_nothing_and_a_payable_flood_is_bounded_and_paid_for(node):
    with node.client() as client:
        before = client.account(FERDIE.public).free
        huge = 10**6 * ONE_OPEN  # all Ferdie has, as a tip on every extrinsic: never payable with the fee
        size = BlockLimits().max_extrinsic_length - 400
        junk = [_remark(client, FERDIE, n, size, tip=huge) for n in range(260)]
        junk += [_transfer(client, FERDIE, n, tip=huge) for n in range(260, 560)]
        refused = []
        for start in range(0, len(junk), 20):
            refused += [r.error_code for r in client.submit_batch(junk[start:start + 20]) if r.error_code]
        assert len(refused) == len(junk) and set(refused) <= {"cannot_pay_fee", "nonce_too_far", "future_limit"}
        assert client.nonce(FERDIE.public) == 0 and client.account(FERDIE.public).free == before
        tip = 1000 * ONE_OPEN  # payable: the pool holds what one sender may hold, and the sender pays for it
        results = client.submit_batch([_transfer(client, FERDIE, n, tip=tip) for n in range(300)])
        accepted = [r for r in results if not r.error_code]
        # the pool never holds more than 256 of one sender's: more are accepted only as blocks (every 0.5 s;
        # a slow machine admits 300 signed transfers in longer than that) take some out during the batch
        assert 256 <= len(accepted) <= 256 + client.nonce(FERDIE.public)
        codes = {r.error_code for r in results if r.error_code}
        assert codes <= {"sender_limit", "nonce_too_far"} and ("sender_limit" in codes) == (len(accepted) < 300)
        first = client.chain_info().best_number
        _ordinary_senders_get_in(client)
        wait_until(lambda: client.chain_info().best_number >= first + 2, timeout=30,
                   message="block production going on (two more blocks)")
        # all that continue the chain without a gap are included; if a block took some out mid-batch, the
        # nonces refused before it left a gap, and those accepted after it wait behind the gap (futures)
        chained = next((n for n, r in enumerate(results) if r.error_code), len(results))
        assert client.nonce(FERDIE.public) == chained and client.account(FERDIE.public).free < before
        assert client.chain_info().txpool_future == len(accepted) - chained


def test_a_padded_extrinsic_is_refused_and_the_signers_hash_is_the_only_hash(node):
    with node.client() as client:
        good = _transfer(client, ALICE, client.nonce(ALICE.public))
        padded = good + _unknown_field(100_000)  # what a relay could append to anyone's transaction
        with pytest.raises(ClientError, match="bad_encoding"):
            client.submit(padded)
        non_minimal = bytearray(good)
        assert non_minimal[0] == 0x0A  # field 1 (signed): re-encode its length varint with one redundant byte
        end = next(i for i in range(1, 6) if non_minimal[i] < 0x80)
        non_minimal[end] |= 0x80
        non_minimal.insert(end + 1, 0x00)
        with pytest.raises(ClientError, match="bad_encoding"):
            client.submit(bytes(non_minimal))
        result = client.submit_and_wait(good)
        assert result.success and result.hash == blake2_256(good)
        included = client.block(result.block_number).block.extrinsics[result.extrinsic_index]
        assert included == good


def _unknown_field(size: int) -> bytes:
    """A length-delimited field number 100 of `size` bytes, which no Payable message declares."""
    key, length = bytes([0xA2, 0x06]), bytearray()
    n = size
    while True:
        byte = n & 0x7F
        n >>= 7
        length.append(byte | (0x80 if n else 0))
        if not n:
            break
    return key + bytes(length) + b"\x00" * size


def test_the_fullest_block_is_readable_with_default_client_settings(node):
    limits = BlockLimits()
    size = limits.max_extrinsic_length - 400
    senders = [Keypair.from_uri(f"//Filler{i}") for i in range(4)]
    with node.client() as client:
        for who in senders:
            client.submit_call(ALICE, "token", "transfer_keep_alive", dest=who.public, amount="100")
        remarks = [_remark(client, who, n, size) for who in senders for n in range(12)]  # more than a block holds
        for start in range(0, len(remarks), 8):
            results = client.submit_batch(remarks[start:start + 8])
            assert not [r.error for r in results if r.error_code], results
        wait_until(lambda: not client.chain_info().txpool_ready, timeout=60, interval=0.5,
                   message="every filler remark included (the pool drained)")
        best = client.chain_info().best_number
    plain = node_pb2_grpc.NodeStub(grpc.insecure_channel(node.target))  # gRPC's default 4 MiB receive limit
    lengths = []
    for number in range(1, best + 1):
        block = plain.GetBlock(node_pb2.BlockRequest(number=number), timeout=30).block
        lengths.append(sum(len(x) for x in block.extrinsics))
    assert max(lengths) > limits.max_length - limits.max_extrinsic_length  # a full block was among them
    assert max(lengths) <= limits.max_length


def test_the_same_malformed_input_gets_the_same_answer_everywhere(node):
    short_account, short_hash = b"\x01" * 31, b"\x02" * 5
    with node.client() as client:  # the node is up
        genesis = client.genesis_hash
    sent, one = b"x" * 2000, b"x"  # signed uploads, so what is refused is their bytes
    signed_sent, signed_one = (UploadSignature.signed(genesis, ALICE, blake2_256(data)) for data in (sent, one))
    channel = grpc.insecure_channel(node.target)
    stub, tokens = node_pb2_grpc.NodeStub(channel), token_pb2_grpc.TokenQueryStub(channel)
    content = content_pb2_grpc.ContentStoreStub(channel)

    def code(call):
        with pytest.raises(grpc.RpcError) as info:
            result = call()
            if hasattr(result, "__iter__") and not hasattr(result, "ListFields"):
                list(result)
        return info.value.code(), info.value.details()

    table = {
        "GetAccount": lambda: stub.GetAccount(node_pb2.AccountRequest(account=short_account), timeout=10),
        "TokenQuery.Account": lambda: tokens.Account(token_pb2.AccountRequest(account=short_account), timeout=10),
        "Query(token, account)": lambda: stub.Query(node_pb2.PalletQueryRequest(
            pallet="token", name="account",
            request=token_pb2.AccountRequest(account=short_account).SerializeToString()), timeout=10),
        "Download": lambda: content.Download(content_pb2.BlobRequest(hash=short_hash), timeout=10),
        "Stat": lambda: content.Stat(content_pb2.BlobRequest(hash=short_hash), timeout=10),
        "Upload (declared 10, sent 2000)": lambda: content.Upload(
            iter([signed_sent.first_chunk(blake2_256(sent), sent, 10)]), timeout=10),
        "Upload (no expected_hash)": lambda: content.Upload(iter([content_pb2.UploadChunk(data=one)]), timeout=10),
        # an account left unset is not "nobody": an outside client got a zero balance for it
        "TokenQuery.Account (unset)": lambda: tokens.Account(token_pb2.AccountRequest(), timeout=10),
        "Query(system, nonce) (unset)": lambda: stub.Query(node_pb2.PalletQueryRequest(
            pallet="system", name="nonce", request=b""), timeout=10),
        # a request stream's message that does not parse, first or later (was UNKNOWN naming a Python class)
        "Upload (a chunk that does not parse)": lambda: channel.stream_unary(
            "/payable.content.v1.ContentStore/Upload", request_serializer=bytes,
            response_deserializer=content_pb2.BlobInfo.FromString)(
                iter([signed_one.first_chunk(blake2_256(one), one, 2).SerializeToString(), b"\xff\xff\xff\xff\x0f"]),
                timeout=10),
        "ServerReflectionInfo (does not parse)": lambda: channel.stream_stream(
            "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo", request_serializer=bytes,
            response_deserializer=bytes)(iter([b"\xff\xff\xff\xff\x0f"]), timeout=10),
    }
    answers = {name: code(call) for name, call in table.items()}
    assert {c for c, _ in answers.values()} == {grpc.StatusCode.INVALID_ARGUMENT}, answers
    assert all(detail and "<class" not in detail for _, detail in answers.values())
    assert "UploadChunk" in answers["Upload (a chunk that does not parse)"][1]
    # health's Watch streams the status (an outside client's Watch failed: UNKNOWN, a coroutine never awaited)
    watched = health_pb2_grpc.HealthStub(channel).Watch(health_pb2.HealthCheckRequest(service=""), timeout=10)
    assert next(watched).status == health_pb2.HealthCheckResponse.SERVING
    watched.cancel()
    with node.client() as client:
        nonce = client.nonce(ALICE.public)
        impossible = {
            "a 17-byte amount": token_pb2.Transfer(dest=BOB.public, amount=b"\x01" * 17),
            "a 31-byte account": token_pb2.Transfer(dest=short_account, amount=encode_u128(ONE_OPEN)),
            "an unset account": token_pb2.Transfer(amount=encode_u128(ONE_OPEN)),  # was charged, failing in block
        }
        for what, args in impossible.items():
            raw = sign_extrinsic(ALICE, make_call_by_name("token", "transfer_keep_alive",
                                                          args), nonce=nonce, genesis_hash=client.genesis_hash)
            with pytest.raises(ClientError, match="INVALID_ARGUMENT.*bad_call_args") as refused:
                client.submit(raw)
            assert ("17 bytes" if "amount" in what else "32 bytes") in str(refused.value)
        assert client.nonce(ALICE.public) == nonce  # nothing pooled, nothing charged


def test_a_block_file_with_a_padded_block_is_refused(tmp_path, chain):
    from node.chaintools import MAGIC, BlockFileError, read_blocks

    built = chain.block()
    raw = built.block.SerializeToString(deterministic=True)
    for name, data in (("good", raw), ("padded", raw + _unknown_field(10))):
        (tmp_path / name).write_bytes(MAGIC + len(data).to_bytes(4, "big") + data)
    assert [b.header for b, _ in read_blocks(tmp_path / "good")] == [built.block.header]
    with pytest.raises(BlockFileError, match="does not know"):
        list(read_blocks(tmp_path / "padded"))
