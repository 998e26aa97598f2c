"""Model registry storage."""

from __future__ import annotations

from payable.modelregistry.v1 import modelregistry_pb2 as pb
from runtime.storage.items import BLAKE2_128_CONCAT, BYTES, IDENTITY, U64, PalletStorage, ProtoCodec

storage = PalletStorage("modelregistry")
NextBaseModelId = storage.value("NextBaseModelId", U64, "Id the next base model gets (ids start at 1).")
BaseModels = storage.map("BaseModels", U64, ProtoCodec(pb.BaseModel), IDENTITY, "Base models by id.")
NextModelId = storage.value("NextModelId", U64, "Id the next model gets (ids start at 1).")
Models = storage.map("Models", U64, ProtoCodec(pb.Model), IDENTITY, "Fine-tuned models and adapters by id.")
ByDataNet = storage.double_map("ByDataNet", U64, IDENTITY, U64, IDENTITY, BYTES,
                               "DataNet → ids of models trained on one of its snapshots.")
ByOwner = storage.double_map("ByOwner", BYTES, BLAKE2_128_CONCAT, U64, IDENTITY, BYTES, "Owner → model ids.")
ByArtifact = storage.map("ByArtifact", BYTES, U64, BLAKE2_128_CONCAT,
                         "Artifact (adapter) hash → the first model registered with it (whose owner owns the hash).")
