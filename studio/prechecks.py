"""Calls that are sure to fail, refused before the signing dialog: a refused extrinsic is still signed,
included and charged its fee, so what the studio can check from the chain's state it checks first, with
the chain's own words - a signer with no OPEN for the fee, a blank or too long name, a description longer
than the chain takes, a snapshot published by someone who is not the DataNet's curator, a file the DataNet
already holds.

The lengths are the datanet pallet's (`pallets/datanet/calls.py`, `_text`); tests/test_studio_guards.py
submits the boundary to a real chain so the two cannot drift apart unnoticed."""

from __future__ import annotations

from fastapi import HTTPException

from payable.datanet.v1 import datanet_pb2 as dn
from runtime.codec import decode_u128
from runtime.crypto import encode_address
from sdk.client import Client

TEXT_LIMITS = {  # (pallet, call) -> field -> (most characters, required)
    ("datanet", "create_datanet"): {"name": (64, True), "domain": (32, True), "description": (4096, False)},
    ("datanet", "update_metadata"): {"description": (4096, False)},
    ("datanet", "request_access"): {"note": (512, False)},
}
LIVE = (dn.PENDING, dn.APPROVED)


def precheck(client: Client, signer: bytes, pallet: str, call: str, fields: dict) -> None:
    """Refuse (400, or 403 for a signer who may not) what the chain would refuse, before anything is signed."""
    if decode_u128(client.account(signer).free) == 0:  # the pool refuses it unpaid; the dialog should not open
        raise HTTPException(400, f"{encode_address(signer)} holds no OPEN, so it cannot pay the fee: fund it first "
                                 "(from a funded key: payable transfer --to ADDRESS --amount 10)")
    _texts(pallet, call, fields)
    _datanet_rules(client, signer, pallet, call, fields)


def _texts(pallet: str, call: str, fields: dict) -> None:
    """The datanet pallet's text limits (`TEXT_LIMITS`)."""
    for name, (most, required) in TEXT_LIMITS.get((pallet, call), {}).items():
        text = fields.get(name)
        text = text if isinstance(text, str) else ""
        if required and not text.strip():
            raise HTTPException(400, f"{name} is blank: the chain refuses it (nothing was signed)")
        if len(text) > most:
            raise HTTPException(400, f"{name} is {len(text)} characters; the chain takes at most {most}")


def _datanet_rules(client: Client, signer: bytes, pallet: str, call: str, fields: dict) -> None:
    """Who may publish a snapshot, and a file the DataNet holds already - read from the chain's state."""
    if pallet != "datanet" or call not in ("publish_snapshot", "contribute"):
        return
    try:
        net_id = int(fields.get("datanet") or 0)
    except (TypeError, ValueError):
        return  # the chain's metadata conversion says what is wrong with it
    net = client.pallet_query("datanet", "get_datanet", dn.DataNetRequest(datanet=net_id), dn.DataNetInfo).datanet
    if call == "publish_snapshot" and signer != net.owner and signer not in net.curators:
        raise HTTPException(403, f"only DataNet {net_id}'s owner or a curator may publish its snapshot; choose "
                                 "their key (Keys page)")
    if call == "contribute":
        wanted = str(fields.get("content_hash") or "").lower()
        start = 0
        while True:
            page = client.pallet_query("datanet", "list_contributions", dn.ContributionsRequest(
                datanet=net_id, start_after=start, limit=100), dn.ContributionList)
            for c in page.contributions:
                if c.content_hash.hex() == wanted and c.status in LIVE:
                    raise HTTPException(400, f"DataNet {net_id} already holds this file (contribution {c.id})")
            if not page.next_start_after:
                return
            start = page.next_start_after
