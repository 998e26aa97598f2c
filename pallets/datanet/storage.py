"""DataNet pallet storage. Numeric ids use the identity hasher so they iterate in numeric order."""

from __future__ import annotations

from payable.datanet.v1 import datanet_pb2 as pb
from runtime.storage.items import BLAKE2_128_CONCAT, BYTES, IDENTITY, U64, PalletStorage, ProtoCodec

storage = PalletStorage("datanet")

# Holds this pallet places in the token pallet (only this pallet may release or pay them out):
CREATION_DEPOSIT = "datanet/creation_deposit"  # on each DataNet's owner, for as long as the DataNet exists
CONTRIBUTION_DEPOSIT = "datanet/contribution_deposit"  # on the contributor, while its contribution is pending

NextDataNetId = storage.value("NextDataNetId", U64, "Id the next DataNet gets (ids start at 1).")
DataNets = storage.map("DataNets", U64, ProtoCodec(pb.DataNet), IDENTITY, "Every DataNet by id.")
MetadataVersions = storage.double_map("MetadataVersions", U64, IDENTITY, U64, IDENTITY, ProtoCodec(pb.Metadata),
                                      "Each DataNet's metadata, by version (1, 2, ...); never rewritten.")
NextContributionId = storage.value("NextContributionId", U64, "Id the next contribution gets (ids start at 1).")
Contributions = storage.map("Contributions", U64, ProtoCodec(pb.Contribution), IDENTITY, "Every contribution by id.")
ByDataNet = storage.double_map("ByDataNet", U64, IDENTITY, U64, IDENTITY, BYTES,
                               "DataNet → contribution ids (presence), for listing in id order.")
ByContributor = storage.double_map("ByContributor", BYTES, BLAKE2_128_CONCAT, U64, IDENTITY, BYTES,
                                   "Contributor → contribution ids (presence).")
LiveContent = storage.double_map("LiveContent", U64, IDENTITY, BYTES, BLAKE2_128_CONCAT, U64,
                                 "DataNet → content hash → the pending or approved contribution holding it.")
Approved = storage.double_map("Approved", U64, IDENTITY, U64, IDENTITY, BYTES,
                              "DataNet → currently approved contribution ids: the next snapshot's members.")
Snapshots = storage.double_map("Snapshots", U64, IDENTITY, U64, IDENTITY, ProtoCodec(pb.Snapshot),
                               "DataNet → version → the frozen snapshot (immutable).")
Stats = storage.double_map("Stats", U64, IDENTITY, BYTES, BLAKE2_128_CONCAT, ProtoCodec(pb.ContributorStats),
                           "DataNet → contributor → counts and earnings.")
ByContent = storage.double_map("ByContent", BYTES, BLAKE2_128_CONCAT, U64, IDENTITY, U64,
                              "Content hash → DataNet → the latest contribution of it there (any status): who may "
                              "read a blob from the content store is decided by the DataNets that hold it.")
Access = storage.double_map("Access", U64, IDENTITY, BYTES, BLAKE2_128_CONCAT, ProtoCodec(pb.Access),
                           "DataNet → account → its access request and the decision on it (permissioned DataNets).")
