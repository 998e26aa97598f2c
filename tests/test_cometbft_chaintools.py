"""check-chain, export-blocks and import-blocks on a real CometBFT chain: a 4-validator network on loopback runs
transfers, records each block's commit (from its own CometBFT RPC), and is stopped; its chain is checked by
commit signatures against the validator set from its state, exported with those commits, imported into a
fresh base path and checked again; tampered files are refused naming the block, with nothing imported."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from node.abci.comet import CometRpc
from node.chaintools import COMET_MAGIC, MAGIC, BlockFileError, import_blocks, read_blocks, write_blocks
from node.node import DB_DIR, open_spec
from node.testnet import Testnet
from payable.runtime.v1.extrinsic_pb2 import Block, Header
from runtime.chaindb import ChainDB
from runtime.chainspec import ChainSpec
from runtime.codec import ONE_OPEN
from runtime.crypto import Keypair
from runtime.executive import BlockImportError, Executive
from runtime.extrinsic import inherent_extrinsic, make_call
from runtime.storage.backend import RocksBackend
from sdk.client import Client

pytestmark = [pytest.mark.e2e, pytest.mark.solo]

EPOCH = 6


def cli(*args: str, ok: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, "-m", "cli", *args], capture_output=True, text=True, timeout=300)
    assert (done.returncode == 0) == ok, done.stderr[-3000:]
    return done


def cli_json(*args: str) -> dict:
    return json.loads(cli(*args, "--json").stdout)


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> dict:
    """A stopped validator's base path after transfers on a 4-validator chain whose set changed (a candidate
    bonded more than a genesis validator and replaced it at an epoch's end), its chain spec, and its check."""
    net = Testnet(tmp_path_factory.mktemp("cometchain") / "net")
    net.generate(4, 1, epoch_length=EPOCH, timeout_commit_ms=200, snapshot_interval=0)
    candidate = net.nodes[4]
    try:
        net.up()
        rpc = CometRpc(net.nodes[0].rpc)
        with Client(net.nodes[0].grpc) as client:
            assert client.submit_call(Keypair.from_uri(candidate.account_uri), "validators", "bond",
                                      consensus_key=base64.b64decode(candidate.consensus_key),
                                      amount=1500 * ONE_OPEN).success
            for i in range(3):
                assert client.submit_call(Keypair.from_uri("//Alice"), "token", "transfer",
                                          dest=Keypair.from_uri("//Bob").public, amount=(i + 1) * ONE_OPEN).success
            deadline = time.monotonic() + 120
            while not any(v["pub_key"]["value"] == candidate.consensus_key for v in rpc.validators()):
                assert time.monotonic() < deadline, "the candidate never entered the validator set"
                time.sleep(0.2)
            changed_at = int(rpc.status()["sync_info"]["latest_block_height"])
            while client.chain_info().best_number < changed_at + 4:
                assert time.monotonic() < deadline, "the chain stopped"
                time.sleep(0.2)
    finally:
        net.down()
    base = Path(net.nodes[0].home) / "payable"
    check = cli_json("check-chain", "--base-path", str(base))
    return {"base": base, "spec": net.dir / "chain_spec.json", "check": check, "changed_at": changed_at}


def test_check_chain_verifies_a_stopped_cometbft_node_by_commit_signatures(source):
    check = source["check"]
    assert check["ok"] and check["chain"] == "cometbft"
    assert check["finality"] == "a CometBFT chain: final by commit signatures"
    # the head has no commit yet (its next height's commit was not fetched before the node stopped)
    head, not_final = check["blocks"], check["not_final"]
    assert 1 <= len(not_final) <= 3 and not_final == list(range(head - len(not_final) + 1, head + 1))
    # verified commits include ones the changed set signed (the set is read from each block's state)
    assert head - len(not_final) > source["changed_at"]
    table = cli("check-chain", "--base-path", str(source["base"])).stdout
    assert "a CometBFT chain: final by commit signatures" in table and "not yet final" in table
    assert "seal" not in table


def test_export_import_round_trip_reaches_the_same_head_and_state_root(source, tmp_path):
    check, export, fresh = source["check"], tmp_path / "blocks.bin", tmp_path / "fresh"
    exported = cli_json("export-blocks", "--base-path", str(source["base"]), "--output", str(export))
    assert (exported["exported"], exported["chain"], exported["not_final"]) == \
        (check["blocks"], "cometbft", check["not_final"])
    assert export.read_bytes().startswith(COMET_MAGIC)
    imported = cli_json("import-blocks", "--base-path", str(fresh), "--input", str(export),
                        "--chain", str(source["spec"]))
    assert (imported["imported"], imported["not_final"]) == (check["blocks"], check["not_final"])
    again = cli_json("check-chain", "--base-path", str(fresh))
    assert (again["head"], again["state_root"], again["blocks"], again["not_final"]) == \
        (check["head"], check["state_root"], check["blocks"], check["not_final"])
    # the imported path holds the commits too: it exports the same file
    assert cli_json("export-blocks", "--base-path", str(fresh), "--output", str(tmp_path / "again.bin"))["exported"]
    assert (tmp_path / "again.bin").read_bytes() == export.read_bytes()


def _signed_block(records) -> int:
    """The index of a block (past the first two) carrying a signed extrinsic, and a commit."""
    return next(i for i, (block, commit) in enumerate(records) if i >= 2 and len(block.extrinsics) > 2 and commit)


def _forged(spec: ChainSpec, records, k: int) -> Block:
    """Block k rebuilt self-consistently with its timestamp 1 ms later: it re-executes to the roots its own
    header claims, so only the validators' commit (of another state root) can tell it is not theirs."""
    from payable.system.v1 import system_pb2
    from runtime import system

    chain = Executive.open(spec)
    try:
        for block, _ in records[:k]:
            chain.import_block(block, check_seal=False)
        original = records[k][0]
        header = Header.FromString(original.header)
        chain.initialize_block(header.author)
        chain.apply_extrinsic(inherent_extrinsic(make_call(system.NAME, 0, system_pb2.SetTimestamp(
            now_ms=header.timestamp_ms + 1))))
        for raw in original.extrinsics[1:]:
            chain.apply_extrinsic(raw)
        chain.finalize_block()
        chain.commit()
        return chain.db.require_block(k + 1)
    finally:
        chain.close()


def _with_commit(record: bytes, change) -> bytes:
    doc = json.loads(record)
    change(doc["commit"]["signatures"])
    return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()


def _flip_signature(signatures) -> None:
    signed = next(s for s in signatures if s["block_id_flag"] == 2)
    raw = bytearray(base64.b64decode(signed["signature"]))
    raw[5] ^= 0x01
    signed["signature"] = base64.b64encode(bytes(raw)).decode()


def _absent(signatures) -> None:
    for i in (0, 1):  # the two with the most power (a set is ordered by power): half or less remains
        signatures[i] = {"block_id_flag": 1, "validator_address": "", "timestamp": "0001-01-01T00:00:00Z",
                         "signature": None}


def test_tampered_files_are_refused_naming_the_block_and_nothing_is_imported(source, tmp_path):
    export = tmp_path / "blocks.bin"
    cli("export-blocks", "--base-path", str(source["base"]), "--output", str(export))
    spec = ChainSpec.load(source["spec"])
    records = list(read_blocks(export))
    k = _signed_block(records)
    number = k + 1
    block, commit = records[k]
    assert commit is not None
    cases = {
        "flipped signature": ((block, _with_commit(commit, _flip_signature)), "is not validator .*'s precommit"),
        "too little power": ((block, _with_commit(commit, _absent)), "not more than two thirds"),
        "block altered": ((_forged(spec, records, k), commit), "committed app hash .* re-executes to state root"),
        "another height's commit": ((block, records[k + 1][1]), f"commit record is of height {number + 2}"),
        "a seal added": ((Block(header=block.header, extrinsics=block.extrinsics, seal=b"\x01" * 64), commit),
                         "carries an author's seal"),
    }
    for name, (replacement, reason) in cases.items():
        bad = tmp_path / f"{name}.bin"
        write_blocks(bad, [*records[:k], replacement, *records[k + 1:]], "cometbft")
        target = tmp_path / name
        open_spec(target, spec)  # a chain at genesis already (a fresh path is left with no chain at all)
        genesis = RocksBackend(target / DB_DIR)
        Executive.open(spec, genesis).close()
        genesis.close()
        with pytest.raises(BlockImportError, match=f"nothing imported: a CometBFT chain: final by commit signatures; "
                                                   f"block #{number}: .*{reason}") as refused:
            import_blocks(target, bad, spec)
        assert "seal is not the author" not in str(refused.value), name
        backend = RocksBackend(target / DB_DIR)
        try:  # blocks 1..k were valid: still nothing of the file is stored, not even their commits
            assert ChainDB(backend).head.number == 0, name
            assert not list(backend.iter_prefix(b"c:")), name
        finally:
            backend.close()
    # a dev chain's file (sealed blocks, no commits) is refused for what it is
    dev_file = tmp_path / "dev.bin"
    raw = block.SerializeToString(deterministic=True)
    dev_file.write_bytes(MAGIC + len(raw).to_bytes(4, "big") + raw)
    with pytest.raises(BlockFileError, match="a dev chain: each block sealed by its author, but the chain at the "
                                             "base path is a CometBFT chain: final by commit signatures"):
        import_blocks(tmp_path / "dev", dev_file, spec)
