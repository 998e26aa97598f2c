"""Declared call weights for the token pallet.

Produced by `bench/weights.py` (median of repeated dispatches, rounded up with a 2x margin)
on the reference machine: 2 shared vCPUs (x86-64), Python 3.11, RocksDB via rocksdict.
Reads/writes are the most the call can perform; the fuzzing harness checks them on every dispatch.
"""

from runtime.weights import Weight

TRANSFER = Weight(ref_time_ns=40_000, reads=4, writes=5)
TRANSFER_KEEP_ALIVE = Weight(ref_time_ns=40_000, reads=4, writes=5)
BOND = Weight(ref_time_ns=30_000, reads=2, writes=2)
UNBOND = Weight(ref_time_ns=30_000, reads=2, writes=2)
WITHDRAW_UNBONDED = Weight(ref_time_ns=30_000, reads=2, writes=2)
