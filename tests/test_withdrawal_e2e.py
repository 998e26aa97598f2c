"""Withdrawal end to end (issue 30 §2) on a real dev node and a real ModelFactory worker: an adapter trained on
a snapshot, then one of its contributions withdrawn by its contributor and one taken down on a copyright
claim (CLI). The node refuses their bytes (FAILED_PRECONDITION, who withdrew it at which block) and has deleted
them from its store; the model is flagged in `payable model provenance` / `show`, the gateway's `/v1/models` and
the studio's models page; the owner retrains on a newer snapshot, whose model is not flagged, and `payable
finetune verify` re-runs it byte for byte and states the withdrawn contributions its snapshots leave out,
while the flagged model's verify says why it cannot be re-run."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from payable.modelregistry.v1 import modelregistry_pb2 as mr
from runtime.crypto import Keypair
from sdk.artifacts import fetch_directory

pytest.importorskip("peft")

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("cpu-heavy")]

RUN = {"max_steps": 6, "checkpoint_every": 100, "eval_every": 100, "batch_size": 4, "seed": 5}
OWNER = Keypair.from_uri("//Ferdie")


def _cli(node, *args, worker=None, ok=True):
    extra = ["--node", node.target] + (["--worker", worker.target] if worker is not None else [])
    done = subprocess.run([sys.executable, "-m", "cli", *args, *extra, "--json"], capture_output=True, text=True,
                          timeout=600)
    assert (done.returncode == 0) == ok, done.stdout[-2000:] + done.stderr[-3000:]
    return json.loads(done.stdout)


def _train(worker, base_hex: str, version: int, seed: int = RUN["seed"]) -> str:
    """A completed ModelFactory job of OWNER's on DataNet 1's snapshot `version`: its id."""
    from cli.finetune import job_auth
    from payable.worker.v1 import worker_pb2 as wp
    from payable.worker.v1 import worker_pb2_grpc

    stub = worker_pb2_grpc.FinetuneStub(worker.channel())
    config = json.dumps({"base_model": base_hex, "dataset": {"snapshots": [[1, version]], "format": "auto"},
                         **RUN, "seed": seed})
    job = stub.Start(wp.StartJobRequest(config_json=config, auth=job_auth(OWNER, "start", config)), timeout=60)
    for update in stub.Watch(wp.WatchRequest(job=job.id), timeout=600):
        last = update.job
    assert last.state == "completed", last.error
    return job.id


def _train_and_publish(node, worker, base_hex: str, version: int) -> int:
    """A ModelFactory job on DataNet 1's snapshot `version`, published by its owner: the model id."""
    job = _train(worker, base_hex, version)
    return _cli(node, "finetune", "publish", job, "--price", "0.1", "--from", "//Ferdie", worker=worker)["model"]


def test_withdrawn_data_is_refused_everywhere_flagged_on_its_models_and_retrained_without(tmp_path, tiny_base):
    from conftest import NodeProcess, WorkerProcess
    from fastapi.testclient import TestClient

    from gpu_worker.finetune.pretrain import python_qa_rows
    from sdk.client import ClientError
    from studio.app import create_app, create_gateway_app
    from studio.gateway import Access, Budget

    node = NodeProcess(tmp_path / "node", "--dev", "--instant-seal")
    worker = WorkerProcess(tmp_path / "worker", node.target)
    try:
        client = node.client()
        rows = python_qa_rows()
        base = _cli(node, "model", "register-base", str(tiny_base), "--license", "MIT", "--from", "//Alice")
        _cli(node, "datanet", "create", "--name", "python-qa", "--domain", "code", "--license", "PSF-2.0",
             "--deposit", "1", "--formats", "jsonl", "--from", "//Alice")
        hashes = {}
        for i, who in enumerate(("//Bob", "//Charlie", "//Dave")):
            path = tmp_path / f"{i}.jsonl"
            path.write_text("\n".join(json.dumps(r) for r in rows[20 * i:20 * i + 20]))
            made = _cli(node, "datanet", "contribute", "1", str(path), "--format", "jsonl", "--from", who)
            hashes[made["contribution"]] = bytes.fromhex(made["content_hash"])
            _cli(node, "datanet", "approve", str(made["contribution"]), "--from", "//Alice")
        _cli(node, "datanet", "snapshot", "1", "--from", "//Alice")
        first = _train_and_publish(node, worker, base["artifact_hash"], version=1)
        assert _cli(node, "model", "provenance", str(first))["trained_on_withdrawn_data"] is None
        unpublished = _train(worker, base["artifact_hash"], version=1, seed=6)  # published only after

        # Bob withdraws his approved contribution; Alice (owner and curator) takes Charlie's down
        refused = _cli(node, "datanet", "withdraw", "1", "--from", "//Charlie", ok=False)
        assert refused["success"] is False and "NotContributor" in refused["error"]
        withdrawn_at = _cli(node, "datanet", "withdraw", "1", "--from", "//Bob")["block"]
        taken_at = _cli(node, "datanet", "take-down", "2", "--reason", "copyright", "--from", "//Alice")["block"]
        shown = {r["id"]: r for r in _cli(node, "datanet", "show", "1")["contributions"]}
        assert (shown[1]["status"], shown[1]["withdrawn_at"]) == ("WITHDRAWN", withdrawn_at)
        assert (shown[2]["status"], shown[2]["takedown"], shown[2]["withdrawn_at"]) == (
            "TAKEN_DOWN", "copyright", taken_at)

        # the node refuses the bytes, says why, and no longer holds them; the live contribution's still flow
        for cid, why in ((1, f"withdrawn by its contributor at block {withdrawn_at}"),
                         (2, f"taken down (copyright) at block {taken_at}")):
            with pytest.raises(ClientError) as caught:
                client.download(hashes[cid])
            assert str(caught.value).startswith("FAILED_PRECONDITION") and why in str(caught.value)
            assert not (tmp_path / "node" / "blobs" / hashes[cid].hex()[:2] / hashes[cid].hex()).exists()
        assert client.download(hashes[3]).startswith(b'{"prompt"')

        # the model trained on them is flagged: provenance, show, /v1/models, the studio's models page
        provenance = _cli(node, "model", "provenance", str(first))
        assert provenance["all_proofs_verified"]  # the snapshot still proves every leaf
        flag = provenance["trained_on_withdrawn_data"]
        assert [(c["contribution"], c["how"], c["withdrawn_at"]) for c in flag["contributions"]] == [
            (1, "withdrawn by its contributor", withdrawn_at), (2, "taken down (copyright)", taken_at)]
        assert (flag["count"], flag["training_contributions"], flag["since"]) == (2, 3, withdrawn_at)
        assert flag["withdrawn_size"] == shown[1]["size"] + shown[2]["size"]
        # rows, which the chain does not record, from the model's attribution index (rows.npy: row → contribution)
        record = client.pallet_query("modelregistry", "get_model", mr.ModelRequest(model=first), mr.Model)
        fetch_directory(client, record.attribution_index_hash, tmp_path / "index")
        meta = json.loads((tmp_path / "index" / "attribution.json").read_text())
        trained = np.bincount(np.load(tmp_path / "index" / "rows.npy"), minlength=3)
        per = {cid: int(n) for (cid, _), n in zip(meta["contributions"], trained, strict=True)}
        assert (flag["withdrawn_rows"], flag["training_rows"]) == (per[1] + per[2], sum(per.values()))
        text = subprocess.run([sys.executable, "-m", "cli", "model", "show", str(first), "--node", node.target],
                              capture_output=True, text=True, timeout=120).stdout
        assert 0 < per[3] and f"({per[1] + per[2]} of {sum(per.values())} rows, " in text
        assert [r.get("withdrawn") for r in provenance["contributions"]] == [
            f"withdrawn by its contributor at block {withdrawn_at}", f"taken down (copyright) at block {taken_at}",
            None]
        assert _cli(node, "model", "show", str(first))["trained_on_withdrawn_data"] == flag
        key = "g" * 24
        gateway = create_gateway_app(node.target, Keypair.from_uri("//Gateway"), None,
                                     Access.local(8081, key, [], []), Budget())
        with TestClient(gateway, base_url="http://127.0.0.1:8081") as api:
            listed = api.get("/v1/models", headers={"Authorization": f"Bearer {key}"}).json()["data"]
        assert {m["id"]: m["trained_on_withdrawn_data"] for m in listed} == {str(first): flag}
        with TestClient(create_app(node.target, worker.target), base_url="http://127.0.0.1:8080") as studio:
            page = studio.get("/models", headers={"Accept": "text/html"}).text
        assert "Trained on withdrawn data" in page and 'data-withdrawn="1"' in page and 'data-withdrawn="2"' in page

        # its verify cannot re-run it (the bytes are gone) and says so
        refused = _cli(node, "finetune", "verify", str(first), worker=worker, ok=False)
        assert refused["match"] is False and refused["trained_on_withdrawn_data"] == flag

        # a job trained before the withdrawal is not published after it (an outside user's was, twice)
        late = subprocess.run([sys.executable, "-m", "cli", "finetune", "publish", unpublished, "--price", "0.1",
                               "--from", "//Ferdie", "--node", node.target, "--worker", worker.target],
                              capture_output=True, text=True, timeout=600)
        assert late.returncode != 0 and f"contribution 1 was withdrawn at block {withdrawn_at}" in late.stderr
        assert "publish a model trained on a snapshot published since" in late.stderr
        assert [m.id for m in client.pallet_items("modelregistry", "list_models", mr.ModelsRequest(), mr.ModelList,
                                                  "models")] == [first]

        # a new job on the old snapshot is refused (the worker's cache still held the bytes: dropped too)
        from cli.finetune import job_auth
        from payable.worker.v1 import worker_pb2 as wp
        from payable.worker.v1 import worker_pb2_grpc

        stub = worker_pb2_grpc.FinetuneStub(worker.channel())
        config = json.dumps({"base_model": base["artifact_hash"], "dataset": {"snapshots": [[1, 1]],
                                                                              "format": "auto"}, **RUN})
        job = stub.Start(wp.StartJobRequest(config_json=config, auth=job_auth(OWNER, "start", config)), timeout=60)
        for update in stub.Watch(wp.WatchRequest(job=job.id), timeout=600):
            last = update.job
        assert last.state == "failed" and f"contribution 1 was withdrawn at block {withdrawn_at}" in last.error, \
            last.error
        # the owner retrains on a newer snapshot: not flagged, and verify proves it was trained without them
        assert _cli(node, "datanet", "snapshot", "1", "--from", "//Alice")["contributions"] == 1
        second = _train_and_publish(node, worker, base["artifact_hash"], version=2)
        assert _cli(node, "model", "provenance", str(second))["trained_on_withdrawn_data"] is None
        verified = _cli(node, "finetune", "verify", str(second), worker=worker)
        assert verified["match"] and verified["trained_without_withdrawn_data"]
        assert [(r["contribution"], r["in_training_snapshots"]) for r in verified["withdrawn_excluded"]] == [
            (1, False), (2, False)]
        client.close()
    finally:
        worker.stop()
        node.kill()
