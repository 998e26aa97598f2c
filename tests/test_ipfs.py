"""The IPFS pieces that need no running daemon (issue 31 §1): the CID a blob gets in the swarm against the one
derived from the chain's content hash (kubo itself computes it, offline: marked e2e, as it runs kubo), a
node's kubo repository set up as a private loopback swarm, and the encryption of permissioned blobs. The
network itself: test_ipfs_testnet.py."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess

import pytest

from node.contentstore import ContentError
from node.ipfs import install, kubo
from node.ipfs.replication import decrypt, encrypt


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    """An initialised, configured repository (no daemon), as a testnet node gets one."""
    path = tmp_path_factory.mktemp("kubo") / "ipfs"
    peer = kubo.init_repo(install.check_binary(), path, kubo.swarm_key())
    kubo.configure(path, {"ipfs_swarm": 40001, "ipfs_api": 40002, "ipfs_gateway": 40003},
                   [("12D3KooWCtJVCtLdA3aSsGtjkFvdQnY1gm5dokHoSw4nwWzZxz9x", 40011)])
    assert peer.startswith("12D3KooW")
    return path


def _kubo_cid(repo, data: bytes) -> str:
    """The CID kubo gives `data` with the options the nodes add blobs with (computed, nothing stored)."""
    flags = [f"--{k}={v}" for k, v in kubo.ADD_OPTIONS.items() if k != "pin"]
    done = subprocess.run([str(install.check_binary()), "--repo-dir", str(repo), "add", "--only-hash", "-Q",
                           *flags], input=data, capture_output=True, timeout=60, env={**os.environ, **kubo.DAEMON_ENV})
    assert done.returncode == 0, done.stderr
    return done.stdout.decode().strip()


@pytest.mark.e2e  # runs kubo (offline)
def test_a_blob_of_one_chunk_has_the_chains_content_hash_as_its_cids_multihash(repo):
    for size in (1, 1000, kubo.CHUNK):  # up to one chunk: a single raw block
        data = os.urandom(size)
        assert _kubo_cid(repo, data) == kubo.raw_cid(hashlib.blake2b(data, digest_size=32).digest())
    longer = os.urandom(kubo.CHUNK + 1)  # two chunks under a UnixFS root: its CID must be recorded
    cid = _kubo_cid(repo, longer)
    assert cid.startswith("bafy") and cid != kubo.raw_cid(hashlib.blake2b(longer, digest_size=32).digest())


@pytest.mark.e2e
def test_a_nodes_repository_is_a_private_loopback_swarm(repo):
    config = json.loads((repo / "config").read_text())
    key = (repo / kubo.SWARM_KEY_FILE).read_text().splitlines()
    assert key[:2] == ["/key/swarm/psk/1.0.0/", "/base16/"] and len(bytes.fromhex(key[2])) == 32
    assert (repo / kubo.SWARM_KEY_FILE).stat().st_mode & 0o077 == 0
    peer = "/ip4/127.0.0.1/tcp/40011/p2p/12D3KooWCtJVCtLdA3aSsGtjkFvdQnY1gm5dokHoSw4nwWzZxz9x"
    assert config["Bootstrap"] == [peer]  # the other nodes only: no public bootstrap
    assert config["Addresses"]["Swarm"] == ["/ip4/127.0.0.1/tcp/40001"]
    assert config["Addresses"]["API"] == "/ip4/127.0.0.1/tcp/40002"
    assert config["Addresses"]["Gateway"] == "/ip4/127.0.0.1/tcp/40003"
    assert config["Routing"]["Type"] == "none" and not config["Discovery"]["MDNS"]["Enabled"]
    assert config["AutoConf"]["Enabled"] is False and config["AutoTLS"]["Enabled"] is False
    assert not config["Swarm"]["Transports"]["Network"]["QUIC"]  # QUIC cannot carry the swarm key
    assert kubo.DAEMON_ENV["LIBP2P_FORCE_PNET"] == "1"  # no swarm key, no start


def test_permissioned_bytes_are_sealed_per_blob_and_a_tampered_copy_is_refused():
    network_key, other_key = os.urandom(32), os.urandom(32)
    secret = b'{"prompt": "symptom", "response": "diagnosis"}'
    digest = hashlib.blake2b(secret, digest_size=32).digest()
    sealed = encrypt(network_key, digest, secret)
    assert secret not in sealed and sealed == encrypt(network_key, digest, secret)  # one ciphertext on every node
    assert decrypt(network_key, digest, sealed) == secret
    tampered = bytearray(sealed)
    tampered[-1] ^= 1
    for key, blob in ((network_key, bytes(tampered)), (other_key, sealed)):
        with pytest.raises(ContentError, match="authentication tag"):
            decrypt(key, digest, blob)
