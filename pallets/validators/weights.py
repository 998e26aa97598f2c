"""Declared call weights for the validators pallet.

From `python bench/weights.py` on x86_64, 2 cores, Python 3.11.7 (see the header of
`pallets/token/weights.py` for the method: 1.3x the largest p90 dispatch of three runs; reads/writes
are the most any path of the call performs).
"""

from runtime.weights import Weight

BOND = Weight(ref_time_ns=160_000, reads=3, writes=4)
BOND_EXTRA = Weight(ref_time_ns=120_000, reads=2, writes=2)
UNBOND = Weight(ref_time_ns=140_000, reads=2, writes=2)
