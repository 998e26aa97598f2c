"""One node's kubo daemon: its repository set up for a private swarm, and a client of its HTTP RPC API.

The swarm is private in every way kubo offers: a swarm key (libp2p's pre-shared-key network: a peer
without the network's key cannot even complete a connection) and LIBP2P_FORCE_PNET, so the daemon refuses
to start without one; no public bootstrap peers - only the other nodes, also held connected by Peering;
no DHT and no delegated routing (Routing.Type none: bitswap asks the connected peers, which are exactly
the network's nodes); no mDNS, AutoConf, AutoTLS, AutoNAT, relays or telemetry; the swarm, the API and
the gateway listen on the loopback addresses given. Only TCP: libp2p's QUIC transports cannot carry a
pre-shared key.

CIDs: a blob is added as CIDv1 with raw leaves and blake2b-256, in chunks of 1 MiB (kubo's largest). A
blob that fits one chunk is one raw block, so its CID is the raw codec over the blake2b-256 multihash of
the whole blob - the chain's content hash itself (`raw_cid`); a longer one gets a UnixFS root whose CID
depends on the chunking and has to be recorded beside the content hash.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import subprocess
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

CHUNK = 1 << 20  # kubo's largest chunk size: a blob up to this is one raw block
ADD_OPTIONS = {"cid-version": "1", "hash": "blake2b-256", "raw-leaves": "true", "chunker": f"size-{CHUNK}",
               "pin": "true"}
SWARM_KEY_FILE = "swarm.key"
RAW = 0x55
BLAKE2B_256 = 0xB220
DAEMON_ENV = {"LIBP2P_FORCE_PNET": "1", "DO_NOT_TRACK": "1", "IPFS_TELEMETRY": "off"}


class KuboError(RuntimeError):
    """kubo refused a call, or did not answer; the message says which and why."""


class KuboUnreachable(KuboError):
    """kubo's API did not answer at all (the daemon down or stopped): nothing can be concluded about a CID."""


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def raw_cid(digest: bytes) -> str:
    """The CIDv1 (base32) of a single raw block whose blake2b-256 is `digest`: what `ipfs add --cid-version 1
    --hash blake2b-256 --raw-leaves` gives a blob of at most CHUNK bytes."""
    if len(digest) != 32:
        raise ValueError(f"a blake2b-256 digest is 32 bytes, got {len(digest)}")
    binary = _varint(1) + _varint(RAW) + _varint(BLAKE2B_256) + _varint(32) + digest
    return "b" + base64.b32encode(binary).decode().lower().rstrip("=")


def swarm_key() -> str:
    """A new swarm key file's text (libp2p's PSK v1 format): the secret every node of one network shares."""
    return f"/key/swarm/psk/1.0.0/\n/base16/\n{secrets.token_hex(32)}\n"


def write_private(path: Path, text: str) -> None:
    """Write a secret (a swarm or content key) readable by its owner only from the moment it exists: written
    first and chmod-ed after, it would be world-readable in between under the usual umask."""
    path.unlink(missing_ok=True)
    with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as out:
        out.write(text)


def init_repo(binary: Path, repo: Path, key_text: str) -> str:
    """`ipfs init` a repository (test profile: no public bootstrap, loopback, no AutoConf), write the network's
    swarm key into it; returns the peer id. Ports and peers are set by `configure` once all peers exist."""
    repo.mkdir(parents=True, exist_ok=True)
    done = subprocess.run([str(binary), "--repo-dir", str(repo), "init", "--profile", "test", "--empty-repo"],
                          capture_output=True, text=True, timeout=120, env={**os.environ, **DAEMON_ENV})
    if done.returncode != 0:
        raise KuboError(f"`ipfs init` in {repo} failed: {done.stderr.strip()[-1000:]}")
    write_private(repo / SWARM_KEY_FILE, key_text)
    return json.loads((repo / "config").read_text())["Identity"]["PeerID"]


def configure(repo: Path, ports: dict[str, int], peers: list[tuple[str, int]]) -> None:
    """The repository's config for a private loopback swarm: `ports` (ipfs_swarm, ipfs_api, ipfs_gateway) on
    127.0.0.1, `peers` (peer id, swarm port) of the other nodes as the only bootstrap and peering peers."""
    path = repo / "config"
    config = json.loads(path.read_text())
    addrs = [(pid, f"/ip4/127.0.0.1/tcp/{port}") for pid, port in peers]
    config["Addresses"].update(Swarm=[f"/ip4/127.0.0.1/tcp/{ports['ipfs_swarm']}"], Announce=[], AppendAnnounce=[],
                               NoAnnounce=[], API=f"/ip4/127.0.0.1/tcp/{ports['ipfs_api']}",
                               Gateway=f"/ip4/127.0.0.1/tcp/{ports['ipfs_gateway']}")
    config["Bootstrap"] = [f"{addr}/p2p/{pid}" for pid, addr in addrs]
    config["Peering"] = {"Peers": [{"ID": pid, "Addrs": [addr]} for pid, addr in addrs]}
    config["Routing"] = {"Type": "none"}
    config["Discovery"] = {"MDNS": {"Enabled": False}}
    config["AutoConf"] = {"Enabled": False}
    config["AutoTLS"] = {"Enabled": False}
    config["AutoNAT"] = {"ServiceMode": "disabled"}
    config["Pubsub"] = {"Enabled": True, "Router": "gossipsub"}
    config["Gateway"] = {**config.get("Gateway", {}), "NoFetch": True}  # a gateway read never reaches the swarm
    config["Provide"] = {"Enabled": False}  # nothing to announce to: no routing
    swarm = config.setdefault("Swarm", {})
    swarm.update(DisableNatPortMap=True, RelayClient={"Enabled": False}, RelayService={"Enabled": False},
                 EnableHolePunching=False)
    swarm["Transports"] = {"Network": {"QUIC": False, "WebTransport": False, "WebRTCDirect": False,
                                       "Websocket": False, "TCP": True}}
    plugins = config.get("Plugins") or {}
    telemetry_off = {"telemetry": {"Config": {"Mode": "off"}}}
    config["Plugins"] = {**plugins, "Plugins": {**(plugins.get("Plugins") or {}), **telemetry_off}}
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(config, indent=2))
    tmp.replace(path)


def daemon_command(binary: Path, repo: Path) -> list[str]:
    """The daemon's command line (its repository on it: how a stop recognises the process); env: DAEMON_ENV."""
    return [str(binary), "--repo-dir", str(repo), "daemon", "--migrate=false"]


class Kubo:
    """A client of one kubo daemon's HTTP RPC API (every call a POST to /api/v0/...)."""

    def __init__(self, api: str, timeout: float = 30):
        self.api = api.rstrip("/")
        self.timeout = timeout

    def _post(self, command: str, args: dict | list | None = None, body: bytes | None = None,
              timeout: float | None = None, stream: bool = False):
        pairs = list(args.items()) if isinstance(args, dict) else list(args or [])
        url = f"{self.api}/api/v0/{command}?{urllib.parse.urlencode(pairs)}"
        headers = {}
        if body is not None:
            boundary = uuid.uuid4().hex
            headers["Content-Type"] = f"multipart/form-data; boundary={boundary}"
            body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"blob\"\r\n"
                    f"Content-Type: application/octet-stream\r\n\r\n").encode() + body + \
                f"\r\n--{boundary}--\r\n".encode()
        request = urllib.request.Request(url, data=body or b"", headers=headers, method="POST")
        try:
            response = urllib.request.urlopen(request, timeout=timeout or self.timeout)
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode(errors="replace")
            try:
                detail = json.loads(detail).get("Message", detail)
            except ValueError:
                pass
            raise KuboError(f"kubo {command}: {detail.strip()[:500]}") from None
        except (urllib.error.URLError, OSError) as exc:
            raise KuboUnreachable(f"kubo's API at {self.api} does not answer ({command}): {exc}") from None
        if stream:
            return response
        with response:
            return response.read()

    def id(self) -> str:
        return json.loads(self._post("id"))["ID"]

    def add(self, data: bytes) -> str:
        """Add and pin `data` (CIDv1, blake2b-256, raw leaves, 1 MiB chunks); its CID."""
        lines = self._post("add", {**ADD_OPTIONS, "quieter": "true"}, body=data).splitlines()
        return json.loads(lines[-1])["Hash"]

    def cat(self, cid: str, limit: int, timeout: float) -> bytes:
        """The bytes under `cid`, from the local blockstore or the swarm; KuboError when none arrive within
        `timeout` s or there are more than `limit`."""
        data = self._post("cat", {"arg": cid, "length": str(limit + 1)}, timeout=timeout)
        if len(data) > limit:
            raise KuboError(f"{cid} holds more than {limit} bytes")
        return data

    def unpin(self, cid: str) -> None:
        """Unpin `cid` and drop its blocks from this daemon's blockstore (already gone: no error)."""
        try:
            self._post("pin/rm", {"arg": cid})
        except KuboError as exc:
            if "not pinned" not in str(exc):
                raise
        blocks = [cid]
        try:
            refs = self._post("refs", {"arg": cid, "recursive": "true", "unique": "true", "offline": "true"})
            blocks += [json.loads(line)["Ref"] for line in refs.splitlines() if json.loads(line).get("Ref")]
        except KuboError:
            pass  # the root itself is not here: nothing below it is reachable either
        self._post("block/rm", [("arg", b) for b in blocks] + [("force", "true"), ("quiet", "true")])

    def pin(self, cid: str) -> None:
        self._post("pin/add", {"arg": cid})

    def pinned(self, cid: str) -> bool:
        try:
            self._post("pin/ls", {"arg": cid, "type": "recursive"})
        except KuboError as exc:
            if "not pinned" in str(exc) or "is not pinned" in str(exc):
                return False
            raise
        return True

    def has_block(self, cid: str) -> bool:
        """Whether this daemon holds the block (KuboUnreachable when it does not answer: that is no "no")."""
        try:
            self._post("block/stat", {"arg": cid, "offline": "true"}, timeout=5)
        except KuboUnreachable:
            raise
        except KuboError:
            return False
        return True

    def publish(self, topic: str, message: bytes) -> None:
        self._post("pubsub/pub", {"arg": _topic(topic)}, body=message)

    def subscribe(self, topic: str) -> Iterator[tuple[str, bytes]]:
        """(sender peer id, data) of each message on `topic` until the daemon closes the stream."""
        response = self._post("pubsub/sub", {"arg": _topic(topic)}, timeout=3600 * 24 * 365, stream=True)
        with response:
            for line in response:
                if line.strip():
                    message = json.loads(line)
                    data = message.get("data", "")
                    yield message.get("from", ""), _multibase_decode(data) if data else b""


def _topic(topic: str) -> str:
    """A pubsub topic as kubo's RPC takes it: multibase base64url ('u')."""
    return "u" + base64.urlsafe_b64encode(topic.encode()).decode().rstrip("=")


def _multibase_decode(text: str) -> bytes:
    if not text.startswith("u"):
        raise KuboError(f"unexpected multibase prefix in a pubsub message: {text[:1]!r}")
    body = text[1:]
    return base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
