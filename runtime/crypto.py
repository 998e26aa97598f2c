"""Hashing, ed25519 keys and signatures, addresses, and parallel signature verification.

Signature checks dominate the cost of applying a transfer in Python, so block import verifies a
block's signatures up front in a thread pool: libsodium runs outside the GIL (cffi releases it), so
threads give real parallelism without pickling extrinsics to other processes.
"""

from __future__ import annotations

import hashlib
import os
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from functools import cached_property

import nacl.bindings
import nacl.exceptions
import nacl.signing

HASH_LEN = 32
_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
ADDRESS_PREFIX = b"\x50\x41"  # "PA": distinguishes Payable addresses from other base58 strings
DEV_SEED_DOMAIN = b"payable-dev-seed"


def blake2_256(data: bytes) -> bytes:
    return hashlib.blake2b(data, digest_size=32).digest()


def blake2_256_file(path) -> bytes:
    """blake2b-256 of a file's bytes, read in chunks (index and model files can be large)."""
    digest = hashlib.blake2b(digest_size=32)
    with open(path, "rb") as f:
        while chunk := f.read(1 << 22):
            digest.update(chunk)
    return digest.digest()


def blake2_128(data: bytes) -> bytes:
    return hashlib.blake2b(data, digest_size=16).digest()


def derived_account(label: str) -> bytes:
    """An account id with no private key, for protocol-owned funds (treasury, escrow)."""
    return blake2_256(b"payable/account/" + label.encode())


@dataclass(frozen=True)
class Keypair:
    """An ed25519 keypair; `public` is the 32-byte account id."""

    seed: bytes

    @classmethod
    def generate(cls) -> Keypair:
        return cls(os.urandom(32))

    @classmethod
    def from_uri(cls, uri: str) -> Keypair:
        """Dev keys from names: '//Alice' always gives the same key (never use these on a real chain)."""
        if not uri.startswith("//") or len(uri) < 3:
            raise ValueError(f"dev key names look like '//Alice', got {uri!r}")
        return cls(blake2_256(DEV_SEED_DOMAIN + uri.encode()))

    @cached_property
    def _signing_key(self) -> nacl.signing.SigningKey:
        return nacl.signing.SigningKey(self.seed)

    @cached_property
    def public(self) -> bytes:
        return bytes(self._signing_key.verify_key)

    @property
    def address(self) -> str:
        return encode_address(self.public)

    def sign(self, message: bytes) -> bytes:
        return self._signing_key.sign(message).signature


def verify(public: bytes, message: bytes, signature: bytes) -> bool:
    """True iff `signature` is a valid ed25519 signature of `message` by `public`."""
    if len(public) != 32 or len(signature) != 64:
        return False
    try:
        nacl.bindings.crypto_sign_open(signature + message, public)
        return True
    except (nacl.exceptions.BadSignatureError, nacl.exceptions.ValueError, nacl.exceptions.TypeError):
        return False


class BatchVerifier:
    """Verifies many (public, message, signature) triples across a thread pool, preserving order."""

    def __init__(self, threads: int | None = None):
        self.threads = threads or os.cpu_count() or 1
        self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="sigverify") if self.threads > 1 else None

    def verify_all(self, items: list[tuple[bytes, bytes, bytes]]) -> list[bool]:
        pending = self.start(items)
        return [pending.result(i) for i in range(len(items))]

    def start(self, items: list[tuple[bytes, bytes, bytes]], chunk: int = 256) -> PendingVerification:
        """Begin verifying in the background; the caller can use early results while later ones run."""
        return PendingVerification(self._pool, items, chunk)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)


class PendingVerification:
    """Signature checks running in chunks on a pool; `result(i)` waits only for item i's chunk."""

    def __init__(self, pool: ThreadPoolExecutor | None, items: list, chunk: int):
        self.chunk = chunk
        self._chunks: list[list[bool] | Future[list[bool]]] = []  # each chunk's results, or their future
        for start in range(0, len(items), chunk):
            part = items[start:start + chunk]
            self._chunks.append(_verify_all(part) if pool is None else pool.submit(_verify_all, part))

    def result(self, index: int) -> bool:
        slot = index // self.chunk
        chunk = self._chunks[slot]
        if isinstance(chunk, Future):
            chunk = self._chunks[slot] = chunk.result()
        return chunk[index % self.chunk]


def _verify_all(items: list) -> list[bool]:
    return [verify(*item) for item in items]


def _b58encode(data: bytes) -> str:
    number = int.from_bytes(data, "big")
    out = ""
    while number:
        number, rem = divmod(number, 58)
        out = _B58[rem] + out
    return "1" * (len(data) - len(data.lstrip(b"\x00"))) + out


def _b58decode(text: str) -> bytes:
    number = 0
    for char in text:
        index = _B58.find(char)
        if index < 0:
            raise ValueError(f"invalid base58 character {char!r}")
        number = number * 58 + index
    body = number.to_bytes((number.bit_length() + 7) // 8, "big")
    return b"\x00" * (len(text) - len(text.lstrip("1"))) + body


def encode_address(account: bytes) -> str:
    """Checksummed text form of an account id: base58(prefix ‖ id ‖ blake2b(prefix ‖ id)[:4])."""
    if len(account) != 32:
        raise ValueError(f"account ids are 32 bytes, got {len(account)}")
    payload = ADDRESS_PREFIX + account
    return _b58encode(payload + blake2_256(payload)[:4])


def decode_address(text: str) -> bytes:
    """Account id from its text form (or from 64 hex digits); a typo fails the checksum."""
    text = text.strip()
    if len(text) == 64 and all(c in "0123456789abcdefABCDEF" for c in text):
        return bytes.fromhex(text)
    raw = _b58decode(text)
    if len(raw) != len(ADDRESS_PREFIX) + 36 or not raw.startswith(ADDRESS_PREFIX):
        raise ValueError(f"{text!r} is not a Payable address")
    payload, checksum = raw[:-4], raw[-4:]
    if blake2_256(payload)[:4] != checksum:
        raise ValueError(f"{text!r} has a bad checksum (mistyped address?)")
    return payload[len(ADDRESS_PREFIX):]
