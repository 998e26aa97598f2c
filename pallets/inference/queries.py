"""Inference read-only queries (served by the node as payable.inference.v1.InferenceQuery)."""

from __future__ import annotations

from payable.inference.v1 import inference_pb2 as pb
from runtime.context import Context
from runtime.pallet import QueryTable

from .interface import draw_seed, request, worker
from .storage import ByModel, Workers

queries = QueryTable("inference")


@queries.query(pb.RequestRef, pb.Request)
def get_request(ctx: Context, ref: pb.RequestRef) -> pb.Request:
    """An inference request: its escrow, assigned workers, deadline, status and draw seed (answered even while
    the block that included it is the head, before the next block's start stamps it)."""
    found = request(ctx, ref.request)
    found.draw_seed = draw_seed(ctx, found) or b""
    return found


@queries.query(pb.WorkerRef, pb.Worker)
def get_worker(ctx: Context, ref: pb.WorkerRef) -> pb.Worker:
    """A registered worker."""
    return worker(ctx, ref.worker)


@queries.query(pb.WorkersRequest, pb.WorkerList)
def list_workers(ctx: Context, ref: pb.WorkersRequest) -> pb.WorkerList:
    """Workers serving a model (or all workers)."""
    if ref.model:
        accounts = [account for account, _ in ByModel.iter_prefix(ctx, ref.model)]
        return pb.WorkerList(workers=[Workers.get(ctx, a) for a in accounts])
    return pb.WorkerList(workers=[w for _, w in Workers.iter(ctx)])
