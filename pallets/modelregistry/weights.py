"""Declared call weights for the model registry (reads/writes: the most any path performs).

register_model reads the base model and, per cited snapshot (at most 16), the DataNet and the snapshot.
ref_time follows bench/weights.py's measurements of comparable calls on the reference machine.
"""

from runtime.weights import Weight

REGISTER_BASE = Weight(ref_time_ns=30_000, reads=1, writes=2)
REGISTER = Weight(ref_time_ns=150_000, reads=2 + 2 * 16, writes=3 + 16)
UPDATE_PRICE = Weight(ref_time_ns=25_000, reads=1, writes=1)
DEPRECATE = Weight(ref_time_ns=20_000, reads=1, writes=1)
TRANSFER = Weight(ref_time_ns=30_000, reads=1, writes=3)
