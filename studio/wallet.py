"""The browser signs; the server only prepares and relays.

`prepare` builds the exact body bytes of an extrinsic (call from the chain's metadata, the signer's next
nonce, the chain's genesis hash) and a plain description of what they say, decoded back from those same
bytes - so what the page shows is what gets signed. The browser's key signs the body; `submit` wraps
body and signature into the extrinsic, submits it and waits for its block. No private key ever reaches
the server (dev accounts are derived from well-known names, and only on a dev chain).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from google.protobuf.descriptor import FieldDescriptor

from payable import options_pb2
from payable.runtime.v1.extrinsic_pb2 import ExtrinsicBody
from runtime.client import Client, ClientError
from runtime.codec import decode_u128, format_open
from runtime.crypto import Keypair, blake2_256, decode_address, encode_address, verify
from runtime.extrinsic import assemble_signed, extrinsic_body
from runtime.metadata import message_class_lookup

DEV_CHAIN_ID = "payable-dev"
DEV_NAMES = ("//Alice", "//Bob", "//Charlie", "//Dave", "//Eve", "//Ferdie")


class WalletError(ValueError):
    """A prepare or submit request is malformed or refused; the message says why."""


@dataclass
class Prepared:
    body: bytes
    summary: list[tuple[str, str]]


def dev_accounts(client: Client) -> list[dict]:
    """Dev accounts with their seeds - public knowledge - only when the node runs the dev chain."""
    if client.chain_info().chain_id != DEV_CHAIN_ID:
        return []
    return [{"name": name, "address": Keypair.from_uri(name).address, "seed": Keypair.from_uri(name).seed.hex()}
            for name in DEV_NAMES]


def readable(message) -> dict:
    """A message's set fields as people read them: amounts in OPEN, accounts as addresses, other bytes as hex."""
    out = {}
    for field, value in message.ListFields():
        options = field.GetOptions()
        values = list(value) if field.is_repeated else [value]
        if field.type == FieldDescriptor.TYPE_MESSAGE:
            shown = [readable(v) for v in values]
        elif options.Extensions[options_pb2.amount]:
            shown = [f"{format_open(decode_u128(v))} OPEN" for v in values]
        elif options.Extensions[options_pb2.account]:
            shown = [encode_address(v) if len(v) == 32 else v.hex() for v in values]
        elif field.type == FieldDescriptor.TYPE_BYTES:
            shown = [v.hex() for v in values]
        elif field.type == FieldDescriptor.TYPE_ENUM:
            shown = [field.enum_type.values_by_number[v].name for v in values]
        else:
            shown = values
        out[field.name] = shown if field.is_repeated else shown[0]
    return out


def _args_dict(client: Client, body: ExtrinsicBody) -> tuple[str, dict]:
    for pallet in client.metadata.pallets:
        if pallet.name == body.call.pallet:
            for call in pallet.calls:
                if call.index == body.call.call_index:
                    lookup = message_class_lookup(client.metadata)
                    return call.name, readable(lookup(call.args_type).FromString(body.call.args))
    raise WalletError(f"unknown call {body.call.pallet}#{body.call.call_index}")


def describe(client: Client, body_bytes: bytes) -> list[tuple[str, str]]:
    """What a body says, read back from its bytes: the call, every argument, signer, nonce, chain."""
    body = ExtrinsicBody.FromString(body_bytes)
    name, args = _args_dict(client, body)
    lines = [("call", f"{body.call.pallet}.{name}"), ("signer", encode_address(body.signer)),
             ("nonce", str(body.nonce)), ("tip", f"{format_open(decode_u128(body.tip))} OPEN"),
             ("chain", body.genesis_hash.hex()[:16] + "…"), ("body hash", blake2_256(body_bytes).hex())]
    return lines + [(f"  {key}", value if isinstance(value, str) else json.dumps(value))
                    for key, value in sorted(args.items())]


def prepare(client: Client, signer: str, pallet: str, call: str, fields: dict | None = None, args=None) -> Prepared:
    """The body for `pallet.call` with `fields` (converted by the chain's metadata) or a built `args` message."""
    try:
        who = decode_address(signer)
    except ValueError as exc:
        raise WalletError(f"signer {signer!r} is not an address: {exc}") from exc
    try:
        built = client.call_with(pallet, call, args) if args is not None else client.call(pallet, call, **fields)
    except ClientError as exc:
        raise WalletError(str(exc)) from exc
    body = extrinsic_body(who, built, nonce=client.nonce(who), genesis_hash=client.genesis_hash)
    return Prepared(body, describe(client, body))


def submit(client: Client, body: bytes, signature: bytes) -> dict:
    """Check the signature here first (a clear error beats a pool refusal), submit, wait for the block."""
    try:
        decoded = ExtrinsicBody.FromString(body)
    except Exception as exc:  # noqa: BLE001 - any undecodable body is the same refusal
        raise WalletError(f"the body does not decode: {exc}") from exc
    if len(signature) != 64 or not verify(decoded.signer, body, signature):
        raise WalletError("the signature does not verify for this body and signer")
    result = client.submit_and_wait(assemble_signed(body, signature))
    events = []
    if result.block_number:
        for event in client.events(result.block_number).events:
            if event.extrinsic_index == result.extrinsic_index:
                events.append({"name": f"{event.pallet}.{event.name}", "data": _event_dict(client, event)})
    return {"success": result.success, "error": result.error, "block": result.block_number,
            "hash": result.hash.hex(), "events": events}


def _event_dict(client: Client, event) -> dict:
    for pallet in client.metadata.pallets:
        if pallet.name == event.pallet:
            for declared in pallet.events:
                if declared.name == event.name:
                    return readable(message_class_lookup(client.metadata)(declared.data_type).FromString(event.data))
    return {}
