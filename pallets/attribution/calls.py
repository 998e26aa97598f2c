"""Attribution pallet calls. Indices are stable: a removed call's index is retired, never reused."""

from __future__ import annotations

from pallets.datanet import interface as datanet
from pallets.inference import interface as inference
from pallets.modelregistry import interface as registry
from pallets.token import interface as token
from payable.attribution.v1 import attribution_pb2 as pb
from payable.inference.v1 import inference_pb2
from payable.modelregistry.v1.methods import method_kind
from runtime.codec import decode_u128, encode_u128
from runtime.context import Context
from runtime.pallet import CallTable
from runtime.protocol import TREASURY
from sdk.wire import token_price

from . import errors, refusals, signed, tail, weights
from . import events as ev
from .membership import check_proofs
from .payout import here, pay, pay_out_owed, refund
from .split import PPB, largest_remainder, split_fee
from .storage import CHALLENGE_BOND, Disputes, ModelTotals, Results, Settlements

calls = CallTable("attribution")


def _verified(ctx: Context, origin: bytes, request, model, signed_bytes: bytes, proofs) -> pb.StoredResult:
    """Every check a chain can make of a worker's signed result for `request`; returns what is kept of it."""
    result = signed.opened(ctx, origin, signed_bytes, pb.SignedAttribution, pb.AttributionResult, "result",
                           lambda body: body, ("signed_attribution", "the signed result", "result"))
    signed.same_request("result", request, model, result,
                        index=(result.index_hash, model.attribution_index_hash),
                        method=(method_kind(result.method), model.attribution_method))
    if result.draw_seed != inference.draw_seed(ctx, request):
        raise errors.Mismatch(f"the result must name the hash of block {request.created_at}, which included "
                              f"request {request.id} (its draw seed), and come in a later block")
    _check_tokens(request, result)
    _check_credits(ctx, result, proofs, model)
    return pb.StoredResult(worker=origin, output_hash=result.output_hash,
                           contribution_ids=[s.contribution_id for s in result.top_k],
                           scores_ppb=[s.score_ppb for s in result.top_k], input_tokens=result.input_tokens,
                           output_tokens=result.output_tokens, included=here(ctx), tail_root=result.tail_root,
                           tail_ppb=result.tail_ppb, tail_contributions=result.tail_contributions)


def _check_tokens(request, result) -> None:
    """The counts a request is charged for stay within the bounds its escrow covers."""
    if decode_u128(request.input_token_price) and result.input_tokens > request.max_input_tokens:
        raise errors.Mismatch(f"the result counts {result.input_tokens} input tokens; request {request.id} "
                              f"escrowed for at most {request.max_input_tokens}")
    if decode_u128(request.output_token_price) and result.output_tokens > request.max_new_tokens:
        raise errors.Mismatch(f"the result counts {result.output_tokens} output tokens; request {request.id} "
                              f"escrowed for at most {request.max_new_tokens}")


def _open_for(ctx: Context, origin: bytes, request_id: int):
    """The request an assigned worker may still answer, and its model (one answer per worker, by the deadline)."""
    request = inference.request(ctx, request_id)
    if request.status != inference_pb2.PENDING or ctx.block_number > request.deadline:
        raise errors.Closed(f"request {request.id} is closed")
    if origin not in request.workers:
        raise errors.NotAssigned(f"the signer is not assigned to request {request.id}")
    if origin in request.answered:
        raise errors.AlreadyAnswered("one result per worker")
    return request, registry.model(ctx, request.model)


def _answered(ctx: Context, request, model, origin: bytes, answer: pb.StoredResult) -> None:
    """Keep a verified answer; the last assigned worker's answer settles the request."""
    Results.insert(ctx, request.id, origin, answer)
    request = inference.record_answer(ctx, request.id, origin)
    if len(request.answered) == len(request.workers):
        _settle(ctx, request, model)


@calls.call(0, pb.SubmitResult, weights.SUBMIT)
def submit_result(ctx: Context, origin: bytes, args: pb.SubmitResult) -> None:
    """An assigned worker's signed attribution result for a request; settles it once all have answered."""
    request, model = _open_for(ctx, origin, args.request)
    answer = _verified(ctx, origin, request, model, args.signed_attribution, args.proofs)
    ev.ResultAccepted.emit(ctx, request=request.id, worker=origin)
    _answered(ctx, request, model, origin, answer)


@calls.call(3, pb.SubmitRefusal, weights.SUBMIT)
def submit_refusal(ctx: Context, origin: bytes, args: pb.SubmitRefusal) -> None:
    """An assigned worker's signed refusal of a request ("refused, and why": `refusals`), instead of a result.
    It counts as the worker's answer (no slash at the deadline) and settles the request like a result once all
    have answered. Weighed as submit_result: its checks are a subset of a result's, and being the last answer
    it may settle the others' results on submit_result's worst path."""
    request, model = _open_for(ctx, origin, args.request)
    answer = refusals.verified(ctx, origin, request, model, args.signed_refusal)
    ev.RefusalAccepted.emit(ctx, request=request.id, worker=origin, reason=answer.refused)
    _answered(ctx, request, model, origin, answer)


@calls.call(4, pb.ClaimOwed, weights.CLAIM_OWED)
def claim_owed(ctx: Context, origin: bytes, args: pb.ClaimOwed) -> None:
    """Pay out what is held for a contributor to its account, which must hold something by now; anyone may
    ask, the money goes only to the contributor."""
    pay_out_owed(ctx, args.contributor)


@calls.call(5, pb.PayTail, weights.PAY_TAIL)
def pay_tail(ctx: Context, origin: bytes, args: pb.PayTail) -> None:
    """Pay the next page of a settled request's tail: each of its contributions its exact share of what the
    settlement set aside (`tail`). Anyone may submit it; the money goes only to the contributors."""
    tail.pay_page(ctx, args)


@calls.call(6, pb.CloseTail, weights.CLOSE_TAIL)
def close_tail(ctx: Context, origin: bytes, args: pb.CloseTail) -> None:
    """Close a tail nobody paid out within its window: what it holds goes to the treasury (`tail`)."""
    tail.close(ctx, args.request)


@calls.call(1, pb.Challenge, weights.CHALLENGE)
def challenge(ctx: Context, origin: bytes, args: pb.Challenge) -> None:
    """Dispute a settlement within its window with a recomputed result and a bond; a jury is drawn."""
    settlement = Settlements.get(ctx, args.request)
    if settlement is None or ctx.block_number > settlement.challenge_until or Disputes.get(ctx, args.request):
        raise errors.NotChallengeable(f"request {args.request} cannot be challenged now")
    if origin in settlement.agreeing_workers:
        raise errors.NotADispute("a worker of the settled majority cannot challenge it")
    request = inference.request(ctx, args.request)
    model = registry.model(ctx, request.model)
    claim = _verified(ctx, origin, request, model, args.signed_attribution, args.proofs)
    settled = Results.get(ctx, request.id, settlement.agreeing_workers[0])
    if _agree(claim, settled, ctx.config.score_tolerance_ppb):
        raise errors.NotADispute("the challenge agrees with the settled result")
    jury = inference.draw_workers(ctx, request.model, request.id,
                                  tuple(request.workers) + (origin,))
    if not jury:
        raise errors.NotChallengeable("no other eligible worker can serve on a jury")
    token.hold(ctx, CHALLENGE_BOND, origin, ctx.config.challenge_bond)
    Disputes.insert(ctx, request.id, pb.Dispute(request=request.id, challenger=origin, claim=claim, jury=jury,
                                                bond=encode_u128(ctx.config.challenge_bond)))
    ev.Challenged.emit(ctx, request=request.id, challenger=origin, jury=jury)


@calls.call(2, pb.Challenge, weights.VOTE)
def vote(ctx: Context, origin: bytes, args: pb.Challenge) -> None:
    """A juror's own recomputed result for a disputed request; the last vote resolves the dispute."""
    dispute = Disputes.get(ctx, args.request)
    if dispute is None or dispute.resolved or origin not in dispute.jury or \
            origin in [v.worker for v in dispute.votes]:
        raise errors.NotJuror(f"the signer cannot vote on request {args.request}")
    request = inference.request(ctx, args.request)
    model = registry.model(ctx, request.model)
    dispute.votes.append(_verified(ctx, origin, request, model, args.signed_attribution, args.proofs))
    if len(dispute.votes) == len(dispute.jury):
        _resolve(ctx, dispute)
    Disputes.insert(ctx, request.id, dispute)


def _resolve(ctx: Context, dispute: pb.Dispute) -> None:
    """Upheld when most jurors agree with the challenger: the settled majority is slashed and the
    challenger gets its bond back plus what was slashed; otherwise its bond goes to the treasury."""
    tolerance = ctx.config.score_tolerance_ppb
    with_challenger = sum(_agree(v, dispute.claim, tolerance) for v in dispute.votes)
    dispute.resolved = True
    dispute.upheld = 2 * with_challenger > len(dispute.votes)
    bond = decode_u128(dispute.bond)
    if dispute.upheld:
        settlement = Settlements.get(ctx, dispute.request)
        slashed = sum(inference.slash_worker(ctx, w, ctx.config.minority_penalty)
                      for w in settlement.agreeing_workers)
        token.release(ctx, CHALLENGE_BOND, dispute.challenger, bond)
        if slashed:
            token.transfer(ctx, TREASURY, dispute.challenger, slashed, keep_alive=True)
        amount = slashed
    else:
        token.transfer_on_hold(ctx, CHALLENGE_BOND, dispute.challenger, TREASURY, bond)
        amount = bond
    ev.DisputeResolved.emit(ctx, request=dispute.request, challenger=dispute.challenger, upheld=dispute.upheld,
                            amount=encode_u128(amount))


def _check_credits(ctx: Context, result, proofs, model) -> None:
    if len(result.top_k) > ctx.config.max_credited:
        raise errors.BadScores(f"at most {ctx.config.max_credited} credited contributions")
    if sum(s.score_ppb for s in result.top_k) + result.tail_ppb > PPB:
        raise errors.BadScores("shares sum above one (the listed ones and the tail's)")
    if not (result.tail_contributions == 0) == (result.tail_ppb == 0) == (not result.tail_root) or \
            len(result.tail_root) not in (0, 32):
        raise errors.BadScores("a tail has a 32-byte root, a share and contributions, or none of them")
    check_proofs(ctx, result.top_k, proofs, model)


def _agree(a: pb.StoredResult, b: pb.StoredResult, tolerance: int) -> bool:
    """Two answers agree: the same output, credits and counts with scores within the tolerance; refusals, the
    same reason and numbers (a refusal never agrees with a result: it has no output hash). Credits are compared
    by contribution, not by place, and a contribution one lists and the other does not counts as 0 there:
    two near-equal exact shares may come out in either order on two devices (a result lists the largest
    first), a contribution holding about a billionth of the credit may round in on one and out on the other,
    and a worker must not be slashed for that. Tails (what a result does not list) by their share alone,
    within the tolerance: a tail's root commits to every share in it, which two device kinds' float sums move
    by a ppb (and its count to every contribution, which one holding about a billionth of the credit may
    enter on one device only), so honest replicas on a CPU and a GPU hold different roots and must not be
    slashed - nor challenged - for it. Which tail is paid is decided by replication (`_tail_to_pay`)."""
    ours, theirs = _by_contribution(a), _by_contribution(b)
    return ((a.refused, a.max_new_tokens, a.limit) == (b.refused, b.max_new_tokens, b.limit)
            and a.output_hash == b.output_hash and abs(a.tail_ppb - b.tail_ppb) <= tolerance
            and (a.input_tokens, a.output_tokens) == (b.input_tokens, b.output_tokens)
            and all(abs(ours.get(c, 0) - theirs.get(c, 0)) <= tolerance for c in ours.keys() | theirs.keys()))


def _by_contribution(answer: pb.StoredResult) -> dict[int, int]:
    """Each credited contribution's share (a contribution listed twice: the sum of its entries)."""
    shares: dict[int, int] = {}
    for contribution, score in zip(answer.contribution_ids, answer.scores_ppb, strict=True):
        shares[contribution] = shares.get(contribution, 0) + score
    return shares


def _settle(ctx: Context, request, model) -> None:
    """All assigned workers answered. Abstaining refusals (about the worker: `refusals.ABSTAIN`) do not vote;
    a majority of the agreeing votes decides - results settle and are paid, a refusal closes the request - and
    results outside it are slashed (refusals never are). No majority: more workers. Nothing but abstentions:
    closed on them, refunded in full."""
    answers = [Results.get(ctx, request.id, w) for w in request.workers]
    votes = [a for a in answers if a.refused not in refusals.ABSTAIN]
    if not votes:
        refusals.close(ctx, request, model, answers, [])
        return
    tolerance = ctx.config.score_tolerance_ppb
    groups = [[r for r in votes if _agree(r, leader, tolerance)] for leader in votes]
    majority = max(groups, key=len)
    if 2 * len(majority) <= len(votes):
        inference.escalate(ctx, request.id)  # no majority: more workers; without any, refund at the deadline
        return
    paid_tail = _tail_to_pay(majority)
    if paid_tail is None and any(r.tail_root for r in majority) and inference.escalate(ctx, request.id):
        return  # their tails differ (two device kinds, or a liar): more workers break the tie
    agreeing = [r.worker for r in majority]
    minority = [a.worker for a in votes if a.worker not in agreeing and not a.refused]
    for account in minority:
        inference.slash_worker(ctx, account, ctx.config.minority_penalty)
    if majority[0].refused:
        refusals.close(ctx, request, model, majority, minority)
        return
    winner = majority[0]
    escrow = decode_u128(request.escrow)
    fee = charge(request, winner)
    settlement = pb.Settlement(request=request.id, model=model.id, fee=encode_u128(fee), settled_at=ctx.block_number,
                               agreeing_workers=agreeing, slashed_workers=minority,
                               challenge_until=ctx.block_number + ctx.config.challenge_window,
                               escrow=request.escrow, input_tokens=winner.input_tokens,
                               output_tokens=winner.output_tokens, evidence=[r.included for r in majority])
    refund(ctx, request, model.id, settlement, escrow - fee)  # per-token pricing: what the real counts left
    split = model.split
    credited = [datanet.contribution(ctx, cid) for cid in winner.contribution_ids]
    parts = split_fee(fee, (split.contributors, split.model_owner, split.protocol, split.worker),
                      earning_scores(credited, list(winner.scores_ppb), request.created_at)
                      + [paid_tail.tail_ppb if paid_tail else 0],
                      paid_ppb=min(PPB, sum(winner.scores_ppb) + (paid_tail or winner).tail_ppb))
    for found, amount in zip(credited, parts.contributors[:-1], strict=True):
        if not datanet.withdrawn_by(found, request.created_at):
            pay(ctx, request, model.id, settlement, found.contributor, amount, "contributor", found.id,
                found.datanet)
    if paid_tail is not None:
        tail.set_aside(ctx, request, model.id, settlement, paid_tail, parts.contributors[-1])
    pay(ctx, request, model.id, settlement, model.owner, parts.model_owner, "model_owner")
    pay(ctx, request, model.id, settlement, TREASURY, parts.protocol, "protocol")
    for account, amount in zip(agreeing, largest_remainder(parts.worker, [1] * len(agreeing)) if parts.worker
                               else [0] * len(agreeing), strict=True):
        pay(ctx, request, model.id, settlement, account, amount, "worker")
    Settlements.insert(ctx, request.id, settlement)
    totals = ModelTotals.get(ctx, model.id) or pb.ModelEarnings()
    totals.settled += 1
    totals.fees = encode_u128(decode_u128(totals.fees) + fee)
    ModelTotals.insert(ctx, model.id, totals)
    inference.mark_settled(ctx, request.id)
    ev.Settled.emit(ctx, request=request.id, fee=encode_u128(fee), payments=len(settlement.payments))


def _tail_to_pay(majority: list[pb.StoredResult]) -> pb.StoredResult | None:
    """The settling result whose tail is paid: the tail root more than half of the agreeing results hold
    (all of them, on one device kind), that result's. None when they hold none (no tail) or no root has such a
    majority - replicas on different device kinds, whose tails differ in the last ppb, or a liar beside an
    honest worker: `_settle` then assigns more workers to break the tie, and with none left the tail's part
    of the pool goes to the listed contributions, pro rata (their shares agree within the tolerance), rather
    than to a tail nobody else reproduced."""
    roots = [r.tail_root for r in majority if r.tail_root]
    top = max(sorted(set(roots)), key=roots.count, default=b"")
    if not top or 2 * roots.count(top) <= len(majority):
        return None
    return next(r for r in majority if r.tail_root == top)


def earning_scores(credited, scores: list[int], requested_at: int) -> list[int]:
    """The credited contributions' scores with those withdrawn or taken down by the request's block set to 0.

    The rule for withdrawn data: it earns nothing from a request made at or after its withdrawal (its
    contributor asked for it to stop being used, or a takedown found it should never have been), and its share
    goes to the other credited contributions, pro rata (the part of the pool the result pays is unchanged;
    with none left, the pool goes to the model owner, as for a result crediting nobody). A request made before
    the withdrawal pays it as usual: the data was in use, with consent, when the request was made. The
    worker's result still credits it (the model was trained on it; workers agree on what they measured);
    only the payout skips it."""
    return [0 if datanet.withdrawn_by(found, requested_at) else score for found, score in zip(credited, scores,
                                                                                               strict=True)]


def charge(request, result: pb.StoredResult) -> int:
    """The fee for the counts the agreeing workers signed, at the prices of the request; never above the
    escrow (the counts were checked against the bounds it covers)."""
    fee = token_price(decode_u128(request.flat_fee), decode_u128(request.input_token_price),
                      decode_u128(request.output_token_price), result.input_tokens, result.output_tokens)
    return min(fee, decode_u128(request.escrow))
