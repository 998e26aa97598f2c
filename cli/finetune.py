"""`payable finetune`: ModelFactory from the command line - preview the data, start, watch, abort, resume,
export and publish a LoRA fine-tuning job on a worker; verify a published model by re-running its job."""

from __future__ import annotations

import json
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from runtime.crypto import Keypair, blake2_256
from sdk import modelfactory
from sdk.wire import finetune_message, start_subject

from . import finetune_export
from .common import DEFAULT_NODE, client, created, emit, json_option, keypair_from, worker_rpc

DEFAULT_WORKER = "127.0.0.1:9955"
HYPER = modelfactory.hyperparameter_types()  # flag → type, from ModelFactory's one declaration (the worker's defaults)


def _stub(args):
    import grpc

    from payable.worker.v1 import worker_pb2_grpc
    from sdk.grpcserver import MESSAGE_OPTIONS

    channel = grpc.insecure_channel(args.worker, options=MESSAGE_OPTIONS)
    return worker_pb2_grpc.FinetuneStub(channel)


def job_auth(key: Keypair, action: str, target: str, prompts: Sequence[str] = ()):
    """The owner's signature a worker asks for to `action` a job (`target`: its id), to start one (`target`:
    the config JSON exactly as sent, with the `prompts` it samples) or to preview a dataset (`target`: its
    spec JSON exactly as sent): a `payable.worker.v1.JobAuth`, fresh now. (A try signs its prompts too,
    `sdk.wire.try_subject`: not here.)"""
    import time

    from payable.worker.v1 import worker_pb2 as wp

    issued_at = int(time.time())
    subject = (start_subject(target, prompts) if action == "start"
               else blake2_256(target.encode()) if action == "preview" else target.encode())
    return wp.JobAuth(owner=key.public, issued_at=issued_at,
                      signature=key.sign(finetune_message(action, subject, key.public, issued_at)))


def _spec(args) -> dict:
    snapshots = []
    for ref in args.snapshot:
        net, sep, version = ref.partition(":")
        if not sep or not net.isdigit() or not version.isdigit():
            raise ValueError(f"--snapshot {ref!r}: write DATANET:VERSION, e.g. 1:2 (versions are explicit)")
        snapshots.append([int(net), int(version)])
    mapping = {}
    for item in args.map or []:
        key, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"--map {item!r}: write KEY=FIELD, e.g. prompt=question")
        mapping[key] = value
    return {"snapshots": snapshots, "format": args.format, "mapping": mapping, "template": args.template,
            "eval_per_mille": args.eval_per_mille, "split_seed": args.split_seed}


def _base_hash(args) -> str:
    from payable.modelregistry.v1 import modelregistry_pb2 as mr

    with client(args) as node:
        base = node.pallet_query("modelregistry", "get_base_model", mr.BaseModelRequest(base_model=args.base_model),
                                 mr.BaseModel)
    return base.artifact_hash.hex()


def _config(args) -> dict:
    config = json.loads(Path(args.config).read_text()) if args.config else {}
    if args.snapshot:
        config["dataset"] = _spec(args)
    if args.base_model:
        config["base_model"] = _base_hash(args)
    config.update({k: getattr(args, k) for k in HYPER if getattr(args, k) is not None})
    return config


def _bar(done: int, total: int, extra: str) -> None:
    width = 30
    filled = int(width * done / total) if total else 0
    print(f"\r  training [{'#' * filled}{'.' * (width - filled)}] {done}/{total} {extra}", end="", file=sys.stderr)


def _point_json(p) -> str:
    return json.dumps({"step": p.step, "total_steps": p.total_steps, "loss": p.loss if p.has_loss else None,
                       "eval_loss": p.eval_loss if p.has_eval else None, "lr": p.lr,
                       "tokens_per_s": round(p.tokens_per_s), "eta_s": round(p.eta_s, 1)})


def _follow(args, stub, job_id: str, since: int = 0, lines: bool = False) -> int:
    """Print the curve as JSON lines (with --json or `lines`) or a progress bar; the exit code says whether the
    job completed."""
    from payable.worker.v1 import worker_pb2 as wp

    last = None
    for update in stub.Watch(wp.WatchRequest(job=job_id, since=since), timeout=None):
        for p in update.points:
            if args.json or lines:
                print(_point_json(p))
            else:
                extra = f"loss {p.loss:.3f}" if p.has_loss else ""
                extra += f" eval {p.eval_loss:.3f}" if p.has_eval else ""
                _bar(p.step, p.total_steps, f"{extra} {p.tokens_per_s:,.0f} tok/s eta {p.eta_s:.0f}s   ")
        last = update.job
    if not args.json:
        print(file=sys.stderr)
    _print_job(args, last)
    return 0 if last is not None and last.state == "completed" else 1


def _print_job(args, job) -> None:
    results = json.loads(job.results_json or "{}")
    data = {"job": job.id, "state": job.state, "error": job.error, "step": job.step, "total_steps": job.total_steps,
            "config_hash": job.config_hash.hex(), "results": results}
    table = [("job", job.id), ("state", job.state + (f" ({job.error})" if job.error else "")),
             ("step", f"{job.step}/{job.total_steps}"), ("config hash", job.config_hash.hex())]
    for key in ("base_eval_loss", "eval_loss", "base_perplexity", "perplexity", "adapter_hash"):
        if results.get(key) is not None:
            value = results[key]
            table.append((key.replace("_", " "), f"{value:.4f}" if isinstance(value, float) else str(value)))
    for sample in results.get("samples", []):
        table.append((f"» {sample['prompt']}", sample["completion"]))
    emit(args, data, table)


def _preview(args, stub) -> int:
    """The examples a job would train on, rendered through its template: a page of the listing (training
    examples then held-out ones, or one split), fetched from the worker in pages of at most 50, with the offset
    where the next page starts; `--all` lists everything."""
    from payable.worker.v1 import worker_pb2 as wp

    if args.limit < 1 or args.offset < 0:
        raise ValueError("--limit takes 1 or more examples and --offset 0 or more")
    spec, base = json.dumps(_spec(args)), _base_hash(args)
    split = "" if args.split == "all" else args.split
    wanted = None if args.all else args.limit
    offset, examples = args.offset, []
    while True:
        ask = 50 if wanted is None else min(50, wanted - len(examples))
        auth = job_auth(keypair_from(args.sender), "preview", spec) if args.sender else None
        found = worker_rpc(stub.Preview, wp.DatasetPreviewRequest(dataset_spec_json=spec, base_model=base,
                                                                  cutoff=args.cutoff or 0, limit=ask,
                                                                  offset=offset, split=split, auth=auth))
        examples += found.examples
        offset = found.next_offset
        if not offset or not found.examples or (wanted is not None and len(examples) >= wanted):
            break
    data = {"train_examples": found.train_examples, "eval_examples": found.eval_examples,
            "train_tokens": found.train_tokens, "errors": list(found.errors),
            "near_duplicates": list(found.near_duplicates), "split": args.split,
            "listed": found.listed, "offset": args.offset, "next_offset": offset or None,
            "examples": [{"index": e.index, "contribution": e.contribution, "contributor": e.contributor,
                          "line": e.line, "split": e.split, "tokens": e.tokens, "rendered": e.rendered}
                         for e in examples]}
    if args.json:
        emit(args, data)
    else:
        print(f"{found.train_examples} training and {found.eval_examples} held-out examples, "
              f"{found.train_tokens:,} training tokens")
        for e in examples:
            print(f"\n--- #{e.index}: contribution {e.contribution} line {e.line} ({e.split}, {e.tokens} tokens, "
                  f"{e.contributor})\n{e.rendered}")
        scope = {"all": "", "train": " training", "eval": " held-out"}[args.split]
        first = f"#{args.offset}-#{args.offset + len(examples) - 1}" if examples else "none"
        print(f"\nshown: {first} of {found.listed}{scope} examples"
              + (f"; next page: --offset {offset}" if offset else ""))
        for left in found.near_duplicates:
            print(f"left out: {left}")
        for error in found.errors:
            print(f"error: {error}")
    return 0 if not found.errors else 1


def _start(args, stub) -> int:
    """Start a job (or only estimate its cost); `--follow` streams its progress."""
    from payable.worker.v1 import worker_pb2 as wp

    config = json.dumps(_config(args))
    if args.estimate:
        est = worker_rpc(stub.Estimate, wp.JobConfigRequest(config_json=config))
        emit(args, {"steps": est.steps, "train_tokens": est.train_tokens, "trainable_params": est.trainable_params,
                    "memory_bytes": est.memory_bytes, "seconds": est.seconds},
             [("steps", str(est.steps)), ("training tokens", f"{est.train_tokens:,}"),
              ("trainable parameters", f"{est.trainable_params:,}"),
              ("memory", f"{est.memory_bytes / 2**20:.1f} MiB"), ("time", f"~{est.seconds:.0f} s")])
        return 0
    job = worker_rpc(stub.Start, wp.StartJobRequest(config_json=config, prompts=args.prompt or [],
                                                    auth=job_auth(keypair_from(args.owner), "start", config,
                                                                  args.prompt or [])))
    if args.follow:
        return _follow(args, stub, job.id)
    _print_job(args, job)
    return 0


def cmd_finetune(args) -> int:
    from payable.worker.v1 import worker_pb2 as wp

    stub = _stub(args)
    action = args.action
    if action == "verify":
        return _verify(args)
    if action == "preview":
        return _preview(args, stub)
    if action == "start":
        return _start(args, stub)
    job_ref = wp.JobRef(job=args.job)
    if action == "status":
        _print_job(args, worker_rpc(stub.Status, job_ref))
        return 0
    if action == "logs":
        return _follow(args, stub, args.job, lines=True) if args.follow else _logs(args, stub)
    if action in ("abort", "resume"):
        owned = wp.JobRef(job=args.job, auth=job_auth(keypair_from(args.owner), action, args.job))
        job = worker_rpc(stub.Abort if action == "abort" else stub.Resume, owned)
        if action == "resume" and args.follow:
            return _follow(args, stub, job.id, since=0)
        _print_job(args, job)
        return 0
    if action == "export":
        owned = wp.JobRef(job=args.job, auth=job_auth(keypair_from(args.owner), action, args.job))
        return finetune_export.export(args, stub, owned)
    return _publish(args, stub, job_ref)


def _logs(args, stub) -> int:
    """The whole stored curve of a job, as JSON lines, without waiting for more."""
    from payable.worker.v1 import worker_pb2 as wp

    stream = stub.Watch(wp.WatchRequest(job=args.job), timeout=60)
    first = next(iter(stream), None)  # the first update carries every point stored so far
    stream.cancel()
    for p in first.points if first is not None else []:
        print(_point_json(p))
    return 0


def _publish(args, stub, job_ref) -> int:
    """Adapter and config to the content store (by the worker), then the model record on chain (signed here)."""
    from payable.modelregistry.v1 import modelregistry_pb2 as mr
    from payable.worker.v1 import worker_pb2 as wp

    split = [int(x) for x in args.split.split(",")]
    if len(split) != 4:
        raise ValueError("--split takes contributors,owner,protocol,worker basis points, e.g. 7000,2000,500,500")
    signer = keypair_from(args.sender)
    published = worker_rpc(stub.PublishArtifacts, wp.PublishRequest(
        job=job_ref.job, auth=job_auth(signer, "publish", job_ref.job), price_per_inference=args.price,
        price_per_input_token=args.price_per_input_token,
        price_per_output_token=args.price_per_output_token, attribution_method=args.attribution,
        span_weight_bps=args.span_weight_bps if args.attribution == "span+lora-gradient" else 0,
        split=mr.RewardSplit(**dict(zip(("contributors", "model_owner", "protocol", "worker"), split, strict=True)))))
    with client(args) as node:
        call = node.call_with("modelregistry", "register_model", published.register_model)
        result = node.submit_and_wait(node.sign(signer, call))
        made = created(node, result, "ModelRegistered", mr.ModelEvent)
    emit(args, {"model": made.model, "adapter_hash": published.adapter_hash.hex(),
                "training_config_hash": published.training_config_hash.hex(),
                "attribution_index_hash": published.attribution_index_hash.hex(), "block": result.block_number},
         [("model", str(made.model)), ("adapter", published.adapter_hash.hex()),
          ("training config", published.training_config_hash.hex()),
          ("attribution index", published.attribution_index_hash.hex()), ("block", f"#{result.block_number}")])
    return 0


def _withdrawn_excluded(node, model) -> list[dict]:
    """The contributions withdrawn or taken down from the DataNets the model cites, each checked here to be in
    none of the model's snapshots (their members read from the chain): with a byte-for-byte reproduction from
    those snapshots, proof that the adapter was trained without them."""
    from payable.datanet.v1 import datanet_pb2 as dn
    from payable.modelregistry.v1.withdrawn import how

    members = {cid for ref in model.snapshots for cid in node.pallet_query(
        "datanet", "get_snapshot", dn.SnapshotRequest(datanet=ref.datanet, version=ref.version),
        dn.SnapshotWithProofs).snapshot.contribution_ids}
    rows = []
    for net in sorted({ref.datanet for ref in model.snapshots}):
        for status in (dn.WITHDRAWN, dn.TAKEN_DOWN):
            for c in node.pallet_items("datanet", "list_contributions", dn.ContributionsRequest(
                    datanet=net, filter_status=True, status=status), dn.ContributionList, "contributions"):
                rows.append({"contribution": c.id, "datanet": net, "how": how(c.status, c.takedown),
                             "withdrawn_at": c.withdrawn_at, "in_training_snapshots": c.id in members})
    return sorted(rows, key=lambda r: r["contribution"])


def _verify(args) -> int:
    """Re-run a published model's training from its on-chain config and snapshots; compare adapter hashes. First,
    withdrawn data: a model trained on some cannot be re-run (no node serves those bytes; it says which); any
    other model's check lists the withdrawn contributions of its DataNets and that its snapshots hold none."""
    from gpu_worker.device import deterministic
    from gpu_worker.finetune.config import TrainingConfig, library_versions
    from gpu_worker.finetune.engine import reproduce
    from payable.modelregistry.v1 import modelregistry_pb2 as mr
    from payable.modelregistry.v1.withdrawn import withdrawn_json, withdrawn_text
    from sdk.training_rows import withdrawn_rows

    deterministic(1)
    with client(args) as node:
        model = node.pallet_query("modelregistry", "get_model", mr.ModelRequest(model=args.model), mr.Model)
        withdrawn = node.pallet_query("modelregistry", "get_withdrawn", mr.ModelRequest(model=model.id),
                                      mr.WithdrawnData)
        if withdrawn.contributions:
            rows = withdrawn_rows(node, model, withdrawn)
            emit(args, {"model": model.id, "match": False,
                        "trained_on_withdrawn_data": withdrawn_json(withdrawn, rows)},
                 [("model", str(model.id)), ("trained on withdrawn data", withdrawn_text(withdrawn, rows)),
                  ("result", "NOT RE-RUN: its training data includes withdrawn contributions, whose bytes no node "
                             "serves; retrain on a newer snapshot (payable finetune start) and verify that model")])
            return 1
        excluded = _withdrawn_excluded(node, model)
        config = TrainingConfig.from_json(node.download(model.training_config_hash))
        mismatched = {k: (v, library_versions().get(k)) for k, v in config.libraries.items()
                      if library_versions().get(k) != v}
        reader = keypair_from(args.sender) if args.sender else None
        with tempfile.TemporaryDirectory(prefix="payable-verify-") as work:
            if not args.json:
                print(f"re-training model {model.id}'s adapter from its recorded config "
                      f"{model.training_config_hash.hex()[:16]}… on CPU", file=sys.stderr)
            got = reproduce(node, config, Path(work), reader)
    same = got == model.artifact_hash
    without = not any(r["in_training_snapshots"] for r in excluded)
    emit(args, {"model": model.id, "recorded_adapter": model.artifact_hash.hex(), "reproduced_adapter": got.hex(),
                "match": same, "library_differences": mismatched, "withdrawn_excluded": excluded,
                "trained_without_withdrawn_data": without and same},
         [("model", str(model.id)), ("recorded adapter", model.artifact_hash.hex()),
          ("reproduced adapter", got.hex()), ("result", "MATCH: byte for byte" if same else "MISMATCH")]
         + [(f"library {k}", f"recorded {a}, here {b}") for k, (a, b) in mismatched.items()]
         + [("withdrawn data", "none in its DataNets" if not excluded else
             f"{len(excluded)} contributions withdrawn from its DataNets, "
             + ("none in its training snapshots: trained without them" if without else "SOME IN ITS SNAPSHOTS"))]
         + [(f"  #{r['contribution']} (DataNet {r['datanet']})", f"{r['how']} at block {r['withdrawn_at']}: "
             + ("IN its snapshots" if r["in_training_snapshots"] else "not in its snapshots")) for r in excluded])
    return 0 if same and without else 1


def register(sub) -> None:
    ft = sub.add_parser("finetune", help="ModelFactory: LoRA fine-tuning jobs on DataNet snapshots")
    fsub = ft.add_subparsers(dest="action", required=True)

    def command(name: str, help_text: str, *, job: bool = False):
        p = json_option(fsub.add_parser(name, help=help_text))
        p.add_argument("--worker", default=DEFAULT_WORKER, help=f"worker gRPC address (default {DEFAULT_WORKER})")
        p.add_argument("--node", default=DEFAULT_NODE, help=f"node gRPC address (default {DEFAULT_NODE})")
        if job:
            p.add_argument("job", help="the job id")
        p.set_defaults(func=cmd_finetune)
        return p

    def dataset_options(p, required: bool) -> None:
        p.add_argument("--base-model", type=int, required=required, help="the base model's id on chain")
        p.add_argument("--snapshot", action="append", required=required, help="DATANET:VERSION (repeatable)")
        p.add_argument("--format", default=modelfactory.DEFAULT_FORMAT, choices=("auto", "text", "jsonl", "csv"))
        p.add_argument("--map", action="append", help=f"KEY=FIELD: {', '.join(modelfactory.MAPPING_KEYS)}")
        p.add_argument("--template", default=modelfactory.DEFAULT_TEMPLATE,
                       help="chat (the tokenizer's), alpaca, plain, qa")
        p.add_argument("--eval-per-mille", type=int, default=modelfactory.DEFAULT_EVAL_PER_MILLE,
                       help="held-out share of rows in 1/1000")
        p.add_argument("--split-seed", type=int, default=modelfactory.DEFAULT_SPLIT_SEED)

    preview = command("preview", "the examples after the template (paged), token counts, mapping errors")
    dataset_options(preview, True)
    preview.add_argument("--cutoff", type=int)
    preview.add_argument("--limit", type=int, default=5, help="examples to show (default 5; any number: "
                                                               "fetched in pages)")
    preview.add_argument("--offset", type=int, default=0, help="start at this example (a page's next_offset)")
    preview.add_argument("--split", choices=("all", "train", "eval"), default="all",
                         help="list training examples, held-out ones (eval), or both (default)")
    preview.add_argument("--all", action="store_true", help="every example of the listing, however many")
    preview.add_argument("--from", dest="sender", help="sign as a reader of the snapshots' DataNets (needed for a "
                                                       "permissioned one: the worker shows its rows only to them)")
    start = command("start", "start a job (--estimate: only the memory/time estimate)")
    dataset_options(start, False)
    start.add_argument("--config", help="a training config JSON file (flags override it)")
    for name, kind in HYPER.items():
        start.add_argument(f"--{name.replace('_', '-')}", type=kind)
    start.add_argument("--prompt", action="append", help="a prompt to sample when training ends (repeatable)")
    start.add_argument("--owner", required=True, help="the job owner's key (//Name, seed or key file): it signs "
                                                      "the start, and only it may abort, resume, try, export or "
                                                      "publish the job")
    start.add_argument("--estimate", action="store_true")
    start.add_argument("--follow", action="store_true", help="show progress until the job ends")
    command("status", "a job's state, metrics and samples", job=True)
    logs = command("logs", "a job's loss curve as JSON lines", job=True)
    logs.add_argument("--follow", action="store_true")
    abort = command("abort", "stop a job (its last checkpoint stays)", job=True)
    resume = command("resume", "continue a stopped job from its last checkpoint", job=True)
    resume.add_argument("--follow", action="store_true")
    export = command("export", "the adapter (PEFT) and a checked merged model, or (--format gguf) a GGUF LoRA "
                               "for llama.cpp", job=True)
    finetune_export.add_arguments(export)
    for owned in (abort, resume, export):
        owned.add_argument("--owner", required=True, help="the job owner's key (it signs the request)")
    publish = command("publish", "adapter and config to the content store, the model on chain", job=True)
    publish.add_argument("--from", dest="sender", required=True, help="the model owner's key: the job's owner, "
                                                                      "who signs the publish and the registration")
    publish.add_argument("--price", required=True, help="OPEN per inference (a flat fee; may be 0 with token prices)")
    publish.add_argument("--price-per-input-token", default="0", help="OPEN per input token")
    publish.add_argument("--price-per-output-token", default="0", help="OPEN per generated token")
    publish.add_argument("--split", default=modelfactory.reward_split_text(),
                         help="contributors,owner,protocol,worker bps")
    publish.add_argument("--attribution", default="span+lora-gradient",
                         choices=("span", "lora-gradient", "span+lora-gradient"),
                         help="how generations are attributed to the training rows (default: both)")
    publish.add_argument("--span-weight-bps", type=int, default=5000,
                         help="span+lora-gradient: the span method's weight in basis points")
    verify = command("verify", "re-run a model's recorded job on CPU and compare the adapter byte for byte")
    verify.add_argument("model", type=int)
    verify.add_argument("--from", dest="sender", help="sign data reads (needed for a permissioned DataNet)")
