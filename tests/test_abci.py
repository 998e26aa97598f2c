"""The ABCI layer without CometBFT: framing under split, merged and oversized frames (property tests
and a real socket server), and the application's answers - InitChain checks, proposals refused when
the runtime would refuse them, evidence slashing the right bond, fees to the validators, Info."""

from __future__ import annotations

import socket

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from node.abci.app import AbciApp
from node.abci.framing import FrameReader, FramingError, frame
from node.abci.server import AbciServer
from node.abci.types import abci, keys
from node.node import Node
from pallets.validators.interface import consensus_address
from payable.token.v1 import token_pb2
from payable.validators.v1 import validators_pb2
from runtime.chainspec import ChainSpec, dev_spec
from runtime.codec import ONE_OPEN, encode_u128
from runtime.crypto import Keypair, blake2_256
from runtime.extrinsic import sign_extrinsic
from runtime.protocol import TREASURY
from runtime.runtime import make_call_by_name

GENESIS_MS = 1_700_000_000_000
VALIDATORS = [Keypair.from_uri(f"//Validator{i}") for i in range(4)]
CONSENSUS = [Keypair.from_uri(f"//Validator{i}//consensus").public for i in range(4)]


# --- framing -----------------------------------------------------------------------------------
@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(max_size=300), max_size=8), st.lists(st.integers(1, 50), min_size=1, max_size=20),
       st.integers(0, 70_000))
def test_frames_survive_any_split_and_merge(payloads, cuts, big):
    payloads = [*payloads, bytes(range(256)) * (big // 256)]  # one frame past 64 KB
    stream = b"".join(frame(p) for p in payloads)
    reader, out, at, i = FrameReader(), [], 0, 0
    while at < len(stream):
        step = cuts[i % len(cuts)] * (1 if i % 3 else 997)  # tiny reads and large merged reads
        out += reader.feed(stream[at:at + step])
        at, i = at + step, i + 1
    assert out == payloads and reader.pending == 0


def test_oversized_and_malformed_length_prefixes_are_refused():
    with pytest.raises(FramingError, match="exceeds"):
        FrameReader(max_frame=1024).feed(frame(b"x" * 2000)[:5])  # refused before the body arrives
    with pytest.raises(FramingError, match="longer than 10 bytes"):
        FrameReader().feed(b"\xff" * 11)


# --- an application on a real node -------------------------------------------------------------
def validator_spec() -> ChainSpec:
    doc = dev_spec().to_dict()
    doc["genesis"]["token"]["balances"] += [[v.address, "10000 OPEN"] for v in VALIDATORS]
    doc["genesis"]["validators"] = {"validators": [[v.address, key.hex(), "1000 OPEN"]
                                                   for v, key in zip(VALIDATORS, CONSENSUS, strict=True)]}
    doc["config"]["validators"] = {"max_validators": 4, "epoch_length": 100}
    return ChainSpec.from_dict(doc)


@pytest.fixture
def app(tmp_path):
    node = Node(validator_spec(), tmp_path / "node")
    application = AbciApp(node)
    yield application
    node.stop()


def init_chain(app, validators=None, time_ms=GENESIS_MS + 1000, chain_id="payable-dev"):
    request = abci.RequestInitChain(chain_id=chain_id, initial_height=1, validators=[
        abci.ValidatorUpdate(pub_key=keys.PublicKey(ed25519=key), power=1000) for key in (validators or CONSENSUS)])
    request.time.FromMilliseconds(time_ms)
    return app.handle(abci.Request(init_chain=request)).init_chain


def finalize(app, height, txs=(), misbehavior=(), proposer=0, signed=(0, 1, 2, 3)):
    request = abci.RequestFinalizeBlock(height=height, txs=list(txs), proposer_address=consensus_address(
        CONSENSUS[proposer]), misbehavior=list(misbehavior))
    request.time.FromMilliseconds(GENESIS_MS + 1000 * height)
    for i, key in enumerate(CONSENSUS):
        request.decided_last_commit.votes.add(validator=abci.Validator(address=consensus_address(key), power=1000),
                                              block_id_flag=2 if i in signed else 1)
    response = app.handle(abci.Request(finalize_block=request)).finalize_block
    app.handle(abci.Request(commit=abci.RequestCommit()))
    return response


def candidate(app, who: Keypair) -> validators_pb2.Candidate:
    raw = app.executive.query("validators", "get_candidate", validators_pb2.CandidateRef(
        account=who.public).SerializeToString())
    return validators_pb2.Candidate.FromString(raw)


def free(app, who: bytes) -> int:
    return app.executive.account_balances(who)["free"]


def transfer(app, sender: Keypair, nonce: int, amount: int = ONE_OPEN) -> bytes:
    call = make_call_by_name("token", "transfer", token_pb2.Transfer(dest=Keypair.from_uri("//Dest").public,
                                                             amount=encode_u128(amount)))
    return sign_extrinsic(sender, call, nonce=nonce, genesis_hash=app.executive.genesis_hash)


def test_init_chain_checks_validators_chain_id_and_time(app):
    with pytest.raises(ValueError, match="genesis validators"):
        init_chain(app, validators=CONSENSUS[:3])
    with pytest.raises(ValueError, match="chain id"):
        init_chain(app, chain_id="other")
    with pytest.raises(ValueError, match="genesis time"):
        init_chain(app, time_ms=GENESIS_MS)
    assert init_chain(app).app_hash == app.executive.head.state_root


def test_evidence_slashes_the_right_bond_once_and_removes_the_offender(app):
    init_chain(app)
    treasury = free(app, TREASURY)
    offence = abci.Misbehavior(type=abci.DUPLICATE_VOTE, height=1, total_voting_power=4000,
                               validator=abci.Validator(address=consensus_address(CONSENSUS[2]), power=1000))
    response = finalize(app, 1, misbehavior=[offence])
    slashed = 1000 * ONE_OPEN * 500 // 10_000  # duplicate_vote_slash_bps of the stake at the offence
    hit = candidate(app, VALIDATORS[2])
    assert hit.jailed and int.from_bytes(hit.bond, "big") == 1000 * ONE_OPEN - slashed
    assert free(app, TREASURY) == treasury + slashed
    for other in (0, 1, 3):
        assert not candidate(app, VALIDATORS[other]).jailed
    assert [(u.pub_key.ed25519, u.power) for u in response.validator_updates] == [(CONSENSUS[2], 0)]
    finalize(app, 2, misbehavior=[offence])  # the same evidence again: no second slash
    assert int.from_bytes(candidate(app, VALIDATORS[2]).bond, "big") == 1000 * ONE_OPEN - slashed
    app.executive.try_state()


def test_proposals_the_runtime_would_refuse_are_rejected_and_fees_go_to_validators(app):
    init_chain(app)
    alice = Keypair.from_uri("//Alice")
    good = transfer(app, alice, 0)
    forged = bytearray(transfer(app, alice, 1))
    forged[-1] ^= 1
    request = abci.RequestProcessProposal(height=1, txs=[good, bytes(forged)],
                                          proposer_address=consensus_address(CONSENSUS[1]))
    request.time.FromMilliseconds(GENESIS_MS + 1000)
    assert app.handle(abci.Request(process_proposal=request)).process_proposal.status == \
        abci.ResponseProcessProposal.REJECT
    request.txs.pop()
    assert app.handle(abci.Request(process_proposal=request)).process_proposal.status == \
        abci.ResponseProcessProposal.ACCEPT
    before = [free(app, v.public) for v in VALIDATORS]
    response = finalize(app, 1, txs=[good], proposer=1, signed=(0, 1, 2))
    assert [r.code for r in response.tx_results] == [0]
    gained = [free(app, v.public) - b for v, b in zip(VALIDATORS, before, strict=True)]
    total = sum(gained)
    assert total > 0 and gained[3] == 0  # node 3 did not sign the previous block
    proposer_share = total * 2_000 // 10_000  # proposer_bps; the rest splits by power, exactly
    by_power = [gained[0], gained[1] - proposer_share, gained[2]]
    assert sum(by_power) == total - proposer_share and max(by_power) - min(by_power) <= 1
    info = app.handle(abci.Request(info=abci.RequestInfo())).info
    assert info.last_block_height == 1 and info.last_block_app_hash == app.executive.head.state_root
    app.executive.try_state()


def test_finalize_block_reports_each_transaction_with_the_events_the_chain_recorded(app):
    """CometBFT's view of a block - results, events, left-out transactions - says what the node's own
    event store says: a success, a call that failed (its fee still taken), and a replay left out."""
    init_chain(app)
    alice = Keypair.from_uri("//Alice")
    good, failing = transfer(app, alice, 0), transfer(app, alice, 1, amount=10 ** 30)
    response = finalize(app, 1, txs=[good, failing, good])
    assert [r.code for r in response.tx_results] == [0, 2, 1]
    recorded = app.executive.db.events(1).events

    def chain_events(index):
        return [(f"{e.pallet}.{e.name}", e.data.hex()) for e in recorded
                if e.phase == e.APPLY_EXTRINSIC and e.extrinsic_index == index]

    stored = list(app.executive.db.block(1).extrinsics)  # the block's inherents come first
    for raw, result in zip((good, failing), response.tx_results[:2], strict=True):
        index = stored.index(raw)
        first, *rest = result.events
        assert first.type == "extrinsic" and [(a.key, a.value, a.index) for a in first.attributes] == [
            ("hash", blake2_256(raw).hex(), True), ("index", str(index), False)]
        assert [(e.type, e.attributes[0].value) for e in rest] == chain_events(index) != []
        assert result.gas_used > 0
    assert "InsufficientBalance" in response.tx_results[1].log
    assert "system.ExtrinsicFailed" in [e.type for e in response.tx_results[1].events]
    assert response.tx_results[2].log.startswith("left out: ") and not response.tx_results[2].events
    block_events = [(e.type, e.attributes[0].value) for e in response.events]
    assert block_events == [(f"{e.pallet}.{e.name}", e.data.hex()) for e in recorded
                            if e.phase != e.APPLY_EXTRINSIC] != []


def test_a_signature_this_node_verified_is_not_verified_again_and_a_bad_one_is_always_refused(app, monkeypatch):
    """Executing a proposal skips the signature of exact bytes this node found correctly signed itself - on
    admission (CheckTx) or in an earlier proposal (e.g. the same transfer proposed again after a round
    change) - and checks every other one, however often it comes: a forged copy of a verified transfer
    from another proposer is refused every time. Counted at the signature check itself."""
    import runtime.crypto
    import runtime.executive

    checks = []
    real = runtime.crypto.verify

    def counted(public, message, signature):
        checks.append(bytes(signature))
        return real(public, message, signature)

    monkeypatch.setattr(runtime.crypto, "verify", counted)  # the thread pool's checks (block execution)
    monkeypatch.setattr(runtime.executive, "verify", counted)  # the pool's admission checks
    init_chain(app)
    alice, bob = Keypair.from_uri("//Alice"), Keypair.from_uri("//Bob")
    admitted, unseen = transfer(app, alice, 0), transfer(app, bob, 0)
    forged = bytearray(transfer(app, alice, 1))
    forged[-1] ^= 1

    def propose(txs, round_ms):  # another validator's proposal for height 1
        request = abci.RequestProcessProposal(height=1, txs=txs, proposer_address=consensus_address(CONSENSUS[1]))
        request.time.FromMilliseconds(GENESIS_MS + round_ms)
        return app.handle(abci.Request(process_proposal=request)).process_proposal.status

    assert app.handle(abci.Request(check_tx=abci.RequestCheckTx(tx=admitted))).check_tx.code == 0
    assert len(checks) == 1
    assert propose([admitted, unseen], 1000) == abci.ResponseProcessProposal.ACCEPT
    assert len(checks) == 2  # only the transfer this node had not seen
    assert propose([admitted, unseen], 2000) == abci.ResponseProcessProposal.ACCEPT  # the next round
    assert len(checks) == 2 and app.verified.hits == 1  # `unseen` was verified in the first round's proposal
    for round_ms in (3000, 4000):
        assert propose([admitted, bytes(forged)], round_ms) == abci.ResponseProcessProposal.REJECT
    assert checks[2:] == [bytes(forged[-64:])] * 2  # checked again each time: a failed check is never kept
    assert blake2_256(bytes(forged)) not in app.verified._seen
    finalize(app, 1, txs=[admitted, unseen], proposer=1)
    assert len(app.verified) == 0  # committed: spent nonces, never valid again


def test_a_real_socket_server_answers_split_merged_and_large_frames(app):
    server = AbciServer(app.handle, "tcp://127.0.0.1:0")
    server.start()
    try:
        with socket.create_connection(("127.0.0.1", server.port)) as conn:
            requests = [abci.Request(echo=abci.RequestEcho(message=f"m{i}")) for i in range(5)]
            requests.insert(2, abci.Request(check_tx=abci.RequestCheckTx(tx=b"\x01" * 200_000)))
            requests.append(abci.Request(flush=abci.RequestFlush()))
            stream = b"".join(frame(r.SerializeToString()) for r in requests)
            for start in range(0, len(stream), 7001):  # cut anywhere, several frames per write
                conn.sendall(stream[start:start + 7001])
            reader, responses = FrameReader(), []
            while len(responses) < len(requests):
                responses += [abci.Response.FromString(f) for f in reader.feed(conn.recv(65536))]
        kinds = [r.WhichOneof("value") for r in responses]
        assert kinds == ["echo", "echo", "check_tx", "echo", "echo", "echo", "flush"]
        assert [r.echo.message for r in responses if r.HasField("echo")] == [f"m{i}" for i in range(5)]
        assert responses[2].check_tx.code != 0 and "bytes" in responses[2].check_tx.log
    finally:
        server.stop()


def test_a_future_extrinsic_outlives_a_catch_up_and_a_local_drop_does_not_end_its_watch(tmp_path):
    """Under CometBFT: blocks a node imports while catching up (made before the extrinsic arrived) do not age
    it, however many; once it has waited `future_ttl` blocks made after it arrived, this node's pool drops
    it - DROPPED, saying another validator may still include it - and its watch stays open, so the block
    that does include it still reaches the watcher."""
    import time

    from payable.node.v1 import node_pb2

    node = Node(validator_spec(), tmp_path / "node", pool_limits={"future_ttl": 4})
    app = AbciApp(node)
    gossiped = []

    def forward(raws):  # as the driver does: what the pool admits goes on to the engine's mempool
        gossiped.extend(raws)
        return [None] * len(raws)

    node.forward = forward
    try:
        init_chain(app)
        alice = Keypair.from_uri("//Alice")
        waiting = transfer(app, alice, 1)  # nonce 0 is missing: a future
        _, watch = node.submit(waiting, watch=True)
        assert gossiped == [waiting]

        def commit(height, time_ms, txs=()):
            request = abci.RequestFinalizeBlock(height=height, txs=list(txs), proposer_address=consensus_address(
                CONSENSUS[0]))
            request.time.FromMilliseconds(time_ms)
            assert app.handle(abci.Request(finalize_block=request)).finalize_block
            app.handle(abci.Request(commit=abci.RequestCommit()))

        for height in range(1, 21):  # twenty blocks made before it arrived, imported while catching up
            commit(height, GENESIS_MS + 1000 * height)
        assert blake2_256(waiting) in node.pool
        now = int(time.time() * 1000)
        for height in range(21, 25):  # four blocks made after it arrived: this node's pool gives up on it
            commit(height, now + 1000 * height)
        assert blake2_256(waiting) not in node.pool
        heard = []
        while not watch.empty():
            heard.append(watch.get())
        assert [s.state for s in heard] == [node_pb2.TxStatus.FUTURE, node_pb2.TxStatus.DROPPED]
        assert "another validator may still include it" in heard[-1].reason
        commit(25, now + 25_000, [transfer(app, alice, 0), waiting])  # another proposer had it
        states = [watch.get(timeout=5) for _ in range(3)]
        assert [s.state if s is not None else None for s in states] == [
            node_pb2.TxStatus.IN_BLOCK, node_pb2.TxStatus.FINALIZED, None]
        assert states[1].block_number == 25 and states[1].success
    finally:
        node.stop()
