"""Declared call weights for the inference pallet (reads/writes: the most any path performs).

request_inference reads every worker serving the model (bounded by max_workers_per_model = 64).
ref_time follows bench/weights.py's measurements of comparable calls on the reference machine.
"""

from runtime.weights import Weight

REGISTER = Weight(ref_time_ns=60_000, reads=3 + 16, writes=3 + 16)
DEREGISTER = Weight(ref_time_ns=40_000, reads=2, writes=2 + 16)
REQUEST = Weight(ref_time_ns=300_000, reads=6 + 2 * 64, writes=5)
