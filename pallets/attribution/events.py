"""Attribution pallet events; codes are stable."""

from __future__ import annotations

from payable.attribution.v1 import attribution_pb2 as pb
from runtime.pallet import EventTable

events = EventTable("attribution")
ResultAccepted = events.event(0, "ResultAccepted", pb.ResultAccepted, "A worker's result passed every check.")
Settled = events.event(1, "Settled", pb.Settled, "A request's fee was split and paid out.")
Challenged = events.event(2, "Challenged", pb.Challenged, "A settlement was disputed; a jury was drawn.")
DisputeResolved = events.event(3, "DisputeResolved", pb.DisputeResolved,
                               "The jury decided: upheld (majority slashed, challenger rewarded) or not (bond lost).")
Paid = events.event(4, "Paid", pb.Paid, "One payment of a settlement: to a contributor, the model's owner, the "
                                        "protocol, a worker, or the requester's refund.")
RefusalAccepted = events.event(5, "RefusalAccepted", pb.RefusalAccepted,
                               "A worker's signed refusal of a request passed every check.")
Refused = events.event(6, "Refused", pb.RequestRefused,
                       "A request closed on its workers' refusal: the reason, its cost, the refund; nobody slashed.")
OwedHeld = events.event(7, "OwedHeld", pb.OwedHeld,
                        "A contributor's payment too small to open its empty account, held for it.")
OwedPaid = events.event(8, "OwedPaid", pb.OwedPaid, "What was held for a contributor, paid out to it.")
TailPaid = events.event(9, "TailPaid", pb.TailPaid,
                        "A page of a settled request's tail was paid: each of its contributions its exact share.")
TailClosed = events.event(10, "TailClosed", pb.TailClosed,
                          "A tail nobody paid out within its window was closed; what it held went to the treasury.")
