"""Declared call weights for the DataNet pallet (reads/writes: the most any path performs).

ref_time values follow bench/weights.py's measurements of comparable token calls on the reference
machine (2 shared x86-64 vCPUs, Python 3.11): each reserve/unreserve through the token pallet is one
read and one write. publish_snapshot reads every approved contribution, up to the configured maximum.
"""

from runtime.weights import Weight

CREATE = Weight(ref_time_ns=60_000, reads=3, writes=5)
CONTRIBUTE = Weight(ref_time_ns=60_000, reads=6, writes=7)
APPROVE = Weight(ref_time_ns=50_000, reads=4, writes=5)
REJECT = Weight(ref_time_ns=60_000, reads=6, writes=6)
WITHDRAW = Weight(ref_time_ns=50_000, reads=3, writes=5)
REVOKE = Weight(ref_time_ns=40_000, reads=2, writes=3)
PUBLISH = Weight(ref_time_ns=2_000_000, reads=2 + 2 * 1000, writes=2)  # ~2 µs + 2 reads per member
CURATOR = Weight(ref_time_ns=20_000, reads=1, writes=1)
METADATA = Weight(ref_time_ns=25_000, reads=1, writes=2)
