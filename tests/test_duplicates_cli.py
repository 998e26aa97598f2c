"""`payable datanet duplicates`: a curator sees which rows of the live contributions are near-duplicates of
earlier rows - padding of one's own rows, lightly edited copies of someone else's, noisy copies of tabular
examples - and which rows are new, in a real node process."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from gpu_worker.finetune.facts import KETTLE, TOWN, fact_rows, owners
from payable.worker.v1 import worker_pb2 as wp

pytestmark = pytest.mark.e2e


def _cli(node, *args):
    done = subprocess.run([sys.executable, "-m", "cli", *args, "--node", node.target, "--json"], capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


def _edit(text: str) -> str:
    """One word changed: a light edit that keeps the row's information."""
    words = text.split(" ")
    words[len(words) // 2] = "very"
    return " ".join(words)


def test_padding_and_edited_copies_are_reported_and_new_rows_are_not(tmp_path, start_node):
    node = start_node("node", "--dev", "--instant-seal")
    node.client().close()  # serving
    def one_question_per_fact(domain):  # a fact's three questions share its answer: one piece of information
        return [r for who in owners(domain) for r in fact_rows(domain, who)][::3]

    town = one_question_per_fact(TOWN)
    mine, theirs, fresh = town[:8], town[8:], one_question_per_fact(KETTLE)[:6]
    files = {
        "bob.jsonl": mine,
        "bob-padding.jsonl": [{"prompt": r["prompt"], "response": _edit(r["response"])} for r in mine[:4]],
        "charlie.jsonl": [{"prompt": _edit(r["prompt"]), "response": r["response"]} for r in mine[4:6]] + fresh,
        "dave.jsonl": theirs,
    }
    _cli(node, "datanet", "create", "--name", "town", "--domain", "text", "--license", "CC0-1.0", "--deposit", "1",
         "--formats", "jsonl", "--from", "//Alice")
    for (name, lines), who in zip(files.items(), ("//Bob", "//Bob", "//Charlie", "//Dave"), strict=True):
        (tmp_path / name).write_text("\n".join(json.dumps(r) for r in lines))
        _cli(node, "datanet", "contribute", "1", str(tmp_path / name), "--format", "jsonl", "--from", who)
    _cli(node, "datanet", "approve", "1", "--from", "//Alice")
    _cli(node, "datanet", "reject", "4", "--reason", "1", "--from", "//Alice")  # rejected: not compared any more
    report = {c["contribution"]: c for c in _cli(node, "datanet", "duplicates", "1")["contributions"]}
    assert sorted(report) == [1, 2, 3]
    assert report[1]["rows"] == 8 and report[1]["status"] == "approved"
    assert [(d["row"], d["of_contribution"], d["of_row"]) for d in report[2]["near_duplicates"]] == \
        [(i, 1, i) for i in range(1, 5)]
    assert [(d["row"], d["of_contribution"], d["of_row"]) for d in report[3]["near_duplicates"]] == \
        [(1, 1, 5), (2, 1, 6)]  # the six fresh rows are not
    assert report[1]["near_duplicates"] == [] and report[3]["rows"] == 8


def test_noisy_copies_of_tabular_examples_are_reported(tmp_path, start_node):
    from sklearn.datasets import load_digits

    node = start_node("node", "--dev", "--instant-seal")
    node.client().close()  # serving
    digits = load_digits()
    x, y = (digits.data / 16.0).astype(np.float32), digits.target
    noisy = x[:10] + np.random.default_rng(0).normal(size=(10, 64)).astype(np.float32) * 0.05 * x[:200].std(axis=0)
    blobs = {"original": (x[:200], y[:200]), "copies": (np.concatenate([noisy, x[200:210]]), y[[*range(10),
                                                                                              *range(200, 210)]])}
    _cli(node, "datanet", "create", "--name", "digits", "--domain", "vision", "--license", "CC0-1.0", "--deposit",
         "1", "--formats", "npy", "--from", "//Alice")
    for (name, (features, labels)), who in zip(blobs.items(), ("//Bob", "//Charlie"), strict=True):
        dataset = wp.Dataset(contributions=[wp.Contribution(id=0, contributor=b"")])
        for row, label in zip(features, labels, strict=True):
            dataset.examples.add(features=row.tolist(), label=int(label))
        (tmp_path / name).write_bytes(dataset.SerializeToString())
        _cli(node, "datanet", "contribute", "1", str(tmp_path / name), "--format", "npy", "--from", who)
    report = _cli(node, "datanet", "duplicates", "1")["contributions"]
    assert [len(c["near_duplicates"]) for c in report] == [0, 10]
    assert [(d["row"], d["of_row"]) for d in report[1]["near_duplicates"]] == [(i, i) for i in range(1, 11)]


def test_thousands_of_near_identical_rows_are_one_kept_row_and_its_copies():
    """A contribution of thousands of lightly varied copies of one row: each is matched to the one kept row
    (only kept rows are candidates), so the check is linear - checking every earlier similar row took the
    worker minutes and gigabytes on 12k such rows while the studio waited - and a copy of a copy still
    names the row that is kept, the one its credit would have gone to."""
    import random

    from gpu_worker.near_duplicates import text_matches

    rng = random.Random(0)
    words = "Question: what time does the bakery on Mill Street open on Sundays? Answer: at seven.".split()
    rows = []
    for i in range(3000):
        varied = list(words)
        varied[rng.randrange(len(varied))] += str(i % 7)
        rows.append(" ".join(varied))
    matches = text_matches(rows)
    assert matches[0] == -1 and set(matches[1:].tolist()) == {0}
