"""The long fuzzing run: every target of `devtools.wirefuzz` (extrinsic admission, block import, signed
attribution results, content-store upload frames, pallet queries) under libFuzzer for a time budget
each, reporting executions, executions per second, coverage and any crash (with its saved input).

    python bench/fuzz_decoders.py [--seconds 120] [--targets extrinsic,block]
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from devtools.wirefuzz import TARGETS


def run(target: str, seconds: int, work: Path) -> dict:
    done = subprocess.run([sys.executable, "-m", "devtools.wirefuzz", target, f"-max_total_time={seconds}",
                           f"-artifact_prefix={work}/{target}-"], capture_output=True, text=True,
                          timeout=seconds + 600, cwd=work)
    log = done.stdout + done.stderr
    last = re.findall(r"#(\d+)\s+(?:DONE|pulse|NEW|REDUCE|INITED)\s+cov: (\d+) ft: (\d+)", log)
    executions = int(re.findall(r"Done (\d+) runs", log)[-1]) if "Done " in log else int(last[-1][0]) if last else 0
    crashes = sorted(str(p) for p in work.glob(f"{target}-crash-*"))
    return {"target": target, "seconds": seconds, "executions": executions,
            "executions_per_s": round(executions / max(seconds, 1), 1),
            "coverage": int(last[-1][1]) if last else 0, "features": int(last[-1][2]) if last else 0,
            "crashes": crashes, "exit_code": done.returncode,
            "crash_report": log[-3000:] if done.returncode else ""}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=120, help="libFuzzer time budget per target")
    parser.add_argument("--targets", default=",".join(TARGETS))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="payable-fuzz-") as tmp:
        rows = [run(t, args.seconds, Path(tmp)) for t in args.targets.split(",")]
    print(json.dumps({"benchmark": "fuzz_decoders", "targets": rows,
                      "crashes": sum(len(r["crashes"]) for r in rows)}, indent=2))


if __name__ == "__main__":
    main()
