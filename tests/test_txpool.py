"""The transaction pool: ordering, future queue, bounds, replacement, pruning, concurrent submission."""

import threading

import pytest

from node.txpool import PoolRejected, TxPool
from payable.system.v1 import system_pb2
from runtime import system
from runtime.codec import ONE_OPEN, format_open
from runtime.crypto import Keypair, blake2_256


@pytest.fixture
def pool_chain(chain):
    drops = []
    chain.pool = TxPool(chain.ex.validate_transaction, max_count=6, max_future=2,
                        on_drop=lambda h, kind, reason: drops.append((h, kind, reason)))
    chain.drops = drops
    return chain


def _transfer(chain, signer, nonce, tip=0, **kw):
    return chain.transfer(signer, chain.dave.public, ONE_OPEN, nonce=nonce, tip=tip, **kw)


def _author(chain):
    """Author a block from the pool the way the node does, then let the pool catch up."""
    batch = chain.pool.ready(100)
    built = chain.block(*[t.raw for t in batch])
    ctx_nonce = lambda who: system.account_nonce(chain.ex.read_context(), who)  # noqa: E731
    chain.pool.after_block(built.header.number, [o.hash for o in built.outcomes], {}, ctx_nonce)
    return built


def test_ready_order_is_tip_then_arrival_and_nonce_order_per_sender(pool_chain):
    c = pool_chain
    c.pool.submit(_transfer(c, c.alice, 0, tip=1))
    c.pool.submit(_transfer(c, c.alice, 1, tip=10**12))  # high tip but must follow nonce 0
    c.pool.submit(_transfer(c, c.bob, 0, tip=5))
    c.pool.submit(_transfer(c, c.charlie, 0, tip=0))
    order = [(t.signer, t.nonce) for t in c.pool.ready(10)]
    assert order == [(c.bob.public, 0), (c.alice.public, 0), (c.alice.public, 1), (c.charlie.public, 0)]


def test_future_nonces_wait_and_are_promoted_when_the_gap_fills(pool_chain):
    c = pool_chain
    _, ready = c.pool.submit(_transfer(c, c.alice, 2))
    assert not ready and c.pool.counts() == (0, 1)
    _, ready = c.pool.submit(_transfer(c, c.alice, 1))
    assert not ready and c.pool.counts() == (0, 2)
    with pytest.raises(PoolRejected, match="future_queue_full"):
        c.pool.submit(_transfer(c, c.alice, 5))
    c.pool.submit(_transfer(c, c.alice, 0))
    assert c.pool.counts() == (3, 0)
    built = _author(c)
    assert len(built.outcomes) == 3 and len(c.pool) == 0


def test_duplicates_stale_and_underpriced_replacements_are_refused(pool_chain):
    c = pool_chain
    raw = _transfer(c, c.alice, 0)
    c.pool.submit(raw)
    with pytest.raises(PoolRejected, match="duplicate"):
        c.pool.submit(raw)
    with pytest.raises(PoolRejected, match="replacement_underpriced"):
        c.pool.submit(c.transfer(c.alice, c.bob.public, 2 * ONE_OPEN, nonce=0))
    better = _transfer(c, c.alice, 0, tip=100)
    c.pool.submit(better)
    assert [t.hash for t in c.pool.ready(5)] == [blake2_256(better)]
    assert c.drops == [(blake2_256(raw), "dropped", "replaced by a higher tip")]
    _author(c)
    with pytest.raises(PoolRejected, match="stale_nonce"):
        c.pool.submit(_transfer(c, c.alice, 0, tip=7))


def test_invalid_extrinsics_are_refused_with_the_reason(pool_chain):
    c = pool_chain
    with pytest.raises(PoolRejected, match="bad_encoding"):
        c.pool.submit(b"\x00\xffjunk")
    with pytest.raises(PoolRejected, match="wrong_genesis"):
        c.pool.submit(_transfer(c, c.alice, 0, genesis_hash=bytes(32)))
    with pytest.raises(PoolRejected, match="cannot_pay_fee"):
        c.pool.submit(c.transfer(Keypair.from_uri("//Nobody"), c.bob.public, 1, nonce=0))
    assert len(c.pool) == 0


def test_a_full_pool_evicts_the_lowest_tip_or_refuses_the_newcomer(pool_chain):
    c = pool_chain
    signers = [Keypair.from_uri(u) for u in ("//Alice", "//Bob", "//Charlie", "//Dave", "//Eve", "//Ferdie")]
    for i, s in enumerate(signers):
        c.pool.submit(_transfer(c, s, 0, tip=10 + i))
    assert len(c.pool) == 6
    with pytest.raises(PoolRejected, match="pool_full"):
        c.pool.submit(_transfer(c, signers[0], 1, tip=5))
    c.pool.submit(_transfer(c, signers[1], 1, tip=1000))
    assert len(c.pool) == 6
    assert c.drops[-1][1] == "dropped" and "evicted" in c.drops[-1][2]
    assert signers[0].public not in {t.signer for t in c.pool.ready(10)}  # tip 10 was the lowest


def test_expired_extrinsics_are_pruned_after_a_block(pool_chain):
    c = pool_chain
    c.block()
    c.pool.submit(_transfer(c, c.alice, 1, valid_until=2))  # future (nonce 0 missing), expires after block 2
    _author(c)
    assert len(c.pool) == 0 and c.drops and "expired" in c.drops[-1][2]


def test_concurrent_submissions_lose_nothing(chain):
    pool = TxPool(chain.ex.validate_transaction, max_count=10_000)
    signers = [Keypair.from_uri("//Alice"), Keypair.from_uri("//Bob"), Keypair.from_uri("//Charlie"),
               Keypair.from_uri("//Dave")]
    raws = {s.public: [chain.transfer(s, chain.alice.public if s != signers[0] else chain.bob.public,
                                      ONE_OPEN, nonce=n) for n in range(40)] for s in signers}
    errors = []

    def client(items):
        for raw in reversed(items):  # worst case: every extrinsic arrives before its predecessor
            try:
                pool.submit(raw)
            except PoolRejected as exc:
                errors.append(exc)

    threads = [threading.Thread(target=client, args=(items,)) for items in raws.values()]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert pool.counts() == (160, 0)


# --- admission that costs spam and bounds it (one account cannot fill the pool) -------------------------
def _limited(chain, **limits):
    drops = []
    pool = TxPool(chain.ex.validate_transaction, on_drop=lambda h, kind, reason: drops.append((kind, reason)),
                  **limits)
    return pool, drops


def test_one_sender_is_bounded_in_count_futures_and_nonce_gap(chain):
    pool, _ = _limited(chain, sender_count=5, sender_future=2, max_nonce_gap=8)
    for nonce in range(3):
        pool.submit(_transfer(chain, chain.alice, nonce))
    for nonce in (5, 6):
        pool.submit(_transfer(chain, chain.alice, nonce))  # futures: nonces 3 and 4 are missing
    with pytest.raises(PoolRejected, match="sender_limit"):
        pool.submit(_transfer(chain, chain.alice, 3))
    pool2, _ = _limited(chain, sender_future=2, max_nonce_gap=8)
    pool2.submit(_transfer(chain, chain.bob, 4))
    pool2.submit(_transfer(chain, chain.bob, 5))
    with pytest.raises(PoolRejected, match="future_limit"):
        pool2.submit(_transfer(chain, chain.bob, 6))
    with pytest.raises(PoolRejected, match="nonce_too_far"):
        pool2.submit(_transfer(chain, chain.charlie, 9))
    pool2.submit(_transfer(chain, chain.charlie, 0))  # other senders are unaffected
    assert pool2.counts() == (1, 2)


def test_only_fees_the_sender_can_pay_are_pooled(chain):
    pool, _ = _limited(chain)
    eve = Keypair.from_uri("//Eve")
    free = chain.ex.account_balances(eve.public)["free"]
    tip = free // 3
    pool.submit(_transfer(chain, eve, 0, tip=tip))
    pool.submit(_transfer(chain, eve, 1, tip=tip))
    with pytest.raises(PoolRejected, match="cannot_pay_fee") as refused:
        pool.submit(_transfer(chain, eve, 2, tip=tip))  # three tips of a third plus fees exceed the balance
    assert f"free balance {format_open(free)} OPEN" in str(refused.value) and len(pool) == 2


def test_futures_expire_and_a_ready_newcomer_evicts_futures_from_a_full_pool(chain):
    pool, drops = _limited(chain, max_count=3, future_ttl=2)
    pool.submit(_transfer(chain, chain.alice, 3))
    pool.submit(_transfer(chain, chain.alice, 4))
    pool.submit(_transfer(chain, chain.bob, 0))
    pool.submit(_transfer(chain, chain.charlie, 0))  # full: a future makes room for a ready extrinsic
    assert pool.evicted == 1 and drops[-1][0] == "dropped" and "evicted" in drops[-1][1]
    assert pool.counts() == (2, 1)
    for _ in range(2):
        built = chain.block(*[t.raw for t in pool.ready(10)])
        pool.after_block(built.header.number, [o.hash for o in built.outcomes], {},
                         lambda who: system.account_nonce(chain.ex.read_context(), who))
    assert len(pool) == 0 and pool.expired == 1 and "waited" in drops[-1][1]


def test_a_refused_replacement_leaves_the_pool_as_it_was(chain):
    small = _transfer(chain, chain.alice, 0, tip=1)
    pool, drops = _limited(chain, max_bytes=2 * len(small) + 10)
    pool.submit(small)
    pool.submit(_transfer(chain, chain.bob, 0, tip=10**6))
    bigger = chain.sign(chain.alice, "system", "remark", system_pb2.Remark(data=b"x" * 200), nonce=0, tip=100)
    with pytest.raises(PoolRejected, match="pool_full"):
        pool.submit(bigger)  # it would replace Alice's transfer, but does not fit and outbids nobody
    assert blake2_256(small) in pool and len(pool) == 2 and drops == [] and pool.evicted == 0


# --- floods spread over many funded accounts, each inside its nonce window ------------------------------
def _funded(chain, count: int, prefix: str) -> list[Keypair]:
    """`count` fresh accounts, funded by Alice in one block."""
    accounts = [Keypair.from_uri(f"//{prefix}{i}") for i in range(count)]
    built = chain.block(*[chain.transfer(chain.alice, a.public, 1000 * ONE_OPEN) for a in accounts])
    assert len(built.outcomes) == count and all(o.ok for o in built.outcomes)
    return accounts


def test_a_future_flood_over_many_accounts_locks_nobody_out(chain):
    pool, drops = _limited(chain, max_count=1_100)  # the default future limits: 1,024 = 16 accounts x 64
    assert (pool.max_future, pool.sender_future) == (1024, 64)
    flooders = _funded(chain, 20, "Flood")
    high = 10**9  # a future's tip is never paid while it waits: it buys no place in the future queue
    for who in flooders[:16]:
        for nonce in range(1, 65):  # nonce 0 never sent: all 64 wait, inside the nonce window
            pool.submit(_transfer(chain, who, nonce, tip=high))
    assert pool.counts() == (0, 1024)
    # another sender's futures still get in, at no tip, pushing out the newest of the biggest holder's
    _, ready = pool.submit(_transfer(chain, chain.bob, 2))
    assert not ready
    pool.submit(_transfer(chain, chain.bob, 1))
    assert pool.counts() == (0, 1024) and all(kind == "dropped" and "evicted" in why for kind, why in drops)
    _, ready = pool.submit(_transfer(chain, chain.bob, 0))
    assert ready and pool.counts() == (3, 1022)
    # more flooding accounts share the queue out: each newcomer evicts from whoever holds the most
    for who in flooders[16:]:
        for nonce in range(1, 9):
            pool.submit(_transfer(chain, who, nonce, tip=high))
    waiting = pool._futures_by_sender()
    assert sum(waiting.values()) == 1024 and [waiting[w.public] for w in flooders[16:]] == [8] * 4
    # a sender at its fair share cannot keep growing at the others' expense
    biggest = max(waiting.values())
    heavy = next(w for w in flooders if waiting.get(w.public) == biggest)
    with pytest.raises(PoolRejected, match="future_queue_full"):
        pool.submit(_transfer(chain, heavy, 65, tip=high))
    # ready extrinsics always get in while futures are pooled, even into a full pool
    filler = 0
    while len(pool) < pool.max_count:
        pool.submit(_transfer(chain, chain.charlie, filler))
        filler += 1
    for who in (chain.dave, Keypair.from_uri("//Eve"), Keypair.from_uri("//Ferdie")):
        _, ready = pool.submit(_transfer(chain, who, 0))
        assert ready
    assert len(pool) == pool.max_count and pool.counts()[0] == 3 + filler + 3
    built = _author_with(pool, chain)
    assert {o.ok for o in built.outcomes} == {True} and len(built.outcomes) == 3 + filler + 3


def test_one_accounts_ready_flood_gives_way_to_others_at_an_equal_tip(chain):
    pool, drops = _limited(chain, max_count=6)
    for nonce in range(6):
        pool.submit(_transfer(chain, chain.alice, nonce))
    _, ready = pool.submit(_transfer(chain, chain.bob, 0))  # a full pool: Alice's last gives way
    assert ready and len(pool) == 6 and drops[-1][0] == "dropped"
    assert [t.nonce for t in pool.ready(10) if t.signer == chain.alice.public] == [0, 1, 2, 3, 4]
    pool.submit(_transfer(chain, chain.charlie, 0))  # Alice 4, Bob 1, Charlie 1
    pool.submit(_transfer(chain, chain.bob, 1))      # Alice 3, Bob 2, Charlie 1
    with pytest.raises(PoolRejected, match="pool_full"):  # Alice holds no longer two more than Bob
        pool.submit(_transfer(chain, chain.bob, 2))
    pool.submit(_transfer(chain, chain.bob, 2, tip=1))  # a higher tip still outbids the lowest
    assert sorted(len([t for t in pool.ready(10) if t.signer == w.public]) for w in (chain.alice, chain.bob)) == [2, 3]


def _author_with(pool, chain):
    built = chain.block(*[t.raw for t in pool.ready(10_000)])
    pool.after_block(built.header.number, [o.hash for o in built.outcomes], {},
                     lambda who: system.account_nonce(chain.ex.read_context(), who))
    return built


def test_blocks_made_before_a_future_arrived_do_not_expire_it(chain):
    """A node catching up imports blocks made long ago (replayed or synced): they do not count toward a
    future extrinsic's expiry - only blocks made after it arrived do."""
    now = [1_000_000.0]
    pool, drops = _limited(chain, future_ttl=3, clock=lambda: now[0])
    waiting = pool.submit(_transfer(chain, chain.alice, 5))[0]  # nonces 0-4 are missing: a future
    arrived_ms = int(now[0] * 1000)
    nonces = lambda who: system.account_nonce(chain.ex.read_context(), who)  # noqa: E731
    for number in range(1, 11):  # ten old blocks, imported while catching up
        pool.after_block(number, [], {}, nonces, timestamp_ms=arrived_ms - 60_000 + number)
    assert waiting.hash in pool and drops == [] and pool.expired == 0
    for number in range(11, 14):  # blocks made after it arrived
        pool.after_block(number, [], {}, nonces, timestamp_ms=arrived_ms + number)
    assert waiting.hash not in pool and pool.expired == 1
    assert drops[-1][0] == "dropped" and "waited 3 blocks made since it arrived" in drops[-1][1]
