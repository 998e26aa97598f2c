"""`payable validator`: a CometBFT validator's candidacy on chain - `bond` OPEN with its consensus key,
`bond-extra`, `unbond`, `unjail` after a downtime jail, and `show` (bond, place in the set, missed
blocks in the downtime window, jail)."""

from __future__ import annotations

import base64
import json
import sys
from pathlib import Path

from runtime.codec import decode_u128, format_open, parse_open
from runtime.crypto import encode_address

from .common import account_from, client, client_command, emit, keypair_from

HINTS = {
    "StillJailed": "the jail period is block time: try again once the chain's time has passed it",
    "NotJailed": "nothing to do: it is electable",
    "Jailed": "double signers stay jailed for good; `payable validator unbond` recovers what is left",
    "AlreadyCandidate": "use `payable validator bond-extra` to add to the bond",
    "KeyInUse": "each consensus key serves one candidate, once",
}


def consensus_key(text: str) -> bytes:
    """A consensus key: CometBFT's priv_validator_key.json (its public key only), base64 or 64 hex digits."""
    from pallets.validators.genesis import parse_key

    path = Path(text)
    if path.is_dir():
        raise ValueError(f"{text} is a directory: give the node's config/priv_validator_key.json")
    if path.is_file():
        try:
            found = json.loads(path.read_text())["pub_key"]
            if found.get("type") != "tendermint/PubKeyEd25519":
                raise ValueError(f"its pub_key is {found.get('type')!r}, not an ed25519 key")
            return base64.b64decode(found["value"], validate=True)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"{text} is not CometBFT's priv_validator_key.json ({type(exc).__name__}: {exc}); "
                             f"the node's config/priv_validator_key.json holds its consensus key (node_key.json "
                             f"is its p2p key)") from exc
    return parse_key(text)


def describe(candidate, liveness, in_set: bool) -> tuple[dict, list[tuple[str, str]]]:
    from pallets.validators.calls import format_utc

    if candidate.tombstoned:
        state = "jailed for good (double signing: tombstoned)"
    elif candidate.jailed:
        state = f"jailed for downtime until {format_utc(candidate.jailed_until_ms)}, then `payable validator unjail`"
    else:
        state = "in the validator set" if in_set else "candidate (not elected)"
    data = {"account": encode_address(candidate.account), "consensus_key": base64.b64encode(
        candidate.consensus_key).decode(), "bond": format_open(decode_u128(candidate.bond)), "state": state,
        "in_set": in_set, "jailed": candidate.jailed, "jailed_until_ms": candidate.jailed_until_ms,
        "tombstoned": candidate.tombstoned, "window": liveness.window, "max_missed": liveness.max_missed,
        "counted": liveness.counted, "missed": liveness.missed}
    counted = min(liveness.counted, liveness.window)
    table = [("account", data["account"]), ("consensus key", data["consensus_key"]),
             ("bond", f"{data['bond']} OPEN"), ("state", state),
             ("missed blocks", f"{liveness.missed} of the last {counted} counted (window {liveness.window}; "
                               f"more than {liveness.max_missed} in a full window jails)")]
    return data, table


def show(node, account: bytes) -> tuple[dict, list[tuple[str, str]]]:
    from payable.validators.v1 import validators_pb2 as pb
    from sdk.client import ClientError

    ref = pb.CandidateRef(account=account)
    try:
        found = node.pallet_query("validators", "get_candidate", ref, pb.Candidate)
    except ClientError as exc:
        raise ValueError(f"{encode_address(account)} is not a validator candidate ({exc})") from exc
    liveness = node.pallet_query("validators", "liveness", ref, pb.CandidateLiveness)
    active = node.pallet_query("validators", "active_set", pb.ActiveRequest(), pb.ValidatorSet)
    return describe(found, liveness, any(v.account == account for v in active.validators))


def cmd_show(args) -> int:
    with client(args) as node:
        emit(args, *show(node, account_from(args.account)))
    return 0


def submit(args, name: str, **fields) -> int:
    """Sign and submit validators.`name` from --from; the candidate as it is then, or why the chain refused."""
    signer = keypair_from(args.sender)
    with client(args) as node:
        result = node.submit_call(signer, "validators", name, **fields)
        if not result.success:
            why = next((hint for error, hint in HINTS.items() if (result.error or "").startswith(
                f"validators.{error}:")), "")
            message = f"the chain refused {name} from {signer.address}: {result.error}" + (f" ({why})" if why else "")
            if args.json:
                emit(args, {"success": False, "error": result.error, "message": message,
                            "extrinsic": result.hash.hex(), "block": result.block_number})
            print(f"error: {message}", file=sys.stderr)
            return 1
        try:
            data, table = show(node, signer.public)
        except ValueError:  # it unbonded all of its bond: no longer a candidate
            data = {"account": signer.address, "state": "left candidacy (the bond is unbonding)"}
            table = [("account", signer.address), ("state", data["state"])]
    emit(args, {**data, "success": True, "block": result.block_number, "extrinsic": result.hash.hex()},
         table + [("extrinsic", f"{result.hash.hex()} in block #{result.block_number}")])
    return 0


def register(sub) -> None:
    validator = sub.add_parser("validator", help="a CometBFT validator's candidacy: bond, bond-extra, unbond, "
                                                 "unjail, show")
    vsub = validator.add_subparsers(dest="validator_action", required=True)
    bond = client_command(vsub, "bond", "become a candidate: bond OPEN with a CometBFT consensus key",
                          lambda a: submit(a, "bond", consensus_key=consensus_key(a.consensus_key),
                                           amount=parse_open(a.amount)), signed=True)
    bond.add_argument("--consensus-key", required=True,
                      help="the node's priv_validator_key.json, or its public key in base64 or hex")
    bond.add_argument("--amount", required=True, help="OPEN to bond, e.g. 1000 (at least the chain's minimum)")
    extra = client_command(vsub, "bond-extra", "add to the bond (also to reach the minimum again before unjail)",
                           lambda a: submit(a, "bond_extra", amount=parse_open(a.amount)), signed=True)
    extra.add_argument("--amount", required=True, help="OPEN to add")
    unbond = client_command(vsub, "unbond", "unbond part of the bond, or all of it to leave candidacy",
                            lambda a: submit(a, "unbond", amount=parse_open(a.amount)), signed=True)
    unbond.add_argument("--amount", required=True, help="OPEN to unbond")
    client_command(vsub, "unjail", "leave a downtime jail once its period is over (electable from the next "
                                   "election)", lambda a: submit(a, "unjail"), signed=True)
    client_command(vsub, "show", "a candidate: bond, place in the set, missed blocks, jail",
                   cmd_show).add_argument("account", help="address or dev name")
