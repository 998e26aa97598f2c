"""Span attribution benchmark: our suffix-array index and credit rule next to infini-gram, one run.

A synthetic Zipf corpus (vocabulary 32k) of N tokens in documents owned by 20 contributors; 50
responses of 500 tokens mix sampled tokens with planted verbatim spans (8-40 tokens) copied from
known documents, most of them from one "primary" contributor per response. In the same run the
public infini-gram package's index is built over the same tokens (its wheel's `rust_indexing`; no
tokenizer, nothing downloaded) and asked the same questions.

Prints: build tokens/s, index bytes per token, n-gram count latency p50/p99, 500-token attribution
latency p50/p99, planted-span recall (spans >= 12 tokens), planted-contributor top-1 accuracy, and
agreement of counts with infini-gram on 1,000 random n-grams.

    python bench/span_attribution.py [--tokens 10000000]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gpu_worker.span.credit import CreditParams, attribute_spans  # noqa: E402
from gpu_worker.span.index import Document, SpanIndex, build_index  # noqa: E402

VOCAB = 32_000
CONTRIBUTORS = 20


def corpus(tokens: int, rng) -> list[np.ndarray]:
    probs = 1.0 / np.arange(1, VOCAB + 1) ** 1.1
    stream = rng.choice(VOCAB, size=tokens, p=probs / probs.sum()).astype(np.uint16)
    cuts = np.cumsum(rng.integers(100, 900, size=tokens // 100))
    cuts = cuts[cuts < tokens]
    return np.split(stream, cuts)


def responses(docs: list[np.ndarray], rng, count: int = 50, length: int = 500):
    probs = 1.0 / np.arange(1, VOCAB + 1) ** 1.1
    probs /= probs.sum()
    out = []
    for _ in range(count):
        primary = int(rng.integers(CONTRIBUTORS))
        own = [d for d in range(primary, len(docs), CONTRIBUTORS) if len(docs[d]) > 60]
        tokens, planted = [], []
        while len(tokens) < length:
            tokens += rng.choice(VOCAB, size=int(rng.integers(10, 40)), p=probs).tolist()
            doc = int(rng.choice(own)) if rng.random() < 0.7 else int(rng.integers(len(docs)))
            n = int(rng.integers(8, 41))
            if len(docs[doc]) <= n:
                continue
            s = int(rng.integers(0, len(docs[doc]) - n))
            planted.append((len(tokens), n, doc))
            tokens += docs[doc][s:s + n].tolist()
        tokens = tokens[:length]
        planted = [(s, n, d) for s, n, d in planted if s + n <= length]
        out.append((np.array(tokens), planted, primary))
    return out


def build_infinigram(docs: list[np.ndarray], work: Path) -> tuple[object, float, int]:
    import infini_gram
    from infini_gram.engine import InfiniGramEngine

    save = work / "infinigram"
    save.mkdir()
    offsets, parts, position = [], [], 0
    for doc in docs:
        raw = b"\xff\xff" + doc.astype("<u2").tobytes()
        offsets.append(position)
        parts.append(raw)
        position += len(raw)
    data = save / "tokenized.0"
    data.write_bytes(b"".join(parts))
    (save / "offset.0").write_bytes(np.array(offsets, dtype="<u8").tobytes())
    binary = Path(infini_gram.__file__).parent / "rust_indexing"
    size = data.stat().st_size
    ratio, jobs, hack = int(np.ceil(np.log2(size) / 8)), 2, 100_000
    step = size // jobs + (size // jobs) % 2
    parts, merged = work / "parts", work / "merged"
    parts.mkdir()
    merged.mkdir()
    common = ["--ratio", str(ratio), "--token-width", "2"]

    def run(*stage_args) -> None:
        done = subprocess.run([str(binary), *map(str, stage_args), *common], stdout=subprocess.DEVNULL)
        assert done.returncode == 0, f"infini-gram {stage_args[0]} failed"

    started = time.perf_counter()
    procs = [subprocess.Popen([str(binary), "make-part", "--data-file", str(data), "--parts-dir", str(parts),
                               "--start-byte", str(i * step), "--end-byte", str(min((i + 1) * step + hack, size)),
                               *common], stdout=subprocess.DEVNULL) for i in range(jobs)]
    assert all(p.wait() == 0 for p in procs), "infini-gram make-part failed"
    run("merge", "--data-file", data, "--parts-dir", parts, "--merged-dir", merged, "--num-threads", 2,
        "--hacksize", hack)
    run("concat", "--data-file", data, "--merged-dir", merged, "--merged-file", save / "table.0", "--num-threads", 2)
    build_s = time.perf_counter() - started
    shutil.rmtree(work / "parts", ignore_errors=True)
    shutil.rmtree(work / "merged", ignore_errors=True)
    index_bytes = sum(p.stat().st_size for p in save.iterdir())
    engine = InfiniGramEngine(index_dir=str(save), eos_token_id=65534, vocab_size=65535, version=4, token_dtype="u16")
    return engine, build_s, index_bytes


def percentiles(values: list[float]) -> dict:
    values = sorted(values)
    return {"p50": round(statistics.median(values), 3), "p99": round(values[int(0.99 * (len(values) - 1))], 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=10_000_000)
    parser.add_argument("--no-infinigram", action="store_true")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    docs = corpus(args.tokens, rng)
    total = sum(len(d) for d in docs)
    contributions = [(d, bytes([d % CONTRIBUTORS + 1]) * 32) for d in range(len(docs))]
    report = {"benchmark": "span_attribution", "corpus": {"tokens": total, "documents": len(docs),
                                                          "vocab": VOCAB, "contributors": CONTRIBUTORS}}
    with tempfile.TemporaryDirectory(prefix="payable-span-") as tmp:
        work = Path(tmp)
        started = time.perf_counter()
        index_hash = build_index((Document(d, i) for i, d in enumerate(docs)), contributions, work / "ours",
                                 vocab_size=VOCAB)
        build_s = time.perf_counter() - started
        index = SpanIndex(work / "ours", index_hash)
        ours_bytes = sum(p.stat().st_size for p in (work / "ours").iterdir())
        probes = []
        for _ in range(1000):
            n = int(rng.integers(1, 11))
            if rng.random() < 0.5:
                d = docs[int(rng.integers(len(docs)))]
                s = int(rng.integers(0, max(1, len(d) - n)))
                probes.append(d[s:s + n].tolist())
            else:
                probes.append(rng.integers(0, VOCAB, n).tolist())
        count_ms, ours_counts = [], []
        for probe in probes:
            t0 = time.perf_counter()
            ours_counts.append(index.count(probe))
            count_ms.append((time.perf_counter() - t0) * 1000)
        attribution_ms, recalled, planted_long, top1 = [], 0, 0, 0
        tests = responses(docs, rng)
        for tokens, planted, primary in tests:
            t0 = time.perf_counter()
            spans, credit, _ = attribute_spans(index, tokens, CreditParams(min_length=8, max_count=100))
            attribution_ms.append((time.perf_counter() - t0) * 1000)
            for s, n, _ in planted:
                if n >= 12:
                    planted_long += 1
                    recalled += any(k.start <= s and s + n <= k.start + k.length for k in spans)
            by_contributor = np.bincount(index.doc_contribution.astype(np.int64) % CONTRIBUTORS, weights=credit,
                                         minlength=CONTRIBUTORS)
            top1 += int(by_contributor.argmax()) == primary
        report["ours"] = {"build_tokens_per_s": round(total / build_s), "build_s": round(build_s, 2),
                          "index_bytes_per_token": round(ours_bytes / total, 3),
                          "count_ms": percentiles(count_ms), "attribution_500_tokens_ms": percentiles(attribution_ms),
                          "planted_span_recall_ge12": round(recalled / max(planted_long, 1), 4),
                          "planted_contributor_top1": round(top1 / len(tests), 3)}
        if not args.no_infinigram:
            engine, ig_build_s, ig_bytes = build_infinigram(docs, work)
            ig_counts, ig_count_ms = [], []
            for probe in probes:
                t0 = time.perf_counter()
                ig_counts.append(engine.count(input_ids=probe)["count"])
                ig_count_ms.append((time.perf_counter() - t0) * 1000)
            ig_attr_ms = []
            for tokens, _, _ in tests:
                t0 = time.perf_counter()
                engine.attribute(input_ids=tokens.tolist(), delim_ids=[], min_len=8, max_cnt=100, enforce_bow=False)
                ig_attr_ms.append((time.perf_counter() - t0) * 1000)
            agree = sum(a == b for a, b in zip(ours_counts, ig_counts, strict=True))
            report["infinigram"] = {"build_tokens_per_s": round(total / ig_build_s), "build_s": round(ig_build_s, 2),
                                    "index_bytes_per_token": round(ig_bytes / total, 3),
                                    "count_ms": percentiles(ig_count_ms),
                                    "attribution_500_tokens_ms": percentiles(ig_attr_ms)}
            report["counts_identical_to_infinigram"] = f"{agree}/{len(probes)}"
        index.close()
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
