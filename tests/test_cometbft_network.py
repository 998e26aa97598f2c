"""A real 4-validator CometBFT network on loopback (plus one candidate full node), driven through its
gRPC APIs and perturbed like CometBFT's own e2e runner: kill, pause, crash between FinalizeBlock and
Commit, and a stake change that moves the validator set. One network for the module, always torn down."""

from __future__ import annotations

import base64
import json
import signal
import time
from pathlib import Path

import pytest
from conftest import holds_for

from node.abci.app import CRASH_BEFORE_COMMIT
from node.abci.comet import CometRpc, CometUnavailable
from node.testnet import Testnet, process_alive
from pallets.validators.interface import consensus_address
from runtime.codec import ONE_OPEN
from runtime.crypto import Keypair, blake2_256
from sdk.client import Client

pytestmark = [pytest.mark.e2e, pytest.mark.solo]

EPOCH = 10
SNAPSHOTS = 10  # blocks between each node's state sync snapshots


def wait_until(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = predicate()
        except (CometUnavailable, RuntimeError, OSError):
            value = None
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    network = Testnet(tmp_path_factory.mktemp("testnet"))
    network.generate(4, 1, epoch_length=EPOCH, timeout_commit_ms=200, snapshot_interval=SNAPSHOTS)
    try:
        network.up()
        yield network
    finally:
        network.down()


def height(net: Testnet, i: int) -> int:
    return int(CometRpc(net.nodes[i].rpc, timeout=2).status()["sync_info"]["latest_block_height"])


def wait_height(net: Testnet, nodes, target: int, timeout: float = 60) -> None:
    wait_until(lambda: all(height(net, i) >= target for i in nodes), timeout, f"nodes {nodes} at height {target}")


def roots(net: Testnet, i: int, upto: int) -> list[bytes]:
    with Client(net.nodes[i].grpc) as client:
        return [client.header(n).header.state_root for n in range(1, upto + 1)]


def assert_same_chain(net: Testnet, nodes) -> int:
    """Every node's state root at every height agrees, and is the app hash CometBFT recorded."""
    top = min(height(net, i) for i in nodes)
    first = roots(net, nodes[0], top)
    for i in nodes[1:]:
        assert roots(net, i, top) == first, f"node{i} diverged from node{nodes[0]}"
    block = CometRpc(net.nodes[nodes[0]].rpc).call("block", height=str(top))["block"]
    assert bytes.fromhex(block["header"]["app_hash"]) == first[top - 2]  # header h carries the root after h-1
    return top


def balance(net: Testnet, i: int, who: bytes) -> int:
    with Client(net.nodes[i].grpc) as client:
        return int.from_bytes(client.account(who).free, "big")


def test_both_processes_of_every_node_serve_prometheus_metrics(net):
    """The node's metrics and CometBFT's own, on the ports `testnet status` names."""
    import urllib.request

    def served(url: str, metric: str) -> bool:
        return metric in urllib.request.urlopen(url, timeout=10).read().decode()

    for row in net.status():  # the network has just started: each server answers once it listens
        for url, metric in ((row["metrics"]["node"], "payable_abci_seconds_total"),
                            (row["metrics"]["cometbft"], "cometbft_consensus_height")):
            wait_until(lambda url=url, metric=metric: served(url, metric), 60, f"{metric} at {url}")


def test_four_validators_agree_and_include_each_transfer_once(net):
    wait_height(net, range(5), 3)
    dest = Keypair.from_uri("//cometbft-dest").public
    senders = [Keypair.from_uri(uri) for uri in ("//Alice", "//Bob", "//Charlie", "//Dave")]
    sent = []
    with Client(net.nodes[0].grpc) as first:
        nonces = {s.public: first.nonce(s.public) for s in senders}
    for k in range(12):  # each submitted to a different node's gRPC API
        sender = senders[k % len(senders)]
        with Client(net.nodes[k % 5].grpc) as client:
            raw = client.sign(sender, client.call("token", "transfer", dest=dest, amount=ONE_OPEN),
                              nonce=nonces[sender.public])
            nonces[sender.public] += 1
            sent.append(client.submit(raw))
    wait_until(lambda: all(balance(net, i, dest) == 12 * ONE_OPEN for i in range(5)), 60,
               "every node to see all 12 transfers")
    top = assert_same_chain(net, [0, 1, 2, 3, 4])
    with Client(net.nodes[2].grpc) as client:
        included = [blake2_256(raw) for n in range(1, top + 1) for raw in client.block(n).block.extrinsics]
    assert sorted(included.count(h) for h in sent) == [1] * 12


def test_kill_one_validator_chain_goes_on_and_restarted_catches_up(net):
    net.signal_node(3, signal.SIGKILL)
    start = height(net, 0)
    wait_height(net, [0, 1, 2], start + 5)
    net.start_node(3)
    wait_height(net, [3], height(net, 0), timeout=90)
    assert_same_chain(net, [0, 1, 2, 3])


def test_two_killed_stop_finality_without_divergence_and_one_back_resumes(net):
    net.signal_node(2, signal.SIGKILL)
    net.signal_node(3, signal.SIGKILL)
    time.sleep(1.0)  # not an assertion: lets a block already in flight land before the stall is measured
    stalled = max(height(net, 0), height(net, 1))
    # a block in flight may still land, no more: checked throughout the window, failing as soon as it grows
    holds_for(lambda: max(height(net, 0), height(net, 1)) <= stalled + 1, seconds=4.0,
              message="two of five validators down: finality stalls")
    assert_same_chain(net, [0, 1])
    net.start_node(2)
    wait_height(net, [0, 1, 2], stalled + 4, timeout=90)
    net.start_node(3)
    wait_height(net, [3], height(net, 0), timeout=90)
    assert_same_chain(net, [0, 1, 2, 3])


def test_app_crash_between_finalize_and_commit_is_replayed(net):
    target = height(net, 1) + 4
    net.start_node(1, env={CRASH_BEFORE_COMMIT: str(target)})
    app_pid = net.nodes[1].pids["app"]
    wait_until(lambda: not process_alive(app_pid), 60, "the app to crash at Commit")
    net.stop_node(1, signal.SIGKILL)
    log = (net.dir / "node1" / "app.log").read_text()
    assert "abci_crash_before_commit" in log
    net.start_node(1)
    wait_height(net, [1], target + 3, timeout=90)
    assert_same_chain(net, [0, 1, 2, 3])


def test_paused_validator_catches_up(net):
    net.signal_node(2, signal.SIGSTOP)
    try:
        start = height(net, 0)
        wait_height(net, [0, 1, 3], start + 6)
    finally:
        net.signal_node(2, signal.SIGCONT)
    wait_height(net, [2], height(net, 0), timeout=90)
    assert_same_chain(net, [0, 1, 2, 3])


def test_bonding_more_than_the_smallest_validator_enters_the_set(net):
    candidate = net.nodes[4]
    key = base64.b64decode(candidate.consensus_key)
    address = consensus_address(key).hex().upper()
    rpc = CometRpc(net.nodes[0].rpc)
    keys_before = {v["pub_key"]["value"] for v in rpc.validators()}
    assert candidate.consensus_key not in keys_before
    displaced = max(base64.b64decode(k) for k in keys_before)  # equal bonds: the highest key loses the tie
    with Client(net.nodes[4].grpc) as client:
        result = client.submit_call(Keypair.from_uri(candidate.account_uri), "validators", "bond",
                                    consensus_key=key, amount=1500 * ONE_OPEN)
    assert result.success, result.error

    def in_set():
        keys = {v["pub_key"]["value"] for v in rpc.validators()}
        return candidate.consensus_key in keys and base64.b64encode(displaced).decode() not in keys

    wait_until(in_set, 60, "CometBFT to show the candidate in the set and the displaced validator out")
    powers = {v["pub_key"]["value"]: int(v["voting_power"]) for v in rpc.validators()}
    assert powers[candidate.consensus_key] == 1500 and len(powers) == 4

    def signs():
        top = height(net, 0)
        commit = rpc.call("commit", height=str(top))["signed_header"]["commit"]
        return any(s.get("validator_address") == address for s in commit["signatures"])

    wait_until(signs, 60, "the candidate's node to sign blocks")
    assert_same_chain(net, [0, 1, 2, 3, 4])




def test_operator_commands_act_on_one_node_and_up_starts_only_what_is_down(net):
    """`payable testnet` as an operator uses it on the running network: flags that would make it otherwise
    are refused, `stop`/`restart NODE` act on that node alone, and `up` starts only what is down."""
    import subprocess
    import sys

    def cli(*args):
        return subprocess.run([sys.executable, "-m", "cli", "testnet", *args, "--dir", str(net.dir)],
                              capture_output=True, text=True, timeout=180)

    try:
        # roles as the chain has them: the candidate bonded in above is a validator now, one genesis validator
        # was displaced (testnet.json still says otherwise: it knows genesis only)
        roles = {row["name"]: (row["role"], row["role_from"]) for row in Testnet(net.dir).status()}
        assert roles["node4"] == ("validator", "chain") and not net.nodes[4].validator
        assert [role for role, _ in roles.values()].count("validator") == 4 and ("candidate", "chain") in \
            roles.values()
        refused = cli("up", "--validators", "3")
        assert refused.returncode == 1 and "--validators 3 (it has 4)" in refused.stderr
        assert cli("stop", "node9").returncode == 1
        pids = {n.name: dict(n.pids) for n in Testnet(net.dir).nodes}
        assert cli("stop", "node3").returncode == 0 and not Testnet(net.dir).running(3)
        again = cli("up")
        assert again.returncode == 0, again.stderr
        assert "node3: validator started" in again.stdout and "node0: validator already running" in again.stdout
        after = {n.name: dict(n.pids) for n in Testnet(net.dir).nodes}
        assert after["node0"] == pids["node0"] and after["node3"] != pids["node3"]  # only node3 was started
        restarted = cli("restart", "2")
        assert restarted.returncode == 0 and "node2: restarted" in restarted.stdout
        assert Testnet(net.dir).nodes[2].pids != after["node2"]
        wait_height(net, [2, 3], height(net, 0), timeout=90)
        assert_same_chain(net, [0, 1, 2, 3])
    finally:
        net.nodes[:] = Testnet(net.dir).nodes  # what the commands started, for the module's teardown


def test_the_transfer_bench_counts_only_transfers_that_succeeded(net):
    """bench/testnet.py's measurement on this network: transfers of 1 OPEN all succeed and every destination
    shows them; transfers the senders cannot cover are included, fail, and count for nothing."""
    import runpy
    from pathlib import Path

    bench = runpy.run_path(str(Path(__file__).resolve().parent.parent / "bench" / "testnet.py"))
    senders = [Keypair.from_uri(uri) for uri in ("//Dave", "//Eve")]
    good = bench["run"](net, senders, 3, 1)
    assert (good["transfers"], good["succeeded"], good["failed"], good["balances_checked"]) == (6, 6, 0, True)
    assert good["cpu_seconds"]["app"] > 0 and good["cpu_seconds"]["comet"] > 0  # read from the nodes' processes
    too_much = bench["run"](net, senders, 2, 1, amount=10**9 * ONE_OPEN)
    assert (too_much["succeeded"], too_much["failed"], too_much["finalized_tx_per_s"]) == (0, 4, 0)


def test_a_cometbft_capping_json_rpc_arrays_still_takes_a_client_batch_whole(net):
    """A node whose CometBFT keeps its RPC's default cap of 10 calls an array (an operator's own config;
    `payable testnet` lifts it) hands a client's batch of 25 on all the same: the node learns the cap from
    CometBFT's refusal of the longer array and sends it again cut to it - every transfer included once."""
    import re

    config = Path(net.nodes[1].home) / "config" / "config.toml"
    text, capped = re.subn(r"^max_request_batch_size = \d+$", "max_request_batch_size = 10", config.read_text(),
                           flags=re.MULTILINE)
    assert capped == 1
    config.write_text(text)
    net.stop_node(1)
    net.start_node(1)
    wait_height(net, [1], height(net, 0) + 1, timeout=90)
    sender, dest = Keypair.from_uri("//Ferdie"), Keypair.from_uri("//capped-batch-dest").public
    with Client(net.nodes[1].grpc) as client:
        first = client.nonce(sender.public)
        raws = [client.sign(sender, client.call("token", "transfer", dest=dest, amount=ONE_OPEN), nonce=first + n)
                for n in range(25)]
        assert [r.error for r in client.submit_batch(raws)] == [""] * 25
    wait_until(lambda: balance(net, 0, dest) == 25 * ONE_OPEN, 60, "all 25 transfers to be final")


def test_a_new_full_node_joins_by_state_sync_and_follows(net):
    """`payable testnet add`: a node that never saw the chain's early blocks takes a validator's
    newest snapshot (CometBFT's light client verifies its app hash), then follows the chain: it has the
    validators' app hash at every height since, and their balances."""
    wait_height(net, [0], 2 * SNAPSHOTS + 2)
    wait_until(lambda: (Path(net.nodes[0].home) / "payable" / "snapshots").exists() and any(
        int(p.name) + 2 <= height(net, 0) for p in (Path(net.nodes[0].home) / "payable" / "snapshots").iterdir()
        if p.name.isdigit()), 60, "a snapshot on node0 that CometBFT can verify")
    import subprocess
    import sys

    added = subprocess.run([sys.executable, "-m", "cli", "testnet", "add", "--dir", str(net.dir)],
                           capture_output=True, text=True, timeout=180)
    net.nodes[:] = Testnet(net.dir).nodes  # the node it started, for the module's teardown
    assert added.returncode == 0, added.stderr
    joined, i = net.nodes[-1], len(net.nodes) - 1
    assert f"{joined.name}: full node joining by state sync" in added.stdout and not joined.validator
    wait_until(lambda: height(net, i) >= height(net, 0) - 1, 120, "the new node to reach the network's height")
    log = [json.loads(line) for line in (Path(joined.home) / "app.log").read_text().splitlines()
           if line.startswith("{")]
    restored = [e["height"] for e in log if e["event"] == "snapshot_restored"]
    assert restored, "the node did not restore a snapshot"
    start = restored[0]
    executed = [e["number"] for e in log if e["event"] == "block_committed"]
    assert start >= SNAPSHOTS and min(executed) == start + 1  # it never executed the chain's earlier blocks
    with Client(joined.grpc) as client:
        assert client.header(start).header.state_root == roots(net, 0, start)[-1]
    dest = Keypair.from_uri("//state-sync-dest").public
    with Client(net.nodes[0].grpc) as client:
        assert client.submit_call(Keypair.from_uri("//Ferdie"), "token", "transfer", dest=dest,
                                  amount=5 * ONE_OPEN).success
    wait_until(lambda: balance(net, i, dest) == 5 * ONE_OPEN, 60, "the new node to follow the transfer")
    top = min(height(net, 0), height(net, i))
    with Client(joined.grpc) as client:
        mine = [client.header(n).header.state_root for n in range(start, top + 1)]
    assert mine == roots(net, 0, top)[start - 1:]
    block = CometRpc(joined.rpc).call("block", height=str(top))["block"]
    assert bytes.fromhex(block["header"]["app_hash"]) == mine[-2]  # CometBFT's record agrees with the app's
    for who in (dest, *(Keypair.from_uri(uri).public for uri in ("//Alice", "//Ferdie"))):
        assert balance(net, i, who) == balance(net, 0, who)


def test_an_audit_bundle_is_final_by_the_validators_commit_signatures(net, tmp_path):
    """`payable audit export --comet-rpc`: a model's bundle whose state root is the app hash of a header that
    validators with more than two thirds of the power signed; `payable audit verify` checks their signatures
    offline against a trusted validator set (or the chain spec's genesis set, while it is the one signing),
    and a changed signature, header field or validator, or a commit short of two thirds, fails by section."""
    import subprocess
    import sys

    from cli.audit import schema
    from node.testnet import CHAIN_ID
    from runtime.chainspec import ChainSpec
    from runtime.executive import Executive
    from sdk.audit import Anchor, AuditError, canonical, verify
    from sdk.cometbft import FLAG_COMMIT, validators_from_rpc

    h = [bytes([i]) * 32 for i in range(1, 40)]
    alice, bob, dave = (Keypair.from_uri(u) for u in ("//Alice", "//Bob", "//Dave"))
    with Client(net.nodes[0].grpc) as client:
        for who, pallet, call, fields in [
            (alice, "datanet", "create_datanet", dict(name="audit", domain="text", license="CC-BY-4.0",
                                                      contribution_deposit="1", accepted_formats=["jsonl"],
                                                      accepted_licenses=["CC0-1.0"])),
            (bob, "datanet", "contribute", dict(datanet=1, content_hash=h[1], size=10, format="jsonl")),
            (dave, "datanet", "contribute", dict(datanet=1, content_hash=h[2], size=20, format="jsonl",
                                                 terms={"license": "CC0-1.0"})),
            (alice, "datanet", "approve", dict(contribution=1)), (alice, "datanet", "approve", dict(contribution=2)),
            (alice, "datanet", "publish_snapshot", dict(datanet=1)),
            (dave, "modelregistry", "register_base_model", dict(artifact_hash=h[30], architecture="llama",
                                                                format="HF_DIRECTORY", license="Apache-2.0")),
            (dave, "modelregistry", "register_model", dict(
                base_model=1, snapshots=[{"datanet": 1, "version": 1}], training_config_hash=h[31],
                artifact_hash=h[32], attribution_index_hash=h[33], price_per_inference="1",
                split={"contributors": 7000, "model_owner": 2000, "protocol": 500, "worker": 500}))]:
            assert client.submit_call(who, pallet, call, **fields).success, (pallet, call)

    def cli(*args):
        return subprocess.run([sys.executable, "-m", "cli", *args], capture_output=True, text=True, timeout=300)

    out = tmp_path / "bundle.json"
    done = cli("audit", "export", "1", "--node", net.nodes[1].grpc, "--comet-rpc", net.nodes[2].rpc,
               "--output", str(out))
    assert done.returncode == 0, done.stderr[-3000:]
    doc = json.loads(out.read_bytes())
    final = doc["finality"]
    listed = CometRpc(net.nodes[3].rpc).call("validators", height=str(final["header"]["height"]), per_page="100")
    (tmp_path / "validators.json").write_text(json.dumps(listed))
    done = cli("audit", "verify", str(out), "--trusted-validators", str(tmp_path / "validators.json"), "--json")
    assert done.returncode == 0, done.stderr[-3000:]
    proved = json.loads(done.stdout)
    by = proved["block"]["finalized_by"]
    assert (by["kind"], by["chain_id"], by["height"]) == ("cometbft-commit", CHAIN_ID, proved["block"]["number"] + 1)
    assert 3 * by["signed_power"] > 2 * by["total_power"] and len(by["signers"]) >= 3
    assert proved["model"]["owner"] == dave.address and proved["snapshots"][0]["licenses"] == {"CC-BY-4.0": 1,
                                                                                               "CC0-1.0": 1}
    spec_path = net.dir / "chain_spec.json"
    genesis = Executive.open(ChainSpec.load(spec_path))
    genesis_set = genesis.consensus_validators()
    genesis.close()
    by_spec = cli("audit", "verify", str(out), "--chain-spec", str(spec_path))
    if sorted(genesis_set) == sorted((bytes.fromhex(v["pub_key"]), v["power"]) for v in final["validators"]):
        assert by_spec.returncode == 0 and "validators of payable-testnet" in by_spec.stdout, by_spec.stderr
    else:  # an election moved the set since genesis (the bonding test): the spec alone no longer vouches for it
        assert by_spec.returncode == 1 and "NOT VERIFIED: finality.validators" in by_spec.stderr

    anchor = Anchor(validators=validators_from_rpc(listed["validators"]), chain_id=CHAIN_ID)
    bundle = out.read_bytes()
    assert verify(bundle, schema(), anchor)["block"]["number"] == by["height"] - 1
    committed = [i for i, s in enumerate(final["signatures"]) if s["flag"] == FLAG_COMMIT]

    def flip(text: str) -> str:
        return f"{int(text[0], 16) ^ 1:x}{text[1:]}"

    def absent(d, keep: int):
        for i in committed:
            if i != keep:
                d["finality"]["signatures"][i] = {"flag": 1, "validator_address": "", "signature": "",
                                                  "timestamp": {"seconds": -62135596800, "nanos": 0}}

    tampers = [
        (lambda d: d["finality"]["signatures"][committed[0]].update(
            signature=flip(d["finality"]["signatures"][committed[0]]["signature"])), "finality.signatures"),
        (lambda d: d["finality"]["header"].update(app_hash=flip(d["finality"]["header"]["app_hash"])),
         "finality.header"),
        (lambda d: d["finality"]["header"]["time"].update(nanos=d["finality"]["header"]["time"]["nanos"] + 1),
         "finality.header"),
        (lambda d: d["finality"]["header"].update(height=d["finality"]["header"]["height"] + 1), "finality.header"),
        (lambda d: d["finality"]["validators"][0].update(power=d["finality"]["validators"][0]["power"] + 1),
         "finality.validators"),
        (lambda d: absent(d, committed[0]), "finality.signatures"),
        (lambda d: d["state"]["modelregistry.Models/1"].update(
            value=flip(d["state"]["modelregistry.Models/1"]["value"])), "state[modelregistry.Models/1]"),
    ]
    for change, section in tampers:
        changed = json.loads(bundle)
        change(changed)
        with pytest.raises(AuditError) as failed:
            verify(canonical(changed), schema(), anchor)
        assert failed.value.section == section, str(failed.value)
