"""The chain tools' CometBFT path in-process: blocks built the way the ABCI app builds them (no seal, the
block-rewards account as author, the consensus inherent), each made final by a commit of the next height that
this test's own validator keys sign with CometBFT's sign-bytes (`sdk.cometbft`, checked against CometBFT's own
vectors), stored as the node's CommitRecorder stores `/commit` results. The real network's round trip is in
tests/test_cometbft_chaintools.py; here: what check-chain and import-blocks refuse, and that an import into a
chain that already has blocks is all or nothing."""

from __future__ import annotations

import base64
import datetime
import json
from pathlib import Path

import pytest
from conftest import GENESIS_TS, DevChain

from node.abci.finality import commit_key, commit_record
from node.chaintools import BlockFileError, check_chain, export_blocks, import_blocks, read_blocks
from node.node import DB_DIR, open_spec
from payable.system.v1 import system_pb2
from runtime import system
from runtime.chaindb import ChainDB
from runtime.chainspec import DEV_ACCOUNTS, ChainSpec, dev_spec
from runtime.crypto import Keypair
from runtime.executive import BlockImportError, Executive
from runtime.extrinsic import inherent_extrinsic, make_call
from runtime.protocol import BLOCK_REWARDS
from runtime.storage.backend import RocksBackend
from sdk import cometbft

CHAIN_ID = "payable-unit-comet"
KEYS = [Keypair.from_uri(f"//consensus-{i}") for i in range(4)]
OUTSIDER = Keypair.from_uri("//consensus-outsider")
BLOCKS = 6


def comet_spec() -> ChainSpec:
    doc = dev_spec().to_dict()
    doc["id"] = CHAIN_ID
    doc["genesis"]["system"] = {"timestamp_ms": GENESIS_TS}
    doc["genesis"]["validators"] = {"validators": [
        [Keypair.from_uri(uri).address, base64.b64encode(key.public).decode(), "1000 OPEN"]
        for uri, key in zip(DEV_ACCOUNTS, KEYS, strict=False)]}
    doc["config"]["validators"] = {"max_validators": len(KEYS), "epoch_length": 10}
    return ChainSpec.from_dict(doc)


def _rfc3339(t: cometbft.Time) -> str:
    whole = datetime.datetime.fromtimestamp(t.seconds, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{whole}.{t.nanos:09d}Z"


def _block_id(b: cometbft.BlockId) -> dict:
    return {"hash": b.hash.hex().upper(), "parts": {"total": b.parts_total, "hash": b.parts_hash.hex().upper()}}


def signed_header(height: int, app_hash: bytes, signing, elected, signers=None) -> dict:
    """`/commit`'s signed_header for `height`: a header carrying `app_hash` and the two sets' hashes, and
    precommits of `signers` (keypairs; default: those of `signing`) for it, in the set's order."""
    time = cometbft.Time(GENESIS_TS // 1000 + height, 123_456_789)
    filler = {name: bytes([i + 1]) * 32 for i, name in enumerate(
        ("last_commit_hash", "data_hash", "consensus_hash", "last_results_hash", "evidence_hash"))}
    header = cometbft.Header(11, 1, CHAIN_ID, height, time, cometbft.BlockId(b"\x09" * 32, 1, b"\x08" * 32),
                             validators_hash=cometbft.validators_hash(cometbft.in_set_order(signing)),
                             next_validators_hash=cometbft.validators_hash(cometbft.in_set_order(elected)),
                             app_hash=app_hash, proposer_address=cometbft.validator_address(KEYS[0].public),
                             **filler)
    block_id = cometbft.BlockId(header.hash(), 1, b"\x07" * 32)
    sign_bytes = cometbft.precommit_sign_bytes(CHAIN_ID, height, 0, block_id, time)
    signatures = [{"block_id_flag": 2, "validator_address": cometbft.validator_address(k.public).hex().upper(),
                   "timestamp": _rfc3339(time), "signature": base64.b64encode(k.sign(sign_bytes)).decode()}
                  for k in (signers or [next(k for k in (*KEYS, OUTSIDER) if k.public == key)
                                        for key, _ in cometbft.in_set_order(signing)])]
    hashes = {name: getattr(header, name).hex().upper() for name in (
        *filler, "validators_hash", "next_validators_hash", "app_hash", "proposer_address")}
    return {"header": {"version": {"block": "11", "app": "1"}, "chain_id": CHAIN_ID, "height": str(height),
                       "time": _rfc3339(time), "last_block_id": _block_id(header.last_block_id), **hashes},
            "commit": {"height": str(height), "round": 0, "block_id": _block_id(block_id), "signatures": signatures}}


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> dict:
    """A stopped CometBFT-style node's base path: BLOCKS blocks with a transfer each, every block but the head
    with its recorded commit; and per block (validators that sign its commit, those it elected, its root)."""
    base = tmp_path_factory.mktemp("comet-unit") / "node"
    spec = comet_spec()
    open_spec(base, spec)
    backend = RocksBackend(base / DB_DIR)
    executive = Executive.open(spec, backend)
    chain, sets = DevChain(executive), {}
    note = inherent_extrinsic(make_call(system.NAME, 2, system_pb2.NoteConsensus(
        proposer=cometbft.validator_address(KEYS[0].public))))
    try:
        for n in range(1, BLOCKS + 1):
            signing = executive.consensus_validators()
            executive.open_block(BLOCK_REWARDS, GENESIS_TS + n * 1000, (note,))
            transfer = chain.transfer(chain.alice, chain.bob.public, 10**18)
            assert all(r.ok for r in executive.apply_candidates([transfer]))
            executive.finalize_block()
            elected = executive.consensus_validators(pending=True)
            executive.commit()
            sets[n] = (signing, elected, executive.head.state_root)
        backend.write_batch({commit_key(n): commit_record(signed_header(n + 1, sets[n][2], sets[n][0], sets[n][1]))
                             for n in range(1, BLOCKS)})
    finally:
        executive.close()
        backend.close()
    return {"base": base, "spec": spec, "sets": sets}


def _replace_commit(base: Path, number: int, doc: dict) -> None:
    backend = RocksBackend(base / DB_DIR)
    try:
        backend.write_batch({commit_key(number): commit_record(doc)})
    finally:
        backend.close()


def test_check_chain_verifies_every_recorded_commit_and_names_the_head_not_yet_final(source):
    report = check_chain(source["base"])
    assert (report.kind, report.blocks, report.not_final) == ("cometbft", BLOCKS, (BLOCKS,))


@pytest.mark.parametrize(("change", "reason"), [
    ("signer outside the set", "commit of height 4: signature 3 names validator"),
    ("set other than the state's", "height 4 is signed by a validator set other than the 4 validators"),
    ("too little power", "validators with 2000 of 4000 voting power signed, not more than two thirds"),
    ("another root", "the validators committed app hash 0303.* at height 4, but the block re-executes"),
])
def test_check_chain_refuses_a_commit_that_does_not_prove_its_block(source, tmp_path, change, reason):
    import shutil

    base = tmp_path / "copy"
    shutil.copytree(source["base"], base)
    signing, elected, root = source["sets"][3]
    ordered = [next(k for k in KEYS if k.public == key) for key, _ in cometbft.in_set_order(signing)]
    doc = {"signer outside the set": lambda: signed_header(4, root, signing, elected, [*ordered[:3], OUTSIDER]),
           "set other than the state's": lambda: signed_header(4, root, [*signing[:3], (OUTSIDER.public, 1)],
                                                               elected),
           "too little power": lambda: _two_signed(signed_header(4, root, signing, elected)),
           "another root": lambda: signed_header(4, b"\x03" * 32, signing, elected)}[change]()
    _replace_commit(base, 3, doc)
    with pytest.raises(BlockImportError, match=f"stored block #3 fails the check: a CometBFT chain: final by commit "
                                               f"signatures; block #3: .*{reason}"):
        check_chain(base)


def _two_signed(doc: dict) -> dict:
    for sig in doc["commit"]["signatures"][:2]:
        sig.update(block_id_flag=1, validator_address="", timestamp="0001-01-01T00:00:00Z", signature=None)
    return doc


def test_an_import_into_a_chain_with_blocks_is_all_or_nothing(source, tmp_path):
    first, full, bad, target = tmp_path / "first.bin", tmp_path / "full.bin", tmp_path / "bad.bin", tmp_path / "t"
    assert export_blocks(source["base"], first, end=3).blocks == 3
    assert export_blocks(source["base"], full).not_final == (BLOCKS,)
    assert import_blocks(target, first, source["spec"]).blocks == 3
    lines = full.read_bytes()
    doc = json.loads(json.dumps(signed_header(6, source["sets"][5][2], *source["sets"][5][:2])))
    good = commit_record(doc)
    doc["commit"]["signatures"][2]["signature"] = base64.b64encode(b"\x00" * 64).decode()
    assert good in lines
    bad.write_bytes(lines.replace(good, commit_record(doc)))
    with pytest.raises(BlockImportError, match="nothing imported: .*block #5: commit of height 6: signature 2 is not"):
        import_blocks(target, bad, source["spec"])
    backend = RocksBackend(target / DB_DIR)
    try:  # blocks 4 and 5 were valid until 5's commit: neither they nor their commits are stored
        assert ChainDB(backend).head.number == 3
        assert [key for key, _ in backend.iter_prefix(b"c:")] == [commit_key(n) for n in (1, 2, 3)]
    finally:
        backend.close()
    report = import_blocks(target, full, source["spec"])
    assert (report.blocks, report.not_final) == (BLOCKS - 3, (BLOCKS,))
    assert check_chain(target).head_hash == check_chain(source["base"]).head_hash


def test_a_refused_import_into_a_fresh_base_path_leaves_no_chain_there(source, tmp_path):
    """Importing a file that is refused (not an export; a tampered commit) into a new base path must not
    leave a chain at genesis and a stored spec behind, which the next `--chain` import or node would open
    as if it were the user's; a directory the user made is kept, empty."""
    full, bad = tmp_path / "full.bin", tmp_path / "bad.bin"
    export_blocks(source["base"], full)
    doc = json.loads(json.dumps(signed_header(6, source["sets"][5][2], *source["sets"][5][:2])))
    good = commit_record(doc)
    doc["commit"]["signatures"][2]["signature"] = base64.b64encode(b"\x00" * 64).decode()
    bad.write_bytes(full.read_bytes().replace(good, commit_record(doc)))
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"not an export at all")
    made = tmp_path / "made"
    made.mkdir()
    for target, source_file in ((tmp_path / "new", bad), (tmp_path / "other", junk), (made, bad)):
        with pytest.raises((BlockImportError, BlockFileError)):
            import_blocks(target, source_file, source["spec"])
    assert not (tmp_path / "new").exists() and not (tmp_path / "other").exists() and list(made.iterdir()) == []


def test_an_export_cut_short_leaves_neither_the_file_nor_its_temporary(tmp_path):
    """A block that cannot be read half-way through an export (a store missing it) fails the export and
    leaves nothing behind: no output file, no `.tmp` a later export or a user would mistake for one."""
    from node.chaintools import COMETBFT, write_blocks
    from payable.runtime.v1.extrinsic_pb2 import Block

    def records():
        yield Block(header=b"\x08\x01"), b"{}"
        raise BlockImportError("block #2 is missing from the store")

    out = tmp_path / "blocks.bin"
    with pytest.raises(BlockImportError, match="missing"):
        write_blocks(out, records(), COMETBFT)
    assert list(tmp_path.iterdir()) == []


def test_an_export_whose_end_is_before_its_start_is_refused_and_a_file_block_is_counted_from_1(source, tmp_path):
    """`export-blocks --start 10 --end 5` exported nothing and exited 0; a cut file named its first block 0."""
    with pytest.raises(BlockFileError, match="--end #5 is before --start #10"):
        export_blocks(source["base"], tmp_path / "none.bin", start=10, end=5)
    assert not (tmp_path / "none.bin").exists()
    full = tmp_path / "full.bin"
    export_blocks(source["base"], full)
    cut = tmp_path / "cut.bin"
    cut.write_bytes(full.read_bytes()[:-7])  # the last block cut short
    count = sum(1 for _ in read_blocks(full))
    with pytest.raises(BlockFileError, match=f"the file's block {count}('s commit)? is truncated"):
        list(read_blocks(cut))


def test_the_tools_say_what_a_base_path_is_not_and_change_nothing_there(source, tmp_path):
    """What an operator points the tools at by mistake, each refused saying what to do, nothing written: a
    directory holding a chain spec but no database (a testnet's own), a database a running node holds, a node
    that joined by state sync (blocks after its snapshot only), and - for an import - a CometBFT node's app
    store, which CometBFT would refuse to start beside once it is ahead."""
    import shutil

    from node.chaintools import StoreError

    spec_only = tmp_path / "net"
    spec_only.mkdir()
    shutil.copy(source["base"] / "chain_spec.json", spec_only / "chain_spec.json")
    for tool in (check_chain, lambda base: export_blocks(base, tmp_path / "out.bin")):
        with pytest.raises(StoreError, match="is not a node's base path .* a testnet node's is DIR/nodeN/payable"):
            tool(spec_only)
    assert sorted(p.name for p in spec_only.iterdir()) == ["chain_spec.json"] and not (tmp_path / "out.bin").exists()

    held = RocksBackend(source["base"] / DB_DIR)  # as a running node holds it
    try:
        with pytest.raises(StoreError, match="in use by a running node: stop it first"):
            check_chain(source["base"])
    finally:
        held.close()
    from node.chaintools import LOCKED  # a damaged store is not reported as a held one ("block" holds "lock")

    assert not LOCKED.search("Corruption: block checksum mismatch: stored = 1, computed = 2 in 000012.sst")

    synced = tmp_path / "synced"
    shutil.copytree(source["base"], synced)
    backend = RocksBackend(synced / DB_DIR)
    try:  # restored from a snapshot at #2: blocks 1 and 2 never reached this node
        backend.write_batch({b"b:" + n.to_bytes(8, "big"): None for n in (1, 2)})
    finally:
        backend.close()
    with pytest.raises(StoreError, match=r"keeps blocks from #3 on only \(it joined by state sync: the blocks "
                                         r"before its snapshot never reached it\), so it cannot be re-executed from "
                                         "genesis"):
        check_chain(synced)
    with pytest.raises(StoreError, match="cannot export from #1; export from --start 3, or use a node that"):
        export_blocks(synced, tmp_path / "out.bin")
    assert export_blocks(synced, tmp_path / "out.bin", start=3).blocks == BLOCKS - 2

    home = tmp_path / "node3"  # a testnet node: CometBFT's home, the app's store under it
    (home / "config").mkdir(parents=True)
    (home / "config" / "config.toml").write_text("# CometBFT\n")
    shutil.copytree(source["base"], home / "payable")
    head = check_chain(home / "payable").head_hash
    export_blocks(source["base"], tmp_path / "all.bin")
    with pytest.raises(StoreError, match="a CometBFT node's app store: .* import into a fresh --base-path"):
        import_blocks(home / "payable", tmp_path / "all.bin")
    assert check_chain(home / "payable").head_hash == head
