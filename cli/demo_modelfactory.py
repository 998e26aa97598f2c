"""The demo's language-model half: ModelFactory adapters, served by OpenLoRA in the paid flow.

A base pretrained on Python's documentation is registered from its Hugging Face directory. Two DataNets
of different text - question/answer rows about Python's builtins (//Bob's JSONL, //Charlie's CSV) and
word games (//Dave's and //Ferdie's JSONL) - each get a LoRA adapter fine-tuned on their snapshot by the
worker (ModelFactory), exported with merge checks, and published with provenance and an attribution
index over their training rows (span + LoRA-gradient). The worker serves both adapters on the one base;
paid generations stream to their requester and settle per token. `verify` re-runs a recorded job.
"""

from __future__ import annotations

import csv
import io
import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from payable.datanet.v1 import datanet_pb2 as dn
from payable.modelregistry.v1 import modelregistry_pb2 as mr
from payable.worker.v1 import worker_pb2 as wp
from payable.worker.v1 import worker_pb2_grpc
from runtime.crypto import Keypair
from sdk.artifacts import HF_MODEL, total_size, upload_directory
from sdk.client import Client
from sdk.hf_directory import describe_hf_directory
from sdk.wire import verify_membership

from .common import created

JOB = {"max_steps": 150, "eval_every": 25, "checkpoint_every": 50, "seed": 11, "template": "qa",
       "learning_rate": 3e-3, "batch_size": 8}
PRICES = {"price_per_inference": "0.1", "price_per_input_token": "0.001", "price_per_output_token": "0.01"}


@dataclass
class Adapter:
    model: int
    datanet: int
    title: str
    contributors: tuple[str, ...]
    prompts: list[str]
    published: wp.PublishedArtifacts | None = None
    results: dict = field(default_factory=dict)


def _datanet(client: Client, alice: Keypair, name: str, parts: list[tuple[str, bytes, str]]) -> int:
    net = created(client, client.submit_call(alice, "datanet", "create_datanet", name=name, domain="text",
                                             license="PSF-2.0", contribution_deposit="1",
                                             accepted_formats=["jsonl", "csv"]), "DataNetCreated",
                  dn.DataNetCreated).datanet
    for who, blob, fmt in parts:
        info = client.upload(blob)
        made = created(client, client.submit_call(Keypair.from_uri(who), "datanet", "contribute", datanet=net,
                                                  content_hash=info.hash, size=info.size, format=fmt),
                       "Contributed", dn.ContributionEvent)
        client.submit_call(alice, "datanet", "approve", contribution=made.contribution)
    client.submit_call(alice, "datanet", "publish_snapshot", datanet=net)
    return net


def _jsonl(rows: list[dict]) -> bytes:
    return "\n".join(json.dumps({"prompt": r["prompt"], "response": r["response"]}) for r in rows).encode()


def build(client: Client, channel, first: int) -> tuple[int, list[Adapter]]:
    """Steps `first`.. of the story: base, two DataNets, two adapters published; returns (base id, adapters)."""
    import torch

    from gpu_worker.finetune.pretrain import pretrain_base, python_qa_rows
    from gpu_worker.finetune.synthetic import task_rows

    alice = Keypair.from_uri("//Alice")
    jobs = worker_pb2_grpc.FinetuneStub(channel)
    print(f"\n{first}. ModelFactory: pretraining a small LLaMA-family base on Python's own documentation…")
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory(prefix="payable-base-") as tmp:
        base_dir = pretrain_base(Path(tmp) / "py-llama", steps=200)
        digest, manifest = upload_directory(client, base_dir, HF_MODEL)
        architecture, parameters, context = describe_hf_directory(base_dir)
    base = created(client, client.submit_call(alice, "modelregistry", "register_base_model", artifact_hash=digest,
                                              architecture=architecture, format="hf_directory",
                                              license="MIT", size_bytes=total_size(manifest), parameters=parameters,
                                              context_length=context),
                   "BaseModelRegistered", mr.BaseModelRegistered).base_model
    print(f"   its Hugging Face directory ({len(manifest.files)} files, {total_size(manifest):,} bytes) is in the "
          f"content store; base model {base} = manifest {digest.hex()[:16]}… (anyone can fetch and re-hash it)")

    qa = python_qa_rows()
    as_csv = io.StringIO()
    writer = csv.writer(as_csv)
    writer.writerow(["prompt", "response"])
    writer.writerows([r["prompt"], r["response"]] for r in qa[40:])
    words = task_rows(16, seed=3, tasks=("upper", "bracket", "hyphen", "last"))
    nets = [(_datanet(client, alice, "python-answers", [("//Bob", _jsonl(qa[:40]), "jsonl"),
                                                        ("//Charlie", as_csv.getvalue().encode(), "csv")]),
             "Python Q&A", ("//Bob", "//Charlie"), ["What does builtins.len do?", "What does builtins.divmod do?"]),
            (_datanet(client, alice, "word-games", [("//Dave", _jsonl(words[:32]), "jsonl"),
                                                    ("//Ferdie", _jsonl(words[32:]), "jsonl")]),
             "word games", ("//Dave", "//Ferdie"), ["upper: print class yield", "bracket: open range list"])]
    print(f"   DataNet {nets[0][0]} (python-answers): //Bob's JSONL + //Charlie's CSV of questions about builtins; "
          f"DataNet {nets[1][0]} (word-games): //Dave's and //Ferdie's rows of word games; both approved, "
          f"snapshot 1 each")
    adapters = []
    for net, title, contributors, prompts in nets:
        spec = {"snapshots": [[net, 1]], "format": "auto", "template": JOB["template"]}
        config = json.dumps({"base_model": digest.hex(), "dataset": spec,
                             **{k: v for k, v in JOB.items() if k != "template"}})
        estimate = jobs.Estimate(wp.JobConfigRequest(config_json=config), timeout=600)
        job = jobs.Start(wp.StartJobRequest(config_json=config, owner=alice.address, prompts=prompts[:1]),
                         timeout=60)
        for update in jobs.Watch(wp.WatchRequest(job=job.id), timeout=900):
            last = update.job
        if last.state != "completed":
            raise AssertionError(f"the fine-tuning job on DataNet {net} ended {last.state}: {last.error}")
        results = json.loads(last.results_json)
        print(f"   adapter on DataNet {net} ({title}; r 8, α 16, all linear layers, {estimate.steps} steps, "
              f"{estimate.trainable_params:,} trainable parameters): held-out loss {results['base_eval_loss']:.3f} → "
              f"{results['eval_loss']:.3f}, perplexity {results['base_perplexity']:.1f} → "
              f"{results['perplexity']:.1f}")
        if not adapters:
            exported = jobs.Export(wp.JobRef(job=job.id), timeout=600)
            print(f"   exported the PEFT adapter and a merged model: the merge differs from the base in "
                  f"{exported.changed_tensors} tensors and matches base + adapter within "
                  f"{exported.max_logit_difference:.1e}")
        published = jobs.PublishArtifacts(wp.PublishRequest(job=job.id, **PRICES), timeout=900)
        result = client.submit_and_wait(client.sign(alice, client.call_with("modelregistry", "register_model",
                                                                            published.register_model)))
        model_id = created(client, result, "ModelRegistered", mr.ModelEvent).model
        provenance = client.pallet_query("modelregistry", "get_provenance", mr.ModelRequest(model=model_id),
                                         mr.Provenance)
        proofs = [verify_membership(s.snapshot.root, p) for s in provenance.snapshots for p in s.contributions]
        print(f"   published as model {model_id}: adapter {published.adapter_hash.hex()[:16]}…, attribution index "
              f"{published.attribution_index_hash.hex()[:16]}… (span + LoRA-gradient over its "
              f"{results['train_examples']} training rows); its provenance lists {len(proofs)} contributions whose "
              f"Merkle proofs {'all verify' if all(proofs) else 'DO NOT verify'}")
        if not all(proofs):
            raise AssertionError(f"model {model_id}: a provenance proof does not verify")
        adapters.append(Adapter(model_id, net, title, contributors, prompts, published, results))
    return base, adapters


def verify(client: Client, adapter: Adapter) -> bool:
    """Re-run the adapter's recorded job from the on-chain config and the snapshot's data; compare bytes."""
    from gpu_worker.finetune.config import TrainingConfig
    from gpu_worker.finetune.engine import reproduce

    with tempfile.TemporaryDirectory(prefix="payable-verify-") as work:
        recorded = TrainingConfig.from_json(client.download(adapter.published.training_config_hash))
        again = reproduce(client, recorded, Path(work))
    same = again == adapter.published.adapter_hash
    print(f"   verify: re-running model {adapter.model}'s recorded job from the on-chain config and the snapshot's "
          f"data gives adapter {again.hex()[:16]}… - {'the same bytes' if same else 'DIFFERENT bytes'}")
    return same
