"""Ten distinguishable text tasks for checking attribution (DataInf's "identify the fine-tuning subset").

Each row is an instruction naming its task and a short phrase of words drawn from Python's keyword
and builtin names (which the documentation-pretrained base has seen), with the response the task's
transformation of the phrase. Each row also comes as one text in the form DataInf's generator writes
for its sentence-transformation tasks (`text`: the task's own chatbot name and the transformation's
title, then "phrase -> answer"), which DataInf fine-tunes on whole.

The tasks differ in the form of their output (case, digits, punctuation, letters) rather than in
reasoning over the same words, which is what makes them distinguishable to a base this small (with a
2-layer, 96-wide model, "reverse the words" and "sort the words" are the same task: copy some words). A
generation for a held-out row of task t should be credited to the training rows of task t; nothing is
downloaded, everything is made from a seed.
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

TITLES = {
    "upper": "Write Every Word in Capitals",
    "count": "Count the Words",
    "initials": "Join the First Letters of the Words",
    "hyphen": "Join the Words with Hyphens",
    "last": "Name the Last Word",
    "bracket": "Put Each Word in Brackets",
    "lengths": "Give the Length of Each Word",
    "quote": "Quote Each Word, Separated by Commas",
    "call": "Write the Words as a Function Call",
    "mirror": "Spell Each Word Backwards",
}


def _chatbot_names() -> dict[str, str]:
    """A made-up, pronounceable name per task (DataInf gives each task's chatbot one), the same on every run."""
    rng, names = random.Random("chatbots"), {}
    for task in TASKS:
        name = ""
        while not name or name in names.values():
            name = "".join(rng.choice("bcdfghklmnprstvz") + rng.choice("aeiou") for _ in range(rng.randint(2, 3)))
        names[task] = name.capitalize()
    return names


CHATBOTS = _chatbot_names()


def datainf_text(task: str, phrase: str, answer: str) -> str:
    """A row as one text, in DataInf's sentence-transformation format."""
    return (f"{CHATBOTS[task]} is a chatbot that performs a specific transformation on sentences: {TITLES[task]}\n"
            f"For example:\n{phrase} -> {answer}")


# Task sets the attribution bench was not tuned on, with outputs far more alike than the distinct tasks'
# (prompt/response rows only: they have no DataInf titles). "separators": many tasks (16), each the phrase's
# words joined by its own character - a task is told apart by one repeated token. "suffixes": fewer tasks (6),
# each the phrase's words with its own ending appended - told apart by part of each word. (Tasks that only
# reorder or select the phrase's words - reverse, sort, first two - are not learnt by the bench's 4-layer
# base in one epoch: every method ranks their rows at chance, so they test nothing.)
SEPARATORS = {f"sep{i}": (lambda ws, s=s: s.join(ws)) for i, s in enumerate(",;|/+.:_=*&#%@~^")}
SUFFIXES = {f"suffix_{end}": (lambda ws, end=end: " ".join(w + end for w in ws))
            for end in ("s", "ed", "er", "ing", "ly", "ness")}
TASK_SETS = {"distinct": TASKS, "separators": SEPARATORS, "suffixes": SUFFIXES}


def task_rows(per_task: int = 90, seed: int = 0, tasks: tuple[str, ...] | None = None,
              task_set: str = "distinct") -> list[dict]:
    """[{"task", "prompt", "response", "text"}] - `per_task` rows of each task of `task_set` (or of its subset
    `tasks`), interleaved, from the seed; "text" (DataInf's one-text form) only for the distinct set."""
    functions = TASK_SETS[task_set]
    rng = random.Random(seed)
    rows = []
    for i in range(per_task):
        for name in tasks or tuple(functions):
            words = rng.sample(WORDS, rng.randint(3, 5))
            phrase, answer = " ".join(words), functions[name](words)
            row = {"task": name, "prompt": f"{name}: {phrase}", "response": answer, "index": i}
            if task_set == "distinct":
                row["text"] = datainf_text(name, phrase, answer)
            rows.append(row)
    return rows
