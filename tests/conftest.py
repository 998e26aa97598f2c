"""Shared fixtures: a dev chain on the in-memory backend and helpers to sign and author blocks."""

from __future__ import annotations

import contextlib
import os
import subprocess

import pytest

from payable.token.v1 import token_pb2
from runtime.chainspec import DEV_ACCOUNTS, dev_spec
from runtime.codec import encode_u128
from runtime.crypto import Keypair
from runtime.errors import Invalid
from runtime.executive import Executive
from runtime.extrinsic import sign_extrinsic

GENESIS_TS = 1_700_000_000_000


class DevChain:
    """An executive plus nonce bookkeeping, so tests read as 'Alice transfers 5 to Bob'."""

    def __init__(self, executive: Executive):
        self.ex = executive
        self.alice, self.bob, self.charlie, self.dave = (Keypair.from_uri(u) for u in DEV_ACCOUNTS[:4])
        self.nonces: dict[bytes, int] = {}
        self.timestamp = GENESIS_TS

    def sign(self, signer: Keypair, pallet: str, call: str, args, **kwargs) -> bytes:
        """`signer` signs `pallet.call(args)` (the call by name; its index comes from the chain's pallets)."""
        nonce = kwargs.pop("nonce", None)
        if nonce is None:
            nonce = self.nonces.get(signer.public, 0)
            self.nonces[signer.public] = nonce + 1
        kwargs.setdefault("genesis_hash", self.ex.genesis_hash)
        return sign_extrinsic(signer, self.ex.runtime.make_call(pallet, call, args), nonce=nonce, **kwargs)

    def transfer(self, signer: Keypair, dest: bytes, amount: int, *, keep_alive: bool = True, **kwargs) -> bytes:
        args = token_pb2.Transfer(dest=dest, amount=encode_u128(amount))
        return self.sign(signer, "token", "transfer_keep_alive" if keep_alive else "transfer", args, **kwargs)

    def block(self, *extrinsics: bytes):
        self.timestamp += 6_000
        return self.ex.author_block(list(extrinsics), author=self.alice, timestamp_ms=self.timestamp)

    def run(self, signer: Keypair, pallet: str, call: str, args) -> tuple[str, str] | None:
        """`signer` calls `pallet.call(args)` in a block of its own: None when it succeeded, else (error class
        name, message) - of its failure in the block, or of its pallet's refusal at the door (a call the
        pallet can tell will fail is left out of the block, no fee charged, its nonce not used)."""
        built = self.block(self.sign(signer, pallet, call, args))
        if built.rejected:
            refused = built.rejected[0][1]
            assert refused.reason == Invalid.REJECTED_BY_PALLET, refused
            self.nonces[signer.public] -= 1
            name, _, message = refused.detail.partition(": ")
            return name.rpartition(".")[2], message
        outcome = built.outcomes[0]
        return None if outcome.ok else (type(outcome.error).__name__, outcome.error.message)


@pytest.fixture
def chain():
    executive = Executive.open(dev_spec())
    yield DevChain(executive)
    executive.close()


@pytest.fixture
def make_chain():
    """Build DevChains on other specs or backends; all are closed at teardown."""
    made: list[Executive] = []

    def build(spec=None, backend=None, pallets=None) -> DevChain:
        executive = Executive.open(spec or dev_spec(), backend, pallets=pallets)
        made.append(executive)
        return DevChain(executive)

    yield build
    for executive in made:
        executive.close()


class NodeProcess:
    """A `payable node` in its own process, on free loopback ports; stopped at teardown whatever happens."""

    def __init__(self, base_path, *extra: str, metrics: bool = False, port: int | None = None):
        import sys

        from node.ports import free_port

        self.base_path = base_path
        self.port = port or free_port()
        self.metrics_port = free_port() if metrics else None
        cmd = [sys.executable, "-m", "cli", "node", "--base-path", str(base_path),
               "--grpc-port", str(self.port), *extra]
        if self.metrics_port:
            cmd += ["--metrics-port", str(self.metrics_port)]
        self.log_path = base_path.parent / f"{base_path.name}-node.log"
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=open(self.log_path, "ab"))
        self.target = f"127.0.0.1:{self.port}"

    def client(self, timeout: float = 30.0):
        from sdk.client import Client, ClientError

        client = Client(self.target)
        try:
            client.wait_ready(timeout)
        except ClientError:
            client.close()
            raise AssertionError(f"node did not come up; log:\n{self.log_path.read_text()[-3000:]}") from None
        return client

    def stop(self, timeout: float = 30.0) -> int:
        import signal

        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=timeout)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=30)


@pytest.fixture
def start_node(tmp_path):
    started: list[NodeProcess] = []

    def start(name: str = "node", *extra: str, metrics: bool = False, port: int | None = None) -> NodeProcess:
        node = NodeProcess(tmp_path / name, *extra, metrics=metrics, port=port)
        started.append(node)
        return node

    yield start
    for node in started:
        node.kill()


@pytest.fixture
def worker_channel(tmp_path):
    """A gRPC channel to a `payable worker` process on a free loopback port (terminated at teardown)."""
    import sys

    import grpc

    from node.ports import free_port

    port = free_port()
    log = open(tmp_path / "worker.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "cli", "worker", "--device", "cpu", "--data-dir",
                             str(tmp_path / "worker-data"), "--grpc-port", str(port), "--key", "//Worker"],
                            stdout=subprocess.DEVNULL, stderr=log)
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    try:
        grpc.channel_ready_future(channel).result(timeout=60)
        yield channel
    finally:
        channel.close()
        proc.terminate()
        try:
            assert proc.wait(timeout=30) == 0
        except subprocess.TimeoutExpired:  # a stalled stop: its log holds every thread's stack (cli.common)
            proc.kill()
            proc.wait(timeout=30)
            raise AssertionError("the worker did not stop within 30 s of SIGTERM; its log's tail:\n"
                                 + (tmp_path / "worker.log").read_text(errors="replace")[-6000:]) from None


class WorkerProcess:
    """A `payable worker` process following a node, on a free loopback port; restartable on the same data."""

    def __init__(self, data_dir, node_target: str, key: str = "//Eve"):
        from node.ports import free_port

        self.data_dir, self.node_target, self.key = data_dir, node_target, key
        self.port = free_port()
        self.target = f"127.0.0.1:{self.port}"
        self.proc = None
        self.start()

    def start(self) -> None:
        import sys

        self.log_path = self.data_dir.parent / f"{self.data_dir.name}-worker.log"
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([sys.executable, "-m", "cli", "worker", "--device", "cpu", "--data-dir",
                                      str(self.data_dir), "--grpc-port", str(self.port), "--key", self.key,
                                      "--node", self.node_target], stdout=subprocess.DEVNULL, stderr=log)
        try:
            self.wait_ready()
        except BaseException:
            self.kill()
            raise

    def wait_ready(self, timeout: float = 180.0) -> None:
        """Until its gRPC server answers: a test's first call must not race the worker's start-up (which on a
        busy 2-core CI machine, torch imported while the other xdist worker trains, can take a minute). A
        worker that exits first fails here with the tail of its log."""
        import time

        import grpc

        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"worker exited with {self.proc.returncode} before serving: "
                                   f"{self.log_path.read_text(errors='replace')[-3000:]}")
            channel = grpc.insecure_channel(self.target)
            try:
                grpc.channel_ready_future(channel).result(timeout=1.0)
                return
            except grpc.FutureTimeoutError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"worker not serving on {self.target} after {timeout:.0f} s") from None
            finally:
                channel.close()

    def channel(self, timeout: float = 60.0):
        import grpc

        from sdk.grpcserver import MESSAGE_OPTIONS

        channel = grpc.insecure_channel(self.target, options=MESSAGE_OPTIONS)
        grpc.channel_ready_future(channel).result(timeout=timeout)
        return channel

    def kill(self) -> None:
        """SIGKILL: no clean-up runs, as when a machine dies."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:  # a worker that will not stop is killed
                self.kill()


class HttpProcess:
    """A `payable` subcommand serving HTTP on a free loopback port (the studio, the gateway); started and
    waited for until `ready_path` answers; `stop()` terminates it."""

    def __init__(self, log_path, *args: str, ready_path: str = "/"):
        import sys
        import time
        import urllib.error
        import urllib.request

        from node.ports import free_port

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        log = open(log_path, "wb")
        self.proc = subprocess.Popen([sys.executable, "-m", "cli", *args, "--port", str(self.port)], stdout=log,
                                     stderr=log)
        deadline = time.time() + 60
        while True:
            try:
                urllib.request.urlopen(self.url + ready_path, timeout=5)
                return
            except urllib.error.HTTPError:
                return  # it answers (an error status is still an answer)
            except OSError:
                if time.time() > deadline or self.proc.poll() is not None:
                    self.stop()
                    raise AssertionError(f"{args[0]} did not start:\n{open(log_path).read()[-3000:]}") from None
                time.sleep(0.3)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:  # one that will not stop is killed
                self.proc.kill()
                self.proc.wait(timeout=30)


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--no-first-run"]


@contextlib.contextmanager
def chromium_page(shots, viewport=(1200, 900)):
    """A page in Debian's Chromium (driven by Playwright, never downloaded); `page.shots` is where
    screenshots go. Fails, not skips, when the browser is missing: the set-up installs it."""
    from playwright.sync_api import sync_playwright

    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: the set-up installs Debian's chromium package (make does it)")
    shots.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            page = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]}).new_page()
            page.set_default_timeout(60_000)
            page.shots = shots
            yield page
        finally:
            browser.close()


def shot(page, name: str) -> None:
    page.screenshot(path=str(page.shots / f"{name}.png"), full_page=True)


@pytest.fixture(scope="session")
def tiny_base(tmp_path_factory):
    """A small LLaMA-family base pretrained on Python's documentation, in Hugging Face format (sharded)."""
    pytest.importorskip("transformers")
    import torch

    from gpu_worker.finetune.pretrain import pretrain_base

    torch.set_num_threads(1)
    return pretrain_base(tmp_path_factory.mktemp("base") / "tiny-llama", steps=150, max_shard_size="600KB")


# Grouping for `--dist loadgroup` lives in the test files: files that train models (fine-tuning jobs, the
# demo) declare `pytest.mark.xdist_group("cpu-heavy")` so they run one after another on one xdist worker; the
# 5-validator CometBFT network, whose 10 processes need both cores to keep its timeouts, declares
# `pytest.mark.solo` and runs alone after the parallel part (`make test` runs `-m "not solo"` with two
# workers, then `-m solo`). Tests that start processes are marked `e2e`, long in-process ones `slow`:
# `make test-fast` leaves both out.


def pytest_collection_modifyitems(items):
    """With `--dist loadgroup`: a file that declares no group is a group of its own (as `loadfile`)."""
    for item in items:
        if item.get_closest_marker("xdist_group") is None:
            item.add_marker(pytest.mark.xdist_group(item.path.name))


def holds_for(condition, seconds: float, interval: float = 0.2, message: str = "condition"):
    """Check `condition()` throughout `seconds` (what must NOT happen needs a window to watch), failing the
    test the moment it does not hold."""
    import time

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not condition():
            pytest.fail(f"{message}: stopped holding")
        time.sleep(interval)


def wait_until(condition, timeout: float = 30.0, interval: float = 0.1, message: str = "condition"):
    """Poll `condition()` until it returns something truthy (returned), failing the test after `timeout`
    seconds: a wait on what the test expects, never a fixed sleep that assumes how long it takes."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"{message} did not hold within {timeout} s")
        time.sleep(interval)
