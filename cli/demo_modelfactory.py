"""The demo's ModelFactory chapter: a base model pretrained on Python's documentation, registered from its
Hugging Face directory; a DataNet of question/answer rows about Python's builtins from two contributors;
a LoRA adapter fine-tuned on its snapshot by the worker; export with merge checks; the adapter published
with its provenance; and `verify` re-running the job from what the chain recorded."""

from __future__ import annotations

import csv
import io
import json
import tempfile
from pathlib import Path

from payable.datanet.v1 import datanet_pb2 as dn
from payable.modelregistry.v1 import modelregistry_pb2 as mr
from payable.worker.v1 import worker_pb2 as wp
from payable.worker.v1 import worker_pb2_grpc
from runtime.artifacts import HF_MODEL, total_size, upload_directory
from runtime.client import Client
from runtime.crypto import Keypair
from runtime.wire import verify_membership

from .common import created

JOB = {"max_steps": 60, "eval_every": 10, "checkpoint_every": 20, "seed": 11}


def chapter(client: Client, channel, first: str) -> int:
    """Run the chapter; `first` is the number its first step prints as."""
    import torch

    from gpu_worker.finetune.config import TrainingConfig
    from gpu_worker.finetune.engine import reproduce
    from gpu_worker.finetune.pretrain import pretrain_base, python_qa_rows

    alice, bob, carol = (Keypair.from_uri(n) for n in ("//Alice", "//Bob", "//Charlie"))
    jobs = worker_pb2_grpc.FinetuneStub(channel)
    print(f"\n{first}. ModelFactory: pretraining a small LLaMA-family base on Python's own documentation…")
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory(prefix="payable-base-") as tmp:
        base_dir = pretrain_base(Path(tmp) / "py-llama", steps=200)
        digest, manifest = upload_directory(client, base_dir, HF_MODEL)
    base = created(client, client.submit_call(alice, "modelregistry", "register_base_model", artifact_hash=digest,
                                              architecture="llama:LlamaForCausalLM", format="hf_directory",
                                              license="MIT", size_bytes=total_size(manifest)),
                   "BaseModelRegistered", mr.BaseModelRegistered).base_model
    print(f"   its Hugging Face directory ({len(manifest.files)} files, {total_size(manifest):,} bytes) is in the "
          f"content store; base model {base} = manifest {digest.hex()[:16]}… (anyone can fetch and re-hash it)")

    rows = python_qa_rows()
    as_csv = io.StringIO()
    writer = csv.writer(as_csv)
    writer.writerow(["prompt", "response"])
    writer.writerows([r["prompt"], r["response"]] for r in rows[40:])
    net = created(client, client.submit_call(alice, "datanet", "create_datanet", name="python-answers", domain="code",
                                             license="PSF-2.0", contribution_deposit="1",
                                             accepted_formats=["jsonl", "csv"]), "DataNetCreated",
                  dn.DataNetCreated).datanet
    for who, blob, fmt in ((bob, "\n".join(json.dumps(r) for r in rows[:40]).encode(), "jsonl"),
                           (carol, as_csv.getvalue().encode(), "csv")):
        info = client.upload(blob)
        made = created(client, client.submit_call(who, "datanet", "contribute", datanet=net, content_hash=info.hash,
                                                  size=info.size, format=fmt), "Contributed", dn.ContributionEvent)
        client.submit_call(alice, "datanet", "approve", contribution=made.contribution)
    client.submit_call(alice, "datanet", "publish_snapshot", datanet=net)
    spec = {"snapshots": [[net, 1]], "format": "auto"}
    preview = jobs.Preview(wp.DatasetPreviewRequest(dataset_spec_json=json.dumps(spec), base_model=digest.hex()),
                           timeout=600)
    first_example = preview.examples[0]
    print(f"   DataNet {net}: //Bob's JSONL and //Charlie's CSV of questions about builtins, approved, snapshot 1; "
          f"the preview maps them to {preview.train_examples} training + {preview.eval_examples} held-out examples "
          f"({len(preview.errors)} mapping errors), e.g. contribution {first_example.contribution} line "
          f"{first_example.line}:\n     {first_example.rendered!r}")

    config = json.dumps({"base_model": digest.hex(), "dataset": spec, **JOB})
    estimate = jobs.Estimate(wp.JobConfigRequest(config_json=config), timeout=600)
    job = jobs.Start(wp.StartJobRequest(config_json=config, owner=alice.address,
                                        prompts=["What does builtins.abs do?"]), timeout=60)
    for update in jobs.Watch(wp.WatchRequest(job=job.id), timeout=900):
        last = update.job
    results = json.loads(last.results_json)
    if last.state != "completed":
        print(f"   the job ended {last.state}: {last.error}")
        return 1
    print(f"   fine-tuned a LoRA adapter (r 8, α 16, all linear layers; estimated {estimate.steps} steps, "
          f"{estimate.trainable_params:,} trainable parameters): held-out loss {results['base_eval_loss']:.3f} → "
          f"{results['eval_loss']:.3f}, perplexity {results['base_perplexity']:.1f} → {results['perplexity']:.1f}")
    print(f"   sample: {results['samples'][0]['prompt']!r} → {results['samples'][0]['completion']!r}")
    exported = jobs.Export(wp.JobRef(job=job.id), timeout=600)
    print(f"   exported the PEFT adapter and a merged model: the merge differs from the base in "
          f"{exported.changed_tensors} tensors and matches base + adapter within {exported.max_logit_difference:.1e}")

    published = jobs.PublishArtifacts(wp.PublishRequest(job=job.id, price_per_inference="0.2"), timeout=600)
    result = client.submit_and_wait(client.sign(alice, client.call_with("modelregistry", "register_model",
                                                                        published.register_model)))
    model_id = created(client, result, "ModelRegistered", mr.ModelEvent).model
    provenance = client.pallet_query("modelregistry", "get_provenance", mr.ModelRequest(model=model_id),
                                     mr.Provenance)
    proofs = [verify_membership(s.snapshot.root, p) for s in provenance.snapshots for p in s.contributions]
    print(f"   published as model {model_id}: adapter {published.adapter_hash.hex()[:16]}…, training config "
          f"{published.training_config_hash.hex()[:16]}…; its provenance lists {len(proofs)} contributions whose "
          f"Merkle proofs {'all verify' if all(proofs) else 'DO NOT verify'} against snapshot {net}:1's root")
    with tempfile.TemporaryDirectory(prefix="payable-verify-") as work:
        recorded = TrainingConfig.from_json(client.download(published.training_config_hash))
        again = reproduce(client, recorded, Path(work))
    same = again == published.adapter_hash
    print(f"   verify: re-running the recorded job from the on-chain config and the snapshot's data gives adapter "
          f"{again.hex()[:16]}… - {'the same bytes' if same else 'DIFFERENT bytes'}")
    return 0 if same and all(proofs) else 1
