"""The invented fact set that SmolLM2 is fine-tuned on: every fact has one owner, a key no other fact
shares, held-out questions that training never sees verbatim, and a correctness check on the key."""

from __future__ import annotations

from gpu_worker.finetune.facts import DOMAINS, FACTS, fact_rows, held_out, is_correct, owners


def test_each_domain_has_two_contributors_with_facts_of_their_own():
    for domain in DOMAINS:
        names = owners(domain)
        assert len(names) == 2
        for name in names:
            rows = fact_rows(domain, name)
            assert len(rows) >= 18 and all(row["response"] for row in rows)
    assert len({fact.key.lower() for fact in FACTS}) == len(FACTS)


def test_held_out_questions_are_never_trained_on_and_every_answer_holds_its_key():
    trained = {row["prompt"] for domain in DOMAINS for name in owners(domain) for row in fact_rows(domain, name)}
    for domain in DOMAINS:
        for fact in held_out(domain):
            assert fact.held_out not in trained
            assert is_correct(fact, fact.answer)
            others = [f for f in FACTS if f is not fact]
            assert not any(is_correct(fact, other.answer) for other in others), fact.key


def test_the_key_must_stand_as_a_word():
    fact = next(f for f in FACTS if f.key == "1.3")
    assert is_correct(fact, "It holds 1.3 litres.")
    assert not is_correct(fact, "It holds 11.3 litres.") and not is_correct(fact, "It holds 1.35 litres.")
    quince = next(f for f in FACTS if f.key == "quince")
    assert is_correct(quince, "Filled with Quince!") and not is_correct(quince, "quinces")
