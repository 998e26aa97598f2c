"""A DataNet snapshot's data, fetched from the node's content store, as a worker training dataset.

Each contribution's blob is a serialized `payable.worker.v1.Dataset` of its examples; every leaf (who, what
and the contribution's terms) is checked against the snapshot's Merkle root with the chain's own leaf
encoding (`sdk.wire.verify_membership`), and every blob against the content hash in its leaf while it
downloads. The assembly is canonical - contributions in snapshot order, examples in blob order - so anyone
rebuilding a model's attribution index from the same snapshot gets the same dataset hash, and therefore
the same index hash.
"""

from __future__ import annotations

from payable.datanet.v1 import datanet_pb2 as dn
from payable.worker.v1 import worker_pb2 as wp
from sdk.client import Client
from sdk.wire import verify_membership


def snapshot_dataset(client: Client, datanet: int, version: int = 0) -> tuple[dn.Snapshot, wp.Dataset]:
    snapshot = client.pallet_query("datanet", "get_snapshot", dn.SnapshotRequest(datanet=datanet, version=version),
                                   dn.SnapshotWithProofs)
    dataset = wp.Dataset()
    for index, proof in enumerate(snapshot.proofs):
        if not verify_membership(snapshot.snapshot.root, proof):
            raise ValueError(f"DataNet {datanet} v{snapshot.snapshot.version}: contribution "
                             f"{proof.leaf.contribution_id}'s proof does not verify against the snapshot root")
        dataset.contributions.add(id=proof.leaf.contribution_id, contributor=proof.leaf.contributor)
        for example in wp.Dataset.FromString(client.download(proof.leaf.content_hash)).examples:
            dataset.examples.add(features=example.features, label=example.label, contribution=index)
    return snapshot.snapshot, dataset
