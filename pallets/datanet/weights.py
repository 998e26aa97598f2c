"""Declared call weights for the DataNet pallet.

From `python bench/weights.py` (64 signers, 100k funded filler accounts, RocksDB via rocksdict), three
runs on x86_64, 2 cores, Python 3.11.7 (the project's development machine, a shared VM, 2026-11-29):
ref_time is 1.3x the largest p90 dispatch time of the three runs, so this machine's run-to-run noise
(up to 1.6x) stays covered; reads/writes are the most any path of the call performs (the bench
checks the measured counts stay within them, and the fuzzing harness checks them on every dispatch).

Each reserve/unreserve through the token pallet is one read and one write. Largest p90 dispatch of
the three runs: create_datanet 58 µs, update_metadata 24 µs, add/remove_curator 18 µs, contribute
110 µs, approve 70 µs, reject 78 µs, withdraw 47 µs, revoke 44 µs. publish_snapshot reads every
approved contribution, up to `max_snapshot_contributions` (1000): measured at 1 and 17 members and
extrapolated linearly to 1000, 11.1 ms.

Access to permissioned DataNets (three runs the same way on the same machine, 2026-11-29, after they were
added): set_permissioned 26 µs; request_access, grant_access and revoke_access read the DataNet and the
account's access record and write the record, largest p90 53 µs, declared as one weight. contribute
also indexes the content hash (who may read a blob is decided by the DataNets holding it): one more write.
"""

from runtime.weights import Weight

CREATE = Weight(ref_time_ns=80_000, reads=3, writes=5)
CONTRIBUTE = Weight(ref_time_ns=145_000, reads=6, writes=8)
APPROVE = Weight(ref_time_ns=95_000, reads=4, writes=5)
REJECT = Weight(ref_time_ns=105_000, reads=6, writes=6)
WITHDRAW = Weight(ref_time_ns=65_000, reads=3, writes=5)
REVOKE = Weight(ref_time_ns=60_000, reads=2, writes=3)
PUBLISH = Weight(ref_time_ns=14_500_000, reads=2 + 2 * 1000, writes=2)  # 2 reads per member, up to 1000
CURATOR = Weight(ref_time_ns=25_000, reads=1, writes=1)
METADATA = Weight(ref_time_ns=35_000, reads=1, writes=2)
SET_PERMISSIONED = Weight(ref_time_ns=35_000, reads=1, writes=1)
ACCESS = Weight(ref_time_ns=57_000, reads=2, writes=1)
