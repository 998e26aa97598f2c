"""Attribution of adapter generations to fine-tuning rows: on ten distinguishable synthetic tasks, a LoRA
fine-tuned on all of them credits each task's generations to that task's rows; the index is rebuilt to the
same bytes; DataInf's closed form is the inverse it approximates when the rows are few."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("peft")

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("cpu-heavy")]


@pytest.fixture(scope="module")
def tuned(tiny_base, tmp_path_factory):
    from peft import PeftModel

    from gpu_worker.finetune.config import TrainingConfig
    from gpu_worker.finetune.dataset import DatasetSpec, Row, render
    from gpu_worker.finetune.synthetic import TASKS, task_rows
    from gpu_worker.finetune.trainer import load_base, train

    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("lora-attribution")
    base, tokenizer = load_base(tiny_base)
    spec = DatasetSpec(snapshots=((1, 1),), template="qa")
    names = list(TASKS)
    rows = task_rows(12, seed=0)

    def example(r, line):  # each task is one contribution (id = its position + 1), by its own contributor
        task = names.index(r["task"])
        return render(spec, Row(task + 1, bytes([task]) * 32, line, (("user", r["prompt"]), ("assistant",
                                                                                          r["response"]))),
                      tokenizer, 128)

    examples = [example(r, i + 1) for i, r in enumerate(rows)]
    config = TrainingConfig(base_model="00" * 32, dataset=spec, max_steps=400, batch_size=8, learning_rate=3e-3,
                            checkpoint_every=1000, eval_every=1000, seed=2)
    outcome = train(config, base, tokenizer, examples, [], root / "job", report=lambda point: None)
    model = PeftModel.from_pretrained(load_base(tiny_base)[0], outcome.adapter_dir).eval()
    held = [example(r, 10_000 + i) for i, r in enumerate(task_rows(1, seed=9))]
    return {"model": model, "tokenizer": tokenizer, "train": examples, "held": held, "root": root,
            "config": config, "names": names, "base_dir": tiny_base}


def _generate(model, tokenizer, example, new_tokens: int = 16) -> tuple[list[int], list[int]]:
    prompt = [t for t, label in zip(example.input_ids, example.labels, strict=True) if label == -100]
    with torch.no_grad():
        out = model.generate(input_ids=torch.tensor([prompt]), attention_mask=torch.ones(1, len(prompt),
                                                                                          dtype=torch.long),
                             max_new_tokens=new_tokens, do_sample=False, pad_token_id=tokenizer.pad_token_id,
                             eos_token_id=tokenizer.eos_token_id)
    return prompt, out[0, len(prompt):].tolist()


def test_generations_are_credited_to_the_rows_of_their_own_task(tuned):
    from gpu_worker.adapter_index import AdapterIndex, IndexSpec, build_adapter_index
    from gpu_worker.finetune.dataset import IGNORE, Example
    from gpu_worker.results import credit_shares

    model, tokenizer, rows = tuned["model"], tuned["tokenizer"], tuned["train"]  # 400 steps: the tasks are learnt
    build_adapter_index(model, tokenizer, rows, tuned["held"][:4], tuned["root"] / "index", IndexSpec(),
                        tuned["config"].learning_rate)
    index = AdapterIndex(tuned["root"] / "index")
    assert index.method == "span+lora-gradient" and index.span_weight == 0.5
    task_of_row = np.array([e.row.contribution_id for e in rows])
    own_share, top_hits = [], 0
    for task, example in enumerate(tuned["held"], start=1):
        prompt, output = _generate(model, tokenizer, example)
        query = Example(example.row, "", tuple(prompt + output), tuple([IGNORE] * len(prompt) + output))
        credit = index.credit(index.prepare(model), tokenizer, query, output)
        assert 0 < credit.paid_fraction <= 1 and credit.rows.min() >= 0
        by_task = np.array([credit.rows[task_of_row == t].sum() for t in range(1, 11)])
        own_share.append(by_task[task - 1] / by_task.sum())
        top_hits += int(by_task.argmax() == task - 1)
        shares = credit_shares(credit.rows, index.row_contribution, 16, credit.paid_fraction)
        assert sum(p for _, p in shares.listed + shares.tail) == round(min(1.0, credit.paid_fraction) * 1e9)
    assert top_hits >= 8, f"own task on top for {top_hits}/10 generations; shares {np.round(own_share, 2)}"
    assert np.mean(own_share) > 0.25  # a uniform split would give each task 0.1


def test_the_index_is_rebuilt_to_the_same_bytes_and_refuses_a_foreign_layout(tuned):
    from gpu_worker.adapter_index import AdapterIndex, IndexSpec, build_adapter_index
    from sdk.artifacts import ATTRIBUTION_INDEX, directory_hash

    spec = IndexSpec(method="lora-gradient")
    hashes = []
    for name in ("a", "b"):
        meta = build_adapter_index(tuned["model"], tuned["tokenizer"], tuned["train"][:40], tuned["held"][:3],
                                   tuned["root"] / f"rebuild-{name}", spec, 1e-3)
        hashes.append(directory_hash(tuned["root"] / f"rebuild-{name}", ATTRIBUTION_INDEX))
    assert hashes[0] == hashes[1]
    evidence = meta["gradient"]["damping"]
    assert [evidence["damping"], evidence["power"]] in evidence["candidates"]
    index = AdapterIndex(tuned["root"] / "rebuild-a")
    index.meta["gradient"]["modules"][0][1] += 1
    with pytest.raises(ValueError, match="another adapter layout"):
        index.gradient_scores(index.prepare(tuned["model"]), tuned["tokenizer"], tuned["held"][0])
    with pytest.raises(ValueError, match="at least one layer"):  # refused before anything is written
        IndexSpec(method="lora-gradient", gradient_layers=0)
    with pytest.raises(ValueError, match="unknown attribution method"):
        IndexSpec(method="vibes")
    with pytest.raises(FileExistsError):
        build_adapter_index(tuned["model"], tuned["tokenizer"], tuned["train"][:5], [], tuned["root"] / "rebuild-a",
                            spec, 1e-3)


def test_rows_computed_with_bfloat16_base_layers_score_as_float32_ones_and_queries_must_match(tuned):
    """An index computed with the base layers held in bfloat16 (the default where the hardware multiplies it
    natively) scores rows as the float32 computation does, a query must be computed in the index's
    precision, and preparing a model for it leaves the caller's model as it was."""
    from gpu_worker.adapter_index import AdapterIndex, IndexSpec, build_adapter_index
    from gpu_worker.frozen_base import base_dtype

    model, tokenizer = tuned["model"], tuned["tokenizer"]
    indexes = {}
    for dtype in ("float32", "bfloat16"):
        build_adapter_index(model, tokenizer, tuned["train"][:40], [], tuned["root"] / f"precision-{dtype}",
                            IndexSpec(method="lora-gradient", gradient_method="grad_dot", base_dtype=dtype), 1e-3)
        indexes[dtype] = AdapterIndex(tuned["root"] / f"precision-{dtype}")
    low = indexes["bfloat16"]
    assert low.base_dtype == "bfloat16" and indexes["float32"].base_dtype == "float32"
    with pytest.raises(ValueError, match="query a model the index has prepared"):
        low.gradient_scores(model, tokenizer, tuned["held"][0])
    prepared = low.prepare(model)
    assert base_dtype(prepared) == "bfloat16" and base_dtype(model) == "float32"
    laid_out = indexes["float32"].prepare(model)  # float32 base layers, the head transposed
    assert indexes["float32"].prepare(laid_out) is laid_out and laid_out is not model
    factors = [p for n, p in model.named_parameters() if "lora_" in n]
    copied = [p for n, p in prepared.named_parameters() if "lora_" in n]
    assert all(torch.equal(p, q) and p.data_ptr() != q.data_ptr() for p, q in zip(factors, copied, strict=True))
    assert prepared.get_input_embeddings().weight is model.get_input_embeddings().weight  # shared, not copied
    for query in tuned["held"][:5]:
        gain32, scores32 = indexes["float32"].gradient_scores(laid_out, tokenizer, query)
        gain16, scores16 = low.gradient_scores(prepared, tokenizer, query)
        assert abs(gain32 - gain16) < 0.01
        assert np.corrcoef(scores32, scores16)[0, 1] > 0.999 and scores32.argmax() == scores16.argmax()


def test_datainf_is_the_inverse_it_approximates_when_one_row_dominates():
    """Sherman-Morrison: with one row, DataInf's swap of inverse and average is exact."""
    from gpu_worker.gradient.lora_influence import DATAINF_DAMPING, datainf_operator

    rng = np.random.default_rng(0)
    phi = rng.standard_normal((1, 6))
    lam = DATAINF_DAMPING * float((phi ** 2).sum()) / 6
    exact = np.linalg.inv(phi.T @ phi + lam * np.eye(6))
    np.testing.assert_allclose(datainf_operator(phi, 6), exact, rtol=1e-9, atol=1e-12)


def test_the_paid_engine_attributes_each_adapter_with_its_own_factors(tuned, tmp_path):
    """The worker's attributor keeps one PEFT slot per adapter configuration and copies the queried adapter's
    factors into it: each signed result must be what a model holding only that adapter gives."""
    import safetensors.torch
    from peft import PeftModel

    from gpu_worker.adapter_index import AdapterIndex, IndexSpec, build_adapter_index
    from gpu_worker.finetune.dataset import IGNORE, Example
    from gpu_worker.finetune.trainer import load_base
    from gpu_worker.lora.adapters import adapter_hash
    from gpu_worker.lora.engine import LoRAEngine
    from gpu_worker.paid import Attributor, PaidEngine, ReadAuthenticator, Served, ServedModels, StreamRegistry
    from gpu_worker.results import MAX_LISTED, credit_shares
    from payable.attribution.v1 import attribution_pb2 as at
    from payable.inference.v1 import inference_pb2 as inf
    from payable.modelregistry.v1 import modelregistry_pb2 as mr
    from runtime.crypto import Keypair

    tokenizer, first = tuned["tokenizer"], tuned["root"] / "job" / "adapter"
    second = tmp_path / "second"
    second.mkdir()
    (second / "adapter_config.json").write_bytes((first / "adapter_config.json").read_bytes())
    tensors = safetensors.torch.load_file(first / "adapter_model.safetensors")
    safetensors.torch.save_file({k: -v if "lora_B" in k else v for k, v in tensors.items()},
                                second / "adapter_model.safetensors")
    build_adapter_index(tuned["model"], tokenizer, tuned["train"][:30], [], tmp_path / "index",
                        IndexSpec(method="lora-gradient"), 1e-3)
    index = AdapterIndex(tmp_path / "index")
    lora = LoRAEngine("cpu")
    attributor = Attributor(lora.cache, "cpu")
    eve = Keypair.from_uri("//Eve")
    engine = PaidEngine(eve, lora, ServedModels(tmp_path / "worker" / "paid", eve, lora, attributor.load), attributor,
                        StreamRegistry(), ReadAuthenticator())
    served = []
    for directory in (first, second):
        key = adapter_hash((directory / "adapter_config.json").read_bytes(),
                           (directory / "adapter_model.safetensors").read_bytes())
        lora.cache.register(directory, key)
        served.append(Served(b"b" * 32, key, tokenizer, "qa", index, tuned["base_dir"], directory))
    example = tuned["held"][0]
    prompt = [t for t, label in zip(example.input_ids, example.labels, strict=True) if label == IGNORE]
    output = [t for t in example.labels if t != IGNORE]
    query = Example(example.row, "", tuple(prompt + output), tuple([IGNORE] * len(prompt) + output))
    request = inf.Request(id=1, input_hash=bytes(32))
    record = mr.Model(artifact_hash=bytes(32), attribution_index_hash=bytes(32), attribution_method=mr.LORA_GRADIENT)
    found = []
    for which in (1, 0, 1):  # back and forth through the shared slot
        signed = engine.attribute(served[which], request, record, prompt, output, request.draw_seed)
        got = [(c.contribution_id, c.score_ppb) for c in at.AttributionResult.FromString(signed.result).top_k]
        alone = PeftModel.from_pretrained(load_base(tuned["base_dir"])[0], (first, second)[which]).eval()
        alone = index.prepare(alone)
        credit = index.credit(alone, tokenizer, query, output)
        want = credit_shares(credit.rows, index.row_contribution, MAX_LISTED, credit.paid_fraction)
        assert got == [(index.contributions[c][0], ppb) for c, ppb in want.listed]
        found.append(got)
    assert found[0] == found[2] != found[1]  # the two adapters (B negated) credit differently
    lora.close()


def test_the_damping_check_credits_the_rows_its_retrains_drew_and_restores_the_adapter(tuned):
    """The damping choice predicts each short retrain's loss change from the rows that retrain actually
    trained on (a few batches of its half), so it must report them - only rows of the half, as often as
    drawn - and leave the published adapter as it was."""
    from gpu_worker.gradient import damping
    from gpu_worker.gradient.lora_influence import trainable

    model, rows = tuned["model"], tuned["train"][:40]
    half = np.arange(0, 40, 2)
    with trainable(model) as params:
        before = [p.detach().clone() for p in params]
    losses, drawn = damping._retrained_losses(model, "default", rows, half, tuned["held"][:3],
                                              tuned["tokenizer"].pad_token_id, 1e-3, seed=5,
                                              steps=damping.ADAPTER_STEPS)
    assert drawn.sum() == damping.ADAPTER_STEPS * damping.ADAPTER_BATCH and drawn[1::2].sum() == 0
    assert np.isfinite(losses).all() and len(losses) == 3
    with trainable(model) as params:
        assert all(torch.equal(p, q) for p, q in zip(params, before, strict=True))


def test_the_damping_check_retrains_on_no_more_rows_than_the_fine_tune_did():
    """Publishing on a large base must not cost several trainings: the check's retrains shrink to the job's
    own rows trained on (steps x batch), never below MIN_ADAPTER_STEPS, and a bench without a budget keeps
    the full check."""
    from gpu_worker.gradient import damping

    per_step = damping.ADAPTER_SUBSETS * damping.ADAPTER_BATCH
    assert damping.retrain_steps(None) == damping.ADAPTER_STEPS
    assert damping.retrain_steps(10_000) == damping.ADAPTER_STEPS
    assert damping.retrain_steps(45 * 4) == 45 * 4 // per_step < damping.ADAPTER_STEPS
    assert damping.retrain_steps(1) == damping.MIN_ADAPTER_STEPS


def test_a_reply_the_rows_did_not_teach_earns_the_contributors_nothing(tuned):
    """Boilerplate earns nothing: gradient influence always finds *some* rows most aligned with any output,
    so the contributors' pool is paid only in the share of the output's information the fine-tune
    supplied. A stock sentence the base knows from its pretraining (Python's docs), which no row taught,
    pays ~0; a held-out answer of a learnt task pays a real share."""
    from gpu_worker.adapter_index import AdapterIndex, IndexSpec, build_adapter_index
    from gpu_worker.finetune.dataset import IGNORE, Example
    from gpu_worker.gradient.lora_influence import fine_tune_gain

    model, tokenizer, held = tuned["model"], tuned["tokenizer"], tuned["held"]
    build_adapter_index(model, tokenizer, tuned["train"][:40], held[:3], tuned["root"] / "boilerplate",
                        IndexSpec(), tuned["config"].learning_rate)
    index = AdapterIndex(tuned["root"] / "boilerplate")
    prepared = index.prepare(model)

    def credit(example, output):
        prompt = [t for t, label in zip(example.input_ids, example.labels, strict=True) if label == IGNORE]
        query = Example(example.row, "", tuple(prompt + output), tuple([IGNORE] * len(prompt) + output))
        return fine_tune_gain(model, query, tokenizer.pad_token_id), index.credit(prepared, tokenizer, query, output)

    for reply in ("Return the number of items in a container.", "Return True if the object is callable."):
        output = tokenizer.encode(reply + tokenizer.eos_token, add_special_tokens=False)
        for example in held[:3]:
            gain, found = credit(example, output)
            assert gain < 0.02 and found.paid_fraction < 0.02 and found.rows.sum() < 0.02, (reply, gain)
    taught = [credit(e, [t for t in e.labels if t != IGNORE]) for e in held]  # one held-out row per task
    gains = [round(gain, 3) for gain, _ in taught]
    assert np.mean(gains) > 0.2 and sum(found.paid_fraction > 0.05 for _, found in taught) >= 7, gains


def test_what_pays_is_the_best_identifier_that_predicts_retrains_and_effects_take_the_best_lds_at_the_root():
    """Two uses, two settings. What pays is identification: among (reading, damping, power) settings whose check
    LDS is above zero by more than its standard error, the one that best finds its rows' own contribution -
    not a better identifier that the check cannot show predicts anything; with none above, identification
    alone. Without contributions to tell apart, the largest damping among them (the most conservative);
    ties go to the larger damping, then the smaller power, then the reading ranked first (keys are (its rank
    in readings.READINGS, damping, power)). What predicts effects is the best LDS at power 1/2, whatever
    identifies."""
    from gpu_worker.gradient.damping import _choose, _most_predictive

    keys = [(0, 0.1, 1.0), (0, 10.0, 1.0), (0, 1000.0, 1.0), (1, 0.1, 0.5), (1, 10.0, 0.5)]
    lds, errors = [0.45, 0.42, 0.03, 0.44, 0.41], [0.05] * 5
    assert keys[_choose(keys, lds, errors, [0.78, 0.84, 0.95, 0.80, 0.86])] == (1, 10.0, 0.5)  # 0.95: no LDS
    assert keys[_choose(keys, lds, errors, [0.78, 0.88, 0.95, 0.80, 0.86])] == (0, 10.0, 1.0)
    assert keys[_choose(keys, lds, errors, [0.78, 0.86, 0.95, 0.80, 0.86])] == (1, 10.0, 0.5)  # a tie: the root
    assert keys[_choose(keys, lds, errors, [np.nan] * 5)] == (1, 10.0, 0.5)  # no identification: largest c, root
    assert keys[_choose(keys, lds, [0.0] * 5, [0.78, 0.84, 0.95, 0.80, 0.86])] == (0, 1000.0, 1.0)  # no doubt
    assert keys[_choose(keys, [-0.1] * 5, errors, [0.78, 0.84, 0.95, 0.80, 0.86])] == (0, 1000.0, 1.0)  # none
    with_cosine = keys + [(2, 0.0, 1.0)]  # no curvature at all: the most conservative setting of all
    assert with_cosine[_choose(with_cosine, lds + [0.3], errors + [0.05], [np.nan] * 6)] == (2, 0.0, 1.0)
    assert with_cosine[_choose(with_cosine, lds + [0.3], errors + [0.05], [0.78, 0.86, 0.9, 0.8, 0.86, 0.86])] \
        == (2, 0.0, 1.0)  # ties with (0, 10.0) and (1, 10.0) at identification
    assert keys[_most_predictive(keys, lds)] == (1, 0.1, 0.5)  # the best LDS at power 1 is not a candidate
    assert keys[_most_predictive(keys, [0.45, 0.42, 0.03, 0.41, 0.41])] == (1, 10.0, 0.5)  # a tie: larger c
    assert with_cosine[_most_predictive(with_cosine, lds + [0.5])] == (2, 0.0, 1.0)  # cosine: any power's
    twins = [(0, 10.0, 0.5), (1, 10.0, 0.5)]  # the same c and power, two readings: the one ranked first
    assert twins[_choose(twins, [0.4, 0.4], [0.05, 0.05], [0.9, 0.9])] == (0, 10.0, 0.5)
    assert twins[_most_predictive(twins, [0.4, 0.4])] == (0, 10.0, 0.5)
    # one query's correlation shows nothing: its standard error is unknown, so the other setting pays
    assert twins[_choose(twins, [0.4, 0.3], [np.nan, 0.05], [0.95, 0.9])] == (1, 10.0, 0.5)


def test_leave_one_out_identification_asks_rows_that_have_a_contribution_to_find():
    from gpu_worker.gradient.damping import ADAPTER_IDENTIFY_QUERIES, _identification, _identification_sample

    assert len(_identification_sample(np.zeros(50, dtype=int), 0)) == 0  # one contribution: nothing to tell apart
    assert len(_identification_sample(np.arange(50), 0)) == 0  # every row alone
    contribution = np.array([0] * 30 + [1] * 30 + [2] * 60 + [3])
    sample = _identification_sample(contribution, 0)
    assert len(sample) == ADAPTER_IDENTIFY_QUERIES and 120 not in sample
    np.testing.assert_array_equal(sample, _identification_sample(contribution, 0))  # from the seed
    rng = np.random.default_rng(1)
    directions = rng.standard_normal((4, 32))
    rows = directions[contribution] + 0.3 * rng.standard_normal((len(contribution), 32))
    assert _identification(rows, rows[sample], sample, contribution) > 0.99
    assert abs(_identification(rows, rows[sample], sample, rng.permutation(contribution)) - 0.5) < 0.1
    assert np.isnan(_identification(rows, rows[:0], sample[:0], contribution))


def test_the_index_records_and_uses_the_setting_its_rule_chose(tuned):
    """The index holds the rows' features of the chosen reading and damping, records both with the evidence
    (LDS, its standard error and identification per setting) and the sketch's size, and a query is read and
    sketched the same way."""
    from gpu_worker.adapter_index import AdapterIndex, IndexSpec, build_adapter_index, sketch_dims
    from gpu_worker.gradient import lora_influence as influence
    from gpu_worker.gradient import readings
    from gpu_worker.gradient.damping import ADAPTER_SETTINGS, _choose, _most_predictive

    model, tokenizer, rows = tuned["model"], tuned["tokenizer"], tuned["train"]
    meta = build_adapter_index(model, tokenizer, rows, tuned["held"][:6], tuned["root"] / "chosen",
                               IndexSpec(method="lora-gradient"), tuned["config"].learning_rate)
    evidence, k = meta["gradient"]["damping"], meta["gradient"]["k"]
    assert evidence["identify_queries"] == 64 and evidence["kinds"] == [r.name for r in readings.READINGS]
    assert k == sketch_dims(len(meta["gradient"]["modules"])) > 64  # a small adapter: larger sketches per module
    assert evidence["candidates"] == [[c, p] for c, p in ADAPTER_SETTINGS]
    assert {p for _, p in ADAPTER_SETTINGS} == {1.0, 0.5}  # the Fisher's inverse and its inverse square root
    keys = [(rank, c, p) for rank in range(len(evidence["kinds"])) for c, p in evidence["candidates"]]
    flat = {name: [v for kind in evidence["kinds"] for v in evidence[name][kind]]
            for name in ("lds", "lds_se", "identification")}
    rank, damping, power = keys[_choose(keys, flat["lds"], flat["lds_se"], flat["identification"])]
    reading = readings.READINGS[rank]
    assert (reading.token_normalized, reading.echo_weight, damping, power) == (
        evidence["token_normalized"], evidence["echo_weight"], evidence["damping"], evidence["power"])
    rank, effect_damping, effect_power = keys[_most_predictive(keys, flat["lds"])]
    effect = meta["gradient"]["effect"]
    assert effect_power == 0.5 or effect_damping == 0.0  # the root, or cosine (no curvature: any power's)
    assert (effect["token_normalized"], effect["echo_weight"], effect["damping"], effect["power"]) == (
        readings.READINGS[rank].token_normalized, readings.READINGS[rank].echo_weight, effect_damping,
        effect_power)
    assert effect == evidence["effect"] | {"contributions": effect["contributions"], "queries": 6, "held_out": True}
    index = AdapterIndex(tuned["root"] / "chosen")
    params = index.params()
    assert (params["token_normalized"], params["echo_weight"], params["damping"], params["power"], params["k"]) == (
        reading.token_normalized, reading.echo_weight, damping, power, k)
    layout, blocks = readings.projections(index.prepare(model), tokenizer, rows, tokenizer.pad_token_id, k, 0,
                                          "default", [reading])
    want = influence.row_features(
        blocks[reading], influence.operators(blocks[reading], layout, "ours", damping, power), "ours")
    np.testing.assert_allclose(index.features, want.astype(np.float32), rtol=1e-5, atol=1e-6)
    # the effect setting's prediction for the six held-out rows (one each of the first six tasks): signed shares
    # whose magnitudes sum to one, largest for the tasks asked about - whose rows teach what those rows answer
    shares = np.array(effect["contributions"])
    assert len(shares) == len(index.contributions) == 10 and abs(np.abs(shares).sum() - 1) < 1e-4
    asked = list(range(6))  # the held-out rows come in task order, and task i is contribution i + 1, the i-th
    assert shares[asked].mean() > shares[6:].mean() and int(np.argmax(shares)) in asked, shares


@pytest.mark.parametrize("token_normalized", [False, True])
@pytest.mark.parametrize("weight", [0.25, 0.5])
def test_an_echo_reading_mixed_from_two_passes_is_the_weighted_loss_read_directly(tuned, weight, token_normalized):
    """An index's rows under an echo reading are mixed from the pass reading every token and the pass without
    echoes (the gradient is linear in the tokens' weights; token normalisation's scales are held constant); a
    query is read with its weights in one pass. Both must be the gradient of the same loss: each row's mixed
    sketch is the directly weighted pass's to float32's rounding, and not the every-token one where the row's
    answer echoes its prompt (that one's where it does not)."""
    from gpu_worker.gradient import lora_influence as influence
    from gpu_worker.gradient import readings
    from gpu_worker.gradient.echoes import echo_positions

    model, tokenizer, rows = tuned["model"], tuned["tokenizer"], tuned["train"][:24]
    echoing = np.array([bool(echo_positions(e, tokenizer)) for e in rows])
    assert 0 < echoing.sum() < len(rows)
    reading, every = readings.Reading(token_normalized, weight), readings.Reading(token_normalized)
    _, mixed = readings.projections(model, tokenizer, rows, tokenizer.pad_token_id, 256, 0, "default",
                                    [reading, every])
    _, direct = influence.per_example_projections(model, [reading.read(e, tokenizer) for e in rows],
                                                  tokenizer.pad_token_id, 256, 0, token_normalized=token_normalized)
    got, want, plain = (np.concatenate(b, axis=1) for b in (mixed[reading], direct, mixed[every]))
    error = np.linalg.norm(got - want, axis=1) / np.linalg.norm(want, axis=1)
    assert error.max() < 1e-5, error.max()
    apart = np.linalg.norm(plain - want, axis=1) / np.linalg.norm(want, axis=1)
    assert apart[echoing].min() > 1e-2 and apart[~echoing].max() < 1e-5


def test_an_index_reading_the_top_layers_alone_scores_a_query_by_those_layers(tuned):
    """`gradient_layers` below the decoder's depth: the index records the modules it read (the top layers'
    only: tests/test_lora_decoder.py checks their gradients are the whole pass's), its rows' features are
    those modules' sketched gradients preconditioned as a whole index's are, and a query reads the same."""
    from gpu_worker.adapter_index import AdapterIndex, IndexSpec, build_adapter_index
    from gpu_worker.gradient import lora_influence as influence
    from gpu_worker.gradient.readings import Reading
    from gpu_worker.rows import IGNORE, Example

    model, tokenizer, rows = tuned["model"], tuned["tokenizer"], tuned["train"][:40]
    depth = len(model.get_base_model().get_decoder().layers)
    meta = build_adapter_index(model, tokenizer, rows, tuned["held"][:3], tuned["root"] / "top-layers",
                               IndexSpec(method="lora-gradient", gradient_layers=1), 1e-3)
    read = [name for name, _, _ in meta["gradient"]["modules"]]
    assert depth > 1 and meta["gradient"]["layers"] == 1 and read
    assert AdapterIndex(tuned["root"] / "top-layers").params()["layers"] == 1  # what a signed result records
    assert all(f".layers.{depth - 1}." in name for name in read)
    index = AdapterIndex(tuned["root"] / "top-layers")
    prepared = index.prepare(model)
    g = meta["gradient"]
    reading, damping, k = Reading(g["token_normalized"], g["echo_weight"]), g["damping"]["damping"], g["k"]
    layout, blocks = influence.per_example_projections(prepared, [reading.read(e, tokenizer) for e in rows],
                                                       tokenizer.pad_token_id, k, 0,
                                                       token_normalized=reading.token_normalized, traced=read)
    assert [m.name for m in layout] == read
    want = influence.row_features(blocks, influence.operators(blocks, layout, "ours", damping, g["power"]), "ours")
    np.testing.assert_allclose(index.features, want.astype(np.float32), rtol=1e-5, atol=1e-6)
    prompt, output = _generate(model, tokenizer, tuned["held"][0])
    query = Example(tuned["held"][0].row, "", tuple(prompt + output), tuple([IGNORE] * len(prompt) + output))
    gain, scores = index.gradient_scores(prepared, tokenizer, query)
    _, own = influence.per_example_projections(prepared, [reading.read(query, tokenizer)], tokenizer.pad_token_id,
                                               k, 0, token_normalized=reading.token_normalized, traced=read)
    assert gain > 0
    np.testing.assert_allclose(scores, influence.scores(own, index.features)[0], rtol=1e-4, atol=1e-8)
    # an adapter with a module the index did not see (below the layers read, say) changes every forward
    index.meta["gradient"]["adapter_modules"].append(["base_model.model.model.layers.0.mlp.extra", 8, 8])
    with pytest.raises(ValueError, match="another adapter layout"):
        index.gradient_scores(prepared, tokenizer, query)
    # an index from before the layers were recorded (every layer read, no adapter list) is queried as before
    whole = build_adapter_index(model, tokenizer, rows, tuned["held"][:3], tuned["root"] / "all-layers",
                                IndexSpec(method="lora-gradient", gradient_layers=depth), 1e-3)
    assert len(whole["gradient"]["modules"]) == len(whole["gradient"]["adapter_modules"]) > len(read)
    now, before = AdapterIndex(tuned["root"] / "all-layers"), AdapterIndex(tuned["root"] / "all-layers")
    for key in ("layers", "adapter_modules", "power"):
        del before.meta["gradient"][key]
    assert "layers" not in before.params() and "power" not in before.params() and "power" in now.params()
    np.testing.assert_array_equal(before.gradient_scores(prepared, tokenizer, query)[1],
                                  now.gradient_scores(prepared, tokenizer, query)[1])


def test_the_root_power_is_the_damped_inverse_square_root_and_other_powers_are_refused():
    """Power 1/2 (`UPDATE`) is the symmetric square root of the damped inverse - applied twice, the inverse
    (`INVERSE`) - the preconditioner an Adam step applies; no curvature is the identity at any power."""
    from gpu_worker.gradient import lora_influence as influence

    rng = np.random.default_rng(5)
    phi = rng.standard_normal((40, 6)) * np.array([5.0, 2.0, 1.0, 0.5, 0.1, 0.01])
    root = influence.ours_operator(phi, 0.1, influence.UPDATE)
    inverse = influence.ours_operator(phi, 0.1, influence.INVERSE)
    lam = 0.1 * np.trace(influence.fisher(phi)) / 6
    np.testing.assert_allclose(root @ root, inverse, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(inverse, np.linalg.inv(influence.fisher(phi) + lam * np.eye(6)), rtol=1e-8)
    np.testing.assert_allclose(root, root.T, atol=1e-12)
    assert np.array_equal(influence.ours_operator(phi, influence.NO_CURVATURE, influence.UPDATE), np.eye(6))
    with pytest.raises(ValueError, match="curvature power"):
        influence.ours_operator(phi, 0.1, 2.0)


def test_no_curvature_scores_rows_by_plain_cosine_and_a_large_damping_does_not():
    """Damping 0 (`NO_CURVATURE`) drops the Fisher: each row's feature is its unit gradient, so a query ranks
    rows by cosine. A large damping is not that: each module is divided by its own mean eigenvalue, which
    weighs two modules of different scale otherwise."""
    from gpu_worker.gradient import lora_influence as influence

    rng = np.random.default_rng(4)
    blocks = [rng.standard_normal((30, 8)), 10 * rng.standard_normal((30, 8))]  # two modules, 10x apart
    layout = [influence.Module("a", 4, 4, 1), influence.Module("b", 4, 4, 1)]
    query = [rng.standard_normal((1, 8)), 10 * rng.standard_normal((1, 8))]
    whole, q = np.concatenate(blocks, axis=1), np.concatenate(query, axis=1)
    cosine = (q @ whole.T)[0] / np.linalg.norm(whole, axis=1)
    for damping, same in ((influence.NO_CURVATURE, True), (1e9, False)):
        features = influence.row_features(blocks, influence.operators(blocks, layout, "ours", damping), "ours")
        got = influence.scores(query, features)[0]
        assert np.array_equal(np.argsort(got), np.argsort(cosine)) == same, damping
