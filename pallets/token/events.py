"""Token pallet events; codes are stable. Every balance movement emits one."""

from __future__ import annotations

from payable.token.v1 import token_pb2 as pb
from runtime.pallet import EventTable

events = EventTable("token")
Transferred = events.event(0, "Transferred", pb.Transferred, "Funds moved between free balances.")
Endowed = events.event(1, "Endowed", pb.AccountAmount, "A new account came into existence with this balance.")
DustLost = events.event(2, "DustLost", pb.AccountAmount,
                        "An account fell below the existential deposit; its dust was burned.")
Reserved = events.event(3, "Reserved", pb.HoldAmount, "Free balance was put on hold (reserved) for a reason.")
Unreserved = events.event(4, "Unreserved", pb.HoldAmount, "Funds on hold for a reason moved back to free.")
ReserveRepatriated = events.event(5, "ReserveRepatriated", pb.ReserveRepatriated,
                                  "Funds on hold moved to another account's free balance (or its hold).")
Slashed = events.event(6, "Slashed", pb.AccountAmount, "Funds were slashed to the treasury.")
Bonded = events.event(7, "Bonded", pb.AccountAmount, "Free balance was bonded for staking.")
Unbonded = events.event(8, "Unbonded", pb.Unbonded, "Bonded funds started unbonding.")
Withdrawn = events.event(9, "Withdrawn", pb.AccountAmount, "Unbonded funds returned to the free balance.")
FeeWithdrawn = events.event(10, "FeeWithdrawn", pb.AccountAmount, "A transaction fee was taken.")
FeeDeposited = events.event(11, "FeeDeposited", pb.AccountAmount, "Collected fees were credited.")
