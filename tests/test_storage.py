"""Backends, the transactional overlay, declared storage items and slice access control."""

import pytest

from runtime.chaindb import ChainDB, CorruptDatabase
from runtime.errors import StorageAccessError
from runtime.storage.backend import MemoryBackend, RocksBackend
from runtime.storage.overlay import Overlay


@pytest.fixture(params=["memory", "rocksdb"])
def backend(request, tmp_path):
    store = MemoryBackend() if request.param == "memory" else RocksBackend(tmp_path / "db")
    yield store
    store.close()


def test_backends_agree_on_batches_and_ordered_prefix_iteration(backend):
    backend.write_batch({b"p:b": b"2", b"p:a": b"1", b"q:z": b"9", b"p:c": b"3"})
    backend.write_batch({b"p:c": None})
    assert list(backend.iter_prefix(b"p:")) == [(b"p:a", b"1"), (b"p:b", b"2")]
    assert backend.get(b"q:z") == b"9" and backend.get(b"p:c") is None


def test_nested_transactions_roll_back_exactly_their_writes(backend):
    backend.write_batch({b"k1": b"committed"})
    overlay = Overlay(backend)
    overlay.put(b"k2", b"outer")
    with pytest.raises(ValueError):
        with overlay.transaction():
            overlay.put(b"k2", b"inner")
            overlay.delete(b"k1")
            with overlay.transaction():
                overlay.put(b"k3", b"innermost")
            raise ValueError("boom")
    assert overlay.get(b"k1") == b"committed" and overlay.get(b"k2") == b"outer" and overlay.get(b"k3") is None
    with overlay.transaction():
        overlay.delete(b"k1")
    assert overlay.get(b"k1") is None
    assert backend.get(b"k1") == b"committed"  # nothing reaches the backend before commit
    assert list(overlay.iter_prefix(b"k")) == [(b"k2", b"outer")]


def test_overlay_iteration_merges_pending_over_committed(backend):
    backend.write_batch({b"a1": b"x", b"a3": b"y"})
    overlay = Overlay(backend)
    overlay.put(b"a2", b"new")
    overlay.delete(b"a3")
    assert list(overlay.iter_prefix(b"a")) == [(b"a1", b"x"), (b"a2", b"new")]


def test_a_pallet_cannot_touch_another_pallets_slice(chain):
    from pallets.token.storage import Account
    from runtime import system

    ctx = chain.ex.read_context()
    with ctx.acting_as("system"):
        with pytest.raises(StorageAccessError, match="owned by 'token'"):
            Account.get(ctx, chain.alice.public)
        assert system.Nonce.get(ctx, chain.alice.public) is None  # its own slice is fine
    with pytest.raises(StorageAccessError):
        Account.get(ctx, chain.alice.public)  # no pallet acting at all


def test_queries_cannot_write(chain):
    from pallets.token.storage import TotalIssuance

    ctx = chain.ex.read_context()
    with ctx.acting_as("token"), pytest.raises(StorageAccessError, match="read-only"):
        TotalIssuance.put(ctx, 1)


def test_map_iteration_is_deterministic_and_reversible(chain):
    from pallets.token.storage import Account

    ctx = chain.ex.read_context()
    with ctx.acting_as("token"):
        accounts = [who for who, _ in Account.iter(ctx)]
    assert chain.alice.public in accounts and accounts == sorted(accounts, key=Account.storage_key)


def test_reopening_detects_state_that_does_not_match_the_committed_root(tmp_path):
    from runtime.chainspec import dev_spec
    from runtime.executive import Executive

    backend = RocksBackend(tmp_path / "db")
    Executive.open(dev_spec(), backend).close()
    key, value = next(iter(backend.iter_prefix(b"s")))
    backend.write_batch({key: value + b"tampered"})
    with pytest.raises(CorruptDatabase):
        ChainDB(backend)
    backend.close()
