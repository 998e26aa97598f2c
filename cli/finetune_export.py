"""Adapters out to the ecosystem: `payable finetune export JOB [--format merged|gguf]` (a finished job, from
the worker that ran it) and `payable model export-gguf MODEL` (any published adapter, from the chain alone).

`merged` (the default) asks the worker for the PEFT adapter and a merged model checked against base and
base + adapter. `gguf` writes the adapter as a GGUF LoRA for llama.cpp / Ollama with llama.cpp's own
converter (gpu_worker/finetune/gguf_export.py), reading the job's adapter and base where the worker keeps
them (the paths the worker reports, as for `merged`). `model export-gguf` needs no worker: it downloads the
model's adapter, its base and its training config from the node's content store (every part hash-checked;
the base cached by its hash) and converts the same way. Either way the model card is generated from the
records (the job's, or the model's - the same card `payable model card` shows, with the GGUF's usage added),
by the one card writer (sdk.model_documents): license, the base's source, the DataNet snapshots (names,
license mixes, roots), held-out loss.
"""

from __future__ import annotations

import json
from pathlib import Path

from sdk.model_documents import model_card

from .common import client, emit, worker_rpc

FORMATS = ("merged", "gguf")


def add_arguments(p) -> None:
    p.add_argument("--format", choices=FORMATS, default="merged",
                   help="merged: the PEFT adapter and a checked merged model (default); gguf: a GGUF LoRA for "
                        "llama.cpp / Ollama with its model card (README.md)")
    gguf_arguments(p, "--format gguf: ", "JOB")


def gguf_arguments(p, when: str, default_name: str) -> None:
    p.add_argument("--out", type=Path, help=f"{when}the folder to write (default ./{default_name}-gguf)")
    p.add_argument("--outtype", default="f32", choices=("f32", "f16", "bf16", "q8_0"),
                   help=f"{when}the LoRA factors' type (default f32)")


def export(args, stub, job_ref) -> int:
    if args.format == "gguf":
        return _export_gguf(args, stub, job_ref)
    out = worker_rpc(stub.Export, job_ref)
    emit(args, {"adapter_dir": out.adapter_dir, "merged_dir": out.merged_dir,
                "max_logit_difference": out.max_logit_difference, "changed_tensors": out.changed_tensors,
                "logit_shift_from_base": out.logit_shift_from_base},
         [("adapter (PEFT)", out.adapter_dir), ("merged model", out.merged_dir),
          ("merged vs base + adapter", f"max logit difference {out.max_logit_difference:.2e}"),
          ("merged vs base", f"{out.changed_tensors} tensors changed, "
                             f"logits moved {out.logit_shift_from_base:.3f}")])
    return 0


def _export_gguf(args, stub, job_ref) -> int:
    from gpu_worker.finetune import gguf_export

    job = worker_rpc(stub.Status, job_ref)
    if job.state != "completed":
        raise ValueError(f"job {job.id} is {job.state}; it must be completed before it is exported")
    config, results = json.loads(job.config_json), json.loads(job.results_json or "{}")
    # jobs trained before the worker recorded adapter_dir: the merged export reports it
    adapter_dir = results.get("adapter_dir") or worker_rpc(stub.Export, job_ref).adapter_dir
    facts = _job_facts(args, job, config, results)
    out_dir = args.out or Path(f"{job.id}-gguf")
    done = gguf_export.export_gguf(Path(results["base_dir"]), Path(adapter_dir), out_dir,
                                   model_card(facts, f"adapter-{args.outtype}.gguf"),
                                   outtype=args.outtype)
    emit(args, {**done, "adapter_dir": adapter_dir},
         [("GGUF LoRA", done["gguf"]), ("model card", done["model_card"]),
          ("adapted modules", f"{done['adapted_modules']} (alpha {done['alpha']:g}, {done['outtype']})"),
          ("sha256", done["sha256"]), ("run it", f"llama-cli -m BASE.gguf --lora {done['gguf']}")])
    return 0


def _job_facts(args, job, config: dict, results: dict):
    """The model card's facts: the job's record, the base's and the DataNets' records on chain."""
    from gpu_worker.finetune.engine import registered_base
    from payable.modelregistry.v1 import modelregistry_pb2 as mr
    from provenance import documents
    from sdk.model_documents import CardFacts

    with client(args) as node:
        base_id = registered_base(node, config["base_model"])
        base = node.pallet_query("modelregistry", "get_base_model", mr.BaseModelRequest(base_model=base_id),
                                 mr.BaseModel)
        refs = [mr.SnapshotRef(datanet=net, version=version) for net, version in config["dataset"]["snapshots"]]
        datasets = [documents.dataset_ref(snap, name) for snap, name in documents.snapshots(node, refs)]
    name, provenance = documents.base_provenance(base, base_id)
    return CardFacts(title=f"Payable ModelFactory job {job.id}", license=base.license, base_model=name,
                     base_artifact=config["base_model"], datasets=datasets, eval_loss=results.get("eval_loss"),
                     base_eval_loss=results.get("base_eval_loss"), eval_examples=results.get("eval_examples", 0),
                     train_examples=results.get("train_examples", 0), adapter_hash=results.get("adapter_hash", ""),
                     training_config_hash=job.config_hash.hex(), hyperparameters=documents.hyperparameters(config),
                     provenance={**provenance, "worker job": job.id})


def export_model(args, node, mr) -> int:
    """`payable model export-gguf MODEL`: a published adapter as a GGUF LoRA, from what the chain and its content
    store hold (no worker): adapter, base and training config downloaded and checked, then converted."""
    import tempfile

    from gpu_worker.finetune import gguf_export
    from provenance import documents
    from sdk.artifacts import HF_MODEL, PEFT_LORA, fetch_directory

    from .model_import import default_cache_dir

    model = node.pallet_query("modelregistry", "get_model", mr.ModelRequest(model=args.model), mr.Model)
    if model.format != mr.PEFT_LORA:
        raise ValueError(f"model {args.model} is a {mr.ArtifactFormat.Name(model.format)} artifact, not a LoRA "
                         "adapter: only adapters export as GGUF LoRAs")
    base = node.pallet_query("modelregistry", "get_base_model", mr.BaseModelRequest(base_model=model.base_model),
                             mr.BaseModel)
    base_dir = default_cache_dir().parent / "bases" / base.artifact_hash.hex()
    fetch_directory(node, base.artifact_hash, base_dir, kind=HF_MODEL)  # files already there and right are kept
    facts = documents.record_card_facts(node, model)
    out_dir = args.out or Path(f"model-{model.id}-gguf")
    with tempfile.TemporaryDirectory(prefix="payable-export-") as work:
        adapter_dir = Path(work) / "adapter"
        fetch_directory(node, model.artifact_hash, adapter_dir, kind=PEFT_LORA)
        done = gguf_export.export_gguf(base_dir, adapter_dir, out_dir,
                                       model_card(facts, f"adapter-{args.outtype}.gguf"),
                                       outtype=args.outtype)
    emit(args, {**done, "model": model.id, "base_dir": str(base_dir)},
         [("GGUF LoRA", done["gguf"]), ("model card", done["model_card"]),
          ("adapted modules", f"{done['adapted_modules']} (alpha {done['alpha']:g}, {done['outtype']})"),
          ("sha256", done["sha256"]), ("base (Hugging Face directory)", str(base_dir)),
          ("run it", f"llama-cli -m BASE.gguf --lora {done['gguf']}")])
    return 0
