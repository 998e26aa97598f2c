"""DataNets: the list, one DataNet (contributions, snapshots, access), and the upload that puts a file in
the node's content store before the browser signs its contribution."""

from __future__ import annotations

import functools
import re
import tempfile
import time

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from payable.datanet.v1 import datanet_pb2 as dn
from runtime.crypto import verify
from sdk.client import Client, UploadSignature
from sdk.wire import CONTENT_READ_MAX_SKEW_S, content_upload_message

from ..deps import ChainNumber, NodeClient, Page

router = APIRouter()


def all_datanets(client: Client) -> list[dn.DataNetInfo]:
    return list(client.pallet_items("datanet", "list_datanets", dn.ListDataNetsRequest(), dn.DataNetList, "datanets"))


@router.get("/datanets", response_class=HTMLResponse)
def datanets(client: NodeClient, page: Page):
    return page("datanets.html", datanets=all_datanets(client))


@router.get("/datanets/{datanet_id}", response_class=HTMLResponse)
def datanet(datanet_id: ChainNumber, client: NodeClient, page: Page):
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


MAX_UPLOAD_BYTES = 256 << 20  # a node's default blob limit (`payable node --blob-limit`, in MiB)
UPLOAD_HEADERS = ("X-Content-Hash", "X-Uploader", "X-Issued-At", "X-Signature")


def upload_signature(request: Request) -> tuple[bytes, UploadSignature]:
    """(the blob's hash, its uploader's signature) from the headers the browser's key signed them in: the
    studio holds no key, the node stores only what an account on the chain signed. Their form and the
    signature's time are checked here, its bytes by `check_upload_signature`."""
    missing = [name for name in UPLOAD_HEADERS if not request.headers.get(name)]
    if missing:
        raise HTTPException(401, f"sign the upload with a key from the Keys page (missing {', '.join(missing)})")
    try:
        content_hash, uploader, signature = (bytes.fromhex(request.headers[name])
                                             for name in ("X-Content-Hash", "X-Uploader", "X-Signature"))
    except ValueError as exc:
        raise HTTPException(400, "X-Content-Hash, X-Uploader and X-Signature are hex") from exc
    if (len(content_hash), len(uploader), len(signature)) != (32, 32, 64):
        raise HTTPException(400, "X-Content-Hash and X-Uploader are 32 bytes in hex, X-Signature 64")
    stamp = request.headers["X-Issued-At"]
    if not re.fullmatch(r"[0-9]{1,20}", stamp) or int(stamp) >= 1 << 64:
        raise HTTPException(400, "X-Issued-At is the signature's time: whole seconds since 1970 (a uint64)")
    issued_at = int(stamp)
    if abs(time.time() - issued_at) > CONTENT_READ_MAX_SKEW_S:
        raise HTTPException(401, f"the upload's signature was issued more than {CONTENT_READ_MAX_SKEW_S} s away "
                                 "from now: sign it afresh")
    return content_hash, UploadSignature(uploader, issued_at, signature)


def check_upload_signature(content_hash: bytes, signed: UploadSignature, genesis_hash: bytes) -> None:
    """Refuse an upload whose signature is not its uploader's for this blob and chain - before a byte of the file
    is read: a stranger's upload costs nothing, where it cost up to MAX_UPLOAD_BYTES of the studio's disk until
    the node refused it (the node checks again, and that the account exists)."""
    message = content_upload_message(genesis_hash, content_hash, signed.uploader, signed.issued_at)
    if not verify(signed.uploader, message, signed.signature):
        raise HTTPException(401, "the upload's signature does not verify for this uploader, blob and chain")


@router.post("/api/upload")
async def upload(request: Request, client: NodeClient):
    """Stream the browser's file to a temporary file, then to the node's content store, signed in the browser
    (`upload_signature`): the node checks the signature and the bytes against the signed hash."""
    content_hash, signed = upload_signature(request)
    check_upload_signature(content_hash, signed, await run_in_threadpool(lambda: client.genesis_hash))
    with tempfile.NamedTemporaryFile(prefix="studio-upload-") as tmp:
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > MAX_UPLOAD_BYTES:  # refused while it streams, before it fills the studio's disk
                raise HTTPException(413, f"the file is over {MAX_UPLOAD_BYTES >> 20} MiB, the largest blob a node "
                                         f"stores by default")
            tmp.write(chunk)
        tmp.flush()
        if size == 0:
            raise HTTPException(400, "the file is empty")
        stored = await run_in_threadpool(  # the event loop serves every other page
            functools.partial(client.upload, tmp.name, uploader=signed, expected=content_hash))
    return {"hash": stored.hash.hex(), "size": stored.size, "already_stored": stored.already_stored}
