"""`payable testnet` signals only the processes it started: a saved PID the system has given to another
process (PID reuse) is never signalled, and a SIGSTOPped node is reported stopped, not running. Real
processes; no CometBFT is needed to check whom a signal reaches."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import asdict

import pytest

from node.testnet import STATE_FILE, NodeInfo, Testnet, process_alive, process_command, process_start


def _sleeper(*argv: str) -> subprocess.Popen:
    """A process whose command line ends with `argv` - once it has exec'd (before, /proc shows its parent's)."""
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)", *argv], start_new_session=True)
    while "time.sleep(120)" not in process_command(proc.pid):
        time.sleep(0.01)
    return proc


@pytest.fixture
def processes():
    started: list[subprocess.Popen] = []

    def start(*argv: str) -> subprocess.Popen:
        started.append(_sleeper(*argv))
        return started[-1]

    yield start
    for proc in started:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGCONT)
            proc.kill()
        proc.wait(timeout=10)


def _net(tmp_path, pids: dict[str, int], started: dict[str, int]) -> Testnet:
    home = tmp_path / "node0"
    node = NodeInfo("node0", str(home), "//validator-0", "", "", True, {"rpc": 1, "grpc": 2}, pids, started)
    (tmp_path / STATE_FILE).write_text(json.dumps({"chain_id": "x", "nodes": [asdict(node)]}))
    return Testnet(tmp_path)


def test_a_saved_pid_that_is_now_another_process_is_never_signalled(tmp_path, processes):
    stranger = processes()  # an unrelated process that got the PIDs the testnet saved
    imposter = processes(str(tmp_path / "node0"))  # names the node's home, but started after the record
    for pid in (stranger.pid, imposter.pid):
        net = _net(tmp_path, {"app": pid, "comet": pid}, {"app": 1, "comet": 1} if pid == imposter.pid
                   else {"app": process_start(pid), "comet": process_start(pid)})
        row = net.status()[0]
        assert row["running"] is False
        assert row["processes"]["app"]["state"] == "gone (its PID now another process's)"
        assert net.down() == 0  # no process of its own to stop
        net.signal_node(0, signal.SIGKILL)
        time.sleep(0.3)
        assert process_alive(pid)  # untouched
        assert Testnet(tmp_path).nodes[0].pids == {}  # and forgotten


def test_its_own_processes_are_stopped_and_a_sigstopped_node_is_reported_stopped(tmp_path, processes):
    app, comet = processes(str(tmp_path / "node0")), processes("--home", str(tmp_path / "node0"))
    net = _net(tmp_path, {"app": app.pid, "comet": comet.pid},
               {"app": process_start(app.pid), "comet": process_start(comet.pid)})
    assert net.status()[0]["running"] is True
    net.signal_node(0, signal.SIGSTOP)
    time.sleep(0.3)
    row = net.status()[0]
    assert row["running"] is False and {p["state"] for p in row["processes"].values()} == {"stopped"}
    shown = subprocess.run([sys.executable, "-m", "cli", "testnet", "status", "--dir", str(tmp_path)],
                           capture_output=True, text=True, timeout=60)
    assert shown.returncode == 0 and "node0: stopped (SIGSTOP: app stopped, comet stopped)" in shown.stdout, \
        shown.stderr
    assert net.down() == 1  # a stopped process is woken to take its SIGTERM (and reaped by the testnet's wait)
    assert not process_alive(app.pid) and not process_alive(comet.pid)
    assert Testnet(tmp_path).nodes[0].pids == {}


def test_a_node_that_fails_to_start_is_not_left_half_running(tmp_path, processes, monkeypatch):
    """A CometBFT that exits at start (an app store ahead of it, a bad config) is reported with its log, and
    the node's other processes - started before it - are stopped again: up whole or not at all."""
    from node.testnet import TestnetError

    app = processes(str(tmp_path / "node0"))
    net = _net(tmp_path, {}, {})

    def half(i, env):  # the app started, then CometBFT exited
        net.nodes[i].pids, net.nodes[i].started = {"app": app.pid}, {"app": process_start(app.pid)}
        raise TestnetError("comet exited with 1 at start; comet.log: app block height (365) is higher than core")

    monkeypatch.setattr(net, "_start_processes", half)
    with pytest.raises(TestnetError, match="comet exited with 1 at start"):
        net.start_node(0)
    app.wait(timeout=20)
    assert not process_alive(app.pid) and Testnet(tmp_path).nodes[0].pids == {}


def test_generation_flags_take_zero_as_a_value_and_refuse_what_cannot_run(tmp_path):
    """`--timeout-commit 0` is a network with no commit wait, not the default; a negative timeout (CometBFT
    exits on it) or a network of no validators is refused before anything is made."""
    from cli import testnet as cli_testnet
    from cli.main import build_parser

    for flag, value in (("--timeout-commit", "-5"), ("--epoch-length", "0"), ("--validators", "0"),
                        ("--candidates", "-1"), ("--snapshot-interval", "ten")):
        with pytest.raises(SystemExit):
            build_parser().parse_args(["testnet", "up", "--dir", str(tmp_path), flag, value])
    made: dict = {}

    class Fresh:  # a directory with no network yet: `up` generates it, then starts it
        nodes: list = []
        dir = tmp_path

        def generate(self, validators, candidates, **settings):
            made.update(settings, validators=validators, candidates=candidates)

        def up(self):
            return []

    args = build_parser().parse_args(["testnet", "up", "--dir", str(tmp_path), "--timeout-commit", "0",
                                      "--snapshot-interval", "0"])
    cli_testnet._up(args, Fresh())
    assert made == {"validators": 4, "candidates": 0, "epoch_length": 20, "timeout_commit_ms": 0,
                    "snapshot_interval": 0}
    for action in ("up", "status"):  # --sync says how `add` joins; elsewhere it would be silently ignored
        with pytest.raises(SystemExit, match=f"--sync is how `add` joins a node; `{action}` takes none"):
            cli_testnet.cmd_testnet(build_parser().parse_args(["testnet", action, "--dir", str(tmp_path),
                                                               "--sync", "state"]))
    for action in ("down", "status", "add", "up"):  # `down node1` stopped the whole network
        with pytest.raises(SystemExit, match=f"`{action}` acts on the whole network and takes no node"):
            cli_testnet.cmd_testnet(build_parser().parse_args(["testnet", action, "node1", "--dir", str(tmp_path)]))


def test_one_command_changes_a_network_at_a_time_and_a_second_is_refused_naming_the_first(tmp_path):
    """Two `up`s at once generated two networks into one directory (processes nobody tracked): while one
    command holds a network's directory, another command that changes it - a real `payable` process - is
    refused at once, naming the holder; `status` still reads; once released, commands proceed. A directory
    holding no network gets nothing written by a command that finds none, or by an `up` refused."""
    from node.testnet import LOCK_FILE, TestnetError, operator_lock

    net_dir = tmp_path / "net"
    net_dir.mkdir()
    (net_dir / STATE_FILE).write_text(json.dumps({"chain_id": "x", "nodes": []}))  # a network (of no nodes)
    payable = [sys.executable, "-m", "cli", "testnet"]

    def run(*argv: str, where=net_dir) -> subprocess.CompletedProcess:
        return subprocess.run([*payable, *argv, "--dir", str(where)], capture_output=True, text=True, timeout=60)

    with operator_lock(net_dir):
        for argv in (["up"], ["down"], ["restart", "node0"], ["add"]):
            refused = run(*argv)
            assert refused.returncode != 0 and f"(pid {os.getpid()}) is changing {net_dir}" in refused.stderr, \
                (argv, refused.stderr)
        with pytest.raises(TestnetError, match="is changing"):
            with operator_lock(net_dir):  # in-process too: the lock is the directory's, not the process's
                pass
        assert "no testnet in" in run("status").stderr  # read-only: not held off
    released = run("down")  # past the lock now: what answers is the network itself (it has no nodes)
    assert "no testnet in" in released.stderr and "is changing" not in released.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    for where in (tmp_path / "missing", empty):
        assert "no testnet in" in run("down", where=where).stderr
    assert not (tmp_path / "missing").exists() and not any(empty.iterdir())  # a `down` wrote nothing
    bad = run("up", "--validators", "65", where=tmp_path / "new")
    assert "--validators must be within 1..64" in bad.stderr and not (tmp_path / "new").exists()
    assert (net_dir / LOCK_FILE).read_text() == ""  # released: no holder named


def test_a_process_that_exits_at_start_is_reported_with_its_log_and_a_slow_one_can_be_left_to_finish(
        tmp_path, processes):
    """What start_node waits on for CometBFT: its RPC port. A CometBFT that exits first (an app store ahead of
    it) is an error carrying its log's end; one still replaying blocks when the wait ends is left running."""
    from node.ports import free_port
    from node.testnet import TestnetError

    log = tmp_path / "comet.log"
    log.write_text("ERROR: error on replay: app block height (365) is higher than core (322)\n")
    exits = subprocess.Popen([sys.executable, "-c", "raise SystemExit(1)"])
    with pytest.raises(TestnetError, match=r"(?s)comet exited with 1 at start; .*app block height \(365\) is higher"):
        Testnet._wait_port(free_port(), exits, log, timeout=30)
    slow = processes(str(tmp_path))  # alive, never listening
    Testnet._wait_port(free_port(), slow, log, timeout=0.3, slow_is_failure=False)
    assert slow.poll() is None
    with pytest.raises(TestnetError, match="did not open port"):
        Testnet._wait_port(free_port(), slow, log, timeout=0.3)


def test_a_node_whose_ipfs_daemon_alone_is_gone_is_up_and_says_so():
    """It still validates: "down (ipfs gone)" sent an operator after a working validator."""
    from cli.testnet import _state_text

    processes = {"app": {"state": "running"}, "comet": {"state": "running"}, "ipfs": {"state": "gone"}}
    assert _state_text({"running": False, "processes": processes}).startswith("up, but ipfs gone")
    processes["comet"]["state"] = "gone"
    assert _state_text({"running": False, "processes": processes}) == "down (comet gone, ipfs gone)"
    assert _state_text({"running": False, "processes": {}}) == "down (not started)"
