"""Token read-only queries (served over gRPC by the node)."""

from __future__ import annotations

from payable.token.v1 import token_pb2 as pb
from runtime.codec import encode_u128
from runtime.context import Context
from runtime.pallet import QueryTable

from .storage import Account, issuance

queries = QueryTable("token")


@queries.query(pb.AccountRequest, pb.AccountData)
def account(ctx: Context, request: pb.AccountRequest) -> pb.AccountData:
    """An account's free, reserved, bonded and unbonding balances (all zero if it does not exist)."""
    return Account.get(ctx, request.account) or pb.AccountData()


@queries.query(pb.Empty, pb.Amount)
def total_issuance(ctx: Context, request: pb.Empty) -> pb.Amount:
    """The total amount of OPEN in existence."""
    return pb.Amount(value=encode_u128(issuance(ctx)))
