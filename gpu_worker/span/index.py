"""The suffix-array index over a tokenized snapshot (infini-gram style), memory-mapped, in shards.

Layout of a shard (files in the index directory):
    shard-<s>.tokens   uint16 big-endian tokens; documents separated by SEPARATOR (0xFFFF), so a match
                       never crosses from one document into the next, and byte order = token order
    shard-<s>.sa       suffix array of the token positions, each in `pointer_bytes` little-endian
                       bytes - the fewest that address the shard (3 for shards below 16M tokens)
    shard-<s>.docs     uint64 start position of each document in the shard
and one `manifest.json` naming each document's contribution, the contributors, the sizes and every
file's blake2b-256; the index hash is the hash of the manifest (the "attribution index hash").
`canonical.u32` maps each document to the first of its near-duplicates (identical, or token 5-gram
Jaccard >= 0.5: `gpu_worker.near_duplicates`), whose contribution it is credited to: copies, edited or
not, add no credit to whoever uploads them.

Building sorts the big-endian bytes with libdivsufsort and keeps the even positions, shard by shard,
so the suffix arrays' memory stays bounded by the shard size whatever the corpus size; finding
near-duplicate documents first holds every document (its tokens and their 5-gram hashes) for the build.
Queries run on every shard.

The longest match of a query starting at each of its positions - the heart of span attribution - is one
binary search per position: the suffixes adjacent to the query's insertion point in sorted order are
the ones sharing its longest prefix, so the match length is the longer of their two common prefixes.
"""

from __future__ import annotations

import hashlib
import json
import mmap
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from runtime.crypto import blake2_256_file

from ..near_duplicates import token_matches

SEPARATOR = 0xFFFF
MAX_VOCAB = SEPARATOR  # token ids must be below the separator
DEFAULT_SHARD_TOKENS = 50_000_000



def pointer_bytes(positions: int) -> int:
    return max(1, (max(positions - 1, 1).bit_length() + 7) // 8)


@dataclass(frozen=True)
class Document:
    tokens: np.ndarray   # uint16-compatible token ids
    contribution: int    # index into the manifest's contributions


def build_index(documents: Iterable[Document], contributions: list[tuple[int, bytes]], out: Path,
                shard_tokens: int = DEFAULT_SHARD_TOKENS, vocab_size: int = MAX_VOCAB,
                progress: Callable[[int, int], None] | None = None) -> bytes:
    """Write a sharded index for `documents` into `out`; returns the index hash."""
    from pydivsufsort import divsufsort

    out.mkdir(parents=True, exist_ok=True)
    shards, doc_contributions, buffer, starts, size, total = [], [], [], [], 0, 0

    def flush() -> None:
        nonlocal buffer, starts, size
        if not buffer:
            return
        s = len(shards)
        tokens = np.concatenate(buffer).astype(">u2")
        raw = tokens.tobytes()
        byte_sa = divsufsort(tokens.view(np.uint8))  # sorts bytes; even positions are token suffixes
        token_sa = (byte_sa[byte_sa % 2 == 0] // 2).astype(np.uint64)
        width = pointer_bytes(len(tokens))
        packed = token_sa.astype("<u8").view(np.uint8).reshape(-1, 8)[:, :width]
        (out / f"shard-{s}.tokens").write_bytes(raw)
        (out / f"shard-{s}.sa").write_bytes(packed.tobytes())
        (out / f"shard-{s}.docs").write_bytes(np.array(starts, dtype="<u8").tobytes())
        shards.append({"tokens": len(tokens), "documents": len(starts), "pointer_bytes": width})
        buffer, starts, size = [], [], 0
        if progress:
            progress(total, total)

    documents = list(documents)
    near = token_matches([np.asarray(doc.tokens) for doc in documents])
    canonical: list[int] = []  # a document identical or near-identical to an earlier one is that one, for credit
    for doc, match in zip(documents, near, strict=True):
        tokens = np.asarray(doc.tokens)
        if tokens.size and (tokens.min() < 0 or tokens.max() >= vocab_size):
            raise ValueError(f"token ids must lie in 0..{vocab_size - 1}")
        if size and size + len(tokens) + 1 > shard_tokens:
            flush()
        starts.append(size)
        buffer += [tokens, np.array([SEPARATOR])]
        size += len(tokens) + 1
        total += len(tokens) + 1
        first = len(canonical) if match < 0 else canonical[match]
        canonical.append(first)
        doc_contributions.append(int(doc.contribution) if first == len(canonical) - 1 else doc_contributions[first])
    flush()
    if not shards:
        raise ValueError("the index needs at least one document")
    (out / "documents.u32").write_bytes(np.array(doc_contributions, dtype="<u4").tobytes())
    (out / "canonical.u32").write_bytes(np.array(canonical, dtype="<u4").tobytes())
    unigram = np.zeros(vocab_size + 1, dtype=np.int64)
    for s in range(len(shards)):
        unigram += np.bincount(np.frombuffer((out / f"shard-{s}.tokens").read_bytes(), dtype=">u2"),
                               minlength=SEPARATOR + 1)[:vocab_size + 1]
    (out / "unigram.i64").write_bytes(unigram.astype("<i8").tobytes())
    files = sorted(p.name for p in out.iterdir() if p.name != "manifest.json")
    manifest = {"version": 1, "kind": "suffix-array", "shards": shards, "vocab_size": vocab_size,
                "distinct_documents": len(set(canonical)),
                "contributions": [[cid, who.hex()] for cid, who in contributions],
                "files": {name: blake2_256_file(out / name).hex() for name in files}}
    raw = json.dumps(manifest, sort_keys=True, indent=1).encode()
    (out / "manifest.json").write_bytes(raw)
    return hashlib.blake2b(raw, digest_size=32).digest()


class _Shard:
    def __init__(self, root: Path, s: int, meta: dict):
        self.n, self.width = meta["tokens"], meta["pointer_bytes"]
        self._tokens_file = open(root / f"shard-{s}.tokens", "rb")
        self._sa_file = open(root / f"shard-{s}.sa", "rb")
        self.tokens = mmap.mmap(self._tokens_file.fileno(), 0, access=mmap.ACCESS_READ)
        self.sa = mmap.mmap(self._sa_file.fileno(), 0, access=mmap.ACCESS_READ)
        self.doc_starts = np.frombuffer((root / f"shard-{s}.docs").read_bytes(), dtype="<u8")

    def pos(self, i: int) -> int:
        w = self.width
        return int.from_bytes(self.sa[i * w:(i + 1) * w], "little")

    def suffix(self, i: int, length: int) -> bytes:
        p = self.pos(i) * 2
        return self.tokens[p:p + length]

    def lower_bound(self, key: bytes) -> int:
        """The first suffix (in sorted order) not less than `key`, comparing its first len(key) bytes."""
        m, lo, hi = len(key), 0, self.n
        while lo < hi:
            mid = (lo + hi) // 2
            if self.suffix(mid, m) < key:
                lo = mid + 1
            else:
                hi = mid
        return lo

    def bounds(self, key: bytes) -> tuple[int, int]:
        """[lo, hi) of suffixes starting with `key` (big-endian token bytes)."""
        m = len(key)
        lo = self.lower_bound(key)
        start, hi = lo, self.n
        while lo < hi:
            mid = (lo + hi) // 2
            if self.suffix(mid, m) <= key:
                lo = mid + 1
            else:
                hi = mid
        return start, lo

    def longest_match(self, key: bytes) -> int:
        """Longest prefix of `key` (in tokens) that occurs in this shard."""
        lo, m = self.lower_bound(key), len(key)
        best = 0
        for i in (lo - 1, lo):
            if 0 <= i < self.n:
                best = max(best, _common_prefix(self.suffix(i, m), key))
        return best // 2

    def close(self) -> None:
        self.tokens.close()
        self.sa.close()
        self._tokens_file.close()
        self._sa_file.close()


def _common_prefix(a: bytes, b: bytes) -> int:
    n = min(len(a), len(b))
    if a[:n] == b[:n]:
        return n
    diff = np.flatnonzero(np.frombuffer(a[:n], dtype=np.uint8) != np.frombuffer(b[:n], dtype=np.uint8))
    return int(diff[0])


class SpanIndex:
    """A sealed suffix-array index, verified against its hash on load."""

    def __init__(self, root: Path, index_hash: bytes | None = None, verify_files: bool = True):
        raw = (root / "manifest.json").read_bytes()
        if index_hash is not None and hashlib.blake2b(raw, digest_size=32).digest() != index_hash:
            raise ValueError(f"span index {index_hash.hex()}: manifest does not match the hash (tampered)")
        self.manifest = json.loads(raw)
        if verify_files:
            for name, digest in self.manifest["files"].items():
                if blake2_256_file(root / name).hex() != digest:
                    raise ValueError(f"span index: {name} does not match its hash (tampered)")
        self.hash = hashlib.blake2b(raw, digest_size=32).digest()
        self.shards = [_Shard(root, s, meta) for s, meta in enumerate(self.manifest["shards"])]
        self.doc_contribution = np.frombuffer((root / "documents.u32").read_bytes(), dtype="<u4")
        self.canonical = np.frombuffer((root / "canonical.u32").read_bytes(), dtype="<u4")  # first near-duplicate
        self.contributions = [(cid, bytes.fromhex(who)) for cid, who in self.manifest["contributions"]]
        self.unigram = np.frombuffer((root / "unigram.i64").read_bytes(), dtype="<i8")
        self.total_tokens = int(self.unigram[:SEPARATOR].sum())
        self._doc_offset = np.cumsum([0] + [s.doc_starts.size for s in self.shards])

    @staticmethod
    def key(tokens) -> bytes:
        return np.asarray(tokens, dtype=">u2").tobytes()

    def count(self, tokens) -> int:
        key = self.key(tokens)
        return sum(hi - lo for lo, hi in (s.bounds(key) for s in self.shards))

    def documents(self, tokens, limit: int | None = None) -> list[int]:
        """Distinct global document ids containing the n-gram, ascending (at most `limit` occurrences read)."""
        key, found = self.key(tokens), set()
        for s, shard in enumerate(self.shards):
            lo, hi = shard.bounds(key)
            if limit is not None:
                hi = min(hi, lo + limit)
            positions = np.array([shard.pos(i) for i in range(lo, hi)], dtype=np.uint64)
            docs = np.searchsorted(shard.doc_starts, positions, side="right") - 1
            found.update(int(d) + int(self._doc_offset[s]) for d in docs)
        return sorted(found)

    def longest_matches(self, tokens) -> np.ndarray:
        """For each position i of `tokens`: the longest n such that tokens[i:i+n] occurs in the corpus."""
        key = self.key(tokens)
        out = np.zeros(len(tokens), dtype=np.int64)
        for i in range(len(tokens)):
            out[i] = max(shard.longest_match(key[2 * i:]) for shard in self.shards)
        return out

    def close(self) -> None:
        for shard in self.shards:
            shard.close()
