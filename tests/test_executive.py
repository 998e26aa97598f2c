"""Block lifecycle: failed calls keep fee and nonce only, import re-checks everything, commits are atomic."""

import pytest

from pallets.token import interface
from payable.runtime.v1.extrinsic_pb2 import Block, EventRecord, Header
from payable.system.v1 import system_pb2
from runtime import system
from runtime.chainspec import ChainSpec, dev_spec
from runtime.codec import ONE_OPEN
from runtime.crypto import Keypair
from runtime.executive import BlockImportError, Executive
from runtime.storage.backend import MemoryBackend, RocksBackend


def test_failed_call_keeps_fee_and_nonce_and_records_the_typed_error(chain):
    ctx = chain.ex.read_context()
    bob_before = interface.free_balance(ctx, chain.bob.public)
    built = chain.block(chain.transfer(chain.bob, chain.alice.public, 10**30))
    outcome = built.outcomes[0]
    assert not outcome.ok and type(outcome.error).__name__ == "InsufficientBalance"
    ctx = chain.ex.read_context()
    assert interface.free_balance(ctx, chain.bob.public) == bob_before - outcome.fee
    assert system.account_nonce(ctx, chain.bob.public) == 1
    events = chain.ex.db.events(built.header.number).events
    failed = [e for e in events if e.name == "ExtrinsicFailed"]
    assert len(failed) == 1 and failed[0].extrinsic_index == 1 and failed[0].phase == EventRecord.APPLY_EXTRINSIC
    detail = system_pb2.ExtrinsicFailed.FromString(failed[0].data)
    assert (detail.pallet, detail.code, detail.error) == ("token", 0, "InsufficientBalance")
    assert "free balance" in detail.message
    assert not [e for e in events if e.name == "Transferred"]  # the failed call's events are dropped too


def test_a_second_node_imports_the_block_and_reaches_the_same_root(chain):
    replica = Executive.open(dev_spec())
    for _ in range(3):
        built = chain.block(chain.transfer(chain.alice, chain.bob.public, ONE_OPEN),
                            chain.transfer(chain.charlie, chain.dave.public, 2 * ONE_OPEN))
        outcomes = replica.import_block(built.block.SerializeToString())
        assert [o.ok for o in outcomes] == [o.ok for o in built.outcomes]
        assert replica.head == chain.ex.head
    replica.close()


def _tampered(block: Block, **header_changes) -> Block:
    header = Header.FromString(block.header)
    for name, value in header_changes.items():
        setattr(header, name, value)
    out = Block()
    out.CopyFrom(block)
    out.header = header.SerializeToString(deterministic=True)
    return out


@pytest.mark.parametrize("change, message", [
    ({"state_root": b"\x01" * 32}, "seal"),
    ({"number": 7}, "does not extend"),
])
def test_import_refuses_tampered_headers(chain, change, message):
    replica = Executive.open(dev_spec())
    built = chain.block(chain.transfer(chain.alice, chain.bob.public, ONE_OPEN))
    with pytest.raises(BlockImportError, match=message):
        replica.import_block(_tampered(built.block, **change))
    assert replica.head.number == 0
    replica.close()


def test_import_refuses_a_resealed_block_whose_roots_do_not_match(chain):
    replica = Executive.open(dev_spec())
    built = chain.block(chain.transfer(chain.alice, chain.bob.public, ONE_OPEN))
    for field in ("state_root", "extrinsics_root"):
        forged = _tampered(built.block, **{field: b"\x02" * 32})
        forged.seal = chain.alice.sign(forged.header)
        with pytest.raises(BlockImportError, match=field):
            replica.import_block(forged)
        assert replica.head.number == 0
    forged = _tampered(built.block, weight=1)
    forged.seal = chain.alice.sign(forged.header)
    with pytest.raises(BlockImportError, match="weight"):
        replica.import_block(forged)
    replica.import_block(built.block)  # the honest block still imports after the refusals
    assert replica.head == chain.ex.head
    replica.close()


def test_import_refuses_bad_seals_and_missing_timestamp(chain):
    replica = Executive.open(dev_spec())
    built = chain.block()
    forged = Block()
    forged.CopyFrom(built.block)
    forged.seal = Keypair.from_uri("//Mallory").sign(forged.header)
    with pytest.raises(BlockImportError, match="seal"):
        replica.import_block(forged)
    no_ts = Block()
    no_ts.CopyFrom(built.block)
    del no_ts.extrinsics[:]
    no_ts.seal = chain.alice.sign(no_ts.header)
    with pytest.raises(BlockImportError, match="timestamp"):
        replica.import_block(no_ts)
    with pytest.raises(BlockImportError, match="not a Block"):
        replica.import_block(b"\xff\xff\xff")
    replica.close()


def test_block_weight_limit_stops_inclusion(make_chain):
    doc = dev_spec().to_dict()
    doc["runtime"]["block"]["max_weight_ns"] = 700_000
    chain = make_chain(ChainSpec.from_dict(doc))
    txs = [chain.transfer(chain.alice, chain.bob.public, ONE_OPEN) for _ in range(10)]
    built = chain.block(*txs)
    assert 0 < len(built.outcomes) < 10
    assert built.header.weight <= 700_000
    assert {exc.reason.name for _, exc in built.rejected} == {"EXHAUSTS_RESOURCES"}


def test_restart_resumes_from_the_last_committed_block(tmp_path, make_chain):
    backend = RocksBackend(tmp_path / "db")
    chain = make_chain(backend=backend)
    for _ in range(3):
        chain.block(chain.transfer(chain.alice, chain.bob.public, ONE_OPEN))
    head = chain.ex.head
    chain.ex.initialize_block(chain.alice.public)  # a block in progress that never commits
    chain.ex.close()
    backend.close()

    backend = RocksBackend(tmp_path / "db")
    reopened = Executive.open(dev_spec(), backend)
    assert reopened.head == head
    reopened.try_state()
    assert reopened.db.state_root_at(2) is not None
    backend.close()


def test_historical_roots_are_kept_for_the_window_only(make_chain):
    doc = dev_spec().to_dict()
    doc["runtime"]["state_root_window"] = 2
    chain = make_chain(ChainSpec.from_dict(doc))
    roots = [chain.block().header.state_root for _ in range(4)]
    assert chain.ex.db.state_root_at(4) == roots[3] and chain.ex.db.state_root_at(3) == roots[2]
    assert chain.ex.db.state_root_at(2) is None and chain.ex.db.state_root_at(1) is None


def test_a_different_spec_cannot_open_an_existing_database():
    from runtime.errors import ChainSpecError

    backend = MemoryBackend()
    Executive.open(dev_spec(), backend).close()
    other = dev_spec().to_dict()
    other["genesis"]["system"]["timestamp_ms"] = 1
    with pytest.raises(ChainSpecError, match="genesis"):
        Executive.open(ChainSpec.from_dict(other), backend)


def test_aborted_block_leaves_no_trace(chain):
    before = chain.ex.head
    chain.ex.initialize_block(chain.alice.public)
    chain.ex.apply_extrinsic(chain.transfer(chain.alice, chain.bob.public, ONE_OPEN))
    chain.ex.finalize_block()
    chain.ex.abort()
    assert chain.ex.head == before and chain.ex.db.trie.root == before.state_root
    chain.nonces.clear()
    assert chain.block(chain.transfer(chain.alice, chain.bob.public, ONE_OPEN)).outcomes[0].ok


def test_another_chains_blocks_are_refused_saying_so(make_chain):
    """Blocks exported from a chain of another spec: the first names the two geneses, not a gap in heights."""
    from runtime.executive import BlockImportError

    ours, theirs = make_chain(), make_chain(dev_spec(endowment="5 OPEN"))  # another genesis state
    built = theirs.block()
    with pytest.raises(BlockImportError, match="another chain's"):
        ours.ex.import_block(built.block.SerializeToString())
