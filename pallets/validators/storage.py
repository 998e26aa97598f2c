"""Validators pallet storage."""

from __future__ import annotations

from payable.validators.v1 import validators_pb2 as pb
from runtime.storage.items import BLAKE2_128_CONCAT, BYTES, U64, PalletStorage, ProtoCodec

storage = PalletStorage("validators")
Candidates = storage.map("Candidates", BYTES, ProtoCodec(pb.Candidate), BLAKE2_128_CONCAT,
                         "Bonded candidates by account.")
ByAddress = storage.map("ByAddress", BYTES, BYTES, BLAKE2_128_CONCAT,
                        "CometBFT address (sha256 of the consensus key, first 20 bytes) → candidate account; "
                        "kept after a candidate leaves, so late evidence still finds it and a key is never reused.")
Active = storage.value("Active", ProtoCodec(pb.ValidatorSet), "The validator set in force (sent to CometBFT).")
Voters = storage.value("Voters", ProtoCodec(pb.BlockVoters),
                       "This block's proposer and the previous block's signers; removed at the block's end.")
Punished = storage.double_map("Punished", BYTES, BLAKE2_128_CONCAT, U64, BLAKE2_128_CONCAT, BYTES,
                              "(address, offence height) already slashed: the same evidence never slashes twice.")
SigningInfos = storage.map("SigningInfos", BYTES, ProtoCodec(pb.SigningInfo), BLAKE2_128_CONCAT,
                           "CometBFT address → its missed-block window (bounded: signed_blocks_window bits); "
                           "removed when its candidate is jailed for downtime or leaves candidacy.")
