"""The inference pallet's public interface (for the attribution pallet, which settles requests)."""

from __future__ import annotations

from pallets.token import interface as token
from payable.inference.v1 import inference_pb2 as pb
from runtime.codec import decode_u128, encode_u128
from runtime.context import Context, public_interface

from . import errors
from .calls import assign
from .events import Escalated
from .storage import ESCROW, Deadlines, Requests, Workers

NAME = "inference"


@public_interface(NAME)
def request(ctx: Context, request_id: int) -> pb.Request:
    return Requests.require(ctx, request_id, errors.UnknownRequest, f"no inference request {request_id}")


@public_interface(NAME)
def worker(ctx: Context, account: bytes) -> pb.Worker:
    return Workers.require(ctx, account, errors.UnknownWorker, "not a registered worker")


@public_interface(NAME)
def draw_seed(ctx: Context, found: pb.Request) -> bytes | None:
    """The hash of the block that included the request, which its results must name - stamped at the
    next block's start, or, while that block is still the head (a read, or a transaction checked for the
    pool), the head's hash. None inside the block that includes it, where that hash does not exist yet."""
    if found.draw_seed:
        return found.draw_seed
    head = ctx.block_number if ctx.readonly else ctx.block_number - 1
    return ctx.parent_hash if found.created_at == head else None


@public_interface(NAME)
def record_answer(ctx: Context, request_id: int, account: bytes) -> pb.Request:
    """Note that an assigned worker's result arrived (it will not be penalised at the deadline)."""
    found = request(ctx, request_id)
    if account not in found.answered:
        found.answered.append(account)
        Requests.insert(ctx, request_id, found)
    return found


@public_interface(NAME)
def mark_settled(ctx: Context, request_id: int) -> None:
    """The attribution pallet paid the escrow out (the fee, and any refund to the requester); the request is
    closed."""
    found = request(ctx, request_id)
    found.status = pb.SETTLED
    Requests.insert(ctx, request_id, found)


@public_interface(NAME)
def mark_refused(ctx: Context, request_id: int, reason: int) -> None:
    """The attribution pallet closed the request on its workers' verified refusal (the escrow refunded, less
    what the refusal cost); the reason is kept on the request for anyone who asks."""
    found = request(ctx, request_id)
    found.status = pb.REFUSED
    found.refused = reason
    Requests.insert(ctx, request_id, found)


@public_interface(NAME)
def pay_escrow(ctx: Context, found: pb.Request, dest: bytes, amount: int) -> None:
    """Settling a pending request: pay `amount` of its escrow to `dest` (a contributor, the model's owner, the
    treasury, a worker). The escrow is this pallet's hold; the attribution pallet settles through here."""
    _pending(found)
    token.transfer_on_hold(ctx, ESCROW, found.requester, dest, amount)


@public_interface(NAME)
def refund_escrow(ctx: Context, found: pb.Request, amount: int) -> None:
    """Settling a pending request: return `amount` of its escrow (what the real token counts left) to the
    requester."""
    _pending(found)
    token.release(ctx, ESCROW, found.requester, amount)


def _pending(found: pb.Request) -> None:
    if found.status != pb.PENDING:
        raise errors.NotPending(f"request {found.id} is not pending: its escrow is no longer held")


@public_interface(NAME)
def slash_worker(ctx: Context, account: bytes, amount: int) -> int:
    """Slash a worker's bond (to the treasury) and keep its recorded bond in step; returns the amount taken."""
    taken = token.slash_bonded(ctx, account, amount)
    record = Workers.get(ctx, account)
    if record is not None and taken:
        record.bond = encode_u128(max(0, decode_u128(record.bond) - taken))
        Workers.insert(ctx, account, record)
    return taken


@public_interface(NAME)
def escalate(ctx: Context, request_id: int) -> list[bytes]:
    """Replicas disagreed without a majority: assign up to `replication` more eligible workers and give the
    request a fresh deadline. Returns the workers added (none left: the request expires and is refunded)."""
    found = request(ctx, request_id)
    added = assign(ctx, found.model, request_id, exclude=tuple(found.workers))
    if added:
        Deadlines.remove(ctx, found.deadline, request_id)
        found.deadline = ctx.block_number + ctx.config.deadline_blocks
        Deadlines.insert(ctx, found.deadline, request_id, b"")
        found.workers.extend(added)
        Requests.insert(ctx, request_id, found)
        Escalated.emit(ctx, request=request_id, added=added, deadline=found.deadline)
    return added


@public_interface(NAME)
def draw_workers(ctx: Context, model_id: int, request_id: int, exclude: tuple[bytes, ...]) -> list[bytes]:
    """Eligible workers for a model, drawn deterministically (e.g. a dispute's jury), excluding some."""
    return assign(ctx, model_id, request_id, exclude)
