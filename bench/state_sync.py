"""State sync benchmark: how long a new node takes to join a chain at 10k and at 100k blocks by replaying
every block from genesis, next to restoring a state sync snapshot of that height, in the same run.

    python bench/state_sync.py [--scale 1]

One chain is built in-process with the dev author on RocksDB (a real network would spend most of its
time waiting for consensus, not executing): each block holds the timestamp inherent and every tenth a
signed transfer of 1 OPEN from //Alice to a new account (scaled so the whole run takes a few minutes on
2 cores: a transfer in every block would make building 100k blocks alone take about 6 minutes here);
the serving node snapshots its state at heights 10k and 100k as it goes (`snapshot_take_s`, off the
join's path: validators take them every N blocks).

- Replay: a fresh node (genesis only) imports every block up to the height: each is decoded, its
  signatures checked, re-executed and its state root compared, then committed (one synced RocksDB
  batch per block) - one pass, timed at 10k and at 100k.
- State sync: a fresh node's AbciApp is driven as CometBFT drives it - OfferSnapshot, LoadSnapshotChunk
  from the serving node, ApplySnapshotChunk for every chunk (hash check, staging store, trie, root
  check, adopt). Not included: CometBFT's snapshot discovery wait (`discovery_time`, 5 s in `payable
  testnet add`) and its light-client check of the app hash (two header fetches), both independent of
  the chain's length.

Every joined node then imports the chain's next block (which checks the state root it gives).
--scale S divides the block counts (a quick check).
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import sys
import tempfile
import time
from pathlib import Path

import structlog

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from node.abci.app import AbciApp, snapshot_message  # noqa: E402
from node.abci.types import abci  # noqa: E402
from node.node import Node  # noqa: E402
from node.statesync import SnapshotStore, capture  # noqa: E402
from payable.token.v1 import token_pb2  # noqa: E402
from runtime import system  # noqa: E402
from runtime.chainspec import dev_spec  # noqa: E402
from runtime.codec import ONE_OPEN, encode_u128  # noqa: E402
from runtime.crypto import Keypair, blake2_256  # noqa: E402
from runtime.executive import Executive  # noqa: E402
from runtime.extrinsic import sign_extrinsic  # noqa: E402
from runtime.runtime import make_call_by_name  # noqa: E402
from runtime.storage.backend import RocksBackend  # noqa: E402

BLOCKS, JOINS, TRANSFER_EVERY = 100_000, (10_000, 100_000), 10
START_MS = 2_000_000_000_000


def author(chain: Executive, number: int, alice: Keypair) -> None:
    """Block `number` on the dev-authored chain: the timestamp inherent and, every TRANSFER_EVERY blocks,
    a transfer to a new account."""
    extrinsics = []
    if number % TRANSFER_EVERY == 0:
        call = make_call_by_name("token", "transfer", token_pb2.Transfer(
            dest=blake2_256(number.to_bytes(8, "big")), amount=encode_u128(ONE_OPEN)))
        nonce = system.account_nonce(chain.read_context(), alice.public)
        extrinsics.append(sign_extrinsic(alice, call, nonce=nonce, genesis_hash=chain.genesis_hash))
    built = chain.author_block(extrinsics, author=alice, timestamp_ms=START_MS + 1000 * number)
    if len(built.outcomes) != len(extrinsics) or not all(o.ok for o in built.outcomes):
        raise RuntimeError(f"block #{number}: a transfer failed or was left out")


def join_by_state_sync(spec, store: SnapshotStore, height: int, home: Path) -> tuple[float, Node, int]:
    """A fresh node restores the snapshot at `height` through the ABCI calls, its chunks read from the
    serving node's store (what that node's LoadSnapshotChunk answers); seconds, node, chunks."""
    started = time.perf_counter()
    node = Node(spec, home)
    app = AbciApp(node)
    manifest = next(m for m in store.manifests() if m.height == height)
    snapshot = snapshot_message(manifest)  # CometBFT's light client verifies the app hash (header h+1)
    offered = app.handle(abci.Request(offer_snapshot=abci.RequestOfferSnapshot(snapshot=snapshot,
                                                                               app_hash=manifest.state_root)))
    if offered.offer_snapshot.result != abci.ResponseOfferSnapshot.ACCEPT:
        raise RuntimeError(f"the snapshot was refused: {offered.offer_snapshot}")
    for index in range(snapshot.chunks):
        applied = app.handle(abci.Request(apply_snapshot_chunk=abci.RequestApplySnapshotChunk(
            index=index, chunk=store.load_chunk(height, index), sender="server"))).apply_snapshot_chunk
        if applied.result != abci.ResponseApplySnapshotChunk.ACCEPT:
            raise RuntimeError(f"chunk {index} was refused: {applied}")
    return time.perf_counter() - started, node, snapshot.chunks


def measure(blocks: int, joins: tuple[int, ...], work: Path) -> dict:
    spec, alice = dev_spec(), Keypair.from_uri("//Alice")
    chain = Executive.open(spec, RocksBackend(work / "server"))  # the serving node's chain
    store = SnapshotStore(work / "snapshots", interval=1, keep=len(joins))
    snapshots = {}
    started = time.perf_counter()
    for number in range(1, blocks + 1):
        author(chain, number, alice)
        if number in joins:
            taken = time.perf_counter()
            manifest = store.save(capture(chain))
            snapshots[number] = (manifest, time.perf_counter() - taken)
            started += time.perf_counter() - taken
    build_s = time.perf_counter() - started
    author(chain, blocks + 1, alice)  # the chain goes on: every joined node must follow its next block

    started = time.perf_counter()  # both ways in start from opening a fresh node (genesis)
    replay_s, replayed = {}, Node(spec, work / "replayed")
    for number in range(1, blocks + 1):
        replayed.executive.import_block(chain.db.require_block(number))
        if number in joins:
            replay_s[number] = time.perf_counter() - started
    results = []
    for height in joins:
        manifest, take_s = snapshots[height]
        sync_s, synced, chunks = join_by_state_sync(spec, store, height, work / f"synced-{height}")
        synced.executive.import_block(chain.db.require_block(height + 1))  # checks the state root it gives
        synced.stop()
        folder = work / "snapshots" / f"{height:012d}"
        results.append({"blocks": height, "state_entries": manifest.entries,
                        "snapshot_bytes": sum(p.stat().st_size for p in folder.iterdir()),
                        "snapshot_chunks": chunks, "snapshot_take_s": round(take_s, 3),
                        "join_by_replay_s": round(replay_s[height], 2), "join_by_state_sync_s": round(sync_s, 3),
                        "replay_ms_per_block": round(1000 * replay_s[height] / height, 3),
                        "speedup": round(replay_s[height] / sync_s, 1), "follows_the_next_block": True})
    replayed.executive.import_block(chain.db.require_block(blocks + 1))
    replayed.stop()
    chain.close()
    chain.db.backend.close()
    return {"build_s": round(build_s, 1), "joins": results}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=int, default=1, help="divide the chains' block counts by this")
    args = parser.parse_args()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))  # no per-block log
    with tempfile.TemporaryDirectory(prefix="payable-statesync-") as tmp:
        result = measure(BLOCKS // args.scale, tuple(h // args.scale for h in JOINS), Path(tmp))
    print(json.dumps({"bench": "state_sync", "machine": platform.machine(), "python": platform.python_version(),
                      "transfer_every": TRANSFER_EVERY, **result}, indent=2))


if __name__ == "__main__":
    main()
