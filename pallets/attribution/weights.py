"""Declared call weights for the attribution pallet (reads/writes: the most any path performs).

submit_result verifies an ed25519 signature and up to 16 Merkle proofs, reads the request, the
worker, the model and up to 16 snapshots; settling pays up to 16 contributors plus owner, protocol
and up to 8 workers, each payment two token reads and writes plus the contributor's statistics.
"""

from runtime.weights import Weight

SUBMIT = Weight(ref_time_ns=1_500_000, reads=40 + 16 + 4 * 30, writes=10 + 3 * 30)
CHALLENGE = Weight(ref_time_ns=1_500_000, reads=40 + 16 + 2 * 64, writes=4)
VOTE = Weight(ref_time_ns=1_500_000, reads=40 + 16 + 4 * 8, writes=6 + 2 * 8)
