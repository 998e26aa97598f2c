"""DataNet pallet events; codes are stable."""

from __future__ import annotations

from payable.datanet.v1 import datanet_pb2 as pb
from runtime.pallet import EventTable

events = EventTable("datanet")
Created = events.event(0, "DataNetCreated", pb.DataNetCreated, "A DataNet was created; its deposit is reserved.")
Contributed = events.event(1, "Contributed", pb.ContributionEvent,
                          "A contribution is pending; its deposit is reserved.")
Approved = events.event(2, "Approved", pb.ContributionEvent, "A curator approved a contribution; deposit returned.")
Rejected = events.event(3, "Rejected", pb.ContributionEvent, "A curator rejected a contribution; deposit slashed.")
Withdrawn = events.event(4, "Withdrawn", pb.ContributionEvent,
                         "The contributor withdrew a contribution (a pending one's deposit returned).")
Revoked = events.event(5, "Revoked", pb.ContributionEvent,
                       "An approved contribution leaves future snapshots (curation: its bytes stay served).")
SnapshotPublished = events.event(6, "SnapshotPublished", pb.SnapshotPublished, "A new immutable snapshot version.")
CuratorAdded = events.event(7, "CuratorAdded", pb.CuratorEvent, "The owner added a curator.")
CuratorRemoved = events.event(8, "CuratorRemoved", pb.CuratorEvent, "The owner removed a curator.")
MetadataUpdated = events.event(9, "MetadataUpdated", pb.MetadataUpdated, "A new metadata version.")
PermissionChanged = events.event(10, "PermissionChanged", pb.PermissionChanged,
                                 "The owner made the DataNet permissioned, or public again.")
AccessRequested = events.event(11, "AccessRequested", pb.AccessEvent, "An account asked for access to the data.")
AccessGranted = events.event(12, "AccessGranted", pb.AccessEvent, "The owner or a curator granted access.")
AccessRevoked = events.event(13, "AccessRevoked", pb.AccessEvent,
                             "The owner or a curator revoked a grant or turned a request down.")
TakenDown = events.event(14, "TakenDown", pb.ContributionEvent,
                         "The owner or a curator took a contribution down (reason: its TakedownReason).")
