"""`payable audit`: export a model's audit bundle from a node, and verify one offline (sdk/audit.py has the format).

Verifying needs no node. The trust anchor: the chain spec (the runtime configuration the proven state must
hold; on a CometBFT chain its chain id and genesis validator set), or `--trusted-validators` (CometBFT's
`/validators` output) when the set has changed since genesis; on a dev chain, the authority's key
(`--authority`, by default //Alice, the key `payable node --dev` authors with). The records are read with
this installation's own protobuf types.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from runtime.crypto import encode_address

from .common import account_from, chain_spec, client, client_command, emit, json_option


def schema():
    """The installed pallets' message types, which the SDK's verifier reads the records with."""
    from payable.datanet.v1 import datanet_pb2 as dn
    from payable.modelregistry.v1 import modelregistry_pb2 as mr
    from sdk.audit import Schema

    return Schema(model=mr.Model, base_model=mr.BaseModel, snapshot=dn.Snapshot, contribution=dn.Contribution,
                  snapshot_leaf=dn.SnapshotLeaf, snapshot_request=dn.SnapshotRequest,
                  snapshot_with_proofs=dn.SnapshotWithProofs)


def cmd_export(args) -> int:
    from sdk.audit import ClientSource, export

    with client(args) as node:
        bundle = export(ClientSource(node), args.model, schema(), comet_rpc=args.comet_rpc)
    output = Path(args.output or f"model-{args.model}.audit.json")
    output.write_bytes(bundle)
    emit(args, {"model": args.model, "file": str(output), "bytes": len(bundle)},
         [("model", str(args.model)), ("bundle", f"{output} ({len(bundle):,} bytes)")])
    return 0


def anchor_from(args):
    """The verifier's trust anchor from the chain spec, the trusted validators file and the dev authority. A
    chain whose spec elects validators (or checked against trusted validators) is final by their commit only:
    no dev authority is trusted for it, or anyone holding the well-known dev key (//Alice) could seal a
    forged state and have it pass for that chain's."""
    import json

    from runtime.executive import Executive
    from sdk.audit import Anchor
    from sdk.cometbft import validators_from_rpc

    spec = chain_spec(args)
    if spec is None and not args.trusted_validators:
        raise ValueError("give the chain spec (--chain-spec SPEC or --dev) or --trusted-validators FILE to trust")
    validators, chain_id, config = None, None, None
    if spec is not None:
        genesis = Executive.open(spec)  # in memory: the genesis validator set, and the configuration
        try:
            validators, chain_id = genesis.consensus_validators(), spec.id
            config = genesis.runtime.config_json.encode()
        finally:
            genesis.close()
    if args.trusted_validators:
        listed = json.loads(Path(args.trusted_validators).read_text())
        validators = validators_from_rpc(listed["validators"] if isinstance(listed, dict) else listed)
    return Anchor(authority=None if validators else account_from(args.authority), validators=validators,
                  chain_id=chain_id, chain_config=config)


def cmd_verify(args) -> int:
    from sdk.audit import AuditError, verify

    anchor = anchor_from(args)
    started = time.perf_counter()
    try:
        proved = verify(Path(args.file).read_bytes(), schema(), anchor)
    except AuditError as exc:
        print(f"NOT VERIFIED: {exc}", file=sys.stderr)
        return 1
    proved["verify_seconds"] = round(time.perf_counter() - started, 4)
    m, b, block = proved["model"], proved["base"], proved["block"]
    final = block["finalized_by"]
    rows = [("verified", f"model {m['id']} as of block #{block['number']} (state root {block['state_root'][:16]}…)"),
            ("finalized by", f"dev authority {final['authority']} (its seal of block {final['block_hash'][:16]}…; "
                             "a development chain: whoever holds that key can seal any state)"
             if final["kind"] == "dev-seal" else
             f"{len(final['signers'])} validators of {final['chain_id']} with {final['signed_power']} of "
             f"{final['total_power']} voting power (commit of height {final['height']})"),
            ("chain config", proved["chain_config"]),
            ("owner", m["owner"]), ("license", f"{m['license']} (data under {', '.join(m['data_licenses'])})"),
            ("base", f"{b['id']} {b['architecture']} {b['license']} {b['artifact_hash'][:16]}…")]
    for s in proved["snapshots"]:
        mix = ", ".join(f"{name} ×{n}" for name, n in s["licenses"].items())
        now = ", ".join(f"{status} ×{n}" for status, n in s["statuses"].items())
        rows.append((f"snapshot {s['datanet']}:{s['version']}",
                     f"{s['count']} contributions from {s['contributors']} contributors, {s['total_size']:,} bytes; "
                     f"{mix}; personal data {s['personal_data']}, TDM opt-out {s['tdm_opt_out']}; now {now}"))
    rows.append(("proofs", f"{proved['proven_entries']} state entries, "
                           f"{sum(s['count'] for s in proved['snapshots'])} Merkle leaves, "
                           f"{proved['verify_seconds'] * 1000:.1f} ms"))
    emit(args, proved, rows)
    return 0


def register(sub) -> None:
    audit = sub.add_parser("audit", help="audit bundles: a model's provenance, verifiable offline")
    asub = audit.add_subparsers(dest="action", required=True)
    export = client_command(asub, "export", "write a model's audit bundle (records, proofs, finality) to one file",
                            cmd_export)
    export.add_argument("model", type=int)
    export.add_argument("--output", "-o", help="the bundle's path (default model-MODEL.audit.json)")
    export.add_argument("--comet-rpc", help="a CometBFT chain: a node's RPC (http://HOST:PORT), for the commit")
    verify = json_option(asub.add_parser("verify", help="check an audit bundle with no network; say what it proves"))
    verify.add_argument("file")
    which = verify.add_mutually_exclusive_group()
    which.add_argument("--chain-spec", dest="chain", metavar="SPEC",
                       help="the chain spec JSON the chain was started from")
    which.add_argument("--dev", action="store_true", help="the built-in development chain spec")
    verify.add_argument("--trusted-validators", metavar="FILE",
                        help="CometBFT's /validators output (or its validators list), trusted as the set")
    verify.add_argument("--authority", default="//Alice", metavar="KEY",
                        help=f"the dev authority (dev name or address; default //Alice, "
                             f"{encode_address(account_from('//Alice'))[:12]}…)")
    verify.set_defaults(func=cmd_verify)
