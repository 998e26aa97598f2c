"""Validators pallet events; codes are stable."""

from __future__ import annotations

from payable.validators.v1 import validators_pb2 as pb
from runtime.pallet import EventTable

events = EventTable("validators")
Bonded = events.event(0, "Bonded", pb.Bonded, "A candidate bonded (or added to its bond).")
Unbonded = events.event(1, "Unbonded", pb.Unbonded,
                        "A candidate started unbonding part of its bond (all of it: it left candidacy).")
NewValidatorSet = events.event(2, "NewValidatorSet", pb.NewValidatorSet,
                               "A new validator set was elected; CometBFT applies it two blocks later.")
Slashed = events.event(3, "Slashed", pb.Slashed, "Misbehaviour evidence slashed a bond and jailed its candidate.")
FeesRewarded = events.event(4, "FeesRewarded", pb.FeesRewarded,
                            "The block's fees went to its proposer and, by power, to the validators that signed.")
JailedForDowntime = events.event(5, "JailedForDowntime", pb.JailedForDowntime,
                                 "A validator missed too many blocks of its window: a small slash, out of the set at "
                                 "once, jailed until a block time.")
Unjailed = events.event(6, "Unjailed", pb.Unjailed,
                        "A candidate jailed for downtime was unjailed: electable again from the next election.")
