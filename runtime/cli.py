"""The `payable` command line: run a node, manage keys, send transactions, read the chain.

Client commands talk to a node over gRPC (`--node HOST:PORT`, default 127.0.0.1:9944) through the
client SDK, print tables for people and JSON with `--json`.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sys
import tempfile
import threading
from pathlib import Path

from .chainspec import ChainSpec, dev_spec
from .codec import CodecError, decode_u128, format_open
from .crypto import Keypair, decode_address, encode_address

DEFAULT_NODE = "127.0.0.1:9944"


def keypair_from(text: str) -> Keypair:
    """A signing key from a dev name ('//Alice'), 64 hex digits of seed, or a file holding either."""
    if text.startswith("//"):
        return Keypair.from_uri(text)
    if os.path.isfile(text):
        text = Path(text).read_text().strip()
        if text.startswith("//"):
            return Keypair.from_uri(text)
    try:
        seed = bytes.fromhex(text.removeprefix("0x"))
    except ValueError:
        seed = b""
    if len(seed) != 32:
        raise ValueError(f"{text[:20]!r} is neither a dev name like //Alice, a 32-byte hex seed, nor a key file")
    return Keypair(seed)


def account_from(text: str) -> bytes:
    return Keypair.from_uri(text).public if text.startswith("//") else decode_address(text)


def _emit(args, data, table: list[tuple[str, str]] | None = None) -> None:
    if args.json or table is None:
        print(json.dumps(data, indent=2, sort_keys=True))
    else:
        width = max(len(k) for k, _ in table)
        for key, value in table:
            print(f"{key:<{width}}  {value}")


def _client(args):
    from .client import Client

    return Client(args.node)


# --- node ------------------------------------------------------------------------------------------
def _wait_for_stop_signal() -> None:
    """Block until SIGINT or SIGTERM: servers then stop cleanly instead of dying mid-write."""
    stopping = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stopping.set())
    stopping.wait()


def cmd_node(args) -> int:
    from .grpc_api import serve
    from .logs import configure_logging
    from .node import Node

    configure_logging(args.log_level)
    spec = dev_spec() if args.dev else ChainSpec.load(args.chain) if args.chain else None
    temporary = args.base_path is None
    base = Path(args.base_path or tempfile.mkdtemp(prefix="payable-node-"))
    node = Node(spec, base, author=keypair_from(args.author), block_time=None if args.instant_seal else args.block_time,
                content_limits={"max_blob": args.blob_limit << 20, "quota": args.content_quota << 20})
    server, port = serve(node, args.grpc_port)
    metrics_port = node.metrics.serve(args.metrics_port) if args.metrics_port is not None else None
    node.start()
    from .node import log

    log.info("node_started", grpc=f"127.0.0.1:{port}", metrics=metrics_port, base_path=str(base),
             mode="instant-seal" if args.instant_seal else f"{args.block_time}s blocks")
    _wait_for_stop_signal()
    server.stop(grace=2).wait()
    node.stop()
    if temporary:
        shutil.rmtree(base, ignore_errors=True)
    return 0


def cmd_worker(args) -> int:
    """The GPU worker sidecar (needs the `worker` extra: torch, onnxruntime, safetensors)."""
    try:
        from gpu_worker.service import Worker, serve
    except ImportError as exc:
        raise ValueError(f"the worker needs its extra installed: pip install -e '.[worker]' ({exc})") from exc
    from .logs import configure_logging

    configure_logging(args.log_level)
    temporary = args.data_dir is None
    data_dir = Path(args.data_dir or tempfile.mkdtemp(prefix="payable-worker-"))
    worker = Worker(data_dir, keypair_from(args.key), args.device)
    server, port = serve(worker, args.grpc_port)
    from gpu_worker.service import log

    log.info("worker_started", grpc=f"127.0.0.1:{port}", device=str(worker.device), data_dir=str(data_dir),
             worker=worker.key.address, node=args.node)
    follower = None
    if args.node:
        from gpu_worker.chain import ChainWorker

        follower = ChainWorker(worker, args.node, worker.key)
        threading.Thread(target=follower.run, name="chain-follower", daemon=True).start()
    _wait_for_stop_signal()
    if follower is not None:
        follower.stop()
    server.stop(grace=2).wait()
    if temporary:
        shutil.rmtree(data_dir, ignore_errors=True)
    return 0


def cmd_build_spec(args) -> int:
    print((dev_spec() if args.dev else ChainSpec.load(args.chain)).to_json())
    return 0


def cmd_check_chain(args) -> int:
    from .chaintools import check_chain

    report = check_chain(Path(args.base_path))
    _emit(args, {"ok": True, "blocks": report.blocks, "head": report.head_hash.hex(),
                 "state_root": report.state_root.hex()},
          [("result", "ok: every block re-executes to its stored roots"), ("blocks", str(report.blocks)),
           ("head", report.head_hash.hex()), ("state root", report.state_root.hex())])
    return 0


def cmd_export_blocks(args) -> int:
    from .chaintools import export_blocks

    count = export_blocks(Path(args.base_path), Path(args.output), args.start, args.end)
    _emit(args, {"exported": count, "file": args.output}, [("exported", f"{count} blocks to {args.output}")])
    return 0


def cmd_import_blocks(args) -> int:
    from .chaintools import import_blocks
    from .logs import configure_logging

    configure_logging()

    spec = dev_spec() if args.dev else ChainSpec.load(args.chain) if args.chain else None
    count = import_blocks(Path(args.base_path), Path(args.input), spec)
    _emit(args, {"imported": count}, [("imported", f"{count} blocks")])
    return 0


# --- keys ------------------------------------------------------------------------------------------
def cmd_key(args) -> int:
    key = Keypair.generate() if args.action == "generate" else keypair_from(args.name)
    data = {"public": key.public.hex(), "address": key.address}
    if args.action == "generate":
        data["seed"] = key.seed.hex()
    _emit(args, data, [(k, v) for k, v in data.items()])
    return 0


# --- transactions ----------------------------------------------------------------------------------
def _result(args, result) -> int:
    data = {"hash": result.hash.hex(), "block": result.block_number, "index": result.extrinsic_index,
            "success": result.success, "error": result.error}
    _emit(args, data, [("extrinsic", result.hash.hex()), ("block", f"#{result.block_number}"),
                       ("result", "success" if result.success else f"FAILED {result.error}")])
    return 0 if result.success else 1


def cmd_transfer(args) -> int:
    with _client(args) as client:
        call = "transfer_keep_alive" if args.keep_alive else "transfer"
        result = client.submit_call(keypair_from(args.sender), "token", call, tip=args.tip,
                                    dest=account_from(args.to), amount=args.amount)
        return _result(args, result)


def cmd_tx(args) -> int:
    fields = {}
    for item in args.arg or []:
        key, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"--arg takes key=value, got {item!r}")
        fields[key] = value
    with _client(args) as client:
        return _result(args, client.submit_call(keypair_from(args.sender), args.pallet, args.call, tip=args.tip,
                                                **fields))


# --- DataNets and models ---------------------------------------------------------------------------
def _created(client, result, name: str, message_type):
    """The event `name` that the extrinsic emitted (to learn the id it created); fails if the call did."""
    if not result.success:
        raise ValueError(f"the call failed: {result.error}")
    for event in client.events(result.block_number).events:
        if event.extrinsic_index == result.extrinsic_index and event.name == name:
            return message_type.FromString(event.data)
    raise ValueError(f"no {name} event in block #{result.block_number}")


def _progress_bar(sent: int, total: int) -> None:
    width = 30
    done = int(width * sent / total) if total else width
    print(f"\r  uploading [{'#' * done}{'.' * (width - done)}] {sent:,}/{total:,} bytes", end="", file=sys.stderr)
    if sent >= total:
        print(file=sys.stderr)


def cmd_datanet(args) -> int:
    from payable.datanet.v1 import datanet_pb2 as pb

    with _client(args) as client:
        if args.action == "show":
            info = client.pallet_query("datanet", "get_datanet", pb.DataNetRequest(datanet=args.datanet),
                                       pb.DataNetInfo)
            listing = client.pallet_query("datanet", "list_contributions",
                                          pb.ContributionsRequest(datanet=args.datanet, limit=100), pb.ContributionList)
            rows = [{"id": c.id, "contributor": encode_address(c.contributor), "status": pb.Status.Name(c.status),
                     "size": c.size, "format": c.format, "content": c.content_hash.hex()}
                    for c in listing.contributions]
            net = info.datanet
            data = {"id": net.id, "name": net.name, "domain": net.domain, "license": info.metadata.license,
                    "formats": list(info.metadata.accepted_formats), "snapshots": net.snapshot_count,
                    "curators": [encode_address(c) for c in net.curators], "contributions": rows}
            table = [(k, str(v)) for k, v in data.items() if k != "contributions"]
            table += [(f"#{r['id']}", f"{r['status']:<9} {r['format']:<6} {r['size']:>9} B  {r['contributor']}")
                      for r in rows]
            _emit(args, data, table)
            return 0
        signer = keypair_from(args.sender)
        if args.action == "create":
            result = client.submit_call(
                signer, "datanet", "create_datanet", name=args.name, domain=args.domain,
                description=args.description, license=args.license, contribution_deposit=args.deposit,
                accepted_formats=args.formats.split(","), curators=[account_from(c) for c in args.curator or []])
            created = _created(client, result, "DataNetCreated", pb.DataNetCreated)
            _emit(args, {"datanet": created.datanet, "block": result.block_number},
                  [("datanet", str(created.datanet)), ("block", f"#{result.block_number}")])
            return 0
        if args.action == "contribute":
            blob = client.upload(args.file, progress=None if args.json else _progress_bar)
            result = client.submit_call(signer, "datanet", "contribute", datanet=args.datanet,
                                        content_hash=blob.hash, size=blob.size, format=args.format)
            made = _created(client, result, "Contributed", pb.ContributionEvent)
            _emit(args, {"contribution": made.contribution, "content_hash": blob.hash.hex(), "size": blob.size,
                         "block": result.block_number},
                  [("contribution", str(made.contribution)), ("content", blob.hash.hex()),
                   ("size", f"{blob.size} bytes"), ("block", f"#{result.block_number}")])
            return 0
        if args.action == "snapshot":
            result = client.submit_call(signer, "datanet", "publish_snapshot", datanet=args.datanet)
            snap = _created(client, result, "SnapshotPublished", pb.SnapshotPublished)
            _emit(args, {"datanet": snap.datanet, "version": snap.version, "root": snap.root.hex(),
                         "contributions": snap.count},
                  [("version", str(snap.version)), ("root", snap.root.hex()), ("contributions", str(snap.count))])
            return 0
        call = {"approve": "approve", "reject": "reject", "revoke": "revoke", "withdraw": "withdraw"}[args.action]
        fields = {"contribution": args.contribution}
        if call != "withdraw":
            fields["reason"] = args.reason
        return _result(args, client.submit_call(signer, "datanet", call, **fields))


def cmd_model(args) -> int:
    from payable.modelregistry.v1 import modelregistry_pb2 as pb

    from .merkle import verify_merkle_proof

    with _client(args) as client:
        if args.action in ("show", "provenance"):
            if args.action == "show":
                found = client.pallet_query("modelregistry", "get_model", pb.ModelRequest(model=args.model), pb.Model)
                from google.protobuf import json_format

                _emit(args, json_format.MessageToDict(found, preserving_proto_field_name=True),
                      [("model", str(found.id)), ("owner", encode_address(found.owner)),
                       ("snapshots", ", ".join(f"{s.datanet}:{s.version}" for s in found.snapshots)),
                       ("split (bps)", f"contributors {found.split.contributors}, owner {found.split.model_owner}, "
                                       f"protocol {found.split.protocol}, worker {found.split.worker}"),
                       ("deprecated", str(found.deprecated))])
                return 0
            prov = client.pallet_query("modelregistry", "get_provenance", pb.ModelRequest(model=args.model),
                                       pb.Provenance)
            from pallets.datanet.interface import leaf_bytes

            rows, all_ok = [], True
            for snap in prov.snapshots:
                for proof in snap.contributions:
                    ok = verify_merkle_proof(snap.snapshot.root, leaf_bytes(proof.leaf), proof.index, proof.count,
                                             list(proof.siblings))
                    all_ok &= ok
                    rows.append({"datanet": snap.snapshot.datanet, "version": snap.snapshot.version,
                                 "contribution": proof.leaf.contribution_id,
                                 "contributor": encode_address(proof.leaf.contributor),
                                 "content": proof.leaf.content_hash.hex(), "proof_verified": ok})
            _emit(args, {"model": prov.model.id, "base_model": prov.base_model.id, "contributions": rows,
                         "all_proofs_verified": all_ok},
                  [("model", str(prov.model.id)),
                   ("base model", f"{prov.base_model.id} ({prov.base_model.architecture})")]
                  + [(f"  {r['datanet']}:{r['version']} #{r['contribution']}",
                      f"{r['contributor']}  proof {'ok' if r['proof_verified'] else 'FAILED'}") for r in rows])
            return 0 if all_ok else 1
        signer = keypair_from(args.sender)
        if args.action == "register-base":
            result = client.submit_call(signer, "modelregistry", "register_base_model",
                                        artifact_hash=args.artifact_hash, architecture=args.architecture,
                                        format=args.format, license=args.license)
            made = _created(client, result, "BaseModelRegistered", pb.BaseModelRegistered)
            _emit(args, {"base_model": made.base_model}, [("base model", str(made.base_model))])
            return 0
        split = [int(x) for x in args.split.split(",")]
        if len(split) != 4:
            raise ValueError("--split takes contributors,owner,protocol,worker basis points, e.g. 7000,2000,500,500")
        snapshots = []
        for ref in args.snapshot:
            net, _, version = ref.partition(":")
            snapshots.append({"datanet": int(net), "version": int(version or 0)})
        result = client.submit_call(
            signer, "modelregistry", "register_model", base_model=args.base_model, snapshots=snapshots,
            training_config_hash=args.training_config_hash, artifact_hash=args.artifact_hash,
            attribution_method=args.method, attribution_index_hash=args.index_hash,
            price_per_inference=args.price, price_per_token=args.price_per_token,
            split=dict(zip(("contributors", "model_owner", "protocol", "worker"), split, strict=True)))
        made = _created(client, result, "ModelRegistered", pb.ModelEvent)
        _emit(args, {"model": made.model, "block": result.block_number}, [("model", str(made.model))])
        return 0


# --- reads -----------------------------------------------------------------------------------------
def cmd_query_balance(args) -> int:
    who = account_from(args.account)
    with _client(args) as client:
        data, proven_at = client.account_data(who, prove=args.prove)
        if not args.prove:
            proven_at = client.chain_info().best_number
    unbonding = sum(decode_u128(c.amount) for c in data.unlocking)
    parts = {"free": decode_u128(data.free), "reserved": decode_u128(data.reserved),
             "bonded": decode_u128(data.bonded), "unbonding": unbonding}
    out = {"account": encode_address(who), "block": proven_at, "proven": args.prove,
           **{k: str(v) for k, v in parts.items()}}
    table = [("account", encode_address(who)), *((k, f"{format_open(v)} OPEN") for k, v in parts.items()),
             ("at block", f"#{proven_at}" + (" (Merkle proof verified against the header)" if args.prove else ""))]
    _emit(args, out, table)
    return 0


def cmd_block(args) -> int:
    with _client(args) as client:
        block = client.block(args.number)
        events = client.events(block.header.number)
    h = block.header
    data = {"number": h.number, "hash": block.hash.hex(), "parent": h.parent_hash.hex(),
            "state_root": h.state_root.hex(), "extrinsics_root": h.extrinsics_root.hex(),
            "timestamp_ms": h.timestamp_ms, "author": encode_address(h.author) if len(h.author) == 32 else "",
            "extrinsics": len(block.block.extrinsics), "events": [f"{e.pallet}.{e.name}" for e in events.events]}
    _emit(args, data, [(k, str(v)) for k, v in data.items() if k != "events"]
          + [("events", ", ".join(data["events"]) or "-")])
    return 0


# --- demo ------------------------------------------------------------------------------------------
def cmd_demo(args) -> int:
    """The Payable AI story on a dev node and a worker (see runtime/demo.py)."""
    from .demo import run

    return run()


# --- argument parsing ------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="payable", description="Payable AI chain: node and client tools")
    sub = parser.add_subparsers(dest="command", required=True)

    def client_options(p: argparse.ArgumentParser, func) -> argparse.ArgumentParser:
        p.add_argument("--node", default=DEFAULT_NODE, help=f"node gRPC address (default {DEFAULT_NODE})")
        p.add_argument("--json", action="store_true", help="print JSON for scripts")
        p.set_defaults(func=func)
        return p

    def client_command(name: str, help_text: str, func):
        return client_options(sub.add_parser(name, help=help_text), func)

    node = sub.add_parser("node", help="run a node")
    chain = node.add_mutually_exclusive_group()
    chain.add_argument("--dev", action="store_true", help="the development chain (prefunded //Alice, //Bob, ...)")
    chain.add_argument("--chain", help="a chain spec JSON file")
    node.add_argument("--base-path", help="data directory (default: a temporary one, removed on exit)")
    node.add_argument("--grpc-port", type=int, default=9944)
    node.add_argument("--metrics-port", type=int, help="serve Prometheus metrics on 127.0.0.1:PORT")
    seal = node.add_mutually_exclusive_group()
    seal.add_argument("--block-time", type=float, default=2.0, help="seconds between blocks (default 2)")
    seal.add_argument("--instant-seal", action="store_true", help="author a block as soon as extrinsics arrive")
    node.add_argument("--author", default="//Alice", help="block author key (dev name, hex seed or key file)")
    node.add_argument("--blob-limit", type=int, default=256, help="content store: largest blob, MiB (default 256)")
    node.add_argument("--content-quota", type=int, default=8192, help="content store: total MiB (default 8192)")
    node.add_argument("--log-level", default="info")
    node.set_defaults(func=cmd_node)

    worker = sub.add_parser("worker", help="run the GPU worker (training, inference, attribution)")
    worker.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    worker.add_argument("--data-dir", help="models, datasets and indexes (default: a temporary directory)")
    worker.add_argument("--grpc-port", type=int, default=9955)
    worker.add_argument("--key", default="//Worker", help="the worker's signing key (dev name, hex seed or key file)")
    worker.add_argument("--node", help="follow this node (HOST:PORT) and answer the inference requests assigned "
                                       "to the worker's key")
    worker.add_argument("--log-level", default="info")
    worker.set_defaults(func=cmd_worker)

    spec = sub.add_parser("build-spec", help="print a chain spec as JSON")
    group = spec.add_mutually_exclusive_group(required=True)
    group.add_argument("--dev", action="store_true")
    group.add_argument("--chain")
    spec.set_defaults(func=cmd_build_spec)

    check = sub.add_parser("check-chain", help="re-execute a stopped node's chain from genesis, verifying all roots")
    check.add_argument("--base-path", required=True)
    check.add_argument("--json", action="store_true")
    check.set_defaults(func=cmd_check_chain)

    export = sub.add_parser("export-blocks", help="write a stopped node's blocks to a file")
    export.add_argument("--base-path", required=True)
    export.add_argument("--output", required=True)
    export.add_argument("--start", type=int, default=1)
    export.add_argument("--end", type=int)
    export.add_argument("--json", action="store_true")
    export.set_defaults(func=cmd_export_blocks)

    imp = sub.add_parser("import-blocks", help="import blocks from a file into a (stopped) node's chain")
    imp.add_argument("--base-path", required=True)
    imp.add_argument("--input", required=True)
    which = imp.add_mutually_exclusive_group()
    which.add_argument("--dev", action="store_true")
    which.add_argument("--chain")
    imp.add_argument("--json", action="store_true")
    imp.set_defaults(func=cmd_import_blocks)

    key = sub.add_parser("key", help="generate or inspect keys")
    key_sub = key.add_subparsers(dest="action", required=True)
    key_sub.add_parser("generate").add_argument("--json", action="store_true")
    inspect = key_sub.add_parser("inspect")
    inspect.add_argument("name", help="//Alice, a hex seed, or a key file")
    inspect.add_argument("--json", action="store_true")
    key.set_defaults(func=cmd_key)

    transfer = client_command("transfer", "send OPEN and wait for inclusion", cmd_transfer)
    transfer.add_argument("--from", dest="sender", required=True)
    transfer.add_argument("--to", required=True, help="address or dev name")
    transfer.add_argument("--amount", required=True, help="OPEN, e.g. 1.5")
    transfer.add_argument("--tip", type=int, default=0, help="tip in base units (raises priority)")
    transfer.add_argument("--allow-death", dest="keep_alive", action="store_false",
                          help="allow the sender to drop below the existential deposit")

    tx = client_command("tx", "submit any call, built from the runtime metadata", cmd_tx)
    tx.add_argument("pallet")
    tx.add_argument("call")
    tx.add_argument("--arg", action="append", help="field=value (amounts in OPEN, accounts as addresses)")
    tx.add_argument("--from", dest="sender", required=True)
    tx.add_argument("--tip", type=int, default=0)

    query = sub.add_parser("query", help="read state")
    query_sub = query.add_subparsers(dest="what", required=True)
    balance = client_options(query_sub.add_parser("balance", help="an account's OPEN balances"), cmd_query_balance)
    balance.add_argument("account", help="address or dev name")
    balance.add_argument("--prove", action="store_true", help="verify a Merkle proof against the block header")

    datanet = sub.add_parser("datanet", help="DataNets: create, contribute, curate, snapshot, show")
    dsub = datanet.add_subparsers(dest="action", required=True)
    create = client_options(dsub.add_parser("create", help="create a DataNet"), cmd_datanet)
    create.add_argument("--name", required=True)
    create.add_argument("--domain", required=True, help="e.g. legal, medical, code")
    create.add_argument("--description", default="")
    create.add_argument("--license", required=True, help="SPDX id, e.g. CC-BY-4.0")
    create.add_argument("--deposit", required=True, help="contribution deposit in OPEN")
    create.add_argument("--formats", required=True, help="accepted formats, comma separated (e.g. csv,text)")
    create.add_argument("--curator", action="append", help="curator address (repeatable; default: you)")
    contribute = client_options(dsub.add_parser("contribute", help="upload a file and contribute it"), cmd_datanet)
    contribute.add_argument("datanet", type=int)
    contribute.add_argument("file")
    contribute.add_argument("--format", required=True)
    for action in ("approve", "reject", "revoke", "withdraw"):
        p = client_options(dsub.add_parser(action, help=f"{action} a contribution"), cmd_datanet)
        p.add_argument("contribution", type=int)
        if action != "withdraw":
            p.add_argument("--reason", type=int, default=0, help="reason code")
    snap = client_options(dsub.add_parser("snapshot", help="publish the next snapshot version"), cmd_datanet)
    snap.add_argument("datanet", type=int)
    show = client_options(dsub.add_parser("show", help="a DataNet and its contributions"), cmd_datanet)
    show.add_argument("datanet", type=int)
    for p in (create, contribute, snap, *[dsub.choices[a] for a in ("approve", "reject", "revoke", "withdraw")]):
        p.add_argument("--from", dest="sender", required=True)

    model = sub.add_parser("model", help="models: register, show, provenance")
    msub = model.add_subparsers(dest="action", required=True)
    base = client_options(msub.add_parser("register-base", help="register a base model"), cmd_model)
    base.add_argument("--artifact-hash", required=True)
    base.add_argument("--architecture", required=True)
    base.add_argument("--format", default="onnx", choices=("onnx", "torch", "safetensors"))
    base.add_argument("--license", required=True)
    register = client_options(msub.add_parser("register", help="register a fine-tuned model or adapter"), cmd_model)
    register.add_argument("--base-model", type=int, required=True)
    register.add_argument("--snapshot", action="append", required=True, help="DATANET:VERSION (repeatable)")
    register.add_argument("--artifact-hash", required=True)
    register.add_argument("--training-config-hash", required=True)
    register.add_argument("--index-hash", required=True, help="the attribution index hash")
    register.add_argument("--method", default="gradient", choices=("gradient", "span"))
    register.add_argument("--price", required=True, help="OPEN per inference")
    register.add_argument("--price-per-token", default="0")
    register.add_argument("--split", default="7000,2000,500,500", help="contributors,owner,protocol,worker bps")
    for p in (base, register):
        p.add_argument("--from", dest="sender", required=True)
    for action in ("show", "provenance"):
        p = client_options(msub.add_parser(action, help=f"a model's {'record' if action == 'show' else 'provenance'}"),
                           cmd_model)
        p.add_argument("model", type=int)

    block = client_command("block", "show a block (default: the best)", cmd_block)
    block.add_argument("number", type=int, nargs="?")

    sub.add_parser("demo", help="the Payable AI story: DataNet, training, paid inferences, attributed payouts"
                   ).set_defaults(func=cmd_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from .chaintools import BlockFileError
    from .client import ClientError
    from .errors import ChainSpecError
    from .executive import BlockImportError

    try:
        return args.func(args)
    except (ClientError, ChainSpecError, BlockImportError, BlockFileError, CodecError, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
