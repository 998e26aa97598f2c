"""Model card and EU AI Act training-content summary (issue 30 §3) through the CLI, as subprocesses against a
real dev node, and the studio's model page: a base registered with its declared training sources, a DataNet
of three contributions under two licenses (one with personal data), a model registered with `payable model
register` (which stores its card by hash); `payable model card` and `model summary` say what the chain says,
a withdrawal flags both and the page, and an unknown model is a clear error everywhere."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import yaml

from runtime.crypto import Keypair, blake2_256

UPLOADER = Keypair.from_uri("//Alice")  # signs the blobs the tests store (an account on chain)

pytestmark = pytest.mark.e2e

SOURCES = ["FineWeb-Edu: pretraining", "SmolTalk: instruction tuning"]


def _run(node, *args, json_out=True):
    return subprocess.run([sys.executable, "-m", "cli", *args, "--node", node.target, *(["--json"] * json_out)],
                          capture_output=True, text=True, timeout=120)


def _cli(node, *args):
    done = _run(node, *args)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    return json.loads(done.stdout)


def test_card_and_summary_from_the_chain_through_the_cli_and_the_studio(start_node, tmp_path):
    import numpy as np
    from fastapi.testclient import TestClient
    from safetensors.numpy import save_file

    from studio.app import create_app

    node = start_node("documents", "--dev", "--instant-seal")
    with node.client() as client:
        config_hash = client.upload(json.dumps({"base_model": "x", "dataset": {}, "rank": 4}).encode(),
                                    uploader=UPLOADER).hash
    base_dir = tmp_path / "tiny-mlp"
    base_dir.mkdir()
    (base_dir / "config.json").write_text(json.dumps({"model_type": "mlp", "architectures": ["TinyMLP"]}))
    save_file({"fc.weight": np.zeros((4, 8), np.float32)}, str(base_dir / "model.safetensors"))
    base = _cli(node, "model", "register-base", str(base_dir), "--license", "Apache-2.0", "--training-source",
                SOURCES[0], "--training-source", SOURCES[1], "--sources-declared-in", "its model card",
                "--from", "//Eve")["base_model"]
    net = _cli(node, "datanet", "create", "--name", "facts", "--domain", "text", "--license", "CC-BY-4.0",
               "--accept-license", "MIT", "--personal-data-allowed", "--deposit", "1", "--formats", "text",
               "--from", "//Alice")["datanet"]
    made = []
    for i, (who, extra) in enumerate([("//Bob", []), ("//Bob", ["--license", "MIT"]),
                                      ("//Charlie", ["--personal-data"])]):
        path = tmp_path / f"rows-{i}.txt"
        path.write_text(f"row {i}: " + "the kettle hums at dawn. " * (i + 1))
        made.append(_cli(node, "datanet", "contribute", str(net), str(path), "--format", "text", *extra,
                         "--from", who)["contribution"])
        _cli(node, "datanet", "approve", str(made[-1]), "--from", "//Alice")
    _cli(node, "datanet", "snapshot", str(net), "--from", "//Alice")
    registered = _cli(node, "model", "register", "--base-model", str(base), "--snapshot", f"{net}:1",
                      "--artifact-hash", "22" * 32, "--training-config-hash", config_hash.hex(), "--index-hash",
                      "44" * 32, "--method", "span", "--price", "0.5", "--from", "//Eve")
    model = registered["model"]

    # the card: stored by hash, checked against the records; README.md written with -o
    shown = _cli(node, "model", "card", str(model))
    assert shown["stored"] and shown["card_hash"] == registered["card_hash"]
    assert blake2_256(shown["card"].encode()).hex() == registered["card_hash"]
    meta = yaml.safe_load(shown["card"].split("---\n")[1])
    assert meta["license"] == "apache-2.0" and meta["library_name"] == "peft"
    assert meta["datasets"] == [f"payable-datanet-{net}-v1"] and meta["base_model"] == f"payable-base-model-{base}"
    assert "CC-BY-4.0 ×2, MIT ×1" in shown["card"] and "- hyperparameter rank: `4`" in shown["card"]
    assert shown["trained_on_withdrawn_data"] is None and "Trained on withdrawn data" not in shown["card"]
    readme = tmp_path / "README.md"
    done = _run(node, "model", "card", str(model), "-o", str(readme), json_out=False)
    assert done.returncode == 0 and readme.read_text() == shown["card"], done.stderr
    assert "matches its records" in done.stdout

    # the summary, as JSON and as Markdown
    summary = _cli(node, "model", "summary", str(model))
    general, sources = summary["1_general_information"], summary["2_list_of_data_sources"]
    assert general["provider"]["account"] == Keypair.from_uri("//Eve").address
    assert general["base_model"]["id"] == base and general["model"]["card_hash"] == registered["card_hash"]
    assert general["training_data_size"]["contributions"] == 3
    assert general["training_data_size"]["bytes"] == sum((tmp_path / f"rows-{i}.txt").stat().st_size
                                                         for i in range(3))
    [source] = sources["datanets"]
    assert (source["contributions"], source["contributors"], source["personal_data"]) == (3, 2, 1)
    assert source["license_mix"] == [{"license": "CC-BY-4.0", "count": 2}, {"license": "MIT", "count": 1}]
    assert sources["base_model_declared_sources"]["sources"] == SOURCES
    markdown = tmp_path / "summary.md"
    done = _run(node, "model", "summary", str(model), "-o", str(markdown), json_out=False)
    assert done.returncode == 0, done.stderr
    text = markdown.read_text()
    assert "## 2. List of data sources" in text and "- SmolTalk: instruction tuning" in text
    assert "trained on withdrawn data: no." in text

    # a withdrawal: the card gains the notice (its stored bytes unchanged), the summary says how much
    _cli(node, "datanet", "withdraw", str(made[2]), "--from", "//Charlie")
    flagged = _cli(node, "model", "card", str(model))
    assert flagged["stored"] and flagged["card"].startswith(shown["card"])
    assert "## Trained on withdrawn data" in flagged["card"] and flagged["trained_on_withdrawn_data"]["count"] == 1
    processing = _cli(node, "model", "summary", str(model))["3_data_processing"]
    assert processing["withdrawn_data"]["contributions"][0]["contribution"] == made[2]
    assert "yes: 1 of its 3 training contributions" in processing["withdrawals"]

    # unknown model: a clear error (exit 2, as every refused CLI command)
    for action in ("card", "summary"):
        missing = _run(node, "model", action, "999")
        assert missing.returncode == 2 and "no model 999" in missing.stderr, missing.stderr

    with TestClient(create_app(node.target, "127.0.0.1:1"), base_url="http://127.0.0.1:8080") as studio:
        listing = studio.get("/models", headers={"Accept": "text/html"}).text
        assert f'<a href="/models/{model}">' in listing
        page = studio.get(f"/models/{model}", headers={"Accept": "text/html"})
        assert page.status_code == 200
        html = page.text
        assert 'id="model-card"' in html and "library_name: peft" in html
        assert registered["card_hash"] in html and "Stored by hash" in html
        assert "<strong>yes: 1 of its 3 training contributions" in html and f'data-withdrawn="{made[2]}"' in html
        assert "## 3. Relevant aspects of data processing" in html and "FineWeb-Edu: pretraining" in html
        unknown = studio.get("/models/999", headers={"Accept": "text/html"})
        assert unknown.status_code == 404 and "Not found" in unknown.text and "no model 999" in unknown.text


@pytest.mark.xdist_group("cpu-heavy")
def test_a_modelfactory_publish_stores_its_card(tmp_path, tiny_base):
    """The worker's publish flow renders the card from the record it returns for signing and stores it by hash:
    `payable model card` finds it and checks it against the registered record."""
    pytest.importorskip("peft")
    from conftest import NodeProcess, WorkerProcess

    from cli.finetune import job_auth
    from gpu_worker.finetune.pretrain import python_qa_rows
    from payable.worker.v1 import worker_pb2 as wp
    from payable.worker.v1 import worker_pb2_grpc

    owner = Keypair.from_uri("//Ferdie")
    node = NodeProcess(tmp_path / "node", "--dev", "--instant-seal")
    worker = WorkerProcess(tmp_path / "worker", node.target)
    try:
        base = _cli(node, "model", "register-base", str(tiny_base), "--license", "MIT", "--from", "//Alice")
        _cli(node, "datanet", "create", "--name", "python-qa", "--domain", "code", "--license", "PSF-2.0",
             "--deposit", "1", "--formats", "jsonl", "--from", "//Alice")
        rows = python_qa_rows()
        for i, who in enumerate(("//Bob", "//Charlie")):
            path = tmp_path / f"{i}.jsonl"
            path.write_text("\n".join(json.dumps(r) for r in rows[20 * i:20 * i + 20]))
            made = _cli(node, "datanet", "contribute", "1", str(path), "--format", "jsonl", "--from", who)
            _cli(node, "datanet", "approve", str(made["contribution"]), "--from", "//Alice")
        _cli(node, "datanet", "snapshot", "1", "--from", "//Alice")
        stub = worker_pb2_grpc.FinetuneStub(worker.channel())
        config = json.dumps({"base_model": base["artifact_hash"], "dataset": {"snapshots": [[1, 1]], "format": "auto"},
                             "max_steps": 4, "checkpoint_every": 100, "eval_every": 100, "batch_size": 4, "seed": 5})
        job = stub.Start(wp.StartJobRequest(config_json=config, auth=job_auth(owner, "start", config)), timeout=60)
        for update in stub.Watch(wp.WatchRequest(job=job.id), timeout=600):
            last = update.job
        assert last.state == "completed", last.error
        done = subprocess.run([sys.executable, "-m", "cli", "finetune", "publish", job.id, "--price", "0.1", "--from",
                               "//Ferdie", "--node", node.target, "--worker", worker.target, "--json"],
                              capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr[-3000:]
        model = json.loads(done.stdout)["model"]
        shown = _cli(node, "model", "card", str(model))
        assert shown["stored"] and len(shown["card_hash"]) == 64 and shown["license"] == "MIT"
        meta = yaml.safe_load(shown["card"].split("---\n")[1])
        assert meta["license"] == "mit" and meta["datasets"] == ["payable-datanet-1-v1"]
        results = json.loads(last.results_json)
        assert meta["model-index"][0]["results"][0]["metrics"][0]["value"] == round(
            round(results["eval_loss"] * 1e6) / 1e6, 6)
        assert f"adapter (PEFT directory) hash: `{results['adapter_hash']}`" in shown["card"]
    finally:
        worker.kill()
        node.kill()
