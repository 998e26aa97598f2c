"""Downtime on a real 4-validator CometBFT network on loopback: one validator's processes are stopped,
the chain goes on without it, jails it for downtime (a small slash, out of the set CometBFT uses) and
counts nobody else; restarted, it catches up, `payable validator unjail` is refused before the jail
period ends and accepted after, and the next election puts it back in CometBFT's set, signing again.
A network of its own, with a short window and jail, always torn down."""

from __future__ import annotations

import base64
import json
import subprocess
import sys

import pytest
from test_cometbft_network import assert_same_chain, height, wait_height, wait_until

from node.abci.comet import CometRpc
from node.testnet import Testnet
from pallets.validators.interface import consensus_address
from payable.validators.v1 import validators_pb2 as pb
from runtime.codec import ONE_OPEN
from runtime.crypto import Keypair
from sdk.client import Client

pytestmark = [pytest.mark.e2e, pytest.mark.solo]

EPOCH, WINDOW, JAIL_MS = 10, 20, 20_000
DOWN = 3  # the validator whose processes are stopped


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    network = Testnet(tmp_path_factory.mktemp("downtime"))
    network.generate(4, epoch_length=EPOCH, timeout_commit_ms=200, snapshot_interval=0)
    spec_file = network.dir / "chain_spec.json"
    spec = json.loads(spec_file.read_text())  # every node reads this spec: a short window and jail for the test
    spec["config"]["validators"].update(signed_blocks_window=WINDOW, min_signed_per_window_bps=5_000,
                                        downtime_jail_ms=JAIL_MS, downtime_slash_bps=100)
    spec_file.write_text(json.dumps(spec))
    try:
        network.up()
        yield network
    finally:
        network.down()


def query(net: Testnet, i: int, name: str, account: bytes, response):
    with Client(net.nodes[i].grpc) as client:
        return client.pallet_query("validators", name, pb.CandidateRef(account=account), response)


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cli", "validator", *args], capture_output=True, text=True,
                          timeout=180)


def test_a_stopped_validator_is_jailed_for_downtime_then_unjails_and_is_elected_again(net):
    down = net.nodes[DOWN]
    owner = Keypair.from_uri(down.account_uri).public
    address = consensus_address(base64.b64decode(down.consensus_key)).hex().upper()
    rpc = CometRpc(net.nodes[0].rpc)
    up = [i for i in range(4) if i != DOWN]
    wait_height(net, range(4), 3)
    net.stop_node(DOWN)

    def jailed():
        return query(net, 0, "get_candidate", owner, pb.Candidate).jailed

    wait_until(jailed, 180, f"node{DOWN} to be jailed for downtime")
    found = query(net, 0, "get_candidate", owner, pb.Candidate)
    assert not found.tombstoned and found.jailed_until_ms > 0
    assert int.from_bytes(found.bond, "big") == 1000 * ONE_OPEN * 99 // 100  # downtime_slash_bps: 1%
    for i in up:  # the three that kept signing are not counted as missing
        record = query(net, 0, "liveness", Keypair.from_uri(net.nodes[i].account_uri).public, pb.CandidateLiveness)
        assert record.missed <= record.max_missed and not record.jailed
    wait_until(lambda: down.consensus_key not in {v["pub_key"]["value"] for v in rpc.validators()}, 60,
               "CometBFT to drop the jailed validator from its set")
    status = {row["name"]: row["role"] for row in Testnet(net.dir).status()}
    assert status[down.name].startswith("jailed for downtime until")
    wait_height(net, up, height(net, 0) + 3)  # the chain goes on with three
    early = cli("unjail", "--from", down.account_uri, "--node", net.nodes[0].grpc)
    assert early.returncode == 1 and "StillJailed" in early.stderr and "jail period is block time" in early.stderr

    net.start_node(DOWN)
    wait_height(net, [DOWN], height(net, 0), timeout=120)

    def block_time_ms() -> int:
        with Client(net.nodes[0].grpc) as client:
            return client.header().header.timestamp_ms

    wait_until(lambda: block_time_ms() > found.jailed_until_ms, 60, "the chain's time to pass the jail period")
    done = cli("unjail", "--from", down.account_uri, "--node", down.grpc, "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["state"] in ("candidate (not elected)", "in the validator set")
    wait_until(lambda: down.consensus_key in {v["pub_key"]["value"] for v in rpc.validators()}, 90,
               "the next election to put it back in CometBFT's set")

    def signs():
        commit = rpc.call("commit", height=str(height(net, 0)))["signed_header"]["commit"]
        return any(s.get("validator_address") == address for s in commit["signatures"])

    wait_until(signs, 60, f"node{DOWN} to sign blocks again")
    shown = cli("show", down.account_uri, "--node", net.nodes[0].grpc, "--json")
    assert shown.returncode == 0 and json.loads(shown.stdout)["in_set"] is True
    assert_same_chain(net, list(range(4)))
