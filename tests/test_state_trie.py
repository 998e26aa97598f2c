"""The state trie: incremental roots equal rebuilds, proofs verify, tampered proofs fail."""

from hypothesis import given, settings
from hypothesis import strategies as st

from payable.runtime.v1.extrinsic_pb2 import StateProof
from runtime.storage.proof import verify_proof
from runtime.storage.trie import StateTrie

keys = st.one_of(st.binary(min_size=0, max_size=3), st.sampled_from([b"a", b"b", b"c", b"abc"]))
changes = st.dictionaries(keys, st.one_of(st.none(), st.binary(max_size=8)), max_size=12)


@settings(max_examples=150)
@given(st.lists(changes, min_size=1, max_size=12))
def test_incremental_root_equals_rebuild_and_proofs_verify(batches):
    trie, model = StateTrie(), {}
    for batch in batches:
        root = trie.stage(batch)
        for key, value in batch.items():
            if value is None:
                model.pop(key, None)
            else:
                model[key] = value
        assert root == StateTrie(model.items()).root
        assert len(trie) == len(model)
        for key in list(model) + [b"absent-key", b"a"]:
            proof = trie.prove(key)
            assert verify_proof(root, key, model.get(key), proof)
            assert not verify_proof(root, key, (model.get(key) or b"") + b"!", proof)


@given(st.dictionaries(st.binary(max_size=4), st.binary(max_size=4), max_size=30), changes)
def test_staging_the_old_values_restores_the_previous_root(initial, batch):
    """How a block that is built but not committed is reverted."""
    trie = StateTrie(initial.items())
    before = trie.root
    trie.stage(batch)
    assert trie.stage({key: initial.get(key) for key in batch}) == before
    assert len(trie) == len(initial)


def test_root_is_independent_of_insertion_order():
    items = [(bytes([i]) * 3, bytes([i])) for i in range(200)]
    assert StateTrie(items).root == StateTrie(reversed(items)).root


def _tamper_cases(proof: StateProof):
    for i, level in enumerate(proof.levels):
        if len(level) > 2:
            bad = StateProof()
            bad.CopyFrom(proof)
            flipped = bytearray(level)
            flipped[-1] ^= 1
            bad.levels[i] = bytes(flipped)
            yield bad
    shorter = StateProof()
    shorter.CopyFrom(proof)
    del shorter.levels[-1]
    yield shorter


def test_tampered_proofs_fail():
    trie = StateTrie((f"k{i}".encode(), f"v{i}".encode()) for i in range(500))
    for key, value in [(b"k7", b"v7"), (b"missing", None)]:
        proof = trie.prove(key)
        assert verify_proof(trie.root, key, value, proof)
        for bad in _tamper_cases(proof):
            assert not verify_proof(trie.root, key, value, bad)
        assert not verify_proof(bytes(32), key, value, proof)


def test_non_inclusion_cannot_be_claimed_for_a_present_key():
    trie = StateTrie([(b"x", b"1"), (b"y", b"2")])
    assert not verify_proof(trie.root, b"x", None, trie.prove(b"x"))
    assert not verify_proof(trie.root, b"x", b"1", trie.prove(b"nope"))
    assert not verify_proof(trie.root, b"x", b"1", b"\xff garbage")
