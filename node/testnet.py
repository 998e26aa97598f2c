"""A loopback CometBFT network of Payable nodes on one machine: `payable testnet up|down|status`.

`up` runs CometBFT's own `testnet` command for the keys and config files, then makes the network
fit one host - every node gets its own free ports (p2p, RPC, ABCI, gRPC), persistent peers point at
127.0.0.1, `allow_duplicate_ip` is on - and writes one chain spec in which the first N nodes are the
genesis validators (each bonded from its own account, `//validator-I`, a dev key: never use one on a
real network). The rest are full nodes with consensus keys, candidates that can bond later. Each
node is a pair of processes, `payable node --abci` and `cometbft start`; what was started is
recorded in `DIR/testnet.json`, so `down` (and `status`) work from any shell.

With kubo (IPFS) installed, every node also runs a kubo daemon (repository `NODE/ipfs`, started first, stopped
last), and the daemons form a private swarm of this network alone: a swarm key generated for it, no public
bootstrap, DHT or mDNS, peering with the other nodes on loopback (`node.ipfs.kubo`). A blob uploaded to any
node is then readable through every node's content API (`node.ipfs.replication`); the network's content key
(`NODE/content.key`) encrypts the permissioned ones in the swarm.

Every node takes a state sync snapshot every `snapshot_interval` blocks, so `add` can join a new full
node to the running network by state sync: it gets the state at a recent height from its peers instead
of replaying every block since genesis (CometBFT's `[statesync]`, trusting a header from a running node).
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import functools
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from node.ports import free_ports
from node.statesync import SNAPSHOT_DIR
from runtime.chainspec import DEV_ACCOUNTS, ChainSpec, dev_spec
from runtime.crypto import Keypair
from runtime.executive import Executive

from .abci.comet import CometRpc, CometUnavailable
from .abci.install import check_binary
from .ipfs import install as kubo_install
from .ipfs import kubo

STATE_FILE = "testnet.json"
LOCK_FILE = ".operator.lock"  # held by the command changing the network (up, down, start, stop, restart, add)
CHAIN_ID = "payable-testnet"
VALIDATOR_BOND = "1000 OPEN"
ENDOWMENT = "1000000 OPEN"
SNAPSHOT_INTERVAL = 50  # blocks between state sync snapshots (about 20 s at the default block time)
PORTS = ("p2p", "rpc", "abci", "grpc", "metrics", "comet_metrics")
IPFS_PORTS = ("ipfs_swarm", "ipfs_api", "ipfs_gateway")
IPFS_REPO = "ipfs"
CONTENT_KEY = "content.key"  # the network's key for permissioned blobs in the swarm (nodes only, never clients)


class TestnetError(RuntimeError):
    """The network could not be set up, started or stopped; the message says what and where."""


@dataclass
class NodeInfo:
    name: str
    home: str
    account_uri: str
    consensus_key: str        # base64, as CometBFT writes it
    node_id: str
    validator: bool
    ports: dict[str, int]
    pids: dict[str, int] = field(default_factory=dict)
    started: dict[str, int] = field(default_factory=dict)  # each process's start (ticks after boot): its identity
    joined: str = ""  # how a node added to a running network joined ("state sync", "block replay"); "" made with it
    ipfs_peer: str = ""  # its kubo daemon's peer id ("": the node runs no kubo)

    @property
    def rpc(self) -> str:
        return f"http://127.0.0.1:{self.ports['rpc']}"

    @property
    def grpc(self) -> str:
        return f"127.0.0.1:{self.ports['grpc']}"

    @property
    def ipfs_api(self) -> str:
        return f"http://127.0.0.1:{self.ports['ipfs_api']}"

    @property
    def roles(self) -> tuple[str, ...]:
        """Its processes, in the order they stop (CometBFT before its app, the app before its kubo)."""
        return ("comet", "app", "ipfs") if self.ipfs_peer else ("comet", "app")


def _set(text: str, key: str, value: str, section: str | None = None) -> str:
    """Replace `key = ...` in config.toml (within `[section]` when given); refuse a missing key."""
    lines, current, done = text.splitlines(), None, False
    for i, line in enumerate(lines):
        if line.startswith("["):
            current = line.strip("[] ")
        elif line.split("=")[0].strip() == key and (section is None or current == section):
            lines[i] = f"{key} = {value}"
            done = True
            break
    if not done:
        raise TestnetError(f"config.toml has no {key!r}{f' in [{section}]' if section else ''}")
    return "\n".join(lines) + "\n"


def node_id(home: Path) -> str:
    """CometBFT's node id: the hex of the first 20 bytes of sha256 of the node key's public half."""
    key = base64.b64decode(json.loads((home / "config" / "node_key.json").read_text())["priv_key"]["value"])
    return hashlib.sha256(key[32:]).digest()[:20].hex()


@contextlib.contextmanager
def operator_lock(directory: str | Path, *, create: bool = False):
    """Hold the network's directory for one command that changes it: two at once (two `up`s generating two
    networks into one directory, an `up` starting a node a `down` is stopping) would leave processes nobody
    tracks. A second one is refused at once, naming the holder, rather than left waiting on it. `create`:
    the directory may be made (a network about to be generated; if none came of it, nothing is left behind);
    otherwise one that holds no testnet is refused before anything is written to it."""
    where = Path(directory).resolve()
    made = create and not where.exists()
    if create:
        where.mkdir(parents=True, exist_ok=True)
    elif not (where / STATE_FILE).is_file():
        raise TestnetError(f"no testnet in {directory}")
    lock = where / LOCK_FILE
    with open(lock, "a+") as held:
        try:
            fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            held.seek(0)
            holder = held.read().strip() or "another process"
            raise TestnetError(f"another `payable testnet` command ({holder}) is changing {where}: wait for it to "
                               f"finish, then run this again") from None
        held.seek(0)
        held.truncate()
        held.write(f"pid {os.getpid()}")
        held.flush()
        try:
            yield
        finally:
            held.truncate(0)
            if not (where / STATE_FILE).exists():  # no network came of it: leave the directory as it was
                lock.unlink(missing_ok=True)
                if made and not any(where.iterdir()):
                    where.rmdir()
            fcntl.flock(held, fcntl.LOCK_UN)


class Testnet:
    __test__ = False  # not a pytest test class, despite its name

    def __init__(self, directory: str | Path):
        self.dir = Path(directory).resolve()
        self.nodes: list[NodeInfo] = []
        self.snapshot_interval = 0
        state = self.dir / STATE_FILE
        if state.exists():
            try:
                saved = json.loads(state.read_text())
                self.nodes = [NodeInfo(**n) for n in saved["nodes"]]
                self.snapshot_interval = int(saved.get("snapshot_interval", 0))
            except (ValueError, TypeError, KeyError) as exc:
                raise TestnetError(f"{state} is not a testnet's state file ({type(exc).__name__}: {exc}); it is "
                                   "written by `payable testnet up` - move it aside to make a new network") from None

    @functools.cached_property
    def binary(self) -> Path:
        """The pinned cometbft, checked once per Testnet (not at every node start)."""
        return check_binary()

    # --- generation ---------------------------------------------------------------------------
    def generate(self, validators: int, candidates: int = 0, *, epoch_length: int = 20,
                 timeout_commit_ms: int = 300, log_level: str = "info", endow: tuple[str, ...] = (),
                 snapshot_interval: int = SNAPSHOT_INTERVAL, ipfs: bool | None = None) -> None:
        """Keys and configs for `validators` genesis validators and `candidates` full nodes; `endow`:
        more addresses funded at genesis (e.g. a benchmark's senders); every node snapshots its state
        every `snapshot_interval` blocks (0: never); `ipfs`: a kubo daemon per node in a private swarm
        (None: where the pinned kubo is installed; True refuses to go on without it)."""
        if self.nodes:
            raise TestnetError(f"{self.dir} already holds a testnet: `payable testnet down --dir {self.dir}` "
                               f"and remove it, or use another --dir")
        if not 1 <= validators <= 64 or not 0 <= candidates <= 64 or snapshot_interval < 0:
            raise TestnetError("--validators must be within 1..64, --candidates within 0..64 and "
                               "--snapshot-interval at least 0")
        self.snapshot_interval = snapshot_interval
        binary = self.binary
        self.dir.mkdir(parents=True, exist_ok=True)
        done = subprocess.run([str(binary), "testnet", "--v", str(validators), "--n", str(candidates),
                               "--o", str(self.dir), "--populate-persistent-peers=false"],
                              capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise TestnetError(f"`cometbft testnet` failed: {done.stderr.strip()[-1000:]}")
        genesis_ms = int(time.time() * 1000)
        for i in range(validators + candidates):
            home = self.dir / f"node{i}"
            key = json.loads((home / "config" / "priv_validator_key.json").read_text())["pub_key"]["value"]
            self.nodes.append(NodeInfo(f"node{i}", str(home), f"//validator-{i}", key, node_id(home),
                                       i < validators, self._free_ports()))
        if ipfs or ipfs is None and kubo_install.installed_version() == kubo_install.KUBO_VERSION:
            self._make_swarm(kubo.swarm_key(), os.urandom(32).hex(), self.nodes)
        spec = self.chain_spec(genesis_ms - 1, epoch_length, endow)
        (self.dir / "chain_spec.json").write_text(spec.to_json())
        genesis_chain = Executive.open(spec)  # the set the chain elects at genesis: what InitChain checks
        try:
            elected = genesis_chain.consensus_validators()
            if elected is None:
                raise ValueError("the testnet's chain spec has no pallet that elects validators (add `validators`)")
            powers = {base64.b64encode(key).decode(): power for key, power in elected}
        finally:
            genesis_chain.close()
        for node in self.nodes:
            self._configure_genesis(node, genesis_ms, spec.id, powers)
            self._configure(node, timeout_commit_ms, log_level)
        self._save()

    @staticmethod
    def _free_ports() -> dict[str, int]:
        return dict(zip(PORTS + IPFS_PORTS, free_ports(len(PORTS + IPFS_PORTS)), strict=True))

    def _make_swarm(self, key_text: str, content_key: str, new: list[NodeInfo]) -> None:
        """A kubo repository for each of the `new` nodes in this network's private swarm (`key_text`: its
        swarm key), and the network's content key beside it; each peers with every other node that has one."""
        binary = kubo_install.check_binary()
        for node in new:
            node.ipfs_peer = kubo.init_repo(binary, Path(node.home) / IPFS_REPO, key_text)
            kubo.write_private(Path(node.home) / CONTENT_KEY, content_key + "\n")
        for node in new:
            peers = [(n.ipfs_peer, n.ports["ipfs_swarm"]) for n in self.nodes if n is not node and n.ipfs_peer]
            kubo.configure(Path(node.home) / IPFS_REPO, node.ports, peers)

    def chain_spec(self, timestamp_ms: int, epoch_length: int, endow: tuple[str, ...] = ()) -> ChainSpec:
        doc = dev_spec().to_dict()
        funded = [*DEV_ACCOUNTS, *(n.account_uri for n in self.nodes)]
        doc.update(name="Payable Testnet", id=CHAIN_ID)
        doc["genesis"]["system"] = {"timestamp_ms": timestamp_ms}
        doc["genesis"]["token"]["balances"] = [[Keypair.from_uri(uri).address, ENDOWMENT] for uri in funded] + [
            [address, ENDOWMENT] for address in endow]
        doc["genesis"]["validators"] = {"validators": [[Keypair.from_uri(n.account_uri).address, n.consensus_key,
                                                        VALIDATOR_BOND] for n in self.nodes if n.validator]}
        validators = sum(n.validator for n in self.nodes)
        doc["config"]["validators"] = {"max_validators": validators, "epoch_length": epoch_length}
        return ChainSpec.from_dict(doc)

    @staticmethod
    def _configure_genesis(node: NodeInfo, genesis_ms: int, chain_id: str, powers: dict[str, int]) -> None:
        config_dir = Path(node.home) / "config"
        genesis = json.loads((config_dir / "genesis.json").read_text())
        stamp = datetime.fromtimestamp(genesis_ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        genesis.update(chain_id=chain_id, genesis_time=stamp, initial_height="1")
        genesis["consensus_params"]["block"]["max_bytes"] = str(4 * 1024 * 1024)
        for v in genesis["validators"]:
            v["power"] = str(powers[v["pub_key"]["value"]])
        (config_dir / "genesis.json").write_text(json.dumps(genesis, indent=2))

    def _configure(self, node: NodeInfo, timeout_commit_ms: int, log_level: str,
                   state_sync: dict[str, str] | None = None) -> None:
        """config.toml for one node of this host's network; `state_sync`: its [statesync] settings, for a
        node that joins by state sync."""
        config_dir = Path(node.home) / "config"
        peers = ",".join(f"{n.node_id}@127.0.0.1:{n.ports['p2p']}" for n in self.nodes if n is not node)
        text = (config_dir / "config.toml").read_text()
        for key, value, section in (
                ("proxy_app", f'"tcp://127.0.0.1:{node.ports["abci"]}"', None),
                ("log_level", f'"{log_level}"', None),
                ("laddr", f'"tcp://127.0.0.1:{node.ports["rpc"]}"', "rpc"),
                # no cap on calls per JSON-RPC array (max_body_bytes still bounds it): the node hands a client's
                # batch to its mempool in one array, which a capped RPC would also parse twice (abci/comet.py)
                ("max_request_batch_size", "0", "rpc"),
                ("laddr", f'"tcp://127.0.0.1:{node.ports["p2p"]}"', "p2p"),
                ("persistent_peers", f'"{peers}"', "p2p"),
                ("addr_book_strict", "false", "p2p"), ("allow_duplicate_ip", "true", "p2p"), ("pex", "false", "p2p"),
                ("size", "50000", "mempool"), ("cache_size", "100000", "mempool"),
                ("indexer", '"null"', "tx_index"),
                ("timeout_propose", '"1s"', "consensus"), ("timeout_prevote", '"500ms"', "consensus"),
                ("timeout_precommit", '"500ms"', "consensus"),
                ("timeout_commit", f'"{timeout_commit_ms}ms"', "consensus"),
                ("prometheus", "true", "instrumentation"),
                ("prometheus_listen_addr", f'"127.0.0.1:{node.ports["comet_metrics"]}"', "instrumentation"),
                *((key, value, "statesync") for key, value in (state_sync or {}).items())):
            text = _set(text, key, value, section)
        (config_dir / "config.toml").write_text(text)

    def _save(self) -> None:
        state = {"chain_id": CHAIN_ID, "snapshot_interval": self.snapshot_interval,
                 "nodes": [asdict(n) for n in self.nodes]}
        tmp = self.dir / (STATE_FILE + ".tmp")
        tmp.write_text(json.dumps(state, indent=2))
        tmp.replace(self.dir / STATE_FILE)

    def settings(self) -> dict[str, int]:
        """What the network was generated with, read back from its files (what `up`'s flags must match)."""
        spec = json.loads((self.dir / "chain_spec.json").read_text())
        config = (Path(self.nodes[0].home) / "config" / "config.toml").read_text()
        found = re.search(r'^timeout_commit = "(\d+)ms"', config, re.MULTILINE)
        validators = sum(n.validator for n in self.nodes)
        return {"validators": validators, "candidates": sum(not n.validator for n in self.nodes if not n.joined),
                "epoch_length": int(spec["config"]["validators"]["epoch_length"]),
                "timeout_commit": int(found.group(1)) if found else 0, "snapshot_interval": self.snapshot_interval}

    # --- a node joining the running network ------------------------------------------------------
    def add_node(self, *, state_sync: bool = True) -> NodeInfo:
        """Make and start one more full node: by state sync (the newest snapshot a node of the network
        holds, verified by CometBFT's light client from a header trusted at that height) or by replaying
        every block from genesis."""
        if not self.nodes:
            raise TestnetError(f"no testnet in {self.dir}")
        trust = self._trusted_snapshot_height() if state_sync else None
        i = len(self.nodes)
        home = self.dir / f"node{i}"
        if home.exists():
            raise TestnetError(f"{home} exists already: remove it, or it is a node this network has lost track of")
        done = subprocess.run([str(self.binary), "init", "--home", str(home)], capture_output=True, text=True,
                              timeout=60)
        if done.returncode != 0:
            raise TestnetError(f"`cometbft init` failed: {done.stderr.strip()[-1000:]}")
        shutil.copyfile(Path(self.nodes[0].home) / "config" / "genesis.json", home / "config" / "genesis.json")
        key = json.loads((home / "config" / "priv_validator_key.json").read_text())["pub_key"]["value"]
        node = NodeInfo(f"node{i}", str(home), f"//validator-{i}", key, node_id(home), False, self._free_ports(),
                        joined="state sync" if state_sync else "block replay")
        if (first := self.nodes[0]).ipfs_peer:  # the network runs a swarm: the new node joins it
            first_home = Path(first.home)
            self._make_swarm((first_home / IPFS_REPO / kubo.SWARM_KEY_FILE).read_text(),
                             (first_home / CONTENT_KEY).read_text().strip(), [node])
        sync = None
        if trust is not None:
            servers = ([self.nodes[j].rpc for j in range(len(self.nodes)) if self.running(j)] * 2)[:2]  # 2 needed
            block_hash = CometRpc(servers[0]).call("block", height=str(trust))["block_id"]["hash"]
            sync = {"enable": "true", "rpc_servers": f'"{",".join(servers)}"',
                    "trust_height": str(trust), "trust_hash": f'"{block_hash}"', "discovery_time": '"5s"'}
        self._configure(node, self.settings()["timeout_commit"], "info", sync)
        self.nodes.append(node)
        self._save()
        self.start_node(i)
        return node

    def _trusted_snapshot_height(self) -> int:
        """The height of the newest snapshot a running node holds that CometBFT can verify now (its light
        client needs the two headers after it); TestnetError when there is none yet."""
        running = [j for j in range(len(self.nodes)) if self.running(j)]
        if not running:
            raise TestnetError("no node of the network is running: `payable testnet up` first")
        top = int(CometRpc(self.nodes[running[0]].rpc).status()["sync_info"]["latest_block_height"])
        heights = [int(folder.name) for j in running
                   for folder in (Path(self.nodes[j].home) / "payable" / SNAPSHOT_DIR).glob("[0-9]*")
                   if folder.name.isdigit() and int(folder.name) + 2 <= top]
        if not heights:
            if not self.snapshot_interval:
                raise TestnetError("this network takes no snapshots (--snapshot-interval 0): join by block replay "
                                   "(`payable testnet add --sync blocks`)")
            raise TestnetError(f"no node holds a snapshot to join from yet (they take one every "
                               f"{self.snapshot_interval} blocks; the chain is at #{top}): wait, or join by block "
                               f"replay (`--sync blocks`)")
        return max(heights)

    def node_index(self, name: str) -> int:
        """Node `name` (node2, or 2)'s index; TestnetError naming the nodes there are."""
        for i, node in enumerate(self.nodes):
            if name in (node.name, str(i)):
                return i
        raise TestnetError(f"no node {name!r} in {self.dir}: its nodes are "
                           f"{', '.join(n.name for n in self.nodes)}")

    # --- processes ----------------------------------------------------------------------------
    def up(self) -> list[str]:
        """Start every node that is not running (a running one is left as it is); the names started."""
        started = []
        for i, node in enumerate(self.nodes):
            if not self.running(i):
                self.start_node(i)
                started.append(node.name)
        return started

    def running(self, i: int) -> bool:
        """Each of node i's processes (app and CometBFT, and kubo where it has one) is the one started and
        none is stopped nor exited."""
        node = self.nodes[i]
        own = self._own(node)
        return len(own) == len(node.roles) and all(process_state(pid) not in ("T", "t", "Z", None)
                                                   for pid in own.values())

    def start_node(self, i: int, env: dict | None = None) -> None:
        """Start node i's processes: its kubo daemon (when it has one: the Payable node talks to it from the
        start), the Payable node (CometBFT connects to it at start), then CometBFT. One that fails to start
        stops the others again (TestnetError with its log's end): a node is up whole or not at all."""
        try:
            self._start_processes(i, env)
        except BaseException:  # a process that failed, Popen's OSError, a Ctrl-C mid-start: none left running
            self.stop_node(i)
            raise

    def _start_processes(self, i: int, env: dict | None) -> None:
        node = self.nodes[i]
        home = Path(node.home)
        self.stop_node(i)  # and forgets its processes
        ipfs_args: list[str] = []
        if node.ipfs_peer:
            with open(home / "ipfs.log", "ab") as out:
                daemon = subprocess.Popen(kubo.daemon_command(kubo_install.check_binary(), home / IPFS_REPO),
                                          stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                          start_new_session=True, env={**os.environ, **kubo.DAEMON_ENV})
            node.pids["ipfs"], node.started["ipfs"] = daemon.pid, process_start(daemon.pid) or 0
            self._save()
            self._wait_port(node.ports["ipfs_api"], daemon, home / "ipfs.log")
            ipfs_args = ["--ipfs-api", node.ipfs_api, "--ipfs-content-key", str(home / CONTENT_KEY)]
        with open(home / "app.log", "ab") as out:
            app = subprocess.Popen(
                [sys.executable, "-m", "cli", "node", "--chain", str(self.dir / "chain_spec.json"),
                 "--base-path", str(home / "payable"), "--abci", f"tcp://127.0.0.1:{node.ports['abci']}",
                 "--comet-rpc", node.rpc, "--grpc-port", str(node.ports["grpc"]),
                 "--metrics-port", str(node.ports["metrics"]), "--snapshot-interval", str(self.snapshot_interval),
                 *ipfs_args],
                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
                env={**os.environ, **(env or {})})
        node.pids["app"], node.started["app"] = app.pid, process_start(app.pid) or 0
        self._save()
        self._wait_port(node.ports["abci"], app, home / "app.log")
        with open(home / "comet.log", "ab") as out:
            comet = subprocess.Popen([str(self.binary), "start", "--home", str(home)], stdout=out,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        node.pids["comet"], node.started["comet"] = comet.pid, process_start(comet.pid) or 0
        self._save()
        deadline = time.monotonic() + 10
        while node.home not in process_command(comet.pid) and comet.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)  # until it has exec'd: before, its command line is ours, and a stop would pass it by
        # its RPC opens once the handshake with the app is done: a node that cannot start (an app store ahead of
        # CometBFT's, a bad config) is reported with CometBFT's own words, not as started; one still replaying
        # its blocks into the app after the wait is left to it (`status` shows when it answers)
        self._wait_port(node.ports["rpc"], comet, home / "comet.log", timeout=120, slow_is_failure=False)

    @staticmethod
    def _wait_port(port: int, process: subprocess.Popen, log_file: Path, timeout: float = 60,
                   slow_is_failure: bool = True) -> None:
        """Until `process` listens on `port`; TestnetError with its log's end if it exits first, and - unless
        `slow_is_failure` is off - if it is not listening after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                tail = log_file.read_text(errors="replace")[-2000:]
                raise TestnetError(f"{log_file.stem} exited with {process.returncode} at start; {log_file}:\n{tail}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.1)
        if slow_is_failure:
            raise TestnetError(f"the node did not open port {port} within {timeout:.0f} s; see {log_file}")

    def _own(self, node: NodeInfo) -> dict[str, int]:
        """Node's recorded processes that are still the ones this testnet started: the same start time (where
        recorded: a state file written before it was, has only PIDs) and a command line naming the node's
        home. A saved PID the system has since given to another process (after a reboot, or once ours
        exited) is never signalled."""
        return {role: pid for role, pid in node.pids.items()
                if node.started.get(role, process_start(pid)) == process_start(pid)
                and node.home in process_command(pid)}

    def signal_node(self, i: int, sig: int) -> None:
        """Send `sig` to every process of node i (SIGKILL, SIGSTOP, SIGCONT, ...)."""
        for pid in self._own(self.nodes[i]).values():
            try:
                os.killpg(pid, sig)
            except ProcessLookupError:
                pass

    def stop_node(self, i: int, sig: int = signal.SIGTERM, timeout: float = 15) -> None:
        """Stop node i's processes (CometBFT first, so it does not see its app vanish; kubo last, so the app
        does not see it vanish) and wait for each."""
        node = self.nodes[i]
        own = self._own(node)
        self.signal_node(i, signal.SIGCONT)  # all woken first: a CometBFT stopping beside a frozen app waits in vain
        for role in node.roles:
            pid = own.get(role)
            if pid is None:
                continue
            try:
                os.killpg(pid, sig)
            except ProcessLookupError:
                continue
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and process_alive(pid):
                time.sleep(0.05)
            if process_alive(pid):
                os.killpg(pid, signal.SIGKILL)
                while process_alive(pid):
                    time.sleep(0.05)
        node.pids, node.started = {}, {}
        self._save()

    def down(self) -> int:
        """Stop every node; how many had a process of theirs still to stop."""
        running = sum(bool(self._own(node)) for node in self.nodes)
        for i in range(len(self.nodes)):
            self.stop_node(i)
        return running

    # --- status -------------------------------------------------------------------------------
    def chain_roles(self) -> dict[str, str] | None:
        """Each node's role as the chain has it now - validator (in the set in force), jailed, candidate
        (bonded, not elected) or full node - from the first node that answers; None when none does. What
        testnet.json says was true at genesis only: bonding and jailing move validators in and out."""
        import grpc

        from payable.validators.v1 import validators_pb2 as vp
        from sdk.client import Client, ClientError

        for i, node in enumerate(self.nodes):
            if not self.running(i):
                continue  # a node that is down would only cost its timeout
            try:
                with Client(node.grpc, timeout=3) as client:
                    active = client.pallet_query("validators", "active_set", vp.ActiveRequest(), vp.ValidatorSet)
                    bonded = client.pallet_query("validators", "list_candidates", vp.CandidatesRequest(),
                                                 vp.CandidateList).candidates
            except (ClientError, grpc.RpcError, OSError):
                continue
            in_set = {v.consensus_key for v in active.validators}
            jailed = {c.consensus_key: "jailed for good (double signing)" if c.tombstoned else
                      f"jailed for downtime until {datetime.fromtimestamp(c.jailed_until_ms / 1000, UTC):%H:%M:%S} UTC"
                      for c in bonded if c.jailed}
            candidates = {c.consensus_key for c in bonded}
            return {n.name: "validator" if key in in_set else jailed[key] if key in jailed else
                    "candidate" if key in candidates else "full node"
                    for n, key in ((n, base64.b64decode(n.consensus_key)) for n in self.nodes)}
        return None

    def status(self) -> list[dict]:
        roles = self.chain_roles()
        rows = []
        for i, node in enumerate(self.nodes):
            own = self._own(node)
            states = {role: process_state(pid) for role, pid in own.items()}
            chain_role = roles[node.name] if roles else "validator" if node.validator else "full node"
            row: dict[str, object] = {
                "name": node.name, "role": chain_role, "role_from": "chain" if roles else "genesis: no node answered",
                "validator": chain_role == "validator", "rpc": node.rpc, "grpc": node.grpc,
                "metrics": {name: f"http://127.0.0.1:{node.ports[key]}/metrics"
                            for name, key in (("node", "metrics"), ("cometbft", "comet_metrics")) if key in node.ports},
                "ipfs": {"peer": node.ipfs_peer, "api": node.ipfs_api} if node.ipfs_peer else None,
                "running": self.running(i),
                "processes": {role: {"pid": pid, "state": PROCESS_STATES.get(states.get(role) or "", "gone")
                                     if role in own else "gone" if process_state(pid) is None
                                     else "gone (its PID now another process's)"}
                              for role, pid in node.pids.items()}}
            try:
                info = CometRpc(node.rpc, timeout=2).status()["sync_info"]
                row.update(height=int(info["latest_block_height"]), app_hash=info["latest_app_hash"],
                           catching_up=info["catching_up"])
            except (CometUnavailable, RuntimeError, KeyError):
                row.update(height=None)
            rows.append(row)
        return rows


PROCESS_STATES = {"R": "running", "S": "running", "D": "running", "I": "running", "T": "stopped",
                  "t": "stopped", "Z": "exited"}


def _stat(pid: int) -> list[str] | None:
    """/proc/<pid>/stat's fields after the command name (state first), or None when there is no such process."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[-1].split()
    except OSError:
        return None


def process_start(pid: int) -> int | None:
    """When `pid` started, in clock ticks after boot (stat field 22): with the PID, a process's identity."""
    fields = _stat(pid)
    return int(fields[19]) if fields else None


def process_state(pid: int) -> str | None:
    """The process's state letter (R running, S sleeping, T stopped, Z zombie...), None when it is gone."""
    fields = _stat(pid)
    return fields[0] if fields else None


def process_command(pid: int) -> str:
    """The process's command line, arguments joined by spaces ('' when it is gone)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
            return cmdline.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def process_alive(pid: int) -> bool:
    """Whether `pid` runs (a zombie - exited, not yet reaped - does not)."""
    try:
        waited, status = os.waitpid(pid, os.WNOHANG)
        if waited == pid:
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return process_state(pid) not in ("Z", None)
