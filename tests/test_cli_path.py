"""The path from a base model to paid answers, walked with the `payable` command alone, in real processes: bond
a worker to a base (`worker register`, with a clear refusal), list arguments for any call (`tx --arg` repeated),
every example of a fine-tuning dataset reachable by paging (held-out rows too), `model fetch` of a training
config (a blob, not a directory), a paid generation whose wait follows the request's deadline and whose JSON
keeps the text, and a base model asked locally and unpaid (`generate --base`)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from runtime.crypto import Keypair

UPLOADER = Keypair.from_uri("//Alice")  # signs the blobs the tests store (an account on chain)

pytest.importorskip("transformers")

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("cpu-heavy")]

DEADLINE_BLOCKS = 6


def run_cli(node, *args, worker=None, json_out=True):
    extra = ["--node", node.target] + (["--worker", worker.target] if worker is not None else [])
    return subprocess.run([sys.executable, "-m", "cli", *args, *extra, *(["--json"] if json_out else [])],
                          capture_output=True, text=True, timeout=600)


def ok(node, *args, worker=None):
    done = run_cli(node, *args, worker=worker)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


@pytest.fixture(scope="module")
def stack(tmp_path_factory, tiny_base):
    """A node making blocks every 0.3 s (deadlines of 6 blocks), the tiny base registered, a DataNet of 80
    Python Q&A rows in one contribution with a quarter held out, and a worker following the node."""
    from conftest import NodeProcess, WorkerProcess

    from gpu_worker.finetune.pretrain import python_qa_rows

    root = tmp_path_factory.mktemp("cli-path")
    spec = json.loads(subprocess.run([sys.executable, "-m", "cli", "build-spec", "--dev"], capture_output=True,
                                     text=True, check=True).stdout)
    spec["config"]["inference"] = {"deadline_blocks": str(DEADLINE_BLOCKS)}
    (root / "spec.json").write_text(json.dumps(spec))
    node = NodeProcess(root / "node", "--chain", str(root / "spec.json"), "--block-time", "0.3")
    worker = WorkerProcess(root / "worker", node.target)
    try:
        client = node.client()
        base = ok(node, "model", "register-base", str(tiny_base), "--license", "MIT", "--from", "//Alice")
        rows = python_qa_rows()
        (root / "qa.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
        ok(node, "datanet", "create", "--name", "python-qa", "--domain", "code", "--license", "PSF-2.0",
           "--deposit", "1", "--formats", "jsonl", "--from", "//Alice")
        made = ok(node, "datanet", "contribute", "1", str(root / "qa.jsonl"), "--format", "jsonl", "--from", "//Bob")
        ok(node, "datanet", "approve", str(made["contribution"]), "--from", "//Alice")
        ok(node, "datanet", "snapshot", "1", "--from", "//Alice")
        yield {"node": node, "worker": worker, "client": client, "base": base, "root": root, "rows": len(rows)}
        client.close()
    finally:
        worker.stop()
        node.kill()


def test_worker_register_bonds_a_worker_to_a_base_and_says_why_when_the_chain_refuses(stack):
    node, base = stack["node"], stack["base"]["base_model"]
    ferdie = Keypair.from_uri("//Ferdie").address
    made = ok(node, "worker", "register", "--base-model", str(base), "--bond", "150.5", "--endpoint",
              "127.0.0.1:1", "--from", "//Ferdie")
    assert made["success"] and made["worker"] == ferdie and made["base_models"] == [base]
    assert made["bond"] == "150.5" and made["endpoint"] == "127.0.0.1:1" and made["models"] == []
    shown = ok(node, "worker", "show", ferdie)
    assert {k: shown[k] for k in ("worker", "bond", "base_models")} == {"worker": ferdie, "bond": "150.5",
                                                                         "base_models": [base]}
    again = run_cli(node, "worker", "register", "--base-model", str(base), "--bond", "150", "--from", "//Ferdie")
    assert again.returncode == 1 and "AlreadyRegistered" in again.stderr and "deregister" in again.stderr
    assert json.loads(again.stdout)["success"] is False
    unknown = run_cli(node, "worker", "register", "--base-model", "99", "--bond", "150", "--from", "//Dave",
                      json_out=False)
    assert unknown.returncode == 1 and "refused to register" in unknown.stderr and "99" in unknown.stderr
    small = run_cli(node, "worker", "register", "--base-model", str(base), "--bond", "1", "--from", "//Dave",
                    json_out=False)
    assert small.returncode == 1 and "BondTooSmall" in small.stderr and "--bond" in small.stderr
    nothing = run_cli(node, "worker", "register", "--bond", "150", "--from", "//Dave")
    assert nothing.returncode == 2 and "--base-model" in nothing.stderr
    stranger = run_cli(node, "worker", "show", "//Dave")
    assert stranger.returncode == 2 and "not a registered worker" in stranger.stderr


def test_tx_arg_repeated_for_a_list_field_appends(stack):
    node = stack["node"]
    bob, charlie = (Keypair.from_uri(n).address for n in ("//Bob", "//Charlie"))
    ok(node, "tx", "datanet", "create_datanet", "--arg", "name=lists", "--arg", "domain=text", "--arg",
       "license=MIT", "--arg", "contribution_deposit=1", "--arg", "accepted_formats=jsonl", "--arg",
       "accepted_formats=csv", "--arg", f"curators={bob}", "--arg", f"curators={charlie}", "--from", "//Alice")
    net = ok(node, "datanet", "show", "2")
    assert net["name"] == "lists" and net["formats"] == ["jsonl", "csv"] and net["curators"] == [bob, charlie]
    twice = run_cli(node, "tx", "datanet", "create_datanet", "--arg", "name=a", "--arg", "name=b", "--from",
                    "//Alice")
    assert twice.returncode == 2 and "'name' takes one value, got 2" in twice.stderr


def test_preview_pages_through_every_example_and_lists_the_held_out_rows(stack):
    node, worker, base = stack["node"], stack["worker"], str(stack["base"]["base_model"])
    common = ("finetune", "preview", "--base-model", base, "--snapshot", "1:1", "--eval-per-mille", "250")
    everything = ok(node, *common, "--all", worker=worker)
    total = everything["train_examples"] + everything["eval_examples"]
    left_out = everything["near_duplicates"]  # builtins documented alike (IOError and OSError): one row kept
    assert left_out and all("left out of training and credit" in e for e in left_out)
    assert total + len(left_out) == stack["rows"] > 50 and everything["listed"] == total
    assert everything["next_offset"] is None
    assert [e["index"] for e in everything["examples"]] == list(range(total))  # past the 50 of one answer
    first = ok(node, *common, "--limit", "60", worker=worker)
    assert len(first["examples"]) == 60 and first["next_offset"] == 60
    rest = ok(node, *common, "--offset", str(first["next_offset"]), "--limit", "100", worker=worker)
    assert rest["next_offset"] is None and first["examples"] + rest["examples"] == everything["examples"]
    held_out = ok(node, *common, "--split", "eval", "--all", worker=worker)
    assert len(held_out["examples"]) == held_out["eval_examples"] == held_out["listed"] > 0
    assert {e["split"] for e in held_out["examples"]} == {"eval"}
    assert [(e["contribution"], e["line"]) for e in held_out["examples"]] == [
        (e["contribution"], e["line"]) for e in everything["examples"] if e["split"] == "eval"]
    page = run_cli(node, *common, "--split", "eval", "--limit", "2", worker=worker, json_out=False)
    assert page.returncode == 0 and f"of {held_out['eval_examples']} held-out examples" in page.stdout
    assert "next page: --offset 2" in page.stdout
    # a snapshot the chain does not have: the node's own answer, passed on once with its own code
    unknown = run_cli(node, "finetune", "preview", "--base-model", base, "--snapshot", "1:9", worker=worker,
                      json_out=False)
    codes = [code for code in ("INVALID_ARGUMENT", "NOT_FOUND") for _ in range(unknown.stderr.count(code))]
    assert unknown.returncode != 0 and len(codes) == 1 and "ClientError" not in unknown.stderr, unknown.stderr
    assert "1:9" in unknown.stderr or "version 9" in unknown.stderr, unknown.stderr


def test_model_fetch_of_a_training_config_writes_or_prints_the_blob(stack, tmp_path):
    from gpu_worker.finetune.config import TrainingConfig
    from gpu_worker.finetune.dataset import DatasetSpec

    node, client = stack["node"], stack["client"]
    config = TrainingConfig(base_model=stack["base"]["artifact_hash"],
                            dataset=DatasetSpec.from_dict({"snapshots": [[1, 1]], "format": "jsonl"})).to_json()
    digest = client.upload(config, uploader=UPLOADER).hash.hex()
    printed = ok(node, "model", "fetch", digest)
    assert printed["kind"] == "blob" and printed["content_kind"] == "training-config"
    assert printed["content"] == json.loads(config) and printed["size_bytes"] == len(config)
    human = run_cli(node, "model", "fetch", digest, json_out=False)
    assert human.returncode == 0 and json.loads(human.stdout) == json.loads(config)
    assert "training config" in human.stderr and "hash checked" in human.stderr
    written = ok(node, "model", "fetch", digest, str(tmp_path / "config.json"))
    assert (tmp_path / "config.json").read_bytes() == config and written["file"] == str(tmp_path / "config.json")
    into = ok(node, "model", "fetch", digest, str(tmp_path))
    assert into["file"].startswith(str(tmp_path / "training-config-")) and open(into["file"], "rb").read() == config
    # a directory artifact still arrives as one, and says so when no directory is given
    base = ok(node, "model", "fetch", stack["base"]["artifact_hash"], str(tmp_path / "base"))
    assert base["kind"] == "hf-model" and (tmp_path / "base" / "config.json").exists()
    nowhere = run_cli(node, "model", "fetch", stack["base"]["artifact_hash"])
    assert nowhere.returncode == 2 and "directory artifact (hf-model" in nowhere.stderr
    binary = client.upload(bytes(range(256)), uploader=UPLOADER).hash.hex()
    refused = run_cli(node, "model", "fetch", binary)
    assert refused.returncode == 2 and "binary blob of 256 bytes: name a file" in refused.stderr


@pytest.fixture(scope="module")
def dead_model(stack):
    """An adapter model on the tiny base (its training config recorded: the qa template) whose only worker's
    endpoint is dead: it never answers."""
    from gpu_worker.finetune.config import TrainingConfig
    from gpu_worker.finetune.dataset import DatasetSpec

    node, client = stack["node"], stack["client"]
    config = TrainingConfig(base_model=stack["base"]["artifact_hash"], dataset=DatasetSpec.from_dict(
        {"snapshots": [[1, 1]], "format": "jsonl", "template": "qa"})).to_json()
    h = "ab" * 32
    model = ok(node, "model", "register", "--base-model", str(stack["base"]["base_model"]), "--snapshot", "1:1",
               "--artifact-hash", h, "--training-config-hash", client.upload(config, uploader=UPLOADER).hash.hex(),
               "--index-hash", h,
               "--method", "span", "--price", "0.1", "--from", "//Alice")["model"]
    ok(node, "worker", "register", "--model", str(model), "--bond", "150", "--endpoint", "127.0.0.1:1", "--from",
       "//Charlie")
    return model


def test_generate_refuses_a_prompt_past_the_bases_context_before_paying(stack, dead_model, tiny_base):
    """Counted with the base's tokenizer after the adapter's template (as the worker will): one token past the
    context is refused, exit 2, with the numbers, and nothing is signed - the requester's nonce and balance
    stay as they were."""
    from transformers import AutoTokenizer

    from sdk.prompts import prompt_text

    node, client = stack["node"], stack["client"]
    tokenizer = AutoTokenizer.from_pretrained(tiny_base)
    prompt = "What does builtins.len do? " * 3
    tokens = len(tokenizer.encode(prompt_text(tokenizer, prompt, "qa"), add_special_tokens=False))
    context = stack["base"]["context_length"]
    dave = Keypair.from_uri("//Dave").public
    nonce, account = client.next_nonce(dave), client.account(dave)
    done = run_cli(node, "generate", str(dead_model), prompt, "--max-new-tokens", str(context - tokens + 1),
                   "--from", "//Dave")
    assert done.returncode == 2, done.stderr[-3000:]
    assert f"maximum context length is {context} tokens" in done.stderr
    assert f"you requested {context + 1} tokens ({tokens} in your prompt, after the adapter's 'qa' template" \
           in done.stderr and "Nothing was signed or paid" in done.stderr
    after = client.account(dave)  # no extrinsic of Dave's, so no request: nothing escrowed, no fee taken
    assert client.next_nonce(dave) == nonce and (after.free, after.reserved) == (account.free, account.reserved)


def test_generate_json_keeps_the_text_and_waits_for_the_deadline_when_no_worker_answers(stack, dead_model):
    """A worker that never answers (its endpoint is dead): the stream fails, the wait follows the request's
    deadline block (no fixed timeout) to expiry and refund, and the JSON says all of it."""
    node, client = stack["node"], stack["client"]
    done = run_cli(node, "generate", str(dead_model), "What does builtins.len do?", "--max-new-tokens", "4",
                   "--from", "//Dave")
    assert done.returncode == 1, done.stderr[-3000:]
    out = json.loads(done.stdout)
    assert out["status"] == "expired" and out["text"] == "" and out["paid"] is True and out["refunded"] == "0.1"
    assert "UNAVAILABLE" in out["stream_error"]
    from payable.inference.v1 import inference_pb2 as inf

    request = client.pallet_query("inference", "get_request", inf.RequestRef(request=out["request"]), inf.Request)
    assert request.status == inf.EXPIRED and out["deadline"] == request.deadline == request.created_at + DEADLINE_BLOCKS


def test_generate_base_answers_locally_and_unpaid_from_the_bases_on_chain_hash(stack, tiny_base, tmp_path):
    import torch

    from gpu_worker.finetune.dataset import prompt_text
    from gpu_worker.finetune.trainer import load_base

    node = stack["node"]
    prompt = "What does builtins.len do?"
    out = ok(node, "generate", "--base", str(stack["base"]["base_model"]), prompt, "--max-new-tokens", "8",
             "--cache-dir", str(tmp_path / "cache"))
    assert out["paid"] is False and out["status"] == "local" and "unpaid" in out["note"]
    assert 1 <= out["output_tokens"] <= 8 and out["artifact_hash"] == stack["base"]["artifact_hash"]
    assert (tmp_path / "cache" / out["artifact_hash"] / "config.json").exists()  # fetched by hash, kept
    model, tokenizer = load_base(tiny_base)  # the same weights, greedy: the same words
    ids = tokenizer(prompt_text(tokenizer, prompt, "chat"), return_tensors="pt", add_special_tokens=False).input_ids
    with torch.no_grad():
        want = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=8, do_sample=False,
                              pad_token_id=tokenizer.pad_token_id)
    assert out["text"] == tokenizer.decode(want[0, ids.shape[1]:], skip_special_tokens=True)
    human = run_cli(node, "generate", "--base", str(stack["base"]["base_model"]), prompt, "--max-new-tokens", "8",
                    "--cache-dir", str(tmp_path / "cache"), json_out=False)
    assert human.returncode == 0 and out["text"].strip() in human.stdout and "unpaid" in human.stderr
    both = run_cli(node, "generate", "1", prompt, "--base", "1")
    assert both.returncode == 2 and "not both" in both.stderr
    neither = run_cli(node, "generate", prompt, "--from", "//Dave")
    assert neither.returncode == 2 and "--base" in neither.stderr
