"""The browser signs; the server only prepares and relays.

`prepare` builds the exact body bytes of an extrinsic (call from the chain's metadata, the signer's next
nonce, the chain's genesis hash) and a plain description of what they say, decoded back from those same
bytes - so what the page shows is what gets signed. The browser's key signs the body; `submit` wraps
body and signature into the extrinsic, submits it and waits for its block. No private key ever reaches
the server (dev accounts are derived from well-known names, and only on a dev chain).
"""

from __future__ import annotations

import json
import weakref
from dataclasses import dataclass

from google.protobuf.message import DecodeError

from payable.runtime.v1.extrinsic_pb2 import ExtrinsicBody
from runtime.codec import decode_u128, format_open
from runtime.crypto import Keypair, blake2_256, decode_address, encode_address, verify
from runtime.extrinsic import assemble_signed, extrinsic_body
from sdk.client import Client, ClientError

from .decode import Decoder

DEV_CHAIN_ID = "payable-dev"
DEV_NAMES = ("//Alice", "//Bob", "//Charlie", "//Dave", "//Eve", "//Ferdie")


_DECODERS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def decoder(client: Client) -> Decoder:
    """One decoder per client (its metadata is fetched once)."""
    if client not in _DECODERS:
        _DECODERS[client] = Decoder(client.metadata)
    return _DECODERS[client]


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


def describe(client: Client, body_bytes: bytes) -> list[tuple[str, str]]:
    """What a body says, read back from its bytes: the call, every argument, signer, the fee the chain will
    take for it (tip included), nonce, chain."""
    body = ExtrinsicBody.FromString(body_bytes)
    call = decoder(client).call(body.call)
    if call["name"].startswith("#"):
        raise WalletError(f"unknown call {body.call.pallet}{call['name']}")
    args = call["args"]
    fee, held = decoder(client).fee(body_bytes), decoder(client).held(body.call.pallet, call["name"])
    lines = [("call", f"{body.call.pallet}.{call['name']}"), ("signer", encode_address(body.signer)),
             ("fee", "unknown (the node does not publish its fee rule)" if fee is None else f"{format_open(fee)} OPEN"),
             *([("held", f"{format_open(held)} OPEN deposit, returned when it is retired")] if held else []),
             ("nonce", str(body.nonce)), ("tip", f"{format_open(decode_u128(body.tip))} OPEN"),
             ("chain", body.genesis_hash.hex()[:16] + "…"), ("body hash", blake2_256(body_bytes).hex())]
    return lines + [(f"  {key}", value if isinstance(value, str) else json.dumps(value))
                    for key, value in sorted(args.items())]


def signer_key(signer: str) -> bytes:
    """The signer's public key from its address or 64 hex digits (WalletError otherwise)."""
    try:
        return decode_address(signer)
    except ValueError as exc:
        raise WalletError(f"signer {signer!r} is not an address: {exc}") from exc


def prepare(client: Client, signer: str, pallet: str, call: str, fields: dict | None = None, args=None) -> Prepared:
    """The body for `pallet.call` with `fields` (converted by the chain's metadata) or a built `args` message,
    once a dry run on the chain's state (`Client.dry_run`) says it would be included and succeed - else
    WalletError in the chain's words."""
    who = signer_key(signer)
    try:
        built = client.call_with(pallet, call, args) if args is not None else client.call(pallet, call, **fields)
    except ClientError as exc:
        raise WalletError(str(exc)) from exc
    # the nonce after the signer's pooled extrinsics, so a second signature before a block is not a duplicate
    body = extrinsic_body(who, built, nonce=client.next_nonce(who), genesis_hash=client.genesis_hash)
    ran = client.dry_run(body)  # a call sure to fail is said before it is signed, not charged after
    if not ran.valid:
        raise WalletError(f"the chain would refuse it: {ran.invalid} (nothing was signed)")
    if not ran.success:
        raise WalletError(f"it would fail in its block, and still be charged its fee: {ran.error} (nothing was "
                          f"signed)")
    return Prepared(body, describe(client, body))


def submit(client: Client, body: bytes, signature: bytes) -> dict:
    """Check the signature here first (a clear error beats a pool refusal), submit, wait for the block."""
    try:
        decoded = ExtrinsicBody.FromString(body)
    except DecodeError as exc:
        raise WalletError(f"the body does not decode: {exc}") from exc
    if len(signature) != 64 or not verify(decoded.signer, body, signature):
        raise WalletError("the signature does not verify for this body and signer")
    try:
        result = client.submit_and_wait(assemble_signed(body, signature))
    except ClientError as exc:  # two tabs (or a tab and a script) signed with one nonce: say so, not "pay a tip"
        for code, where in (("replacement_underpriced", "another extrinsic of this key waiting in the pool"),
                            ("stale_nonce", "an extrinsic of this key already in a block")):
            if code in str(exc):
                raise WalletError(f"nonce {decoded.nonce} was taken by {where} (signed in another tab or client?): "
                                  "nothing was charged - prepare and sign again for the next nonce") from exc
        raise
    events = []
    if result.block_number:
        for event in client.events(result.block_number).events:
            if event.extrinsic_index == result.extrinsic_index:
                shown = decoder(client).event(event)
                events.append({"name": f"{event.pallet}.{event.name}", "data": shown["data"]})
    return {"success": result.success, "error": result.error, "block": result.block_number,
            "hash": result.hash.hex(), "events": events}
