"""Keys, transactions and reads against a running node: key, transfer, tx, query balance|earnings, block."""

from __future__ import annotations

import os
from pathlib import Path

from payable.attribution.v1 import attribution_pb2 as at
from runtime.codec import decode_u128, format_open
from runtime.crypto import Keypair, encode_address

from .common import account_from, at_least, client, client_command, emit, json_option, keypair_from, tx_result


def cmd_key(args) -> int:
    key = Keypair.generate() if args.action == "generate" else keypair_from(args.name)
    data = {"public": key.public.hex(), "address": key.address}
    if args.action == "generate" and getattr(args, "output", None):
        _write_key_file(Path(args.output), key)
        data["key_file"] = args.output
    elif args.action == "generate":
        data["seed"] = key.seed.hex()
    emit(args, data, [(k, v) for k, v in data.items()])
    return 0


def _write_key_file(path: Path, key: Keypair) -> None:
    """The key file every --from / --key takes: the seed in hex, readable by its owner only, never over an
    existing file (a key lost to an overwrite is money lost)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise ValueError(f"{path} exists already: a new key is never written over a file") from None
    with os.fdopen(fd, "w") as out:
        out.write(key.seed.hex() + "\n")


def cmd_transfer(args) -> int:
    with client(args) as node:
        call = "transfer_keep_alive" if args.keep_alive else "transfer"
        result = node.submit_call(keypair_from(args.sender), "token", call, tip=args.tip,
                                  dest=account_from(args.to), amount=args.amount)
        return tx_result(args, result)


def tx_fields(items: list[str] | None) -> dict[str, str | list[str]]:
    """`--arg key=value` strings as call fields: a key given more than once is a list (for a list field, each
    `--arg` appends one value); a message field takes JSON (`--arg 'split={"contributors": 7000, ...}'`)."""
    fields: dict[str, str | list[str]] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"--arg takes key=value, got {item!r}")
        before = fields.get(key)
        fields[key] = value if before is None else [*before, value] if isinstance(before, list) else [before, value]
    return fields


def cmd_tx(args) -> int:
    fields = tx_fields(args.arg)
    with client(args) as node:
        return tx_result(args, node.submit_call(keypair_from(args.sender), args.pallet, args.call, tip=args.tip,
                                                **fields))


def cmd_query_balance(args) -> int:
    who = account_from(args.account)
    with client(args) as node:
        data, proven_at = node.account_data(who, prove=args.prove)
        if not args.prove:
            proven_at = node.chain_info().best_number
    unbonding = sum(decode_u128(c.amount) for c in data.unlocking)
    parts = {"free": decode_u128(data.free), "reserved": decode_u128(data.reserved),
             "bonded": decode_u128(data.bonded), "unbonding": unbonding}
    out = {"account": encode_address(who), "block": proven_at, "proven": args.prove,
           **{k: format_open(v) for k, v in parts.items()}}  # OPEN, exact: as every --json prints amounts
    table = [("account", encode_address(who)), *((k, f"{format_open(v)} OPEN") for k, v in parts.items()),
             ("at block", f"#{proven_at}" + (" (Merkle proof verified against the header)" if args.prove else ""))]
    emit(args, out, table)
    return 0


def cmd_query_earnings(args) -> int:
    """What an account's contributions earned from paid inferences (every page), the newest payouts, and what
    the chain still holds for it (payments too small, so far, to open its empty account)."""
    who = account_from(args.account)
    with client(args) as node:
        page = node.pallet_query("attribution", "list_earnings", at.EarningsPageRequest(contributor=who, limit=1),
                                 at.EarningsPage)
        items = list(node.pallet_items("attribution", "list_earnings", at.EarningsPageRequest(contributor=who),
                                       at.EarningsPage, "items"))
    total, owed = decode_u128(page.total), decode_u128(page.owed)
    payouts = [{"request": i.request, "model": i.model, "block": i.settled_at, "amount": format_open(
        decode_u128(i.amount)), "contributions": sorted({p.contribution_id for p in i.payments})} for i in items]
    out = {"account": encode_address(who), "total": format_open(total), "owed": format_open(owed),
           "payouts": payouts}
    table = [("account", encode_address(who)), ("earned", f"{format_open(total)} OPEN from {len(items)} paid "
                                                          f"inference{'' if len(items) == 1 else 's'}")]
    if owed:
        table.append(("held for it", f"{format_open(owed)} OPEN (below the existential deposit while the account "
                                     "was empty; `tx attribution claim_owed` once it holds something)"))
    table += [(f"request {p['request']}", f"{p['amount']} OPEN, model {p['model']}, block #{p['block']}")
              for p in payouts[-args.last:]] if args.last else []
    emit(args, out, table)
    return 0


def cmd_block(args) -> int:
    with client(args) as node:
        block = node.block(args.number)
        events = node.events(block.header.number)
    h = block.header
    data = {"number": h.number, "hash": block.hash.hex(), "parent": h.parent_hash.hex(),
            "state_root": h.state_root.hex(), "extrinsics_root": h.extrinsics_root.hex(),
            "timestamp_ms": h.timestamp_ms, "author": encode_address(h.author) if len(h.author) == 32 else "",
            "extrinsics": len(block.block.extrinsics), "events": [f"{e.pallet}.{e.name}" for e in events.events]}
    emit(args, data, [(k, str(v)) for k, v in data.items() if k != "events"]
         + [("events", ", ".join(data["events"]) or "-")])
    return 0


def cmd_extrinsic(args) -> int:
    """Where an extrinsic landed, by its hash (NOT_FOUND while no block holds it): what a client whose
    submission timed out looks up before signing anything again."""
    try:
        digest = bytes.fromhex(args.hash.removeprefix("0x"))
    except ValueError as exc:
        raise ValueError(f"an extrinsic hash is 64 hex digits, not {args.hash!r}") from exc
    with client(args) as node:
        found = node.extrinsic(digest)
    failed = [e for e in found.events if e.pallet == "system" and e.name == "ExtrinsicFailed"]
    data = {"hash": digest.hex(), "block": found.block_number, "block_hash": found.block_hash.hex(),
            "index": found.index, "success": not failed, "events": [f"{e.pallet}.{e.name}" for e in found.events]}
    emit(args, data, [("extrinsic", data["hash"]), ("block", f"#{found.block_number} ({data['block_hash']})"),
                      ("index", str(found.index)), ("success", str(data["success"]).lower()),
                      ("events", ", ".join(data["events"]) or "-")])
    return 0


def register(sub) -> None:
    key = sub.add_parser("key", help="generate or inspect keys")
    key_sub = key.add_subparsers(dest="action", required=True)
    generate = json_option(key_sub.add_parser("generate"))
    generate.add_argument("--output", "-o", metavar="FILE",
                          help="write the new key to FILE (its seed in hex, mode 0600) instead of printing the seed")
    json_option(key_sub.add_parser("inspect")).add_argument("name", help="//Alice, a hex seed, or a key file")
    key.set_defaults(func=cmd_key)

    transfer = client_command(sub, "transfer", "send OPEN and wait for inclusion", cmd_transfer, signed=True)
    transfer.add_argument("--to", required=True, help="address or dev name")
    transfer.add_argument("--amount", required=True, help="OPEN, e.g. 1.5")
    transfer.add_argument("--tip", type=int, default=0, help="tip in base units (raises priority)")
    transfer.add_argument("--allow-death", dest="keep_alive", action="store_false",
                          help="allow the sender to drop below the existential deposit")

    tx = client_command(sub, "tx", "submit any call, built from the runtime metadata", cmd_tx, signed=True)
    tx.add_argument("pallet")
    tx.add_argument("call")
    tx.add_argument("--arg", action="append", help="field=value (amounts in OPEN, accounts as addresses, bytes as "
                                                   "hex, messages as JSON); repeat a list field's --arg per value")
    tx.add_argument("--tip", type=int, default=0)

    query = sub.add_parser("query", help="read state")
    query_sub = query.add_subparsers(dest="what", required=True)
    balance = client_command(query_sub, "balance", "an account's OPEN balances", cmd_query_balance)
    balance.add_argument("account", help="address or dev name")
    balance.add_argument("--prove", action="store_true", help="verify a Merkle proof against the block header")
    earnings = client_command(query_sub, "earnings", "what an account's data earned (and what is held for it)",
                              cmd_query_earnings)
    earnings.add_argument("account", help="address or dev name")
    earnings.add_argument("--last", type=at_least(0), default=10,
                          help="payouts listed, newest last (0: none; --json lists all)")

    block = client_command(sub, "block", "show a block (default: the best)", cmd_block)
    block.add_argument("number", type=int, nargs="?")
    found = client_command(sub, "extrinsic", "where an extrinsic landed, by its hash", cmd_extrinsic)
    found.add_argument("hash", help="the extrinsic's blake2b-256, hex")
