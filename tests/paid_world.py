"""A chain with adapters to pay for, in real processes: a node, ModelFactory fine-tunes on DataNets of
different text, the adapters published with per-token prices and both attribution methods, workers
registered for the base, and a funded requester. Shared by the paid-generation, gateway and studio tests."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys

from payable.worker.v1 import worker_pb2 as wp
from payable.worker.v1 import worker_pb2_grpc
from runtime.crypto import Keypair

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
    job = stub.Start(wp.StartJobRequest(config_json=config, owner=Keypair.from_uri("//Alice").address), timeout=60)
    for update in stub.Watch(wp.WatchRequest(job=job.id), timeout=600):
        last = update.job
    assert last.state == "completed", last.error
    published = cli_json(node, "finetune", "publish", job.id, "--price", PRICES["flat"], "--price-per-input-token",
                         PRICES["input"], "--price-per-output-token", PRICES["output"], "--from", "//Alice",
                         worker=worker)
    return published["model"]


@contextlib.contextmanager
def paid_world(root, tiny_base, *, replication: int = 1, datanets: int = 2, block_time: str = "0.3",
               steps: int = RUN["max_steps"]):
    """Yields {node, client, workers, models (DataNet → model id), nets (DataNet → contributors), base, root};
    `steps` of fine-tuning per adapter (more: answers closer to the training rows, verbatim spans)."""
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
        for worker in workers:
            client.submit_call(Keypair.from_uri(worker.key), "inference", "register_worker", endpoint=worker.target,
                               base_models=[base["base_model"]], device="cpu", bond="150")
        client.submit_call(Keypair.from_uri("//Alice"), "token", "transfer_keep_alive", dest=REQUESTER.public,
                           amount="1000")
        yield {"node": node, "client": client, "workers": workers, "models": models, "nets": nets, "base": base,
               "root": root}
        client.close()
    finally:
        for worker in workers:
            worker.stop()
        node.kill()
