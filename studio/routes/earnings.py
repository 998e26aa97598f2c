"""Earnings: what a contributor's data earned and for what; a model's revenue and whom it paid; a DataNet's
contributors ranked.

Every figure comes from the chain's own paged queries (`attribution.list_earnings`,
`attribution.list_model_contributors`, `attribution.get_model_earnings`, `datanet.rank_contributors`), so a
script gets what the page shows; the JSON routes here are those figures as the page's chart reads them.
"""

from __future__ import annotations

from fastapi import APIRouter, HTTPException
from fastapi.responses import HTMLResponse

from payable.attribution.v1 import attribution_pb2 as at
from payable.datanet.v1 import datanet_pb2 as dn
from payable.modelregistry.v1 import modelregistry_pb2 as mr
from runtime.codec import decode_u128, format_open
from runtime.crypto import encode_address
from sdk.client import Client, ClientError

from ..deps import ChainNumber, ChainPosition, NodeClient, Page
from .explorer import parse_account


def contributor_earnings(client: Client, who: bytes) -> dict:
    """Every paying request (oldest first) with its block, model, amount and per-DataNet split, and what of the
    total the chain still holds for the contributor (too small so far to open its empty account)."""
    items, start, total = [], 0, 0
    while True:
        found = client.pallet_query("attribution", "list_earnings", at.EarningsPageRequest(
            contributor=who, start_after=start, limit=500), at.EarningsPage)
        total = decode_u128(found.total)
        for item in found.items:
            by_net: dict[int, int] = {}
            for payment in item.payments:
                by_net[payment.datanet] = by_net.get(payment.datanet, 0) + decode_u128(payment.amount)
            items.append({"request": item.request, "model": item.model, "block": item.settled_at,
                          "amount": format_open(decode_u128(item.amount)), "units": str(decode_u128(item.amount)),
                          "datanets": {str(k): str(v) for k, v in by_net.items()},
                          "contributions": sorted({p.contribution_id for p in item.payments})})
        if not found.next_start_after:
            owed = decode_u128(found.owed)
            return {"account": encode_address(who), "total": format_open(total), "total_units": str(total),
                    "owed": format_open(owed) if owed else "", "payouts": items,
                    "best": client.chain_info().best_number}
        start = found.next_start_after


def model_earnings(client: Client, model_id: int) -> dict:
    client.pallet_query("modelregistry", "get_model", mr.ModelRequest(model=model_id), mr.Model)  # or NOT_FOUND
    totals = client.pallet_query("attribution", "get_model_earnings", at.ModelEarningsRequest(model=model_id),
                                 at.ModelEarnings)
    shares, offset = [], 0
    while True:
        found = client.pallet_query("attribution", "list_model_contributors", at.ModelContributorsRequest(
            model=model_id, offset=offset, limit=500), at.ModelContributors)
        shares += [{"contributor": encode_address(s.contributor), "earned": format_open(decode_u128(s.earned)),
                    "units": str(decode_u128(s.earned)), "payments": s.payments} for s in found.contributors]
        if not found.next_offset:
            break
        offset = found.next_offset
    paid = sum(int(s["units"]) for s in shares)
    for share in shares:
        share["share_percent"] = round(100 * int(share["units"]) / paid, 2) if paid else 0.0
    return {"model": model_id, "requests": totals.settled, "revenue": format_open(decode_u128(totals.fees)),
            "contributors_paid": format_open(paid), "contributors": shares}


def datanet_ranking(client: Client, datanet_id: int, offset: int = 0, limit: int = 100) -> dict:
    found = client.pallet_query("datanet", "rank_contributors", dn.RankRequest(datanet=datanet_id, offset=offset,
                                                                               limit=limit), dn.RankedContributors)
    return {"datanet": datanet_id, "total": found.total, "next_offset": found.next_offset,
            "contributors": [{"rank": offset + i + 1, "contributor": encode_address(c.contributor),
                              "earned": format_open(decode_u128(c.stats.earned)),
                              "contributions": c.stats.contributions, "approved": c.stats.approved}
                             for i, c in enumerate(found.contributors)]}


router = APIRouter()


def guarded(compute):
    try:
        return compute()
    except ClientError as exc:
        raise HTTPException(404, str(exc)) from exc


@router.get("/api/earnings/contributors/{address}")
def contributor_json(address: str, client: NodeClient):
    return guarded(lambda: contributor_earnings(client, parse_account(address)))


@router.get("/api/earnings/models/{model_id}")
def model_json(model_id: ChainNumber, client: NodeClient):
    return guarded(lambda: model_earnings(client, model_id))


@router.get("/api/earnings/datanets/{datanet_id}")
def datanet_json(datanet_id: ChainNumber, client: NodeClient, offset: ChainPosition = 0):
    return guarded(lambda: datanet_ranking(client, datanet_id, offset))


@router.get("/earnings", response_class=HTMLResponse)
def earnings_home(client: NodeClient, page: Page):
    models = list(client.pallet_items("modelregistry", "list_models", mr.ModelsRequest(), mr.ModelList,
                                      "models"))
    nets = list(client.pallet_items("datanet", "list_datanets", dn.ListDataNetsRequest(), dn.DataNetList,
                                    "datanets"))
    return page("earnings.html", models=models, datanets=nets)


@router.get("/earnings/contributors/{address}", response_class=HTMLResponse)
def contributor_page(address: str, client: NodeClient, page: Page):
    data = guarded(lambda: contributor_earnings(client, parse_account(address)))
    return page("earnings_contributor.html", data=data)


@router.get("/earnings/models/{model_id}", response_class=HTMLResponse)
def model_page(model_id: ChainNumber, client: NodeClient, page: Page):
    return page("earnings_model.html", data=guarded(lambda: model_earnings(client, model_id)))


@router.get("/earnings/datanets/{datanet_id}", response_class=HTMLResponse)
def datanet_page(datanet_id: ChainNumber, client: NodeClient, page: Page, offset: ChainPosition = 0):
    return page("earnings_datanet.html",
                data=guarded(lambda: datanet_ranking(client, datanet_id, offset)))
