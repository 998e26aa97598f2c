"""`payable demo` (the README's main command) as a test: real node and worker processes, real settlements."""

import re
import subprocess
import sys

import pytest

pytest.importorskip("sklearn", reason="the worker extra is part of `make test`'s install")


def test_the_demo_story_pays_every_contributor_and_payouts_equal_fees():
    done = subprocess.run([sys.executable, "-m", "cli", "demo"], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    out = done.stdout
    rows = re.findall(r"^(//\w+)\s+1\s+([\d.]+)%\s+([\d.]+)$", out, re.MULTILINE)
    names = ["//Bob", "//Charlie", "//Dave", "//Ferdie"]
    assert [name for name, _, _ in rows] == names * 2  # one table per model
    digits = [float(share) for _, share, _ in rows[:4]]
    assert all(share > 0 for share in digits) and abs(sum(digits) - 100) < 0.5
    assert digits[0] == min(digits)  # the smallest data contribution earned the least
    text = [float(share) for _, share, _ in rows[4:]]
    assert abs(sum(text) - 100) < 0.5 and max(text[0], text[1]) == max(text)  # the prompted sources lead
    fees, payouts = re.search(r"fees ([\d.]+) OPEN = payouts ([\d.]+) OPEN: OK", out).groups()
    assert fees == payouts == "5"  # 10 paid inferences at 0.5 OPEN
    assert re.search(r"state root [0-9a-f]{64}", out)
    # the ModelFactory chapter: the adapter learned, its merge is checked, provenance verifies, verify re-runs it
    before, after = map(float, re.search(r"held-out loss ([\d.]+) → ([\d.]+)", out).groups())
    assert after < 0.9 * before
    assert re.search(r"the merge differs from the base in \d+ tensors and matches base \+ adapter", out)
    assert "Merkle proofs all verify" in out
    assert re.search(r"verify: re-running the recorded job .* - the same bytes", out)
