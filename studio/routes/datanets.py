"""DataNets: the list, one DataNet (contributions, snapshots, access), and the upload that puts a file in
the node's content store before the browser signs its contribution."""

from __future__ import annotations

import tempfile

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from payable.datanet.v1 import datanet_pb2 as dn
from sdk.client import Client

from ..deps import NodeClient, Page

router = APIRouter()


def all_datanets(client: Client) -> list[dn.DataNetInfo]:
    return list(client.pallet_items("datanet", "list_datanets", dn.ListDataNetsRequest(), dn.DataNetList, "datanets"))


@router.get("/datanets", response_class=HTMLResponse)
def datanets(client: NodeClient, page: Page):
    return page("datanets.html", datanets=all_datanets(client))


@router.get("/datanets/{datanet_id}", response_class=HTMLResponse)
def datanet(datanet_id: int, client: NodeClient, page: Page):
    info = client.pallet_query("datanet", "get_datanet", dn.DataNetRequest(datanet=datanet_id), dn.DataNetInfo)
    contributions = client.pallet_query("datanet", "list_contributions",
                                        dn.ContributionsRequest(datanet=datanet_id, limit=100),
                                        dn.ContributionList).contributions
    snapshots = [client.pallet_query("datanet", "get_snapshot", dn.SnapshotRequest(datanet=datanet_id, version=v),
                                     dn.SnapshotWithProofs).snapshot
                 for v in range(info.datanet.snapshot_count, 0, -1)]
    access = client.pallet_query("datanet", "list_access", dn.DataNetRequest(datanet=datanet_id), dn.AccessList)
    net = info.datanet  # the keys that may curate (the owner and the curators) and the one that may administer
    curators = " ".join(dict.fromkeys(key.hex() for key in (net.owner, *net.curators)))
    return page("datanet.html", info=info, contributions=contributions, snapshots=snapshots,
                access=access, status_name=dn.Status.Name, curators=curators, owner=net.owner.hex(),
                access_name=lambda s: dn.AccessState.Name(s)[7:].lower())


@router.post("/api/upload")
async def upload(request: Request, client: NodeClient):
    """Stream the browser's file to a temporary file, then to the node's content store."""
    with tempfile.NamedTemporaryFile(prefix="studio-upload-") as tmp:
        size = 0
        async for chunk in request.stream():
            tmp.write(chunk)
            size += len(chunk)
        tmp.flush()
        if size == 0:
            raise HTTPException(400, "the file is empty")
        stored = await run_in_threadpool(client.upload, tmp.name)  # the event loop serves every other page
    return {"hash": stored.hash.hex(), "size": stored.size, "already_stored": stored.already_stored}
