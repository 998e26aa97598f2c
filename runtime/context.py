"""The dispatch context: what a pallet sees while it runs - its state slice, events, block info.

Every storage access goes through `read`/`write`/`remove`/`scan`, which check that the key lies in
the slice of the pallet currently acting. A pallet acts as itself while its own calls and hooks run;
calling another pallet's public interface (functions wrapped by `public_interface`) switches the acting
pallet for the duration, which is the only sanctioned way to change another pallet's state.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Protocol

import pluggy

from payable.runtime.v1.extrinsic_pb2 import EventRecord

from .errors import StorageAccessError
from .storage.items import pallet_prefix
from .storage.overlay import Overlay


class PalletLayout(Protocol):
    """What a context needs of the runtime (`runtime.runtime.Runtime` is one): each pallet's key prefix
    and configuration (and the whole chain's, which genesis records), and which pallet owns a key (for
    the error message when a pallet strays), and the pallets' hooks (a consensus inherent hands its
    information to the pallets that act on it)."""

    prefixes: dict[str, bytes]
    pm: pluggy.PluginManager
    configs: dict[str, Any]
    config_json: str

    def owner_of(self, key: bytes) -> str | None: ...


class Context:
    def __init__(self, runtime: PalletLayout, overlay: Overlay, *, block_number: int, parent_hash: bytes,
                 timestamp_ms: int, author: bytes, readonly: bool = False):
        self.runtime = runtime
        self.overlay = overlay
        self.block_number = block_number
        self.parent_hash = parent_hash
        self.timestamp_ms = timestamp_ms
        self.author = author
        self.readonly = readonly
        self.events: list[EventRecord] = []
        self.phase = EventRecord.INITIALIZATION
        self.extrinsic_index = 0
        self.reads = 0
        self.writes = 0
        self.acting = ""
        self._prefix = b"\xff" * 17  # matches no key until a pallet acts

    # --- acting pallet -------------------------------------------------------------------------
    def acting_as(self, pallet: str) -> _Acting:
        """`with ctx.acting_as("token"):` - storage access is checked against that pallet's slice."""
        return _Acting(self, pallet)

    @property
    def config(self) -> Any:
        """The acting pallet's configuration for this chain."""
        return self.runtime.configs[self.acting]

    def current_extrinsic(self) -> int | None:
        """The index, within the block being built, of the extrinsic being applied (FRAME's
        `frame_system::Pallet::extrinsic_index`): with `block_number` it is where the extrinsic is stored,
        the same on every node; None outside one (block hooks, genesis, queries)."""
        return self.extrinsic_index if self.phase == EventRecord.APPLY_EXTRINSIC else None

    # --- storage -------------------------------------------------------------------------------
    def _check(self, key: bytes) -> None:
        if not key.startswith(self._prefix):
            owner = self.runtime.owner_of(key)
            raise StorageAccessError(
                f"pallet {self.acting or '(none)'!r} accessed key {key.hex()[:48]}… owned by "
                f"{owner or 'no pallet'!r}; call that pallet's public interface instead")

    def read(self, key: bytes) -> bytes | None:
        self._check(key)
        self.reads += 1
        return self.overlay.get(key)

    def write(self, key: bytes, value: bytes) -> None:
        self._check(key)
        if self.readonly:
            raise StorageAccessError("write attempted in a read-only context (a query)")
        self.writes += 1
        self.overlay.put(key, value)

    def remove(self, key: bytes) -> None:
        self._check(key)
        if self.readonly:
            raise StorageAccessError("write attempted in a read-only context (a query)")
        self.writes += 1
        self.overlay.delete(key)

    def scan(self, prefix: bytes) -> Iterator[tuple[bytes, bytes]]:
        self._check(prefix)
        for item in self.overlay.iter_prefix(prefix):
            self.reads += 1
            yield item

    @contextmanager
    def transaction(self):
        """Nested storage layer: an exception inside rolls back exactly the writes made inside."""
        with self.overlay.transaction():
            yield self

    # --- events --------------------------------------------------------------------------------
    def deposit_event(self, pallet: str, code: int, name: str, data: bytes) -> None:
        self.events.append(EventRecord(phase=self.phase, extrinsic_index=self.extrinsic_index,
                                       pallet=pallet, code=code, name=name, data=data))


class _Acting:
    """Context manager behind `Context.acting_as` (a class: it runs several times per extrinsic)."""

    __slots__ = ("ctx", "pallet", "saved")

    def __init__(self, ctx: Context, pallet: str):
        self.ctx, self.pallet = ctx, pallet

    def __enter__(self) -> Context:
        ctx = self.ctx
        self.saved = ctx.acting, ctx._prefix
        ctx.acting, ctx._prefix = self.pallet, ctx.runtime.prefixes[self.pallet]
        return ctx

    def __exit__(self, *exc) -> None:
        self.ctx.acting, self.ctx._prefix = self.saved


def public_interface(pallet: str):
    """Mark a function as part of `pallet`'s public interface: it runs acting as that pallet."""
    pallet_prefix(pallet)  # fail at import time on a non-string name

    def decorate(fn):
        @functools.wraps(fn)
        def wrapper(ctx: Context, *args, **kwargs):
            with ctx.acting_as(pallet):
                return fn(ctx, *args, **kwargs)
        return wrapper

    return decorate
