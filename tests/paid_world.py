"""A chain with adapters to pay for, in real processes: a node, ModelFactory fine-tunes on DataNets of
different text, the adapters published with per-token prices and both attribution methods, workers
registered for the base, and a funded requester. Shared by the paid-generation, gateway and studio tests."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys

from cli.finetune import job_auth
from payable.worker.v1 import worker_pb2 as wp
from payable.worker.v1 import worker_pb2_grpc
from runtime.crypto import Keypair

UPLOADER = Keypair.from_uri("//Alice")  # signs the blobs the tests store (an account on chain)

RUN = {"max_steps": 40, "checkpoint_every": 100, "eval_every": 100, "batch_size": 8, "seed": 3,
       "learning_rate": 3e-3}
PRICES = {"flat": "0.1", "input": "0.001", "output": "0.01"}
REQUESTER = Keypair.from_uri("//Paying-User")
DATANETS = (("python.jsonl", ("//Bob", "//Charlie")), ("words.jsonl", ("//Dave", "//Alice")))


def cli_json(node, *args, worker=None):
    extra = ["--node", node.target] + (["--worker", worker.target] if worker is not None else [])
    done = subprocess.run([sys.executable, "-m", "cli", *args, *extra, "--json"], capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


def _adapter(node, worker, datanet: int, base_hex: str, steps: int) -> int:
    """Fine-tune on the DataNet's snapshot through ModelFactory, publish with both attribution methods."""
    stub = worker_pb2_grpc.FinetuneStub(worker.channel())
    config = json.dumps({"base_model": base_hex, "dataset": {"snapshots": [[datanet, 1]], "format": "auto",
                                                             "template": "qa"}, **RUN, "max_steps": steps})
    job = stub.Start(wp.StartJobRequest(config_json=config, auth=job_auth(Keypair.from_uri("//Alice"), "start",
                                                                          config)), timeout=60)
    for update in stub.Watch(wp.WatchRequest(job=job.id), timeout=600):
        last = update.job
    assert last.state == "completed", last.error
    published = cli_json(node, "finetune", "publish", job.id, "--price", PRICES["flat"], "--price-per-input-token",
                         PRICES["input"], "--price-per-output-token", PRICES["output"], "--from", "//Alice",
                         worker=worker)
    return published["model"]


def _classifier(client, worker, net: int) -> int:
    """A digits DataNet (three contributors' example blobs), a classifier the worker trains on its snapshot
    with a gradient index, registered (flat price) as a model with gradient attribution; its model id."""
    import numpy as np
    from sklearn.datasets import load_digits

    from gpu_worker.snapshots import snapshot_dataset
    from payable.datanet.v1 import datanet_pb2 as dn
    from payable.modelregistry.v1 import modelregistry_pb2 as mr

    alice = Keypair.from_uri("//Alice")
    digits = load_digits()
    x, y = (digits.data[:300] / 16.0).astype(np.float32), digits.target[:300]
    client.submit_call(alice, "datanet", "create_datanet", name="digits", domain="vision", license="BSD-3-Clause",
                       contribution_deposit="1", accepted_formats=["examples"])
    for who, rows in zip(("//Bob", "//Charlie", "//Dave"), np.array_split(np.arange(300), 3), strict=True):
        blob = wp.Dataset(examples=[wp.Example(features=x[i].tolist(), label=int(y[i])) for i in rows])
        info = client.upload(blob.SerializeToString(deterministic=True), uploader=UPLOADER)
        result = client.submit_call(Keypair.from_uri(who), "datanet", "contribute", datanet=net,
                                    content_hash=info.hash, size=info.size, format="examples")
        made = client.emitted(result.block_number, result.extrinsic_index, "Contributed", dn.ContributionEvent)
        client.submit_call(alice, "datanet", "approve", contribution=made.contribution)
    client.submit_call(alice, "datanet", "publish_snapshot", datanet=net)
    _, dataset = snapshot_dataset(client, net)
    builder = worker_pb2_grpc.GradientStub(worker.channel())
    trained = builder.Train(wp.TrainRequest(dataset=dataset, seed=7, model_config_json=(
        '{"family": "mlp", "inputs": 64, "hidden": [16], "classes": 10}')), timeout=300)
    built = list(builder.BuildIndex(wp.BuildIndexRequest(model_hash=trained.model_hash,
                                                         dataset_hash=trained.dataset_hash), timeout=600))[-1]
    result = client.submit_call(alice, "modelregistry", "register_base_model", artifact_hash=trained.model_hash,
                                architecture="mlp-64-16-10", license="MIT")
    base = client.emitted(result.block_number, result.extrinsic_index, "BaseModelRegistered",
                          mr.BaseModelRegistered).base_model
    result = client.submit_call(alice, "modelregistry", "register_model", base_model=base,
                                snapshots=[{"datanet": net, "version": 1}], training_config_hash=trained.dataset_hash,
                                artifact_hash=trained.model_hash, attribution_index_hash=built.index_hash,
                                attribution_method="gradient", price_per_inference="0.5",
                                split={"contributors": 7000, "model_owner": 2000, "protocol": 500, "worker": 500})
    return client.emitted(result.block_number, result.extrinsic_index, "ModelRegistered", mr.ModelEvent).model


@contextlib.contextmanager
def paid_world(root, tiny_base, *, replication: int = 1, datanets: int = 2, block_time: str = "0.3",
               steps: int = RUN["max_steps"], classifier: bool = False):
    """Yields {node, client, workers, models (DataNet → model id), nets (DataNet → contributors), base, root,
    classifier (its model id, or None)}; `steps` of fine-tuning per adapter (more: answers closer to the
    training rows, verbatim spans); with `classifier`, a digits classifier on a DataNet of its own too."""
    from conftest import NodeProcess, WorkerProcess

    from gpu_worker.finetune.pretrain import python_qa_rows
    from gpu_worker.finetune.synthetic import task_rows

    spec = json.loads(subprocess.run([sys.executable, "-m", "cli", "build-spec", "--dev"], capture_output=True,
                                     text=True, check=True).stdout)
    spec["config"]["inference"] = {"replication": str(replication), "deadline_blocks": "16"}
    (root / "spec.json").write_text(json.dumps(spec))
    node = NodeProcess(root / "node", "--chain", str(root / "spec.json"), "--block-time", block_time)
    workers = [WorkerProcess(root / key[2:].lower(), node.target, key)
               for key in ("//Eve", "//Ferdie")[:replication]]
    try:
        client = node.client()
        base = cli_json(node, "model", "register-base", str(tiny_base), "--license", "MIT", "--from", "//Alice")
        files = {"python.jsonl": python_qa_rows()[:60],
                 "words.jsonl": task_rows(20, seed=5, tasks=("upper", "bracket", "hyphen"))}
        nets = {}
        for net, (name, contributors) in enumerate(DATANETS[:datanets], start=1):
            lines = [json.dumps({"prompt": r["prompt"], "response": r["response"]}) for r in files[name]]
            cli_json(node, "datanet", "create", "--name", name.split(".")[0], "--domain", "text", "--license", "MIT",
                     "--deposit", "1", "--formats", "jsonl", "--from", "//Alice")
            half = len(lines) // 2
            for who, part in zip(contributors, (lines[:half], lines[half:]), strict=True):
                path = root / f"{net}-{who[2:]}.jsonl"
                path.write_text("\n".join(part))
                made = cli_json(node, "datanet", "contribute", str(net), str(path), "--format", "jsonl", "--from", who)
                cli_json(node, "datanet", "approve", str(made["contribution"]), "--from", "//Alice")
            cli_json(node, "datanet", "snapshot", str(net), "--from", "//Alice")
            nets[net] = contributors
        models = {net: _adapter(node, workers[0], net, base["artifact_hash"], steps) for net in nets}
        digits = _classifier(client, workers[0], len(nets) + 1) if classifier else None
        for worker in workers:
            client.submit_call(Keypair.from_uri(worker.key), "inference", "register_worker", endpoint=worker.target,
                               base_models=[base["base_model"]], models=[digits] if digits else [], device="cpu",
                               bond="150")
        client.submit_call(Keypair.from_uri("//Alice"), "token", "transfer_keep_alive", dest=REQUESTER.public,
                           amount="1000")
        yield {"node": node, "client": client, "workers": workers, "models": models, "nets": nets, "base": base,
               "root": root, "classifier": digits}
        client.close()
    finally:
        for worker in workers:
            worker.stop()
        node.kill()
