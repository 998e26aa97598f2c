"""Attribution read-only queries (served by the node as payable.attribution.v1.AttributionQuery)."""

from __future__ import annotations

from payable.attribution.v1 import attribution_pb2 as pb
from runtime.codec import decode_u128, encode_u128
from runtime.context import Context
from runtime.pallet import QueryTable

from . import errors
from .storage import ContributorEarnings, ModelTotals, Results, Settlements

queries = QueryTable("attribution")


@queries.query(pb.SettlementRequest, pb.Settlement)
def get_settlement(ctx: Context, request: pb.SettlementRequest) -> pb.Settlement:
    """Where an inference's fee went and why."""
    found = Settlements.get(ctx, request.request)
    if found is None:
        raise errors.Closed(f"request {request.request} has no settlement")
    return found


@queries.query(pb.ResultRequest, pb.StoredResult)
def get_result(ctx: Context, request: pb.ResultRequest) -> pb.StoredResult:
    """What one assigned worker's accepted result recorded (output hash, credits, token counts)."""
    found = Results.get(ctx, request.request, request.worker)
    if found is None:
        raise errors.Closed(f"request {request.request} has no accepted result from that worker")
    return found


@queries.query(pb.EarningsRequest, pb.Earnings)
def get_earnings(ctx: Context, request: pb.EarningsRequest) -> pb.Earnings:
    """Every attribution payment to a contributor, oldest request first, with the total."""
    out, total = pb.Earnings(), 0
    for _, earnings in ContributorEarnings.iter_prefix(ctx, request.contributor):
        out.payments.extend(earnings.payments)
        total += decode_u128(earnings.total)
    out.total = encode_u128(total)
    return out


@queries.query(pb.ModelEarningsRequest, pb.ModelEarnings)
def get_model_earnings(ctx: Context, request: pb.ModelEarningsRequest) -> pb.ModelEarnings:
    """How many of a model's requests settled, and their total fees."""
    return ModelTotals.get(ctx, request.model) or pb.ModelEarnings()
