"""`payable validator` against a dev node in its own process: bond with a CometBFT key file, bond-extra,
show (bond, place, missed-block window), unjail refused with the chain's reason and a hint, unbond out.
(Jailing needs CometBFT's votes: tests/test_cometbft_downtime.py unjails for real.)"""

from __future__ import annotations

import base64
import json
import subprocess
import sys

import pytest

from runtime.crypto import Keypair

pytestmark = [pytest.mark.e2e]


def run(node, *args):
    return subprocess.run([sys.executable, "-m", "cli", "validator", *args, "--node", node.target, "--json"],
                          capture_output=True, text=True, timeout=180)


def ok(node, *args):
    done = run(node, *args)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)


def test_bond_show_unjail_refusal_and_unbond(start_node, tmp_path):
    node = start_node("node", "--dev", "--instant-seal")
    node.client().close()  # waits until it serves
    key = Keypair.from_uri("//Ferdie//consensus").public
    key_file = tmp_path / "priv_validator_key.json"  # as `cometbft init` writes it (only the public part is read)
    key_file.write_text(json.dumps({"pub_key": {"type": "tendermint/PubKeyEd25519",
                                                "value": base64.b64encode(key).decode()}}))
    ferdie = Keypair.from_uri("//Ferdie").address
    made = ok(node, "bond", "--consensus-key", str(key_file), "--amount", "150", "--from", "//Ferdie")
    assert (made["account"], made["consensus_key"], made["bond"]) == (ferdie, base64.b64encode(key).decode(), "150")
    assert made["state"] in ("candidate (not elected)", "in the validator set") and not made["jailed"]
    assert ok(node, "bond-extra", "--amount", "50", "--from", "//Ferdie")["bond"] == "200"
    shown = ok(node, "show", ferdie)
    assert (shown["window"], shown["counted"], shown["missed"]) == (1_000, 0, 0) and shown["max_missed"] == 500
    refused = run(node, "unjail", "--from", "//Ferdie")
    assert refused.returncode == 1 and "validators.NotJailed" in refused.stderr and "nothing to do" in refused.stderr
    assert json.loads(refused.stdout)["success"] is False
    low = run(node, "unbond", "--amount", "150", "--from", "//Ferdie")
    assert low.returncode == 1 and "BondTooSmall" in low.stderr
    left = ok(node, "unbond", "--amount", "200", "--from", "//Ferdie")
    assert left["state"].startswith("left candidacy")
    assert run(node, "show", ferdie).returncode == 2  # not a candidate any more: the CLI's error exit


def test_a_consensus_key_file_that_is_not_cometbfts_validator_key_is_named_not_a_traceback(tmp_path):
    """node_key.json sits beside priv_validator_key.json: given by mistake it was a KeyError traceback, and a
    directory was decoded as base64 and sent to the chain."""
    from cli.validator import consensus_key

    p2p = tmp_path / "node_key.json"
    p2p.write_text(json.dumps({"priv_key": {"type": "tendermint/PrivKeyEd25519", "value": "AAAA"}}))
    with pytest.raises(ValueError, match="not CometBFT's priv_validator_key.json .*node_key.json is its p2p key"):
        consensus_key(str(p2p))
    with pytest.raises(ValueError, match="is a directory"):
        consensus_key(str(tmp_path))
    key = Keypair.from_uri("//Ferdie//consensus").public
    good = tmp_path / "priv_validator_key.json"
    good.write_text(json.dumps({"pub_key": {"type": "tendermint/PubKeyEd25519",
                                            "value": base64.b64encode(key).decode()}}))
    assert consensus_key(str(good)) == key == consensus_key(key.hex())
