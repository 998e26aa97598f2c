"""Inference pallet events; codes are stable."""

from __future__ import annotations

from payable.inference.v1 import inference_pb2 as pb
from runtime.pallet import EventTable

events = EventTable("inference")
WorkerRegistered = events.event(0, "WorkerRegistered", pb.WorkerEvent, "A worker bonded and registered.")
WorkerLeaving = events.event(1, "WorkerLeaving", pb.WorkerEvent, "A worker deregistered; its bond is unbonding.")
InferenceRequested = events.event(2, "InferenceRequested", pb.InferenceRequested,
                                  "A paid request: its fee is escrowed and workers are assigned.")
RequestExpired = events.event(3, "RequestExpired", pb.RequestExpired,
                              "No result by the deadline: the fee went back, silent workers were penalised.")
Escalated = events.event(4, "Escalated", pb.Escalated,
                         "Replicas disagreed without a majority: more workers were assigned and the deadline moved.")
