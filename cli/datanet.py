"""`payable datanet`: create a DataNet, contribute files, curate, publish snapshots, show one."""

from __future__ import annotations

from runtime.crypto import encode_address

from .common import account_from, client, client_command, created, emit, keypair_from, progress_bar, tx_result

CURATION = ("approve", "reject", "revoke", "withdraw")


def _show(args, node, pb) -> int:
    info = node.pallet_query("datanet", "get_datanet", pb.DataNetRequest(datanet=args.datanet), pb.DataNetInfo)
    listing = node.pallet_query("datanet", "list_contributions",
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
    emit(args, data, table)
    return 0


def cmd_datanet(args) -> int:
    from payable.datanet.v1 import datanet_pb2 as pb

    with client(args) as node:
        if args.action == "show":
            return _show(args, node, pb)
        signer = keypair_from(args.sender)
        if args.action == "create":
            result = node.submit_call(
                signer, "datanet", "create_datanet", name=args.name, domain=args.domain,
                description=args.description, license=args.license, contribution_deposit=args.deposit,
                accepted_formats=args.formats.split(","), curators=[account_from(c) for c in args.curator or []])
            made = created(node, result, "DataNetCreated", pb.DataNetCreated)
            emit(args, {"datanet": made.datanet, "block": result.block_number},
                 [("datanet", str(made.datanet)), ("block", f"#{result.block_number}")])
            return 0
        if args.action == "contribute":
            blob = node.upload(args.file, progress=None if args.json else progress_bar)
            result = node.submit_call(signer, "datanet", "contribute", datanet=args.datanet,
                                      content_hash=blob.hash, size=blob.size, format=args.format)
            made = created(node, result, "Contributed", pb.ContributionEvent)
            emit(args, {"contribution": made.contribution, "content_hash": blob.hash.hex(), "size": blob.size,
                        "block": result.block_number},
                 [("contribution", str(made.contribution)), ("content", blob.hash.hex()),
                  ("size", f"{blob.size} bytes"), ("block", f"#{result.block_number}")])
            return 0
        if args.action == "snapshot":
            result = node.submit_call(signer, "datanet", "publish_snapshot", datanet=args.datanet)
            snap = created(node, result, "SnapshotPublished", pb.SnapshotPublished)
            emit(args, {"datanet": snap.datanet, "version": snap.version, "root": snap.root.hex(),
                        "contributions": snap.count},
                 [("version", str(snap.version)), ("root", snap.root.hex()), ("contributions", str(snap.count))])
            return 0
        fields = {"contribution": args.contribution}
        if args.action != "withdraw":
            fields["reason"] = args.reason
        return tx_result(args, node.submit_call(signer, "datanet", args.action, **fields))


def register(sub) -> None:
    datanet = sub.add_parser("datanet", help="DataNets: create, contribute, curate, snapshot, show")
    dsub = datanet.add_subparsers(dest="action", required=True)
    create = client_command(dsub, "create", "create a DataNet", cmd_datanet, signed=True)
    create.add_argument("--name", required=True)
    create.add_argument("--domain", required=True, help="e.g. legal, medical, code")
    create.add_argument("--description", default="")
    create.add_argument("--license", required=True, help="SPDX id, e.g. CC-BY-4.0")
    create.add_argument("--deposit", required=True, help="contribution deposit in OPEN")
    create.add_argument("--formats", required=True, help="accepted formats, comma separated (e.g. csv,text)")
    create.add_argument("--curator", action="append", help="curator address (repeatable; default: you)")
    contribute = client_command(dsub, "contribute", "upload a file and contribute it", cmd_datanet, signed=True)
    contribute.add_argument("datanet", type=int)
    contribute.add_argument("file")
    contribute.add_argument("--format", required=True)
    for action in CURATION:
        p = client_command(dsub, action, f"{action} a contribution", cmd_datanet, signed=True)
        p.add_argument("contribution", type=int)
        if action != "withdraw":
            p.add_argument("--reason", type=int, default=0, help="reason code")
    client_command(dsub, "snapshot", "publish the next snapshot version", cmd_datanet,
                   signed=True).add_argument("datanet", type=int)
    client_command(dsub, "show", "a DataNet and its contributions", cmd_datanet).add_argument("datanet", type=int)
