"""Inference pallet storage."""

from __future__ import annotations

from payable.inference.v1 import inference_pb2 as pb
from runtime.storage.items import BLAKE2_128_CONCAT, BYTES, IDENTITY, U64, PalletStorage, ProtoCodec

storage = PalletStorage("inference")

# The hold this pallet places in the token pallet: each pending request's escrow, on its requester. Only this
# pallet releases it or pays it out (the attribution pallet settles through `interface.pay_escrow`/`refund_escrow`).
ESCROW = "inference/escrow"

Workers = storage.map("Workers", BYTES, ProtoCodec(pb.Worker), BLAKE2_128_CONCAT, "Registered workers by account.")
ByModel = storage.double_map("ByModel", U64, IDENTITY, BYTES, BLAKE2_128_CONCAT, BYTES,
                             "Model → workers that serve it (presence).")
ByBase = storage.double_map("ByBase", U64, IDENTITY, BYTES, BLAKE2_128_CONCAT, BYTES,
                            "Base model → workers that serve every adapter on it (presence).")
NextRequestId = storage.value("NextRequestId", U64, "Id the next request gets (ids start at 1).")
Requests = storage.map("Requests", U64, ProtoCodec(pb.Request), IDENTITY, "Inference requests by id.")
Unseeded = storage.value("Unseeded", U64, "The first request id the block being built (or, between blocks, the "
                         "head) created: those from it on get the block's hash as their draw seed at the next "
                         "block's start.")
Deadlines = storage.double_map("Deadlines", U64, IDENTITY, U64, IDENTITY, BYTES,
                               "Block → requests whose deadline it is (expired at that block's end if still pending).")
