"""Declared storage items: `Value`, `Map` and `DoubleMap`, with key prefixes derived from names.

A key is blake2_128(pallet) ‖ blake2_128(item) ‖ hashed map key(s), as in Substrate, so every pallet
owns one contiguous slice (its 16-byte prefix) and every item one sub-slice. Map keys go through a
declared hasher: `blake2_128_concat` (hashed for balance, raw key appended so it can be iterated
back) for keys users choose, `identity` for keys that are already uniformly distributed or that
must iterate in numeric order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from ..codec import decode_u128, encode_u128
from ..crypto import blake2_128, blake2_256

T = TypeVar("T")


class StorageAccess(Protocol):
    """What a storage item needs of the context it runs in (`runtime.context.Context` is one): keyed
    reads, writes and prefix scans, each checked against the acting pallet's slice by the context."""

    def read(self, key: bytes) -> bytes | None: ...

    def write(self, key: bytes, value: bytes) -> None: ...

    def remove(self, key: bytes) -> None: ...

    def scan(self, prefix: bytes) -> Iterator[tuple[bytes, bytes]]: ...


@dataclass(frozen=True)
class Hasher:
    name: str
    hash: Callable[[bytes], bytes]
    reversible_prefix: int | None  # bytes to strip to get the raw key back; None if one-way


BLAKE2_128_CONCAT = Hasher("blake2_128_concat", lambda k: blake2_128(k) + k, 16)
IDENTITY = Hasher("identity", lambda k: k, 0)
BLAKE2_256 = Hasher("blake2_256", blake2_256, None)


class Codec(Generic[T]):
    """Turns a storage value (or map key) to bytes and back; `type_name` appears in metadata."""

    type_name = "bytes"

    def encode(self, value: T) -> bytes:
        return value  # type: ignore[return-value]

    def decode(self, data: bytes) -> T:
        return data  # type: ignore[return-value]


class ProtoCodec(Codec):
    def __init__(self, message_type: Any):
        self.message_type = message_type
        self.type_name = message_type.DESCRIPTOR.full_name

    def encode(self, value) -> bytes:
        return value.SerializeToString(deterministic=True)

    def decode(self, data: bytes):
        return self.message_type.FromString(data)


class U128Codec(Codec[int]):
    type_name = "u128"

    def encode(self, value: int) -> bytes:
        return encode_u128(value)

    def decode(self, data: bytes) -> int:
        return decode_u128(data)


class U64Codec(Codec[int]):
    """Fixed 8-byte big-endian, so numeric keys iterate in numeric order."""

    type_name = "u64"

    def encode(self, value: int) -> bytes:
        return value.to_bytes(8, "big")

    def decode(self, data: bytes) -> int:
        return int.from_bytes(data, "big")


class StrCodec(Codec[str]):
    type_name = "string"

    def encode(self, value: str) -> bytes:
        return value.encode()

    def decode(self, data: bytes) -> str:
        return data.decode()


BYTES: Codec[bytes] = Codec()
U128 = U128Codec()
U64 = U64Codec()
STR = StrCodec()


def pallet_prefix(pallet: str) -> bytes:
    return blake2_128(pallet.encode())


class StorageItem:
    kind = ""

    def __init__(self, pallet: str, name: str, value: Codec, doc: str):
        self.pallet, self.name, self.value, self.doc = pallet, name, value, doc
        self.prefix = pallet_prefix(pallet) + blake2_128(name.encode())

    @property
    def hasher_names(self) -> str:
        return ""

    def _get(self, ctx: StorageAccess, key: bytes, default):
        raw = ctx.read(key)
        return default if raw is None else self.value.decode(raw)


class Value(StorageItem):
    """A single value."""

    kind = "value"

    def get(self, ctx: StorageAccess, default=None):
        return self._get(ctx, self.prefix, default)

    def put(self, ctx: StorageAccess, value) -> None:
        ctx.write(self.prefix, self.value.encode(value))

    def remove(self, ctx: StorageAccess) -> None:
        ctx.remove(self.prefix)


class Map(StorageItem):
    """key → value, keys hashed with `hasher`."""

    kind = "map"

    def __init__(self, pallet: str, name: str, key: Codec, value: Codec, hasher: Hasher, doc: str):
        super().__init__(pallet, name, value, doc)
        self.key, self.hasher = key, hasher

    @property
    def hasher_names(self) -> str:
        return self.hasher.name

    def storage_key(self, key) -> bytes:
        return self.prefix + self.hasher.hash(self.key.encode(key))

    def get(self, ctx: StorageAccess, key, default=None):
        return self._get(ctx, self.storage_key(key), default)

    def require(self, ctx: StorageAccess, key, error: type[Exception], message: str):
        """The value, or `error(message)` when the key is absent (a pallet's Unknown... error)."""
        found = self.get(ctx, key)
        if found is None:
            raise error(message)
        return found

    def contains(self, ctx: StorageAccess, key) -> bool:
        return ctx.read(self.storage_key(key)) is not None

    def insert(self, ctx: StorageAccess, key, value) -> None:
        ctx.write(self.storage_key(key), self.value.encode(value))

    def remove(self, ctx: StorageAccess, key) -> None:
        ctx.remove(self.storage_key(key))

    def iter(self, ctx: StorageAccess) -> Iterator[tuple[Any, Any]]:
        """(key, value) pairs in storage-key order (deterministic, not insertion order)."""
        strip = self.hasher.reversible_prefix
        if strip is None:
            raise TypeError(f"{self.pallet}.{self.name}: {self.hasher.name} keys cannot be iterated back")
        offset = len(self.prefix) + strip
        for raw_key, raw_value in ctx.scan(self.prefix):
            yield self.key.decode(raw_key[offset:]), self.value.decode(raw_value)


class DoubleMap(StorageItem):
    """(key1, key2) → value; iterating by key1 yields all of its key2 entries."""

    kind = "double_map"

    def __init__(self, pallet: str, name: str, key1: Codec, hasher1: Hasher, key2: Codec, hasher2: Hasher,
                 value: Codec, doc: str):
        super().__init__(pallet, name, value, doc)
        self.key1, self.hasher1, self.key2, self.hasher2 = key1, hasher1, key2, hasher2

    @property
    def hasher_names(self) -> str:
        return f"{self.hasher1.name},{self.hasher2.name}"

    def _first(self, key1) -> bytes:
        return self.prefix + self.hasher1.hash(self.key1.encode(key1))

    def storage_key(self, key1, key2) -> bytes:
        return self._first(key1) + self.hasher2.hash(self.key2.encode(key2))

    def get(self, ctx: StorageAccess, key1, key2, default=None):
        return self._get(ctx, self.storage_key(key1, key2), default)

    def insert(self, ctx: StorageAccess, key1, key2, value) -> None:
        ctx.write(self.storage_key(key1, key2), self.value.encode(value))

    def remove(self, ctx: StorageAccess, key1, key2) -> None:
        ctx.remove(self.storage_key(key1, key2))

    def iter_prefix(self, ctx: StorageAccess, key1) -> Iterator[tuple[Any, Any]]:
        """(key2, value) pairs under key1, in storage-key order."""
        strip = self.hasher2.reversible_prefix
        if strip is None:
            raise TypeError(f"{self.pallet}.{self.name}: {self.hasher2.name} keys cannot be iterated back")
        first = self._first(key1)
        for raw_key, raw_value in ctx.scan(first):
            yield self.key2.decode(raw_key[len(first) + strip:]), self.value.decode(raw_value)


class PalletStorage:
    """The storage items one pallet declares; the builder keeps names unique and prefixes derived."""

    def __init__(self, pallet: str):
        self.pallet = pallet
        self.items: list[StorageItem] = []

    def _add(self, item: StorageItem):
        if any(existing.name == item.name for existing in self.items):
            raise ValueError(f"{self.pallet}: storage item {item.name!r} declared twice")
        self.items.append(item)
        return item

    def value(self, name: str, value: Codec, doc: str) -> Value:
        return self._add(Value(self.pallet, name, value, doc))

    def map(self, name: str, key: Codec, value: Codec, hasher: Hasher, doc: str) -> Map:
        return self._add(Map(self.pallet, name, key, value, hasher, doc))

    def double_map(self, name: str, key1: Codec, hasher1: Hasher, key2: Codec, hasher2: Hasher, value: Codec,
                   doc: str) -> DoubleMap:
        return self._add(DoubleMap(self.pallet, name, key1, hasher1, key2, hasher2, value, doc))
