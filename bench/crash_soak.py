"""Crash soak: many kill -9 rounds of a dev node under transfers (CI runs 50; run this for more).

    python bench/crash_soak.py [--kills 300] [--seed 7]

Prints JSON: rounds survived, extrinsics the node reported as included (all re-found after the
crashes), chain height, and round durations. Any lost block or root mismatch raises.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from devtools.crashloop import soak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=300)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="payable-soak-") as tmp:
        report = soak(Path(tmp) / "chain", args.kills, args.seed)
    print(json.dumps({"benchmark": "crash_soak", "kills": report.kills,
                      "reported_included": report.reported_included, "chain_height": report.blocks,
                      "round_s_median": round(statistics.median(report.round_seconds), 2), "lost": 0}, indent=2))


if __name__ == "__main__":
    main()
