"""A result's tail: the credited contributions past those it may list, each paid its exact share by pages.

A result lists at most `max_credited` contributions (each with its proof: what bounds a submission's
weight); a query may credit many more, and each of them is owed its exact share all the same - a small
contributor is paid in every query its data helps, in proportion, not by lottery (`gpu_worker.results`).
So the result commits to the rest, its tail: `tail_root` over the tail's contributions ordered by id, in
pages of `sdk.wire.TAIL_PAGE`, each page's commitment covering its leaves and the next page's commitment
(`sdk.wire.tail_page_hash`), and `tail_ppb`, their shares' sum. The tail paid is the one more than half of
the agreeing replicas hold (`calls._tail_to_pay`).

At settlement the tail's part of the contributors' pool (its ppb, as one more share of the split) is set
aside in TAIL_SHARES, recorded in the settlement as one payment with the role "tail" (and the settlement
names the tail's root and its worker); then anyone - that worker, in practice (`gpu_worker.tail_payer`), or
anyone holding the tail the worker handed out with its result - pays it a page at a time, in order
(`pay_page`): a leaf of p ppb gets ⌊amount·p/tail_ppb⌋
(through `payout.pay`, so a payment too small to open an empty account is held for its contributor as
any other), never more than what is left; a contribution withdrawn or taken down by the request's block is
paid nothing and its share goes to the model owner (listed ones' go to the other credited contributions,
which a page cannot know in advance); the last page sends what rounding left to the model owner - at most
a base unit per contribution paid; more means the leaves' shares fall short of `tail_ppb`, which the chain
cannot see before, and that goes to the treasury, so an owner running the worker gains nothing by it - and
closes the tail. Per-query storage stays bounded (one record per unpaid tail); a page's weight is bounded by its
size. Payments already made are not reversed by a later dispute, as for listed ones.

A tail nobody pays out within `tail_window` blocks of its settlement - its worker gone with the leaves, or a
page whose leaf no proof can back - may be closed by anyone (`close`): what it still holds goes to the
treasury, so that no party gains by leaving a tail unpaid (not the model owner, who may run the worker).
Replicas on different device kinds hold tails that differ in the last ppb: which one is paid, if any, is
the settlement's choice (`calls._tail_to_pay`).
"""

from __future__ import annotations

from pallets.datanet import interface as datanet
from pallets.inference import interface as inference
from pallets.modelregistry import interface as registry
from pallets.token import interface as token
from payable.attribution.v1 import attribution_pb2 as pb
from runtime.codec import decode_u128, encode_u128
from runtime.context import Context
from runtime.protocol import TAIL_SHARES, TREASURY
from sdk.wire import TAIL_PAGE, tail_page_hash

from . import errors
from . import events as ev
from .membership import check_proofs
from .payout import from_tail, pay
from .storage import Tails

TAIL = "tail"  # the settlement's payment of what it set aside for the tail (to TAIL_SHARES)
ROUNDING = "model_owner (the tail's rounding)"
SHORT = "protocol (a tail whose shares fall short of its total)"
WITHDRAWN = "model_owner (a tail contribution withdrawn by the request's block)"


def set_aside(ctx: Context, request, model_id: int, settlement: pb.Settlement, winner: pb.StoredResult,
              amount: int) -> None:
    """Move the tail's part of the pool to TAIL_SHARES and record the page to pay first."""
    if not amount:
        return
    pay(ctx, request, model_id, settlement, TAIL_SHARES, amount, TAIL)
    settlement.tail_root, settlement.tail_worker = winner.tail_root, winner.worker
    Tails.insert(ctx, request.id, pb.Tail(request=request.id, model=model_id, next=winner.tail_root,
                                          amount=encode_u128(amount), paid=encode_u128(0), tail_ppb=winner.tail_ppb,
                                          left=winner.tail_contributions, requested_at=request.created_at,
                                          expires_at=ctx.block_number + ctx.config.tail_window))


def _open(ctx: Context, request_id: int) -> pb.Tail:
    found = Tails.get(ctx, request_id)
    if found is None:
        raise errors.NoTail(f"request {request_id} has no tail left to pay")
    return found


def next_page(ctx: Context, args: pb.PayTail) -> pb.Tail:
    """The tail `args` pays, if it is its next page; else NoTail / NotTheNextPage (the pool checks this before
    any fee: a stale page - one somebody else paid first - costs nothing)."""
    found = _open(ctx, args.request)
    if not 1 <= len(args.leaves) <= TAIL_PAGE or (args.next and len(args.leaves) != TAIL_PAGE):
        raise errors.NotTheNextPage(f"a tail page holds {TAIL_PAGE} contributions (the last one 1..{TAIL_PAGE}); "
                                    f"this one holds {len(args.leaves)}")
    if tail_page_hash(args.leaves, args.next) != found.next:
        raise errors.NotTheNextPage(f"these leaves and `next` are not the page request {args.request}'s tail "
                                    f"commits to next")
    return found


def pay_page(ctx: Context, args: pb.PayTail) -> None:
    found = next_page(ctx, args)
    request = inference.request(ctx, args.request)
    model = registry.model(ctx, found.model)
    check_proofs(ctx, args.leaves, args.proofs, model)
    amount, paid = decode_u128(found.amount), decode_u128(found.paid)
    source, page_paid = from_tail(ctx), 0
    for leaf in args.leaves:
        share = min(amount * leaf.score_ppb // found.tail_ppb, amount - paid)
        contribution = datanet.contribution(ctx, leaf.contribution_id)
        if datanet.withdrawn_by(contribution, found.requested_at):
            pay(ctx, request, model.id, None, model.owner, share, WITHDRAWN, source=source)
        else:
            pay(ctx, request, model.id, None, contribution.contributor, share, "contributor", contribution.id,
                contribution.datanet, source=source)
        paid, page_paid = paid + share, page_paid + share
    found.left = max(0, found.left - len(args.leaves))
    found.paid_leaves += len(args.leaves)
    if not args.next:
        rounding = min(amount - paid, found.paid_leaves)
        pay(ctx, request, model.id, None, model.owner, rounding, ROUNDING, source=source)
        pay(ctx, request, model.id, None, TREASURY, amount - paid - rounding, SHORT, source=source)
        page_paid += amount - paid
        found.left = 0
        Tails.remove(ctx, args.request)
    else:
        found.next, found.paid = args.next, encode_u128(paid)
        Tails.insert(ctx, args.request, found)
    ev.TailPaid.emit(ctx, request=args.request, leaves=len(args.leaves), amount=encode_u128(page_paid),
                     left=found.left)


def due(ctx: Context, request_id: int) -> pb.Tail:
    """The tail, if its window is over; else NoTail / TailNotDue (checked by the pool too)."""
    found = _open(ctx, request_id)
    if ctx.block_number <= found.expires_at:
        raise errors.TailNotDue(f"request {request_id}'s tail may be paid until block {found.expires_at}; it can be "
                                f"closed from block {found.expires_at + 1}")
    return found


def close(ctx: Context, request_id: int) -> None:
    found = due(ctx, request_id)
    left = decode_u128(found.amount) - decode_u128(found.paid)
    if left:
        token.transfer(ctx, TAIL_SHARES, TREASURY, left, keep_alive=False)
    Tails.remove(ctx, request_id)
    ev.TailClosed.emit(ctx, request=request_id, amount=encode_u128(left), left=found.left)


def set_aside_total(ctx: Context) -> int:
    """What the open tails still hold for their contributions (TAIL_SHARES holds at least this)."""
    return sum(decode_u128(t.amount) - decode_u128(t.paid) for _, t in Tails.iter(ctx))
