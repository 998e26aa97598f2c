"""What a fine-tuning job reads from the chain and its content store: the base model and the snapshots' files.

Everything is checked on the way in: the base directory against its manifest hash, each contribution's
file against the content hash in its snapshot leaf, each leaf against the snapshot's Merkle root. The
worker signs its reads, so a permissioned DataNet's data reaches it only when the chain allows it.
Files are cached by content hash under the worker's data directory: a resumed or repeated job reads
nothing twice.
"""

from __future__ import annotations

from pathlib import Path

from payable.datanet.v1 import datanet_pb2 as dn
from runtime.crypto import Keypair, blake2_256, encode_address
from sdk.artifacts import HF_MODEL, fetch_directory
from sdk.client import Client
from sdk.wire import verify_membership

from .dataset import DatasetSpec, Source

RETIRED = (dn.WITHDRAWN, dn.TAKEN_DOWN)  # statuses whose data no job trains on and no model is published on


class ReadDenied(Exception):
    """The account a job or a preview is for may not read a permissioned DataNet of its snapshots (`unsigned`:
    no account signed the request)."""

    def __init__(self, message: str, unsigned: bool = False):
        super().__init__(message)
        self.unsigned = unsigned


def check_inputs(client: Client, spec: DatasetSpec, account: bytes) -> None:
    """The spec's snapshots exist (else the node's refusal) and `account` (b"": nobody signed) may read every
    permissioned DataNet among them (else ReadDenied), as the chain says now: the worker reads with its own
    key, which a grant may allow, but whom it trains for or shows rows to must be allowed too - and a revoked
    grant stops the next job or preview even where the bytes are cached here."""
    for datanet, version in spec.snapshots:
        _snapshot(client, datanet, version)
    for datanet in sorted({net for net, _ in spec.snapshots}):
        if not account:
            net = client.pallet_query("datanet", "get_datanet", dn.DataNetRequest(datanet=datanet), dn.DataNetInfo)
            if net.datanet.permissioned:
                raise ReadDenied(f"DataNet {datanet} is permissioned: sign the request as an account that may read "
                                 "it (its owner, a curator, a contributor or a granted account)", unsigned=True)
            continue
        found = client.pallet_query("datanet", "check_access", dn.AccessRequest(datanet=datanet, account=account),
                                    dn.AccessCheck)
        if not found.permissioned or found.allowed:
            continue
        raise ReadDenied(f"DataNet {datanet} is permissioned and {encode_address(account)} may not read it "
                         f"({found.reason}): its owner or a curator grants access")


def contributions(client: Client, datanet: int) -> dict[int, dn.Contribution]:
    """Contribution id → its record (declared format, status), for one DataNet (paged through the chain's query)."""
    return {c.id: c for c in client.pallet_items("datanet", "list_contributions",
                                                 dn.ContributionsRequest(datanet=datanet), dn.ContributionList,
                                                 "contributions")}


def snapshot_sources(client: Client, spec: DatasetSpec, cache: Path, reader: Keypair | None) -> list[Source]:
    """Every contribution file of the spec's snapshots, in spec order then snapshot (id) order. A snapshot
    holding a contribution withdrawn or taken down since is refused (and its cached bytes dropped): no job
    trains on data its contributor took back - a newer snapshot leaves it out."""
    cache.mkdir(parents=True, exist_ok=True)
    sources = []
    for datanet, version in spec.snapshots:
        snap = _snapshot(client, datanet, version)
        records = contributions(client, datanet)
        for proof in snap.proofs:
            cid = proof.leaf.contribution_id
            if not verify_membership(snap.snapshot.root, proof):
                raise ValueError(f"DataNet {datanet} v{version}: contribution {cid}'s "
                                 f"proof does not verify against the snapshot root")
            found = records.get(cid)
            if found is not None and found.status in RETIRED:
                (cache / proof.leaf.content_hash.hex()).unlink(missing_ok=True)
                raise _retired(datanet, version, found, "train on")
            sources.append(Source(cid, proof.leaf.contributor, proof.leaf.content_hash,
                                  found.format if found is not None else "",
                                  _cached_blob(client, proof.leaf.content_hash, cache, reader)))
    return sources


def check_current(client: Client, spec: DatasetSpec) -> None:
    """ValueError when a contribution of the spec's snapshots has been withdrawn or taken down since: a model
    trained on it is not published (its contributor took the data back before the model reached anyone)."""
    for datanet, version in spec.snapshots:
        snap = _snapshot(client, datanet, version)
        records = contributions(client, datanet)
        for cid in snap.snapshot.contribution_ids:
            found = records.get(cid)
            if found is not None and found.status in RETIRED:
                raise _retired(datanet, version, found, "publish a model trained on")


def _snapshot(client: Client, datanet: int, version: int) -> dn.SnapshotWithProofs:
    return client.pallet_query("datanet", "get_snapshot", dn.SnapshotRequest(datanet=datanet, version=version),
                               dn.SnapshotWithProofs)


def _retired(datanet: int, version: int, found: dn.Contribution, what: str) -> ValueError:
    return ValueError(f"DataNet {datanet} v{version}: contribution {found.id} was "
                      f"{dn.Status.Name(found.status).lower().replace('_', ' ')} at block {found.withdrawn_at}; "
                      f"{what} a snapshot published since, which leaves it out")


def _cached_blob(client: Client, digest: bytes, cache: Path, reader: Keypair | None) -> bytes:
    path = cache / digest.hex()
    if path.exists():
        data = path.read_bytes()
        if blake2_256(data) == digest:
            return data
    data = client.download(digest, reader=reader)
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)
    return data


def fetch_base(client: Client, artifact_hash: bytes, cache: Path, reader: Keypair | None = None) -> Path:
    """The base model's directory, fetched (and checked) once into the cache."""
    directory = cache / artifact_hash.hex()
    fetch_directory(client, artifact_hash, directory, kind=HF_MODEL, reader=reader)
    return directory
