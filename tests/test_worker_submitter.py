"""The worker numbers its extrinsics with the node's next nonce, not a count of its own: a node that restarts
has lost its pool, and what the worker sends next must not wait behind the lost nonces (its results would
never be included, and the chain would slash it for silence). A real node process, restarted."""

from __future__ import annotations

from conftest import wait_until

from gpu_worker.follower import Submitter
from runtime.codec import ONE_OPEN
from runtime.crypto import Keypair


def test_after_the_node_lost_its_pool_the_next_extrinsic_is_numbered_from_the_chain(start_node):
    eve, dest = Keypair.from_uri("//Eve"), Keypair.from_uri("//submitter-dest").public
    submitter = Submitter(eve)

    def included(client, nonce: int) -> None:
        wait_until(lambda: client.nonce(eve.public) == nonce, 30, message=f"Eve's nonce {nonce} to be used")

    node = start_node("node", "--dev", "--instant-seal")
    with node.client() as client:
        call = client.call("token", "transfer", dest=dest, amount=ONE_OPEN)
        submitter.submit(client, call)
        included(client, 1)
    assert node.stop() == 0
    node = start_node("node", "--dev", "--block-time", "600")  # the same chain; no block while two wait in the pool
    with node.client() as client:
        submitter.submit(client, call)
        submitter.submit(client, call)  # numbered past the first, which only the pool holds
        assert (client.nonce(eve.public), client.next_nonce(eve.public)) == (1, 3)
    assert node.stop() == 0  # the pool goes with the process
    node = start_node("node", "--dev", "--instant-seal")
    with node.client() as client:
        assert (client.nonce(eve.public), client.next_nonce(eve.public)) == (1, 1)  # both pooled ones lost
        submitter.submit(client, call)  # nonce 1 again, not 3: nothing waits for a gap
        included(client, 2)
        assert int.from_bytes(client.account(dest).free, "big") == 2 * ONE_OPEN
