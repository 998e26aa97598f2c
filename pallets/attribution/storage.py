"""Attribution pallet storage."""

from __future__ import annotations

from payable.attribution.v1 import attribution_pb2 as pb
from runtime.storage.items import BLAKE2_128_CONCAT, BYTES, IDENTITY, U64, U128, PalletStorage, ProtoCodec

storage = PalletStorage("attribution")

# The hold this pallet places in the token pallet: a challenger's bond, while its dispute is unresolved. (The
# escrow a settlement pays out is the inference pallet's hold, paid through its interface.)
CHALLENGE_BOND = "attribution/challenge_bond"

Results = storage.double_map("Results", U64, IDENTITY, BYTES, BLAKE2_128_CONCAT, ProtoCodec(pb.StoredResult),
                             "Request → worker → its accepted result (and where its extrinsic was included).")
Settlements = storage.map("Settlements", U64, ProtoCodec(pb.Settlement), IDENTITY,
                          "Request → where its fee went and why, and where the results it rests on were included.")
ContributorEarnings = storage.double_map("ContributorEarnings", BYTES, BLAKE2_128_CONCAT, U64, IDENTITY,
                                         ProtoCodec(pb.Earnings), "Contributor → request → payments in it.")
ModelTotals = storage.map("ModelTotals", U64, ProtoCodec(pb.ModelEarnings), IDENTITY,
                          "Model → settled requests and fees.")
ModelContributors = storage.double_map("ModelContributors", U64, IDENTITY, BYTES, BLAKE2_128_CONCAT,
                                       ProtoCodec(pb.ModelContributor), "Model → contributor → what it earned there.")
Disputes = storage.map("Disputes", U64, ProtoCodec(pb.Dispute), IDENTITY, "Request → its dispute (one at most).")
Owed = storage.map("Owed", BYTES, U128, BLAKE2_128_CONCAT,
                   "Contributor → what is held for it in OWED_TO_CONTRIBUTORS: payments too small to open its empty "
                   "account, until they add up to the existential deposit or the account exists.")
Tails = storage.map("Tails", U64, ProtoCodec(pb.Tail), IDENTITY,
                    "Request → what its settlement set aside in TAIL_SHARES for the contributions past those its "
                    "result lists, and the page to pay next (removed once the last page is paid).")
