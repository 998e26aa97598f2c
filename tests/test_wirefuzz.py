"""A short coverage-guided fuzzing run of everything a peer can send (the long one is bench/fuzz_decoders.py):
each target runs as libFuzzer does it, in its own process, and must finish its runs without a crash."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from devtools.wirefuzz import TARGETS

pytest.importorskip("atheris", reason="atheris is part of the dev extra that `make test` installs")

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("target", TARGETS)
def test_no_input_escapes_its_reasons_or_changes_the_chain(target, tmp_path):
    done = subprocess.run([sys.executable, "-m", "devtools.wirefuzz", target, "-runs=1500", "-seed=1",
                           f"-artifact_prefix={tmp_path}/"], capture_output=True, text=True, timeout=600,
                          cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-4000:]
    runs = re.search(r"Done (\d+) runs", done.stderr)
    assert runs and int(runs.group(1)) >= 1500  # libFuzzer also counts the seed corpus it replays
    assert not list(tmp_path.glob("crash-*"))


def test_a_violation_is_reported_as_a_crash(tmp_path):
    """The harness can fail: a target whose property breaks makes libFuzzer stop with the input saved."""
    script = ("import sys, atheris\n"
              "def target(data):\n"
              "    if data[:1] == b'x':\n"
              "        raise AssertionError('property violated')\n"
              "atheris.Setup([sys.argv[0], '-runs=200000', sys.argv[1]], target)\n"
              "atheris.Fuzz()\n")
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "seed").write_bytes(b"y")
    done = subprocess.run([sys.executable, "-c", script, str(corpus)], capture_output=True, text=True, timeout=300,
                          cwd=tmp_path)
    assert done.returncode != 0 and "property violated" in done.stdout + done.stderr
    assert list(tmp_path.glob("crash-*"))


def test_the_memory_limit_counts_the_fuzzing_alone(tmp_path):
    """Started by a process holding much memory (a test worker with a model loaded), the fuzzer's peak RSS
    must not begin at its parent's: Linux carries the parent's peak across fork and exec, and libFuzzer
    stopped at its limit before its first input."""
    launcher = ("import subprocess, sys\n"
                "held = bytearray(700 << 20)\n"
                "held[::4096] = b'\\x01' * len(held[::4096])\n"
                "done = subprocess.run([sys.executable, '-m', 'devtools.wirefuzz', 'upload', '-max_total_time=3',\n"
                "                       '-rss_limit_mb=512', sys.argv[1]], capture_output=True, text=True)\n"
                "sys.stderr.write(done.stderr)\n"
                "sys.exit(done.returncode)\n")
    done = subprocess.run([sys.executable, "-c", launcher, f"-artifact_prefix={tmp_path}/"], capture_output=True,
                          text=True, timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-4000:]
    assert re.search(r"Done \d+ runs in [3-9] second", done.stderr)  # the memory check runs once a second
