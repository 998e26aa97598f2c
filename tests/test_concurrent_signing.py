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
