"""The explorer: blocks as they arrive, a block, an extrinsic, an account, and search.

Every call and event is decoded from the runtime metadata (`studio.decode`). An account's balances are not
taken from the server's word: the page gets the raw state value, its Merkle proof and the block header's
exact bytes, and the browser checks header hash, proof and value itself (`static/verify.js`) before it shows
them. An account's history and an extrinsic found by its hash come from the node's index.
"""

from __future__ import annotations

from fastapi import APIRouter, HTTPException
from fastapi.responses import HTMLResponse, RedirectResponse

from payable.attribution.v1 import attribution_pb2 as at
from runtime.chainindex import HOOKS
from runtime.codec import decode_u128, format_open
from runtime.crypto import decode_address, encode_address
from sdk.client import Client, ClientError

from ..decode import outcome
from ..deps import U64_MAX, ChainPosition, NodeClient, Page
from ..wallet import decoder

HISTORY_PAGE = 25

router = APIRouter()


def block_summary(client: Client, number: int) -> dict:
    found = client.block(number)
    return {"number": number, "hash": found.hash.hex(), "time_ms": found.header.timestamp_ms,
            "extrinsics": len(found.block.extrinsics), "events": len(client.events(number).events),
            "author": encode_address(found.header.author) if len(found.header.author) == 32 else ""}


def parse_account(text: str) -> bytes:
    try:
        return decode_address(text)
    except ValueError as exc:
        raise HTTPException(400, f"{text!r} is not an account: {exc}") from exc


def block_number(client: Client, ref: str) -> int:
    if ref.isdigit():
        if int(ref) > U64_MAX:
            raise HTTPException(404, f"no block #{ref} on this chain")
        return int(ref)
    try:
        return client.header(block_hash=bytes.fromhex(ref)).header.number
    except (ValueError, ClientError) as exc:
        raise HTTPException(404, f"no block {ref!r} on this chain") from exc


@router.get("/explorer", response_class=HTMLResponse)
def blocks(client: NodeClient, page: Page, before: ChainPosition = 0):
    best = client.chain_info().best_number
    top = min(before - 1, best) if before else best
    shown = [block_summary(client, n) for n in range(top, max(-1, top - 20), -1)]
    return page("explorer.html", blocks=shown, next_before=shown[-1]["number"] if shown and
                shown[-1]["number"] > 0 else 0)


@router.get("/api/blocks")
def new_blocks(after: ChainPosition, client: NodeClient):
    """Blocks above `after` (the page's newest), newest first - the live list polls this."""
    best = client.chain_info().best_number
    return {"best": best, "blocks": [block_summary(client, n) for n in range(best, max(after, best - 50), -1)]}


@router.get("/explorer/blocks/{ref}", response_class=HTMLResponse)
def block(ref: str, client: NodeClient, page: Page):
    number = block_number(client, ref)
    try:
        found = client.block(number)
    except ClientError as exc:
        raise HTTPException(404, str(exc)) from exc
    decode = decoder(client)
    events = [decode.event(e) for e in client.events(number).events]
    extrinsics = []
    for index, raw in enumerate(found.block.extrinsics):
        shown = decode.extrinsic(raw)
        mine = [e for e in events if e["extrinsic_index"] == index]
        extrinsics.append(shown | outcome(mine) | {"index": index})
    return page("block.html", number=number, hash=found.hash.hex(), header=found.header,
                author=encode_address(found.header.author) if len(found.header.author) == 32 else "",
                extrinsics=extrinsics, events=events)


@router.get("/explorer/extrinsics/{tx_hash}", response_class=HTMLResponse)
def extrinsic(tx_hash: str, client: NodeClient, page: Page):
    try:
        found = client.extrinsic(bytes.fromhex(tx_hash))
    except (ValueError, ClientError) as exc:
        raise HTTPException(404, f"no extrinsic {tx_hash!r} on this chain") from exc
    decode = decoder(client)
    events = [decode.event(e) for e in found.events]
    return page("extrinsic.html", tx=decode.extrinsic(found.extrinsic) | outcome(events),
                block_number=found.block_number, block_hash=found.block_hash.hex(), index=found.index,
                events=events)


@router.get("/explorer/accounts/{address}", response_class=HTMLResponse)
def account(address: str, client: NodeClient, page: Page, before: ChainPosition = 0):
    who = parse_account(address)
    history = client.account_history(who, before_block=before, limit=HISTORY_PAGE)
    entries = [{"block": e.block_number, "index": None if e.extrinsic_index == HOOKS else e.extrinsic_index,
                "hash": e.extrinsic_hash.hex(), "roles": list(e.roles)} for e in history.entries]
    earned = client.pallet_query("attribution", "list_earnings", at.EarningsPageRequest(contributor=who, limit=1),
                                 at.EarningsPage) if any(p.name == "attribution" for p in client.metadata.pallets) \
        else None
    return page("account.html", address=encode_address(who), public=who.hex(), entries=entries,
                next_before=history.next_before_block,
                earned=format_open(decode_u128(earned.total)) if earned is not None else None)


@router.get("/api/accounts/{address}/proof")
def account_proof(address: str, client: NodeClient):
    """What the browser needs to check an account's balances itself: the storage item's prefix and hasher
    (it computes the key), the raw value, the proof and the exact header bytes of the proving block."""
    who = parse_account(address)
    item = next((s for p in client.metadata.pallets if p.name == "token" for s in p.storage
                 if s.name == "Account"), None)
    if item is None:
        raise HTTPException(404, "this chain has no token.Account storage")
    key = client.storage_key("token", "Account", who)
    response = client.raw_storage(key)
    header = client.header(response.block_number)
    return {"account": who.hex(), "prefix": item.prefix.hex(), "hasher": item.hasher,
            "exists": response.exists, "value": response.value.hex(), "block_number": response.block_number,
            "block_hash": header.hash.hex(), "header": header.header_bytes.hex(),
            "proof": {"levels": [level.hex() for level in response.proof.levels],
                      "other_key_hash": response.proof.other_key_hash.hex(),
                      "other_value_hash": response.proof.other_value_hash.hex()}}


@router.get("/explorer/search")
def search(client: NodeClient, q: str = ""):
    """A block number, a block or extrinsic hash, or an account (address or 64 hex digits)."""
    text = q.strip()
    if text.isdigit():
        return RedirectResponse(f"/explorer/blocks/{int(text)}", status_code=303)
    if len(text) == 64:
        try:
            raw = bytes.fromhex(text)
        except ValueError:
            raw = b""
        if raw:
            try:
                return RedirectResponse(f"/explorer/blocks/{client.header(block_hash=raw).header.number}",
                                        status_code=303)
            except ClientError:
                pass
            try:
                client.extrinsic(raw)
                return RedirectResponse(f"/explorer/extrinsics/{text.lower()}", status_code=303)
            except ClientError:
                pass
    try:
        return RedirectResponse(f"/explorer/accounts/{encode_address(decode_address(text))}", status_code=303)
    except ValueError:
        raise HTTPException(404, f"nothing matches {text!r}: search takes a block number, a block or "
                                 "extrinsic hash (64 hex digits) or an account address") from None
