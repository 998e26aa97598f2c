"""Near-duplicate rows, left out of training and credit, so padding a DataNet with noisy copies of one's
own rows (or lightly edited copies of someone else's) earns nothing more than the rows themselves.

Exact-duplicate blobs are refused by the chain and identical rows were already credited to their first
holder; a copy with a little noise on every feature, or a text row with a word changed, passed both and
multiplied its contributor's share (x2.2 with three noisy copies of each row, measured through the gradient
path). A row within the threshold of an earlier kept row (snapshot order is arrival order; kept: not a
near-duplicate itself) is a near-duplicate: the model is trained without it and its index does not hold it,
so it earns nothing, it takes nothing from the row it copies, and the row it copies earns what it earned
alone (what paying each copy, or paying a cluster one row's mean worth, cannot do: a model trained on four
copies leans on them, and each copy's influence falls). A genuinely new row, even near the same region, is
kept and earns. Where: a classifier's tabular rows (`gradient/`: the index manifest counts them,
`near_duplicate_rows`), ModelFactory's text rows (`finetune/dataset.py`: the preview lists each with the row
it repeats, a job's results count them, `rows_left_out`), and a language model's documents (`span/index.py`:
credited to the first of them). `payable datanet duplicates` shows a curator the same, before approving.

Thresholds, chosen from data and stated:
- Tabular rows (same label): features scaled by each feature's standard deviation over the snapshot
  (floored at the median deviation, so a near-constant feature cannot magnify noise), distance the
  root-mean-square difference per feature; near-duplicate within TABULAR_DISTANCE. On digits, wine and
  breast-cancer the closest genuine pairs of one label are 0.117, 0.193 and 0.093 apart - never merged -
  while copies with Gaussian noise of 0.05 standard deviations on every feature lie within 0.063 (and
  30-60% of those with 0.1). A fixed distance, not one relative to the snapshot's own spread: padding can
  crowd a snapshot's nearest-neighbour distances down, but cannot move this.
- Text rows: character 5-grams of the row's text (lower-cased, white space folded); near-duplicate at a
  Jaccard similarity of at least TEXT_JACCARD (found by MinHash with LSH bands, then checked exactly).
  Characters, not words: rows are short, and one changed word in a row of ten words leaves under half of
  its word 3-shingles. Measured on the project's fact rows (two domains, 36 rows each, every fact asked
  three ways with one answer) and Python Q&A rows (80): one randomly changed word is caught in 98-100%
  (facts) and 88% (Q&A) of rows; rows left out though nobody edited them: 0 and 2 of 36 facts rows
  (one fact's questions worded almost alike) and 5 of 80 Q&A rows (builtins that share a docstring,
  such as `IOError` and `OSError`, and `all`/`any`, which differ by one word: the price of catching
  light edits). At 0.5 on word 3-shingles, 6 and 5 facts rows were left out and the demo's adapters
  answered half as many questions right.
- Documents (token ids): TOKEN_SHINGLE-grams, near-duplicate at TOKEN_JACCARD: documents are longer,
  and a few changed tokens leave most of their 5-grams.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter

import numpy as np

TABULAR_DISTANCE = 0.075
TEXT_JACCARD = 0.7  # text rows
TOKEN_JACCARD = 0.5  # tokenized documents
SHINGLE = 5        # characters, in a text row
TOKEN_SHINGLE = 5  # token ids, in a tokenized document
MINHASH_BANDS, MINHASH_ROWS = 32, 2  # 64 hashes; a pair at Jaccard 0.5 shares a band with p > 0.9999
MAX_CHECKED = 32  # exact similarities computed per item, for the candidates sharing the most bands
BUCKET_CAP = 64  # kept items a band value lists
_PRIME = (1 << 32) - 5
_BLOCK = 2048


def distinct_rows(data):
    """A `gpu_worker.datasets.Snapshot` without its near-duplicate rows (see the module docstring)."""
    return data.subset(tabular_matches(data.features, data.labels) < 0)


def tabular_matches(features: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """For each tabular row, the nearest earlier row it is a near-duplicate of, or -1 (see the module
    docstring). Exact: all pairs, in blocks of rows, so its time grows with the square of the rows - a few
    seconds at ten thousand."""
    x = np.asarray(features, dtype=np.float64)
    labels = np.asarray(labels)
    n = len(x)
    if n < 2:
        return np.full(n, -1)
    sd = x.std(axis=0)
    floor = np.median(sd[sd > 0]) if np.any(sd > 0) else 1.0
    z = (x - x.mean(axis=0)) / np.maximum(sd, floor) / np.sqrt(x.shape[1])
    norms = (z * z).sum(1)
    matches = np.full(n, -1)
    for start in range(0, n, _BLOCK):
        rows = np.arange(start, min(n, start + _BLOCK))
        squared = norms[rows][:, None] + norms[None, :start + len(rows)] - 2 * z[rows] @ z[:start + len(rows)].T
        squared[(labels[rows][:, None] != labels[None, :start + len(rows)])] = np.inf
        squared[np.arange(len(rows))[:, None] <= np.arange(start + len(rows))[None, :] - start] = np.inf  # later
        nearest = squared.argmin(axis=1)
        found = squared[np.arange(len(rows)), nearest] <= TABULAR_DISTANCE ** 2
        matches[rows[found]] = nearest[found]
    return matches


def text_shingles(text: str) -> np.ndarray:
    """The hashes of a text's character SHINGLE-grams (lower-cased, runs of white space as one space)."""
    flat = re.sub(r"\s+", " ", text.lower()).strip()
    grams = {flat[i:i + SHINGLE] for i in range(max(1, len(flat) - SHINGLE + 1))}
    return np.array(sorted(int.from_bytes(hashlib.blake2b(g.encode(), digest_size=8).digest(), "big") % _PRIME
                           for g in grams), dtype=np.uint64)


def token_shingles(tokens: np.ndarray) -> np.ndarray:
    """The hashes of a token sequence's TOKEN_SHINGLE-grams (a polynomial hash of the ids, vectorised)."""
    ids = np.asarray(tokens, dtype=np.uint64)
    if len(ids) < TOKEN_SHINGLE:
        ids = np.concatenate([ids, np.zeros(TOKEN_SHINGLE - len(ids), dtype=np.uint64)])
    with np.errstate(over="ignore"):
        mixed = np.zeros(len(ids) - TOKEN_SHINGLE + 1, dtype=np.uint64)
        for j in range(TOKEN_SHINGLE):
            mixed = mixed * np.uint64(1_000_003) + ids[j:len(ids) - TOKEN_SHINGLE + 1 + j] + np.uint64(1)
    return np.unique(mixed % np.uint64(_PRIME))


def _signature(hashes: np.ndarray) -> np.ndarray:
    """MinHash: per universal hash (a·h + b) mod p, the least over the shingles (uint64, no overflow:
    a, b, h < p < 2^32)."""
    return ((_A[:, None] * hashes[None, :] + _B[:, None]) % np.uint64(_PRIME)).min(axis=1)


def _universal() -> tuple[np.ndarray, np.ndarray]:
    words = [hashlib.blake2b(b"payable/near-duplicates/minhash" + k.to_bytes(2, "big"), digest_size=8).digest()
             for k in range(MINHASH_BANDS * MINHASH_ROWS)]
    return (np.array([int.from_bytes(w[:4], "big") % (_PRIME - 1) + 1 for w in words], dtype=np.uint64),
            np.array([int.from_bytes(w[4:], "big") % _PRIME for w in words], dtype=np.uint64))


_A, _B = _universal()


def shingle_matches(sets: list[np.ndarray], threshold: float) -> np.ndarray:
    """For each item (its shingle hashes), the most similar earlier *kept* item (one that is no near-duplicate
    itself) whose Jaccard similarity is at least `threshold`, or -1: MinHash LSH bands find the candidates,
    the exact similarity decides. Only kept items enter the bands, and each item's exact checks go to the
    MAX_CHECKED candidates sharing the most bands with it (a near-duplicate at 0.7 shares ~16 of 32; a pair
    at 0.3, ~3): a file of thousands of near-identical rows is one kept row and its copies - linear, where
    checking every earlier similar row took minutes and gigabytes for one contribution. A band value shared
    by BUCKET_CAP kept items takes no more (rows of one small vocabulary crowd some bands): an item is found
    through its other bands, and only one crowded in all 32 could go unmatched."""
    buckets: dict[tuple[int, bytes], list[int]] = {}
    matches = np.full(len(sets), -1)
    for i, items in enumerate(sets):
        signature = _signature(items) if len(items) else np.zeros(MINHASH_BANDS * MINHASH_ROWS, dtype=np.uint64)
        keys = [(band, signature[band * MINHASH_ROWS:(band + 1) * MINHASH_ROWS].tobytes())
                for band in range(MINHASH_BANDS)]
        shared_bands = Counter(j for key in keys for j in buckets.get(key, ()))
        best, best_similarity = -1, threshold
        for j, _ in sorted(shared_bands.items(), key=lambda hit: (-hit[1], hit[0]))[:MAX_CHECKED]:
            shared = len(np.intersect1d(items, sets[j], assume_unique=True))
            similarity = shared / max(1, len(items) + len(sets[j]) - shared)
            if similarity > best_similarity or (similarity == best_similarity and 0 <= j < best) or \
                    (best < 0 and similarity >= threshold):
                best, best_similarity = j, similarity
        matches[i] = best
        if best < 0:  # kept: later items are checked against it, through its bands not yet crowded
            for key in keys:
                bucket = buckets.setdefault(key, [])
                if len(bucket) < BUCKET_CAP:
                    bucket.append(i)
    return matches


def text_matches(texts: list[str]) -> np.ndarray:
    """For each text row, the most similar earlier row it is a near-duplicate of (character 5-grams, Jaccard
    at least TEXT_JACCARD), or -1."""
    return shingle_matches([text_shingles(t) for t in texts], TEXT_JACCARD)


def token_matches(documents: list[np.ndarray]) -> np.ndarray:
    """For each tokenized document, the most similar earlier one it is a near-duplicate of (token
    TOKEN_SHINGLE-grams, Jaccard at least TOKEN_JACCARD), or -1."""
    return shingle_matches([token_shingles(d) for d in documents], TOKEN_JACCARD)
