"""`payable datanet`: create a DataNet, contribute files, curate (with `duplicates`: near-duplicate rows, see
cli/duplicates.py), publish snapshots, show one, and manage who may train on a permissioned DataNet
(permission, request-access, grant, revoke-access, access)."""

from __future__ import annotations

from runtime.crypto import encode_address

from .common import account_from, client, client_command, created, emit, keypair_from, progress_bar, tx_result
from .duplicates import cmd_duplicates

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
            "permissioned": net.permissioned,
            "formats": list(info.metadata.accepted_formats), "snapshots": net.snapshot_count,
            "curators": [encode_address(c) for c in net.curators], "contributions": rows}
    table = [(k, str(v)) for k, v in data.items() if k != "contributions"]
    table += [(f"#{r['id']}", f"{r['status']:<9} {r['format']:<6} {r['size']:>9} B  {r['contributor']}")
              for r in rows]
    emit(args, data, table)
    return 0


def _access(args, node, pb) -> int:
    found = node.pallet_query("datanet", "list_access", pb.DataNetRequest(datanet=args.datanet), pb.AccessList)
    rows = [{"account": encode_address(e.account), "state": pb.AccessState.Name(e.access.state)[7:].lower(),
             "note": e.access.note, "requested_at": e.access.requested_at, "decided_at": e.access.decided_at}
            for e in found.entries]
    emit(args, {"datanet": args.datanet, "permissioned": found.permissioned, "accounts": rows},
         [("permissioned", str(found.permissioned))] + [(r["account"], f"{r['state']:<9} {r['note']}") for r in rows])
    return 0


ACCESS_CALLS = {"permission": "set_permissioned", "request-access": "request_access", "grant": "grant_access",
                "revoke-access": "revoke_access"}


def _access_call(args, node, signer) -> int:
    fields = {"datanet": args.datanet}
    if args.action == "permission":
        fields["permissioned"] = args.state == "on"
    elif args.action == "request-access":
        fields["note"] = args.note
    else:
        fields["account"] = account_from(args.account)
    return tx_result(args, node.submit_call(signer, "datanet", ACCESS_CALLS[args.action], **fields))


def cmd_datanet(args) -> int:
    from payable.datanet.v1 import datanet_pb2 as pb

    with client(args) as node:
        if args.action == "show":
            return _show(args, node, pb)
        if args.action == "access":
            return _access(args, node, pb)
        signer = keypair_from(args.sender)
        if args.action in ACCESS_CALLS:
            return _access_call(args, node, signer)
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
    datanet = sub.add_parser("datanet", help="DataNets: create, contribute, curate, snapshot, show, access")
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
    duplicates = client_command(dsub, "duplicates", "curators: the rows of live contributions that are near-duplicates "
                                "of earlier rows (padding; rejected with the reason, never paid)", cmd_duplicates)
    duplicates.add_argument("datanet", type=int)
    duplicates.add_argument("--from", dest="sender", help="the key that reads a permissioned DataNet's data")
    client_command(dsub, "access", "a DataNet's access requests and grants", cmd_datanet).add_argument(
        "datanet", type=int)
    permission = client_command(dsub, "permission", "owner: make a DataNet permissioned (on) or public (off)",
                                cmd_datanet, signed=True)
    permission.add_argument("datanet", type=int)
    permission.add_argument("state", choices=("on", "off"))
    request = client_command(dsub, "request-access", "ask for access to a permissioned DataNet", cmd_datanet,
                             signed=True)
    request.add_argument("datanet", type=int)
    request.add_argument("--note", default="", help="why you want the data")
    for action, what in (("grant", "grant an account access"), ("revoke-access", "revoke an account's access")):
        p = client_command(dsub, action, f"owner or curator: {what}", cmd_datanet, signed=True)
        p.add_argument("datanet", type=int)
        p.add_argument("account", help="address or //Name")
