"""Echoes: the answer tokens that repeat the prompt, which an index's reading may weigh less (`readings`).

A reply that copies the user's words ("sep0: list any filter" -> "list,any,filter") takes the words from the
prompt; what tells one task's rows from another's is mostly what the answer adds around them (the separator,
the suffix, the casing - though a suffix the prompt spells in the task's name, `ing` of "suffix_ing: ...",
echoes too). The copied tokens hold most of an answer's loss, hence most of its gradient, and their
gradients match every row holding the same words whatever its task: on the response-only task sets the
LoRA-gradient read without them identified a held-out row's task far better (row AUC separators 0.80 ->
0.96, suffixes 0.88 -> 0.92, distinct 0.91 -> 0.94 in one run), but predicted the retrained loss of the whole
answer worse, and on generations it was no better: which words a task copies, and where, is itself what its
rows taught ("last: except" copies the last word), and a weak model's half-right answers lose the copying
that marks their task (tests' tiny model: the own task on top for 5 of 10 generations, 9 of 10 reading
every token). So an echo is weighed down, not left out (`weighted`; the weights an index may choose are
`readings.READINGS`'), and `without_echoes` gives the loss of what an answer adds (the bench's `lds_taught`).

A token echoes when every visible character of it lies in a run of at least `MIN_RUN` characters that
also occurs in the prompt's text (case-sensitive, special tokens not text). Three characters catch a
copied short word ("any") and a copied word cut into pieces by the tokenizer ("l" + "ist" of "list"),
while a single shared letter or a separator between copied words is not an echo. Tokens with nothing
visible (an end-of-turn token, a space) never echo.
"""

from __future__ import annotations

from dataclasses import replace

from ..rows import IGNORE, Example

MIN_RUN = 3  # characters a copied run needs: shorter shared runs are ordinary letters, not a copy


def echoed(prompt: str, pieces: list[str], min_run: int = MIN_RUN) -> list[bool]:
    """Per piece of the answer (its tokens' text, in order): whether it echoes `prompt` (the rule above)."""
    text = "".join(pieces)
    covered = [False] * len(text)
    for start in range(len(text) - min_run + 1):  # a longer shared run is covered by its min_run windows
        if text[start:start + min_run] in prompt:
            covered[start:start + min_run] = [True] * min_run
    out, at = [], 0
    for piece in pieces:
        visible = [covered[at + i] for i, c in enumerate(piece) if not c.isspace()]
        out.append(bool(visible) and all(visible))
        at += len(piece)
    return out


def echo_positions(example: Example, tokenizer, min_run: int = MIN_RUN) -> set[int]:
    """The positions of the example's answer tokens that echo its prompt - its unlabelled tokens, template
    included. None in an example whose loss covers all of it (a plain text row has no prompt to echo). Each
    token is decoded alone: a character split over two tokens reads as U+FFFD, which never echoes."""
    prompt = tokenizer.decode([t for t, label in zip(example.input_ids, example.labels, strict=True)
                               if label == IGNORE], skip_special_tokens=True)
    answer = [i for i, label in enumerate(example.labels) if label != IGNORE]
    if not prompt or not answer:
        return set()
    pieces = [tokenizer.decode([example.labels[i]], skip_special_tokens=True) for i in answer]
    return {i for i, echo in zip(answer, echoed(prompt, pieces, min_run), strict=True) if echo}


def without_echoes(example: Example, tokenizer, min_run: int = MIN_RUN) -> Example:
    """The example with its echoing answer tokens out of the loss (labels IGNORE there): the loss of what the
    answer adds to its prompt (bench/lora_attribution.py's `lds_taught`). One with nothing echoed comes back
    unchanged; an answer that only echoes (no end token to keep) comes back with nothing labelled."""
    masked = echo_positions(example, tokenizer, min_run)
    if not masked:
        return example
    return replace(example, labels=tuple(IGNORE if i in masked else label for i, label in enumerate(example.labels)))


def weighted(example: Example, tokenizer, weight: float) -> Example:
    """The example with each echoing answer token's loss counting `weight` in its gradient (`Example.weights`;
    every other token 1): how an index reading echoes at a lower weight reads a row and a query alike."""
    echoes = echo_positions(example, tokenizer)
    return replace(example, weights=tuple(weight if i in echoes else 1.0 for i in range(len(example.labels))))
