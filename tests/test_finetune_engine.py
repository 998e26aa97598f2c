"""The fine-tuning engine in process: mapping rows (and saying exactly why one does not map), the config and
its hash, the loop (loss falls, abort then resume gives the same bytes), and the merged model's checks."""

from __future__ import annotations

import hashlib
import json

import pytest

pytest.importorskip("peft")

from gpu_worker.device import deterministic
from gpu_worker.finetune import trainer
from gpu_worker.finetune.config import TrainingConfig, estimate, lr_at
from gpu_worker.finetune.dataset import DatasetSpec, Source, SpecError, parse_source, prepare, render
from gpu_worker.finetune.export import MergeError, export_merged
from gpu_worker.finetune.pretrain import python_qa_rows

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("cpu-heavy")]

BASE = "ab" * 32


def _src(data: bytes, fmt: str, cid: int = 1) -> Source:
    return Source(cid, bytes(32), hashlib.blake2b(data, digest_size=32).digest(), fmt, data)


def _errors(spec: DatasetSpec, data: bytes, fmt: str) -> list[str]:
    return [f"{e.line}: {e.reason}" for e in parse_source(spec, _src(data, fmt))[1]]


SPEC = DatasetSpec(snapshots=((1, 1),))


def test_every_row_that_does_not_map_is_reported_with_its_line_and_reason():
    jsonl = (b'{"prompt": "p", "response": "r"}\n\n{"prompt": 3, "response": "r"}\n{"messages": []}\n'
             b'{"messages": [{"role": "user", "content": "hi"}]}\n"text"\n')
    assert _errors(SPEC, jsonl, "jsonl") == [
        "3: field 'prompt' must be non-empty text",
        "4: field 'messages' must be a non-empty list of {role, content} objects",
        "5: messages need an assistant turn and roles among system/user/assistant, got ['user']",
        "6: a JSONL line must be an object, got str"]
    csv_spec = DatasetSpec(snapshots=((1, 1),), mapping={"prompt": "q", "response": "a"})
    assert _errors(csv_spec, b"q,a\nwhat,that\nonly-one\nx,y,z\n", "csv") == [
        "3: field 'a' must be non-empty text", "4: 1 more values than header columns"]
    assert _errors(csv_spec, b"", "csv") == ["1: the CSV has no header row"]
    assert _errors(SPEC, b"\xff\xfe", "text") == ["0: not UTF-8 text (invalid start byte at byte 0)"]
    assert _errors(SPEC, b"bytes", "png") == ["0: format 'png' cannot be mapped to examples (text, jsonl or csv)"]
    assert _errors(SPEC, b"\n\n", "jsonl") == ["0: the file holds no rows"]


def test_rows_map_from_text_jsonl_chat_and_csv():
    text, _ = parse_source(SPEC, _src(b"First paragraph.\n\nSecond\nparagraph.\n", "text"))
    assert [(r.line, r.text) for r in text] == [(1, "First paragraph."), (3, "Second\nparagraph.")]
    chat, _ = parse_source(SPEC, _src(json.dumps({"messages": [
        {"role": "system", "content": "be brief"}, {"role": "user", "content": "q"},
        {"role": "assistant", "content": "a"}]}).encode(), "jsonl"))
    assert chat[0].messages == (("system", "be brief"), ("user", "q"), ("assistant", "a"))
    spec = DatasetSpec(snapshots=((1, 1),), mapping={"prompt": "instruction", "input": "context", "response": "out"})
    rows, problems = parse_source(spec, _src(b'{"instruction": "sum", "context": "1 2", "out": "3"}', "jsonl"))
    assert not problems and rows[0].messages == (("user", "sum\n1 2"), ("assistant", "3"))


def test_a_byte_order_mark_and_windows_line_ends_read_as_meant():
    """As editors on Windows save files (an outside contributor's CSV gave no rows, its JSONL lost its first
    line and its text file was one paragraph): every format reads the same rows as without them."""
    bom = b"\xef\xbb\xbf"
    for fmt, plain in (("csv", b'prompt,response\n"q1","a1"\nq2,"a\nb"\n'),
                       ("jsonl", b'{"prompt": "q1", "response": "a1"}\n{"prompt": "q2", "response": "a2"}\n'),
                       ("text", b"First paragraph.\n\nSecond\nparagraph.\n")):
        want = parse_source(SPEC, _src(plain, fmt))
        assert want[0] and not want[1]
        for variant in (bom + plain, plain.replace(b"\n", b"\r\n"), bom + plain.replace(b"\n", b"\r\n"),
                        plain.replace(b"\n", b"\r")):
            got = parse_source(SPEC, _src(variant, fmt))
            assert [(r.line, r.text, r.messages) for r in got[0]] == [(r.line, r.text, r.messages) for r in want[0]]
            assert got[1] == want[1], (fmt, variant)


def test_spec_and_config_refuse_bad_values_and_hash_canonically():
    for bad, message in ((dict(snapshots=()), "at least one snapshot"), (dict(snapshots=((1, 0),)), "explicit"),
                         (dict(snapshots=((1, 1),), format="xml"), "format 'xml'"),
                         (dict(snapshots=((1, 1),), template="llama9"), "template 'llama9'"),
                         (dict(snapshots=((1, 1),), mapping={"answer": "x"}), "unknown mapping keys"),
                         (dict(snapshots=((1, 1),), eval_per_mille=900), "eval_per_mille")):
        with pytest.raises(SpecError, match=message):
            DatasetSpec(**bad)
    with pytest.raises(SpecError, match="base_model must be"):
        TrainingConfig(base_model="xyz", dataset=SPEC)
    with pytest.raises(SpecError, match="learning_rate"):
        TrainingConfig(base_model=BASE, dataset=SPEC, learning_rate=0)
    with pytest.raises(SpecError, match="unknown training config keys"):
        TrainingConfig.from_dict({"base_model": BASE, "dataset": {"snapshots": [[1, 1]]}, "lr": 1})
    config = TrainingConfig(base_model=BASE, dataset=SPEC, seed=3)
    again = TrainingConfig.from_json(config.to_json())
    assert again == config and again.hash() == config.hash()
    assert TrainingConfig.from_json(config.to_json().replace(b'"seed":3', b'"seed":4')).hash() != config.hash()
    assert config.rank == 8 and config.alpha == 16 and config.target_modules == ("all-linear",)
    assert lr_at(config, 0, 100) < lr_at(config, 9, 100) == pytest.approx(config.learning_rate)
    assert lr_at(config, 99, 100) < 0.01 * config.learning_rate
    assert config.steps_for(10) == 3 * 5 and config.steps_for(10_000) == 200  # 3 batches an epoch, 5 epochs


@pytest.fixture(scope="module")
def data(tiny_base):
    deterministic(1)
    rows = python_qa_rows()
    _, tokenizer = trainer.load_base(tiny_base)
    blob = "\n".join(json.dumps(r) for r in rows).encode()
    return prepare(SPEC, [_src(blob, "jsonl")], tokenizer, 256)


def test_templates_mask_the_prompt_and_the_split_is_stable(data, tiny_base):
    example = data.train[0]
    assert example.labels[: example.labels.index(next(x for x in example.labels if x != -100))] == (-100,) * len(
        [x for x in example.labels if x == -100])
    assert example.trained_tokens < len(example.input_ids)
    _, tokenizer = trainer.load_base(tiny_base)
    alpaca = render(DatasetSpec(snapshots=((1, 1),), template="alpaca"), example.row, tokenizer, 256)
    assert alpaca.rendered.startswith("### Instruction:\nWhat does") and "\n\n### Response:\n" in alpaca.rendered
    again = prepare(SPEC, [_src("\n".join(json.dumps(r) for r in python_qa_rows()).encode(), "jsonl")], tokenizer, 256)
    assert [e.row.line for e in again.eval] == [e.row.line for e in data.eval] and 4 <= len(data.eval) <= 16
    config = TrainingConfig(base_model=BASE, dataset=SPEC)
    model_config = json.loads((tiny_base / "config.json").read_text())
    est = estimate(config, model_config, len(data.train), data.tokens / len(data.train))
    assert est.steps == config.steps_for(len(data.train)) and est.trainable_params > 0
    assert est.memory_bytes > 4 * 100_000 and est.seconds > 0


def test_padding_with_lightly_edited_rows_trains_and_pays_nothing_more_and_new_rows_still_count(tiny_base):
    """Contributor 2 pads its rows with copies that change one word each, and copies two of contributor 1's
    the same way: every copy is left out, naming the row it repeats, so the rows trained on - and hence
    the adapter's bytes (training is deterministic) and every share of its credit - are those without
    the padding; a genuinely new row of contributor 2 is trained on."""
    from gpu_worker.finetune.facts import KETTLE, TOWN, fact_rows, owners

    def one_question_per_fact(domain):  # a fact's three questions share one answer: one piece of information
        return [r for who in owners(domain) for r in fact_rows(domain, who)][::3]

    def edited(row):
        words = row["response"].split(" ")
        words[len(words) // 2] = "very"
        return {"prompt": row["prompt"], "response": " ".join(words)}

    def jsonl(rows):
        return "\n".join(json.dumps(r) for r in rows).encode()

    _, tokenizer = trainer.load_base(tiny_base)
    first, second = one_question_per_fact(TOWN), one_question_per_fact(KETTLE)[:6]
    alone = prepare(SPEC, [_src(jsonl(first), "jsonl", 1), _src(jsonl(second), "jsonl", 2)], tokenizer, 256)
    padded = prepare(SPEC, [_src(jsonl(first), "jsonl", 1), _src(jsonl(second), "jsonl", 2),
                            _src(jsonl([edited(r) for r in second] + [edited(r) for r in first[:2]]), "jsonl", 3)],
                     tokenizer, 256)
    assert alone.near_duplicates == [] and len(padded.near_duplicates) == 8
    assert [e.reason for e in padded.near_duplicates[:2]] == [
        "a near-duplicate of contribution 2 line 1: left out of training and credit",
        "a near-duplicate of contribution 2 line 2: left out of training and credit"]
    assert padded.near_duplicates[-1].reason.startswith("a near-duplicate of contribution 1 line 2:")
    assert [e.rendered for e in padded.train] == [e.rendered for e in alone.train]
    assert [e.rendered for e in padded.eval] == [e.rendered for e in alone.eval]
    fresh = one_question_per_fact(KETTLE)[6:7]
    grown = prepare(SPEC, [_src(jsonl(first), "jsonl", 1), _src(jsonl(second + fresh), "jsonl", 2)], tokenizer, 256)
    assert grown.near_duplicates == [] and len(grown.train) + len(grown.eval) == len(alone.train) + len(alone.eval) + 1


def test_loss_falls_abort_resume_is_byte_identical_and_the_merge_is_checked(data, tiny_base, tmp_path):
    config = TrainingConfig(base_model=BASE, dataset=SPEC, max_steps=30, checkpoint_every=5, eval_every=10,
                            dropout=0.1, grad_accum=2, seed=5)

    def run(job_dir, stop_after=None, resume=False):
        base, tokenizer = trainer.load_base(tiny_base)
        points = []
        outcome = trainer.train(config, base, tokenizer, data.train, data.eval, job_dir, report=points.append,
                                stop=lambda: stop_after is not None and len(points) > stop_after, resume=resume)
        return outcome, points

    whole, points = run(tmp_path / "whole")
    assert whole.eval_loss < 0.95 * whole.base_eval_loss
    assert [p["step"] for p in points] == list(range(31))
    with pytest.raises(trainer.Aborted):
        run(tmp_path / "cut", stop_after=17)
    resumed, _ = run(tmp_path / "cut", resume=True)
    files = ("adapter_config.json", "adapter_model.safetensors")
    assert [(resumed.adapter_dir / f).read_bytes() for f in files] == [(whole.adapter_dir / f).read_bytes()
                                                                       for f in files]
    assert json.loads((whole.adapter_dir / "adapter_config.json").read_text())["base_model_name_or_path"] == \
        f"payable:{BASE}"

    checks = export_merged(tiny_base, whole.adapter_dir, tmp_path / "merged")
    assert checks["max_logit_difference"] < 1e-4 and checks["changed_tensors"] >= 14
    assert (tmp_path / "merged" / "model.safetensors").exists()
    # an adapter whose B factors are zero changes nothing: the merge must refuse to pass it off as a new model
    from safetensors.torch import load_file, save_file

    zero = tmp_path / "zero"
    zero.mkdir()
    (zero / files[0]).write_bytes((whole.adapter_dir / files[0]).read_bytes())
    tensors = {k: (v * 0 if "lora_B" in k else v) for k, v in load_file(whole.adapter_dir / files[1]).items()}
    save_file(tensors, zero / files[1])
    with pytest.raises(MergeError, match="equal the base"):
        export_merged(tiny_base, zero, tmp_path / "merged-zero")


def test_a_bfloat16_base_trains_resumes_to_the_same_bytes_and_is_recorded(data, tiny_base, tmp_path):
    """A job's frozen base layers may be held in bfloat16 (`gpu_worker.frozen_base`): the loss still falls, an
    abort and resume still gives the same bytes, the precision is recorded in the config (a float32 one keeps
    the bytes configs had before), and a worker gives a job asked for without one its device's native one."""
    from dataclasses import replace

    import torch

    from gpu_worker.finetune.engine import FinetuneEngine
    from gpu_worker.frozen_base import native_dtype
    from runtime.crypto import Keypair

    config = TrainingConfig(base_model=BASE, dataset=SPEC, max_steps=12, checkpoint_every=4, eval_every=6, seed=5,
                            base_dtype="bfloat16")
    assert TrainingConfig.from_json(config.to_json()).base_dtype == "bfloat16"
    assert b"base_dtype" not in replace(config, base_dtype="float32").to_json()
    with pytest.raises(SpecError, match="base_dtype must be one of"):
        replace(config, base_dtype="int8")
    engine = FinetuneEngine(tmp_path / "worker", Keypair.from_uri("//Eve"), torch.device("cpu"), None)
    asked = {"base_model": BASE, "dataset": SPEC.to_dict()}
    assert engine.config_from(asked).base_dtype == native_dtype("cpu")
    assert engine.config_from({**asked, "base_dtype": "float32"}).base_dtype == "float32"

    def run(job_dir, config, stop_after=None, resume=False):
        base, tokenizer = trainer.load_base(tiny_base)
        points = []
        return trainer.train(config, base, tokenizer, data.train, data.eval, job_dir, report=points.append,
                             stop=lambda: stop_after is not None and len(points) > stop_after, resume=resume)

    whole = run(tmp_path / "whole", config)
    assert whole.eval_loss < whole.base_eval_loss
    with pytest.raises(trainer.Aborted):
        run(tmp_path / "cut", config, stop_after=6)
    resumed = run(tmp_path / "cut", config, resume=True)
    weights = "adapter_model.safetensors"
    assert (resumed.adapter_dir / weights).read_bytes() == (whole.adapter_dir / weights).read_bytes()
    in_float32 = run(tmp_path / "float32", replace(config, base_dtype="float32"))
    assert (in_float32.adapter_dir / weights).read_bytes() != (whole.adapter_dir / weights).read_bytes()
    assert abs(in_float32.eval_loss - whole.eval_loss) < 0.02 * in_float32.eval_loss


def test_no_checkpoint_outruns_the_progress_it_was_reported_with(data, tiny_base, tmp_path):
    """A worker killed while a step's point is being recorded (here: the recording itself dies at step 10, a
    checkpoint step) must not leave a checkpoint for that step: a resume would start after it and the
    point would never be written (the kill -9 test's curve missed step 30 once in CI)."""
    config = TrainingConfig(base_model=BASE, dataset=SPEC, max_steps=12, checkpoint_every=5, eval_every=5, seed=5)

    def report(point):
        if point["step"] == 10:
            raise KeyboardInterrupt("killed while recording step 10")

    base, tokenizer = trainer.load_base(tiny_base)
    with pytest.raises(KeyboardInterrupt):
        trainer.train(config, base, tokenizer, data.train, data.eval, tmp_path, report=report)
    assert trainer.Checkpoints(tmp_path).latest()[0] == 5  # resumes from step 5: steps 6-10 are reported again


def test_jobs_on_several_threads_train_the_bytes_each_trains_alone(data, tiny_base, tmp_path):
    """A CPU worker trains one job per core at once (FinetuneEngine's slots): a job's dropout must not draw from
    another's stream, nor a job's seeding or initial weights move it."""
    from concurrent.futures import ThreadPoolExecutor

    configs = [TrainingConfig(base_model=BASE, dataset=SPEC, max_steps=8, dropout=dropout, seed=seed)
               for dropout, seed in ((0.1, 3), (0.0, 4), (0.2, 5))]

    def adapter(config: TrainingConfig, job_dir) -> bytes:
        base, tokenizer = trainer.load_base(tiny_base)
        done = trainer.train(config, base, tokenizer, data.train, data.eval, job_dir, report=lambda point: None)
        return (done.adapter_dir / "adapter_model.safetensors").read_bytes()

    alone = [adapter(config, tmp_path / f"alone-{i}") for i, config in enumerate(configs)]
    with ThreadPoolExecutor(len(configs)) as pool:
        together = list(pool.map(adapter, configs, [tmp_path / f"together-{i}" for i in range(len(configs))]))
    assert together == alone and len(set(alone)) == len(alone)


def test_bases_loaded_on_several_threads_of_a_fresh_process_all_load(tiny_base):
    """Two fine-tuning jobs starting at once in a fresh worker load their bases on two threads: transformers'
    lazy modules, imported by both at once, raised "cannot import name 'AutoModelForCausalLM'", and its
    loading patches torch.nn for the whole process (meta-device init) - model building takes turns."""
    import subprocess
    import sys

    script = ("import sys, threading\n"
              "from pathlib import Path\n"
              "from gpu_worker.finetune import trainer\n"
              "from gpu_worker.configs import ModelConfig\n"
              "from gpu_worker.gradient.models import build\n"
              "errors = []\n"
              "def load(i):\n"
              "    try:\n"
              "        model = (build(ModelConfig('mlp', 64, 10, (32,))) if i % 2 else\n"
              "                 trainer.load_base(Path(sys.argv[1]))[0])\n"
              "        assert all(p.device.type != 'meta' for p in model.parameters()), 'meta parameters'\n"
              "    except Exception as exc:\n"
              "        errors.append(repr(exc))\n"
              "threads = [threading.Thread(target=load, args=(i,)) for i in range(4)]\n"
              "[t.start() for t in threads]\n"
              "[t.join() for t in threads]\n"
              "print(errors)\n")
    done = subprocess.run([sys.executable, "-c", script, str(tiny_base)], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0 and done.stdout.strip() == "[]", done.stdout + done.stderr[-2000:]


def test_an_estimate_after_a_job_on_the_base_uses_the_rate_this_worker_measured(data, tiny_base, tmp_path):
    """Before any job the time is a cautious FLOP count (this CPU trains ~15x faster than it assumes); once a job
    on the base completed, the estimate divides by the tokens/s the newest such job measured - read back from
    its progress after a worker restart too - scaled by the two configs' arithmetic per token; a job on another
    base, or an older one, is not what this base runs at."""
    from dataclasses import replace

    import torch

    from gpu_worker.finetune.config import flops_per_token
    from gpu_worker.finetune.engine import FinetuneEngine
    from runtime.crypto import Keypair

    config = TrainingConfig(base_model=BASE, dataset=SPEC, max_steps=12)
    engine = FinetuneEngine(tmp_path / "worker", Keypair.from_uri("//Eve"), torch.device("cpu"), None)
    cautious = engine._estimate(config, tiny_base, data)

    def job(name: str, base_dir, created: float, rates: tuple[float, ...], top_layers: int = 0) -> None:
        folder = tmp_path / "worker" / "finetune" / name
        folder.mkdir(parents=True)
        ran = replace(config, top_layers=top_layers)
        (folder / "job.json").write_text(json.dumps({
            "id": name, "owner": "x", "config": ran.to_dict(), "prompts": [], "state": "completed",
            "results": {"base_dir": str(base_dir)}, "created_at": created}))
        (folder / "progress.jsonl").write_text("".join(json.dumps({"step": s, "tokens_per_s": r}) + "\n"
                                                       for s, r in enumerate(rates, 1)))

    job("older", tiny_base, 1.0, (100.0,))
    job("newest", tiny_base, 3.0, (900.0, 1234.5), top_layers=1)
    job("other-base", tmp_path / "another-base", 5.0, (7.0,))
    restarted = FinetuneEngine(tmp_path / "worker", Keypair.from_uri("//Eve"), torch.device("cpu"), None)
    measured = restarted._estimate(config, tiny_base, data)
    model_config = json.loads((tiny_base / "config.json").read_text())
    rate = 1234.5 * flops_per_token(replace(config, top_layers=1), model_config) / flops_per_token(config, model_config)
    assert rate < 1234.5  # the newest job's backward stopped after one layer: a whole backward is slower
    assert measured["seconds"] == pytest.approx(measured["train_tokens"] / rate)
    assert measured["train_tokens"] == cautious["train_tokens"] and measured["seconds"] != cautious["seconds"]


def test_two_publishes_of_one_job_at_once_build_its_index_once(tmp_path, monkeypatch):
    """A double click on Publish sends two requests: the second waits for the first's index build and reuses
    it, instead of deleting the folder the first is building in (FileNotFoundError, a half-built index)."""
    import threading
    from contextlib import nullcontext
    from types import SimpleNamespace

    import torch

    from gpu_worker.finetune import engine as engine_module
    from gpu_worker.finetune.engine import FinetuneEngine, Job
    from runtime.crypto import Keypair

    builds, started, release = [], threading.Event(), threading.Event()

    def build(model, tokenizer, train, held_out, work, method, weight, lr, trained):
        builds.append(work)
        started.set()
        release.wait(30)
        work.mkdir(parents=True)
        (work / "index.json").write_text("{}")

    engine = FinetuneEngine(tmp_path / "worker", Keypair.from_uri("//Eve"), torch.device("cpu"), "127.0.0.1:1",
                            build_index=build)
    monkeypatch.setattr(engine, "_with_adapter", lambda job: (None, None))
    monkeypatch.setattr(engine, "_client", lambda: nullcontext())
    monkeypatch.setattr(engine_module, "load_inputs", lambda *a: (None, SimpleNamespace(train=[], eval=[])))
    job = Job("j1", "owner", TrainingConfig(base_model=BASE, dataset=SPEC, max_steps=4), [], "completed")
    got = []
    first = threading.Thread(target=lambda: got.append(engine.attribution_index(job, "span", 0)))
    second = threading.Thread(target=lambda: got.append(engine.attribution_index(job, "span", 0)))
    first.start()
    assert started.wait(30)
    second.start()
    second.join(1)  # time to reach the build, were nothing holding it back
    release.set()
    first.join(30)
    second.join(30)
    assert len(builds) == 1 and len(got) == 2 and got[0] == got[1] and (got[0] / "index.json").exists()
