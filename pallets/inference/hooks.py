"""Inference hooks: deadline expiry at the end of each block, the invariant check, and the content-store rule
that lets a worker read the data of the models it serves."""

from __future__ import annotations

from pallets.datanet import interface as datanet
from pallets.modelregistry import interface as registry
from pallets.token import interface as token
from payable.inference.v1 import inference_pb2 as pb
from runtime.codec import decode_u128, encode_u128
from runtime.context import Context
from runtime.errors import ensure

from . import errors
from . import events as ev
from .calls import assign, check_request, serving
from .interface import slash_worker
from .storage import ESCROW, ByBase, ByModel, Deadlines, NextRequestId, Requests, Unseeded, Workers


def on_initialize(ctx: Context) -> None:
    """The requests the previous block created get its hash as their draw seed (`Request.draw_seed`), which
    their results name: a hash that did not exist when their requesters signed them (it seeded the draws that
    once paid past a result's list; shares are exact now)."""
    first = Unseeded.get(ctx)
    if first is None:
        return
    for request_id in range(first, NextRequestId.get(ctx, 1)):
        found = Requests.get(ctx, request_id)
        found.draw_seed = ctx.parent_hash
        Requests.insert(ctx, request_id, found)
    Unseeded.remove(ctx)


def on_finalize(ctx: Context) -> None:
    """Requests still pending at their deadline: refund the requester, slash workers that stayed silent."""
    due = [request_id for request_id, _ in Deadlines.iter_prefix(ctx, ctx.block_number)]
    for request_id in due:
        Deadlines.remove(ctx, ctx.block_number, request_id)
        found = Requests.get(ctx, request_id)
        if found is None or found.status != pb.PENDING:
            continue
        escrow = decode_u128(found.escrow)
        token.release(ctx, ESCROW, found.requester, escrow, best_effort=True)  # a block hook never fails
        silent = [w for w in found.workers if w not in found.answered]
        for account in silent:
            slash_worker(ctx, account, ctx.config.missed_deadline_penalty)
        found.status = pb.EXPIRED
        Requests.insert(ctx, request_id, found)
        ev.RequestExpired.emit(ctx, request=request_id, refunded=encode_u128(escrow), penalised=silent)


def validate_transaction(ctx: Context, signer: bytes, call, args) -> None:
    """A paid request the chain can already tell will fail (`calls.check_request`, or no worker to assign) is
    invalid: the pool refuses it, and a block never includes it, so it costs no fee and escrows nothing. The
    message names the typed error (e.g. `inference.ContextExceeded: ...`)."""
    if call.name != "request_inference":
        return
    check_request(ctx, args)
    if not assign(ctx, args.model, 0):
        raise errors.NoWorker(f"no bonded, active worker serves model {args.model}")


def bond_claimed(ctx: Context, account: bytes) -> int | None:
    """A worker's bond backs its assignments (and their slashing): the token pallet's own unbond leaves it."""
    found = Workers.get(ctx, account)
    return decode_u128(found.bond) if found is not None else None


def try_state(ctx: Context) -> None:
    """Pending requests are due; what each account holds under `inference/escrow` is exactly the escrow of
    its pending requests (settled and expired ones paid theirs out); worker bonds are backed by bonded (or
    unbonding) OPEN."""
    escrowed: dict[bytes, int] = {}
    unseeded = Unseeded.get(ctx)
    for request_id, found in Requests.iter(ctx):
        ensure(bool(found.draw_seed) != (unseeded is not None and request_id >= unseeded),
               f"request {request_id}: only the head's requests wait for their draw seed")
        ensure(bool(found.draw_seed) or found.created_at == ctx.block_number,
               f"request {request_id}: created before the head and still without its draw seed")
        if found.status == pb.PENDING:
            escrowed[found.requester] = escrowed.get(found.requester, 0) + decode_u128(found.escrow)
            ensure(Deadlines.get(ctx, found.deadline, request_id) is not None, f"request {request_id}: no deadline")
            ensure(found.deadline >= ctx.block_number, f"request {request_id}: pending past its deadline")
    held = token.holds(ctx, ESCROW)
    for who in sorted(set(escrowed) | set(held)):
        ensure(held.get(who, 0) == escrowed.get(who, 0),
               f"{who.hex()}: {held.get(who, 0)} held for {ESCROW}, pending requests escrow {escrowed.get(who, 0)}")
    for account, found in Workers.iter(ctx):
        balances = token.account(ctx, account)
        ensure(balances.bonded + balances.unbonding >= decode_u128(found.bond), f"worker {account.hex()}: bond")
        listed = [ByModel.get(ctx, m, account) for m in found.models] + \
            [ByBase.get(ctx, b, account) for b in found.base_models]
        ensure(all((entry is not None) != bool(found.leaving_at) for entry in listed),
               f"worker {account.hex()}: its model and base indexes disagree with its record")


def content_access(ctx: Context, content_hash: bytes, reader: bytes) -> bool | None:
    """A registered worker that serves a model citing a DataNet holding this content (directly, or an adapter
    through its base) may read it (to index or attribute); otherwise no opinion (the DataNet pallet decides)."""
    if len(reader) != 32 or Workers.get(ctx, reader) is None:
        return None
    for net in datanet.holders(ctx, content_hash):
        for model_id in registry.models_citing(ctx, net):
            if reader in serving(ctx, model_id):
                return True
    return None
