"""A server process stops on SIGTERM; one whose stop stalls tells its log where (cli.common.wait_for_stop_signal)."""

import signal
import subprocess
import sys
import time

import pytest

pytestmark = pytest.mark.e2e

STALLING = """
import signal
import time
import cli.common as common
common.STALLED_STOP_S = 1
installing = signal.signal
def announced(sig, handler):  # says when SIGTERM's handler is in place: a signal sent earlier would kill it
    installed = installing(sig, handler)
    if sig == signal.SIGTERM and handler is not signal.SIG_DFL:
        print("waiting", flush=True)
    return installed
signal.signal = announced
common.wait_for_stop_signal()
print("stopping", flush=True)
def closing_a_database_that_never_closes():
    time.sleep(60)
closing_a_database_that_never_closes()
"""


def test_a_stop_that_stalls_writes_every_threads_stack_to_the_log(tmp_path):
    log = tmp_path / "server.log"
    with open(log, "wb") as err:
        proc = subprocess.Popen([sys.executable, "-c", STALLING], stdout=subprocess.PIPE, stderr=err, text=True)
    try:
        assert proc.stdout.readline() == "waiting\n"  # (each read ends: the finally kills it on any failure)
        proc.send_signal(signal.SIGTERM)
        assert proc.stdout.readline() == "stopping\n"
        deadline = time.monotonic() + 30
        while "closing_a_database_that_never_closes" not in log.read_text() and time.monotonic() < deadline:
            time.sleep(0.2)
        dumped = log.read_text()
        assert "closing_a_database_that_never_closes" in dumped and "most recent call first" in dumped, dumped
        assert proc.poll() is None  # it only reports: stopping it is still its owner's call
        proc.send_signal(signal.SIGTERM)  # a second signal ends it at once (Ctrl-C twice)
        assert proc.wait(timeout=10) == -signal.SIGTERM
    finally:
        proc.kill()
        proc.wait(timeout=10)
