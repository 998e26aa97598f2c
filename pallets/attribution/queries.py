"""Attribution read-only queries (served by the node as payable.attribution.v1.AttributionQuery)."""

from __future__ import annotations

from payable.attribution.v1 import attribution_pb2 as pb
from runtime.codec import decode_u128, encode_u128
from runtime.context import Context
from runtime.errors import NotFound
from runtime.pallet import QueryTable

from .storage import ContributorEarnings, ModelContributors, ModelTotals, Owed, Results, Settlements, Tails

queries = QueryTable("attribution")


@queries.query(pb.SettlementRequest, pb.Settlement)
def get_settlement(ctx: Context, request: pb.SettlementRequest) -> pb.Settlement:
    """Where an inference's fee went and why."""
    found = Settlements.get(ctx, request.request)
    if found is None:
        raise NotFound(f"request {request.request} has no settlement")
    return found


@queries.query(pb.ResultRequest, pb.StoredResult)
def get_result(ctx: Context, request: pb.ResultRequest) -> pb.StoredResult:
    """What one assigned worker's accepted result recorded (output hash, credits, token counts)."""
    found = Results.get(ctx, request.request, request.worker)
    if found is None:
        raise NotFound(f"request {request.request} has no accepted result from that worker")
    return found


@queries.query(pb.SettlementRequest, pb.Tail)
def get_tail(ctx: Context, request: pb.SettlementRequest) -> pb.Tail:
    """What a settled request's tail still holds and the page to pay next (`pay_tail`)."""
    found = Tails.get(ctx, request.request)
    if found is None:
        raise NotFound(f"request {request.request} has no tail left to pay")
    return found


@queries.query(pb.EarningsRequest, pb.Earnings)
def get_earnings(ctx: Context, request: pb.EarningsRequest) -> pb.Earnings:
    """Every attribution payment to a contributor, oldest request first, with the total, and what of it the
    chain still holds for the contributor (`owed`: too small, so far, to open its empty account)."""
    out, total = pb.Earnings(), 0
    for _, earnings in ContributorEarnings.iter_prefix(ctx, request.contributor):
        out.payments.extend(earnings.payments)
        total += decode_u128(earnings.total)
    out.total = encode_u128(total)
    out.owed = encode_u128(Owed.get(ctx, request.contributor) or 0)
    return out


@queries.query(pb.ModelEarningsRequest, pb.ModelEarnings)
def get_model_earnings(ctx: Context, request: pb.ModelEarningsRequest) -> pb.ModelEarnings:
    """How many of a model's requests settled, and their total fees."""
    return ModelTotals.get(ctx, request.model) or pb.ModelEarnings()


MAX_PAGE = 500


def _limit(requested: int) -> int:
    return min(requested or 50, MAX_PAGE)


@queries.query(pb.EarningsPageRequest, pb.EarningsPage)
def list_earnings(ctx: Context, request: pb.EarningsPageRequest) -> pb.EarningsPage:
    """A contributor's earnings one paying request per item (its model and settling block), oldest first, a
    page at a time; the total covers every page, and `owed` what of it the chain still holds for it."""
    out, total, limit = pb.EarningsPage(), 0, _limit(request.limit)
    for request_id, earnings in ContributorEarnings.iter_prefix(ctx, request.contributor):
        amount = decode_u128(earnings.total)
        total += amount
        if request_id <= request.start_after:
            continue
        if len(out.items) == limit:
            out.next_start_after = out.items[-1].request
            continue
        settlement = Settlements.get(ctx, request_id)
        out.items.add(request=request_id, model=settlement.model, settled_at=settlement.settled_at,
                      amount=earnings.total, payments=earnings.payments)
    out.total = encode_u128(total)
    out.owed = encode_u128(Owed.get(ctx, request.contributor) or 0)
    return out


@queries.query(pb.ModelContributorsRequest, pb.ModelContributors)
def list_model_contributors(ctx: Context, request: pb.ModelContributorsRequest) -> pb.ModelContributors:
    """Who a model's fees paid as contributors, by earnings (highest first, ties by account), a page at a time."""
    ranked = sorted((share for _, share in ModelContributors.iter_prefix(ctx, request.model)),
                    key=lambda share: (-decode_u128(share.earned), share.contributor))
    end = request.offset + _limit(request.limit)
    return pb.ModelContributors(contributors=ranked[request.offset:end], total=len(ranked),
                                next_offset=end if end < len(ranked) else 0)
