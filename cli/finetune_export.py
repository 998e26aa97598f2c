"""`payable finetune export JOB [--format merged|gguf]`: a finished job's adapter out of the worker.

`merged` (the default) asks the worker for the PEFT adapter and a merged model checked against base and
base + adapter. `gguf` writes the adapter as a GGUF LoRA for llama.cpp / Ollama with llama.cpp's own
converter (gpu_worker/finetune/gguf_export.py), reading the job's adapter and base where the worker keeps
them (the paths the worker reports, as for `merged`); its model card is generated from the job's record and
the chain: the base's license and source, the DataNet snapshots (names, licenses, roots), held-out loss.
"""

from __future__ import annotations

import json
from pathlib import Path

from .common import client, emit

FORMATS = ("merged", "gguf")


def add_arguments(p) -> None:
    p.add_argument("--format", choices=FORMATS, default="merged",
                   help="merged: the PEFT adapter and a checked merged model (default); gguf: a GGUF LoRA for "
                        "llama.cpp / Ollama with its model card (README.md)")
    p.add_argument("--out", type=Path, help="--format gguf: the folder to write (default ./JOB-gguf)")
    p.add_argument("--outtype", default="f32", choices=("f32", "f16", "bf16", "q8_0"),
                   help="--format gguf: the LoRA factors' type (default f32)")


def export(args, stub, job_ref) -> int:
    if args.format == "gguf":
        return _export_gguf(args, stub, job_ref)
    from .finetune import _rpc

    out = _rpc(stub.Export, job_ref)
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

    from .finetune import _rpc

    job = _rpc(stub.Status, job_ref)
    if job.state != "completed":
        raise ValueError(f"job {job.id} is {job.state}; it must be completed before it is exported")
    config, results = json.loads(job.config_json), json.loads(job.results_json or "{}")
    # jobs trained before the worker recorded adapter_dir: the merged export reports it
    adapter_dir = results.get("adapter_dir") or _rpc(stub.Export, job_ref).adapter_dir
    facts = _job_facts(args, job, config, results)
    out_dir = args.out or Path(f"{job.id}-gguf")
    done = gguf_export.export_gguf(Path(results["base_dir"]), Path(adapter_dir), out_dir,
                                   gguf_export.model_card(facts, f"adapter-{args.outtype}.gguf"),
                                   outtype=args.outtype)
    emit(args, {**done, "adapter_dir": adapter_dir},
         [("GGUF LoRA", done["gguf"]), ("model card", done["model_card"]),
          ("adapted modules", f"{done['adapted_modules']} (alpha {done['alpha']:g}, {done['outtype']})"),
          ("sha256", done["sha256"]), ("run it", f"llama-cli -m BASE.gguf --lora {done['gguf']}")])
    return 0


def _job_facts(args, job, config: dict, results: dict):
    """The model card's facts: the job's record, the base's and the DataNets' records on chain."""
    from gpu_worker.finetune.engine import registered_base
    from gpu_worker.finetune.gguf_export import CardFacts, DatasetRef
    from payable.datanet.v1 import datanet_pb2 as dn
    from payable.modelregistry.v1 import modelregistry_pb2 as mr

    with client(args) as node:
        base_id = registered_base(node, config["base_model"])
        base = node.pallet_query("modelregistry", "get_base_model", mr.BaseModelRequest(base_model=base_id),
                                 mr.BaseModel)
        datasets = []
        for net, version in config["dataset"]["snapshots"]:
            info = node.pallet_query("datanet", "get_datanet", dn.DataNetRequest(datanet=net), dn.DataNetInfo)
            snap = node.pallet_query("datanet", "get_snapshot", dn.SnapshotRequest(datanet=net, version=version),
                                     dn.SnapshotWithProofs)
            datasets.append(DatasetRef(net, version, info.datanet.name, info.metadata.license,
                                       snap.snapshot.root.hex()))
    source = base.source
    name = Path(source.file_name).stem if source.file_name else f"payable-base-model-{base_id}"
    provenance = {"base model id on chain": base_id, "base source package":
                  f"{source.package}=={source.version}" if source.package else "",
                  "base source file sha256": source.file_sha256.hex(), "worker job": job.id}
    hyper = {k: config[k] for k in ("rank", "alpha", "target_modules", "top_layers", "learning_rate", "epochs",
                                    "max_steps", "cutoff", "seed") if k in config}
    return CardFacts(title=f"Payable ModelFactory job {job.id}", license=base.license, base_model=name,
                     base_artifact=config["base_model"], datasets=datasets, eval_loss=results.get("eval_loss"),
                     base_eval_loss=results.get("base_eval_loss"), eval_examples=results.get("eval_examples", 0),
                     train_examples=results.get("train_examples", 0), adapter_hash=results.get("adapter_hash", ""),
                     training_config_hash=job.config_hash.hex(), hyperparameters=hyper, provenance=provenance)
