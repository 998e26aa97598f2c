"""Declared call weights for the validators pallet.

From `python bench/weights.py --samples 20 --filler 10000`, one run on x86_64, 2 cores, Python 3.11.7
(the development machine, 2026-11-29, while it also ran the test suite): dispatch p90 bond 41 µs,
bond_extra 35 µs, unbond 50 µs; at most 3 reads / 3 writes, 2 / 2, 2 / 2. With one run instead of
the house's three, each ref_time is about 3x the measured p90 rather than 1.3x the largest of three.
The election and fee payout run in `on_finalize`, not in a call: their cost (one pass over the
candidates at an epoch's end, one transfer per signer of the previous block) is the block's.
"""

from runtime.weights import Weight

BOND = Weight(ref_time_ns=160_000, reads=3, writes=4)
BOND_EXTRA = Weight(ref_time_ns=120_000, reads=2, writes=2)
UNBOND = Weight(ref_time_ns=140_000, reads=2, writes=2)
