"""`payable datanet`: create a DataNet (with the contribution terms it accepts), contribute files (with their
terms: license, personal data, TDM opt-out), curate (`show --pending` lists what awaits a decision, terms
included; `duplicates`: near-duplicate rows, see cli/duplicates.py), withdraw a contribution (pending,
approved, ...) or take one down (owner or curator, with a reason code), publish snapshots, show one, and manage
who may train on a permissioned DataNet (permission, request-access, grant, revoke-access, access)."""

from __future__ import annotations

from runtime.crypto import encode_address

from .common import account_from, client, client_command, created, emit, keypair_from, progress_bar, tx_result
from .duplicates import cmd_duplicates

CURATION = ("approve", "reject", "revoke", "withdraw")


def takedown_reasons() -> dict[str, int]:
    """take-down --reason: the chain's TakedownReason codes by name (copyright, personal-data, ...)."""
    from payable.datanet.v1 import datanet_pb2 as pb

    return {name[len("TAKEDOWN_"):].lower().replace("_", "-"): code for name, code in pb.TakedownReason.items()
            if code != pb.TAKEDOWN_NONE}


def _terms_text(row: dict) -> str:
    """A contribution's terms in a table cell: license (custom: its terms' hash), then its flags."""
    flags = [flag for flag in ("personal_data", "tdm_opt_out") if row[flag]]
    custom = f" {row['terms_hash'][:16]}…" if row["terms_hash"] else ""
    return f"{row['license']}{custom}" + "".join(f" {flag.replace('_', '-')}" for flag in flags)


def _show(args, node, pb) -> int:
    info = node.pallet_query("datanet", "get_datanet", pb.DataNetRequest(datanet=args.datanet), pb.DataNetInfo)
    listing = node.pallet_query("datanet", "list_contributions",
                                pb.ContributionsRequest(datanet=args.datanet, limit=100, filter_status=args.pending,
                                                        status=pb.PENDING), pb.ContributionList)
    rows = [{"id": c.id, "contributor": encode_address(c.contributor), "status": pb.Status.Name(c.status),
             "size": c.size, "format": c.format, "content": c.content_hash.hex(), "license": c.terms.license,
             "terms_hash": c.terms.terms_hash.hex(), "personal_data": c.terms.personal_data,
             "tdm_opt_out": c.terms.tdm_opt_out, "withdrawn_at": c.withdrawn_at,
             "takedown": pb.TakedownReason.Name(c.takedown)[9:].lower() if c.takedown else ""}
            for c in listing.contributions]
    net, metadata = info.datanet, info.metadata
    data = {"id": net.id, "name": net.name, "domain": net.domain, "license": metadata.license,
            "accepted_licenses": [metadata.license, *metadata.accepted_licenses],
            "personal_data_allowed": metadata.personal_data_allowed, "permissioned": net.permissioned,
            "formats": list(metadata.accepted_formats), "snapshots": net.snapshot_count,
            "curators": [encode_address(c) for c in net.curators], "contributions": rows}
    table = [(k, ", ".join(v) or "-" if isinstance(v, list) else str(v)) for k, v in data.items()
             if k != "contributions"]
    table += [(f"#{r['id']}", f"{r['status']:<9} {r['format']:<6} {r['size']:>9} B  {r['contributor']}  "
                              f"{_terms_text(r)}" + (f"  since #{r['withdrawn_at']}" if r["withdrawn_at"] else "")
               + (f" ({r['takedown']})" if r["takedown"] else ""))
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


def _contribution_terms(args, node, signer) -> dict:
    """The `terms` of a contribution from its flags; custom terms (--terms FILE) are uploaded and named by hash.
    No --license: the DataNet's own (the chain's default)."""
    terms = {"license": args.license or "", "personal_data": args.personal_data, "tdm_opt_out": args.tdm_opt_out}
    if args.terms:
        if terms["license"] not in ("", "custom"):
            raise ValueError(f"--terms names custom terms: leave --license out (or say custom), not {args.license}")
        terms.update(license="custom", terms_hash=node.upload(args.terms, uploader=signer).hash)
    return terms


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
                accepted_formats=args.formats.split(","), curators=[account_from(c) for c in args.curator or []],
                accepted_licenses=args.accept_license or [], personal_data_allowed=args.personal_data_allowed)
            made = created(node, result, "DataNetCreated", pb.DataNetCreated)
            emit(args, {"datanet": made.datanet, "block": result.block_number},
                 [("datanet", str(made.datanet)), ("block", f"#{result.block_number}")])
            return 0
        if args.action == "contribute":
            terms = _contribution_terms(args, node, signer)
            blob = node.upload(args.file, progress=None if args.json else progress_bar, uploader=signer)
            result = node.submit_call(signer, "datanet", "contribute", datanet=args.datanet,
                                      content_hash=blob.hash, size=blob.size, format=args.format, terms=terms)
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
        if args.action == "take-down":
            fields["reason"] = takedown_reasons()[args.reason]
        elif args.action != "withdraw":
            fields["reason"] = args.reason
        return tx_result(args, node.submit_call(signer, "datanet", args.action.replace("-", "_"), **fields))


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
    create.add_argument("--accept-license", action="append", metavar="LICENSE",
                        help="a contribution license accepted besides --license: SPDX id, or custom (repeatable)")
    create.add_argument("--personal-data-allowed", action="store_true",
                        help="contributions may contain personal data (refused otherwise)")
    contribute = client_command(dsub, "contribute", "upload a file and contribute it", cmd_datanet, signed=True)
    contribute.add_argument("datanet", type=int)
    contribute.add_argument("file")
    contribute.add_argument("--format", required=True)
    contribute.add_argument("--license", help="the contribution's SPDX license id (default: the DataNet's)")
    contribute.add_argument("--terms", metavar="FILE", help="custom terms: this file's text, stored by its hash")
    contribute.add_argument("--personal-data", action="store_true", help="the contribution contains personal data")
    contribute.add_argument("--tdm-opt-out", action="store_true",
                            help="you reserve text-and-data-mining rights (every DataNet refuses such data: its "
                                 "data exists to train models)")
    for action in CURATION:
        p = client_command(dsub, action, f"{action} a contribution", cmd_datanet, signed=True)
        p.add_argument("contribution", type=int)
        if action != "withdraw":
            p.add_argument("--reason", type=int, default=0, help="reason code")
    take_down = client_command(dsub, "take-down", "owner or curator: remove a contribution on a takedown "
                               "(no node serves its bytes; models trained on it are flagged)", cmd_datanet,
                               signed=True)
    take_down.add_argument("contribution", type=int)
    take_down.add_argument("--reason", required=True, choices=sorted(takedown_reasons()), help="why it is taken down")
    client_command(dsub, "snapshot", "publish the next snapshot version", cmd_datanet,
                   signed=True).add_argument("datanet", type=int)
    show = client_command(dsub, "show", "a DataNet, its accepted terms and its contributions with theirs",
                          cmd_datanet)
    show.add_argument("datanet", type=int)
    show.add_argument("--pending", action="store_true", help="only the contributions awaiting a curator's decision")
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
