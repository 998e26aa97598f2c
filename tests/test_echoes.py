"""Which answer tokens echo the prompt (gpu_worker/gradient/echoes.py): a copied word, whole or cut into
pieces by the tokenizer, echoes; what the answer adds around it (a separator, a suffix, another casing) does
not, nor does a single shared letter, a space or a special token."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gpu_worker.gradient.echoes import echoed, without_echoes
from gpu_worker.rows import IGNORE, Example, Row


def test_copied_words_echo_and_what_the_task_adds_does_not():
    prompt = "Question: sep0: list any filter pass\nAnswer: "
    pieces = [" ", "l", "ist", ",", "an", "y", ",", "f", "il", "ter", ",", "p", "ass", ""]
    assert echoed(prompt, pieces) == [False, True, True, False, True, True, False, True, True, True, False, True,
                                      True, False]  # the space and the end token (no text) never echo


def test_a_suffix_past_the_copied_word_and_another_casing_are_new():
    prompt = "suffix_s: list any pass"
    assert echoed(prompt, ["list", "s", " any", "s", " p", "as", "ss"]) == [True, False, True, False, True, True,
                                                                          False]  # "ss" ends past "pass"
    assert echoed("upper: list any", ["LIST", " ANY"]) == [False, False]


def test_short_shared_runs_are_not_echoes():
    assert echoed("a cat sat", ["a", "t"]) == [False, False]  # "at" is two characters: ordinary letters
    assert echoed("the cat", ["cat"], min_run=4) == [False]
    assert echoed("the cat", ["the cat"], min_run=4) == [True]
    assert echoed("", ["anything"]) == [False]


@given(st.text(max_size=40), st.lists(st.text(max_size=6), max_size=12))
def test_an_answer_copied_whole_echoes_wherever_it_has_text(prompt, pieces):
    answer = "".join(pieces)
    marks = echoed(prompt + answer, pieces)
    assert len(marks) == len(pieces)
    if len(answer) >= 3:  # all of it is in the prompt: every piece with visible text echoes
        assert marks == [any(not c.isspace() for c in p) for p in pieces]


@given(st.text(alphabet="abc ", max_size=40), st.lists(st.text(alphabet="xyz ", max_size=6), max_size=12))
def test_an_answer_sharing_no_letter_with_its_prompt_echoes_nothing(prompt, pieces):
    assert not any(echoed(prompt, pieces))  # runs of spaces may be shared, and spaces never echo


class _Pieces:
    """A tokenizer's decode over a fixed vocabulary (what `without_echoes` asks of one); id 0 is special."""

    VOCAB = ["<|end|>", "Question: ", "sep3: ", "list", " any", "\nAnswer:", " l", "ist", "/", "an", "y", "é"]

    def decode(self, ids, skip_special_tokens=False):
        return "".join(self.VOCAB[i] for i in ids if not (skip_special_tokens and i == 0))


def _example(prompt: list[int], answer: list[int]) -> Example:
    row = Row(1, bytes(32), 1, (("user", "p"), ("assistant", "a")))
    return Example(row, "", tuple(prompt + answer), tuple([IGNORE] * len(prompt) + answer))


def test_without_echoes_takes_the_echoing_answer_tokens_out_of_the_loss_alone():
    tokenizer = _Pieces()
    prompt = [1, 2, 3, 4, 5]  # "Question: sep3: list any\nAnswer:"
    example = _example(prompt, [6, 7, 8, 9, 10, 0])  # " list/any" then the end token
    taught = without_echoes(example, tokenizer)
    assert taught.input_ids == example.input_ids and taught.row == example.row
    assert taught.labels == tuple([IGNORE] * 5 + [IGNORE, IGNORE, 8, IGNORE, IGNORE, 0])  # "/" and the end stay
    assert without_echoes(_example(prompt, [8, 11, 0]), tokenizer) == _example(prompt, [8, 11, 0])  # none echo
    plain = Example(example.row, "", (3, 8, 3), (3, 8, 3))  # all labelled: no prompt to echo
    assert without_echoes(plain, tokenizer) is plain
    parrot = without_echoes(_example(prompt, [6, 7, 4]), tokenizer)  # nothing but the prompt's words
    assert parrot.trained_tokens == 0


def test_a_weighted_reading_weighs_the_echoes_alone_and_keeps_the_labels():
    from gpu_worker.gradient.echoes import weighted
    from gpu_worker.gradient.readings import READINGS, Reading

    tokenizer = _Pieces()
    example = _example([1, 2, 3, 4, 5], [6, 7, 8, 9, 10, 0])
    quarter = weighted(example, tokenizer, 0.25)
    assert quarter.labels == example.labels and quarter.input_ids == example.input_ids
    assert quarter.weights == (1.0,) * 5 + (0.25, 0.25, 1.0, 0.25, 0.25, 1.0)  # the prompt's weights count for nothing
    assert Reading(False, 0.25).read(example, tokenizer) == quarter
    assert Reading(False).read(example, tokenizer) is example and Reading(True).read(example, tokenizer) is example
    plain = Example(example.row, "", (3, 8, 3), (3, 8, 3))
    assert weighted(plain, tokenizer, 0.25).weights == (1.0, 1.0, 1.0)
    assert [r.name for r in READINGS] == ["token", "plain", "echoes_0.5", "echoes_0.25", "token_echoes_0.5",
                                          "token_echoes_0.25"]
    assert Reading(True, 0.25).read(example, tokenizer) == quarter  # token normalisation is the loss's, not here
    with pytest.raises(ValueError, match="a weight per label"):
        Example(example.row, "", example.input_ids, example.labels, weights=(1.0,) * 3)
    with pytest.raises(ValueError, match="a label per token"):
        Example(example.row, "", example.input_ids, example.labels[:-1])
    for bad, reason in (((False, 1.5), "within 0..1"), ((False, -0.1), "within 0..1"), ((True, 2.0), "within 0..1")):
        with pytest.raises(ValueError, match=reason):
            Reading(*bad)
