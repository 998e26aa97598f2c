"""Many calls signed by one key at once, against a real node: the node's next-nonce counts the signer's pooled
extrinsics (Substrate's `accountNextIndex`), and the SDK's `submit_signed` hands the threads of one process
consecutive nonces, so 64 concurrent calls are all included, each exactly once."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from runtime.codec import ONE_OPEN, decode_u128
from runtime.crypto import Keypair
from runtime.extrinsic import sign_extrinsic

pytestmark = pytest.mark.e2e

ALICE, BOB = Keypair.from_uri("//Alice"), Keypair.from_uri("//Bob")


def test_the_next_nonce_counts_the_signers_pooled_extrinsics_up_to_a_gap(start_node):
    with start_node("slow", "--dev", "--block-time", "30").client() as client:
        committed = client.nonce(BOB.public)
        call = client.call("system", "remark", data=b"hi")
        for nonce in (committed, committed + 1, committed + 2, committed + 5):  # 5: a future one, after a gap
            client.submit(sign_extrinsic(BOB, call, nonce=nonce, genesis_hash=client.genesis_hash))
        assert client.nonce(BOB.public) == committed  # nothing included yet: the block time is 30 s
        assert client.next_nonce(BOB.public) == committed + 3
        assert client.next_nonce(ALICE.public) == client.nonce(ALICE.public)  # nothing pooled


def test_sixty_four_concurrent_calls_from_one_key_are_all_included_once(start_node):
    dest = Keypair.from_uri("//Concurrent-Destination")
    with start_node("fast", "--dev", "--block-time", "0.3").client() as client:
        before = client.nonce(ALICE.public)

        def transfer(i: int):
            return client.submit_call(ALICE, "token", "transfer_keep_alive", dest=dest.public, amount=ONE_OPEN + i)

        with ThreadPoolExecutor(64) as pool:
            results = list(pool.map(transfer, range(64)))
        assert [r.error for r in results if not r.success] == []
        assert len({r.hash for r in results}) == 64
        assert client.nonce(ALICE.public) == before + 64  # each call once, no nonce lost or reused
        assert decode_u128(client.account(dest.public).free) == sum(ONE_OPEN + i for i in range(64))


def test_the_node_answers_next_nonce_while_blocks_commit_without_deadlocking(start_node):
    """GetAccount reads the pool's next nonce while blocks commit and update the pool. It used to hold the
    node's lock while taking the pool's, and a committing block takes them the other way round: under
    concurrent callers the node froze (every call timed out) - 64 gateway calls did it on a loaded machine."""
    import threading
    import time

    from sdk.client import Client, ClientError

    node = start_node("busy", "--dev", "--block-time", "0.02")
    signers = [Keypair.from_uri(name) for name in ("//Alice", "//Bob", "//Charlie", "//Dave")]
    stop = threading.Event()
    errors: list[BaseException] = []

    def submit(key: Keypair) -> None:
        """Keep the key's extrinsics pooled (submitted without waiting), so every committed block has senders
        whose nonces it re-reads."""
        with Client(node.target, timeout=20) as client:
            call = client.call("system", "remark", data=b"busy")
            while not stop.is_set():
                try:
                    nonce = client.next_nonce(key.public)
                    for n in range(nonce, nonce + 8):
                        client.submit(sign_extrinsic(key, call, nonce=n, genesis_hash=client.genesis_hash))
                except ClientError as exc:
                    if "DEADLINE_EXCEEDED" in str(exc) or "UNAVAILABLE" in str(exc):
                        errors.append(exc)
                        return  # the node stopped answering; anything else is the pool refusing a nonce

    def ask(key: Keypair) -> None:
        with Client(node.target, timeout=20) as client:
            while not stop.is_set():
                try:
                    client.next_nonce(key.public)
                except Exception as exc:  # noqa: BLE001 - any failure is reported by the assertion below
                    errors.append(exc)
                    return

    with node.client() as client:
        start = client.chain_info().best_number
        threads = [threading.Thread(target=submit, args=(k,)) for k in signers]
        threads += [threading.Thread(target=ask, args=(k,)) for k in signers * 2]
        for thread in threads:
            thread.start()
        time.sleep(8)  # the load's duration, not an assertion: the checks below are on what it did
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
        assert not errors, errors[:3]
        assert client.chain_info().best_number > start + 20  # blocks kept committing under the load
