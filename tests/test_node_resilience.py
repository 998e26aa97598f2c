"""Crash safety under kill -9, concurrent load, and moving a chain between nodes."""

import json
import os
import subprocess
import sys
import threading
import time

import pytest

from devtools.crashloop import soak
from runtime.crypto import Keypair, blake2_256

KILLS = int(os.environ.get("PAYABLE_CRASH_KILLS", "50"))


@pytest.mark.e2e
def test_kill_9_never_loses_a_reported_block_or_leaves_partial_state(tmp_path):
    report = soak(tmp_path / "crash", kills=KILLS, seed=1)
    assert report.kills == KILLS
    assert report.reported_included > 0 and report.blocks > 0


@pytest.mark.e2e
def test_concurrent_clients_every_accepted_transfer_is_included_exactly_once(start_node):
    node = start_node("load", "--dev", "--block-time", "0.3")
    senders = [Keypair.from_uri(u) for u in ("//Alice", "//Bob", "//Charlie", "//Dave", "//Eve", "//Ferdie")]
    per_client = 40
    accepted: list[bytes] = []
    lock = threading.Lock()
    with node.client() as client:
        call = client.call("token", "transfer_keep_alive", dest=Keypair.from_uri("//Sink").public, amount="0.5")
        raws = {s.public: [client.sign(s, call, nonce=n) for n in range(per_client)] for s in senders}

    def run(sender):
        with node.client() as c:
            for raw in raws[sender.public]:
                h = c.submit(raw)
                with lock:
                    accepted.append(h)

    threads = [threading.Thread(target=run, args=(s,)) for s in senders]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(accepted) == len(senders) * per_client
    with node.client() as client:
        for _ in range(200):
            info = client.chain_info()
            if info.txpool_ready == 0 and info.txpool_future == 0:
                break
            time.sleep(0.1)
        included = []
        for number in range(1, client.chain_info().best_number + 1):
            included += [blake2_256(x) for x in client.block(number).block.extrinsics[1:]]
    assert sorted(included) == sorted(accepted)  # every accepted one, once, and nothing else


@pytest.mark.e2e
def test_export_then_import_into_a_fresh_node_reaches_the_same_roots(start_node, tmp_path):
    source = start_node("source", "--dev", "--instant-seal")
    with source.client() as client:
        for i in range(5):
            client.submit_call(Keypair.from_uri("//Alice"), "token", "transfer_keep_alive",
                               dest=Keypair.from_uri("//Bob").public, amount=str(i + 1))
        head = client.chain_info()
    assert source.stop() == 0

    def cli(*args):
        done = subprocess.run([sys.executable, "-m", "cli", *args, "--json"], capture_output=True, text=True,
                              timeout=120)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    export = tmp_path / "blocks.bin"
    assert cli("export-blocks", "--base-path", str(source.base_path), "--output", str(export))["exported"] == \
        head.best_number
    fresh = tmp_path / "fresh"
    assert cli("import-blocks", "--base-path", str(fresh), "--input", str(export), "--dev")["imported"] == \
        head.best_number
    checked = cli("check-chain", "--base-path", str(fresh))
    assert checked["head"] == head.best_hash.hex() and checked["blocks"] == head.best_number
    # a tampered export is refused, and the chain it was imported into is unchanged
    data = bytearray(export.read_bytes())
    data[-10] ^= 0xFF
    export.write_bytes(bytes(data))
    other = tmp_path / "other"
    bad = subprocess.run([sys.executable, "-m", "cli", "import-blocks", "--base-path", str(other),
                          "--input", str(export), "--dev"], capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "error:" in bad.stderr
