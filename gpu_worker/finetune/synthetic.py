"""Ten distinguishable text tasks for checking attribution (DataInf's "identify the fine-tuning subset").

Each row is an instruction naming its task and a short phrase of words drawn from Python's keyword
and builtin names (which the documentation-pretrained base has seen), with the response the task's
transformation of the phrase. The tasks differ in the form of their output (case, digits, punctuation,
letters) rather than in reasoning over the same words, which is what makes them distinguishable to a
base this small (with a 2-layer, 96-wide model, "reverse the words" and "sort the words" are the same
task: copy some words). A generation for a held-out row of task t should be credited to the training
rows of task t; nothing is downloaded, everything is made from a seed.
"""

from __future__ import annotations

import builtins
import keyword
import random

WORDS = sorted({w for w in [*keyword.kwlist, *dir(builtins)] if w.isalpha() and w.islower() and 2 < len(w) < 9})

TASKS = {
    "upper": lambda ws: " ".join(w.upper() for w in ws),
    "count": lambda ws: f"{len(ws)} words",
    "initials": lambda ws: "".join(w[0] for w in ws),
    "hyphen": lambda ws: "-".join(ws),
    "last": lambda ws: f"last: {ws[-1]}",
    "bracket": lambda ws: " ".join(f"[{w}]" for w in ws),
    "lengths": lambda ws: " ".join(str(len(w)) for w in ws),
    "quote": lambda ws: ", ".join(f'"{w}"' for w in ws),
    "call": lambda ws: f"{ws[0]}({', '.join(ws[1:])})",
    "mirror": lambda ws: " ".join(w[::-1] for w in ws),
}


def task_rows(per_task: int = 90, seed: int = 0, tasks: tuple[str, ...] = tuple(TASKS)) -> list[dict]:
    """[{"task", "prompt", "response"}] - `per_task` rows of each task, interleaved, from the seed."""
    rng = random.Random(seed)
    rows = []
    for i in range(per_task):
        for name in tasks:
            words = rng.sample(WORDS, rng.randint(3, 5))
            rows.append({"task": name, "prompt": f"{name}: {' '.join(words)}", "response": TASKS[name](words),
                         "index": i})
    return rows
