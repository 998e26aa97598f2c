"""Model registry events; codes are stable."""

from __future__ import annotations

from payable.modelregistry.v1 import modelregistry_pb2 as pb
from runtime.pallet import EventTable

events = EventTable("modelregistry")
BaseModelRegistered = events.event(0, "BaseModelRegistered", pb.BaseModelRegistered, "A base model was registered.")
ModelRegistered = events.event(1, "ModelRegistered", pb.ModelEvent, "A fine-tuned model or adapter was registered.")
PriceUpdated = events.event(2, "PriceUpdated", pb.PriceUpdated, "The owner changed a model's prices.")
ModelDeprecated = events.event(3, "ModelDeprecated", pb.ModelEvent, "The model takes no new inference requests.")
OwnershipTransferred = events.event(4, "OwnershipTransferred", pb.OwnershipTransferred, "A model changed owner.")
