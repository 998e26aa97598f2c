"""`payable model`: register base models and fine-tuned models, show one, show its provenance."""

from __future__ import annotations

from runtime.crypto import encode_address
from runtime.wire import verify_membership

from .common import client, client_command, created, emit, keypair_from


def _show(args, node, pb) -> int:
    from google.protobuf import json_format

    found = node.pallet_query("modelregistry", "get_model", pb.ModelRequest(model=args.model), pb.Model)
    emit(args, json_format.MessageToDict(found, preserving_proto_field_name=True),
         [("model", str(found.id)), ("owner", encode_address(found.owner)),
          ("snapshots", ", ".join(f"{s.datanet}:{s.version}" for s in found.snapshots)),
          ("split (bps)", f"contributors {found.split.contributors}, owner {found.split.model_owner}, "
                          f"protocol {found.split.protocol}, worker {found.split.worker}"),
          ("deprecated", str(found.deprecated))])
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
                         "content": proof.leaf.content_hash.hex(), "proof_verified": ok})
    emit(args, {"model": prov.model.id, "base_model": prov.base_model.id, "contributions": rows,
                "all_proofs_verified": all_ok},
         [("model", str(prov.model.id)), ("base model", f"{prov.base_model.id} ({prov.base_model.architecture})")]
         + [(f"  {r['datanet']}:{r['version']} #{r['contribution']}",
             f"{r['contributor']}  proof {'ok' if r['proof_verified'] else 'FAILED'}") for r in rows])
    return 0 if all_ok else 1


def _register(args, node, pb) -> int:
    split = [int(x) for x in args.split.split(",")]
    if len(split) != 4:
        raise ValueError("--split takes contributors,owner,protocol,worker basis points, e.g. 7000,2000,500,500")
    snapshots = []
    for ref in args.snapshot:
        net, _, version = ref.partition(":")
        snapshots.append({"datanet": int(net), "version": int(version or 0)})
    result = node.submit_call(
        keypair_from(args.sender), "modelregistry", "register_model", base_model=args.base_model,
        snapshots=snapshots, training_config_hash=args.training_config_hash, artifact_hash=args.artifact_hash,
        attribution_method=args.method, attribution_index_hash=args.index_hash, price_per_inference=args.price,
        price_per_token=args.price_per_token,
        split=dict(zip(("contributors", "model_owner", "protocol", "worker"), split, strict=True)))
    made = created(node, result, "ModelRegistered", pb.ModelEvent)
    emit(args, {"model": made.model, "block": result.block_number}, [("model", str(made.model))])
    return 0


def _register_base(args, node, pb) -> int:
    result = node.submit_call(keypair_from(args.sender), "modelregistry", "register_base_model",
                              artifact_hash=args.artifact_hash, architecture=args.architecture,
                              format=args.format, license=args.license)
    made = created(node, result, "BaseModelRegistered", pb.BaseModelRegistered)
    emit(args, {"base_model": made.base_model}, [("base model", str(made.base_model))])
    return 0


ACTIONS = {"show": _show, "provenance": _provenance, "register": _register, "register-base": _register_base}


def cmd_model(args) -> int:
    from payable.modelregistry.v1 import modelregistry_pb2 as pb

    with client(args) as node:
        return ACTIONS[args.action](args, node, pb)


def register(sub) -> None:
    model = sub.add_parser("model", help="models: register, show, provenance")
    msub = model.add_subparsers(dest="action", required=True)
    base = client_command(msub, "register-base", "register a base model", cmd_model, signed=True)
    base.add_argument("--artifact-hash", required=True)
    base.add_argument("--architecture", required=True)
    base.add_argument("--format", default="onnx", choices=("onnx", "torch", "safetensors"))
    base.add_argument("--license", required=True)
    register_ = client_command(msub, "register", "register a fine-tuned model or adapter", cmd_model, signed=True)
    register_.add_argument("--base-model", type=int, required=True)
    register_.add_argument("--snapshot", action="append", required=True, help="DATANET:VERSION (repeatable)")
    register_.add_argument("--artifact-hash", required=True)
    register_.add_argument("--training-config-hash", required=True)
    register_.add_argument("--index-hash", required=True, help="the attribution index hash")
    register_.add_argument("--method", default="gradient", choices=("gradient", "span"))
    register_.add_argument("--price", required=True, help="OPEN per inference")
    register_.add_argument("--price-per-token", default="0")
    register_.add_argument("--split", default="7000,2000,500,500", help="contributors,owner,protocol,worker bps")
    client_command(msub, "show", "a model's record", cmd_model).add_argument("model", type=int)
    client_command(msub, "provenance", "a model's provenance", cmd_model).add_argument("model", type=int)
