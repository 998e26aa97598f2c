"""The token pallet's public interface: what other pallets and the runtime call to move OPEN.

Every function runs acting as the token pallet (`public_interface`), checks first and mutates after,
and emits an event for each movement. Slashed funds go to the treasury: nothing is ever minted or lost
except dust, which is burned from the total issuance when an account is reaped. The protocol's
accounts (the treasury, the block-rewards pot) are exempt from the existential deposit: never reaped.

Holds (as FRAME's `pallet_balances` holds): a pallet puts funds on hold for a reason it names,
"<pallet>/<name>" ("inference/escrow"), and only that pallet releases them or pays them out
(`hold`, `release`, `transfer_on_hold`); what each account holds is kept per reason, so each pallet's
`try_state` can check exactly its own holds (`holds`). `reserve`, `unreserve` and `repatriate_reserved`
are the older anonymous reserve, kept for external pallets: their funds are held under `token/reserve`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TypeVar

from runtime.codec import U128_MAX, decode_u128, encode_u128, format_open
from runtime.context import Context, public_interface
from runtime.protocol import PROTOCOL_ACCOUNTS, TREASURY

from . import errors
from . import events as ev
from .storage import Account, Balances, TotalIssuance, issuance, load

NAME = "token"
RESERVE = "token/reserve"  # the hold behind the anonymous reserve (reserve, unreserve, repatriate_reserved)
MAX_REASON = 64  # bytes
R = TypeVar("R")


def _settle(ctx: Context, who: bytes, balances: Balances, existed: bool) -> None:
    """Store an account after a change, reaping it (dust burned) when it drops below the existential deposit."""
    ed = ctx.config.existential_deposit
    if balances.total == 0 or (balances.locked == 0 and balances.free < ed and who not in PROTOCOL_ACCOUNTS):
        if balances.free:
            TotalIssuance.put(ctx, issuance(ctx) - balances.free)
            ev.DustLost.emit(ctx, account=who, amount=encode_u128(balances.free))
        if existed:
            Account.remove(ctx, who)
        return
    if balances.free > U128_MAX or balances.total > U128_MAX:
        raise errors.Overflow(f"account balance would exceed {U128_MAX}")
    Account.insert(ctx, who, balances.to_proto())
    if not existed:
        ev.Endowed.emit(ctx, account=who, amount=encode_u128(balances.total))


def _open(units: int) -> str:
    return f"{format_open(units)} OPEN"


def _positive(amount: int) -> None:
    if amount <= 0:
        raise errors.ZeroAmount(f"amount must be positive, got {amount}")


def _take_free(ctx: Context, who: bytes, amount: int, purpose: str) -> Balances:
    """The account with `amount` taken out of its free balance; the caller puts it elsewhere and settles."""
    _positive(amount)
    bal = load(ctx, who)
    if bal is None or bal.free < amount:
        free = bal.free if bal else 0
        raise errors.InsufficientBalance(f"free balance {_open(free)} cannot {purpose} {_open(amount)}")
    bal.free -= amount
    return bal


@public_interface(NAME)
def account(ctx: Context, who: bytes) -> Balances:
    return load(ctx, who) or Balances()


@public_interface(NAME)
def free_balance(ctx: Context, who: bytes) -> int:
    return account(ctx, who).free


@public_interface(NAME)
def existential_deposit(ctx: Context) -> int:
    return ctx.config.existential_deposit


@public_interface(NAME)
def total_issuance(ctx: Context) -> int:
    return issuance(ctx)


@public_interface(NAME)
def transfer(ctx: Context, source: bytes, dest: bytes, amount: int, *, keep_alive: bool) -> None:
    """Move `amount` of free balance; with keep_alive the source must stay above the existential deposit."""
    _positive(amount)
    src = load(ctx, source)
    if src is None or src.free < amount:
        raise errors.InsufficientBalance(f"free balance {_open(src.free if src else 0)} < {_open(amount)}")
    if source == dest:
        ev.Transferred.emit(ctx, **{"from": source, "to": dest, "amount": encode_u128(amount)})
        return
    ed = ctx.config.existential_deposit
    src.free -= amount
    if keep_alive and src.locked == 0 and src.free < ed and source not in PROTOCOL_ACCOUNTS:
        raise errors.KeepAlive(f"sender would keep {_open(src.free)} < existential deposit {_open(ed)}")
    dst = load(ctx, dest)
    existed = dst is not None
    dst = dst or Balances()
    if not existed and amount < ed and dest not in PROTOCOL_ACCOUNTS:
        raise errors.ExistentialDeposit(
            f"{_open(amount)} would create an account below the existential deposit {_open(ed)}")
    dst.free += amount
    _settle(ctx, source, src, True)
    _settle(ctx, dest, dst, existed)
    ev.Transferred.emit(ctx, **{"from": source, "to": dest, "amount": encode_u128(amount)})


def _reason_of_caller(fn: Callable[..., R]) -> Callable[..., R]:
    """Check a hold's reason: "<pallet>/<name>", ASCII, at most MAX_REASON bytes, and the pallet acting
    (the caller, before the token pallet takes over) is the one it names; the runtime itself, its genesis
    and tests act as no pallet and may touch any hold."""

    @functools.wraps(fn)
    def wrapper(ctx: Context, reason: str, *args, **kwargs) -> R:
        pallet, _, name = reason.partition("/")
        if not (pallet and name and reason.isascii() and len(reason) <= MAX_REASON):
            raise errors.BadHoldReason(f"hold reason {reason!r} is not '<pallet>/<name>' (ASCII, at most "
                                       f"{MAX_REASON} bytes)")
        if ctx.acting and ctx.acting != pallet:
            raise errors.NotHoldOwner(f"pallet {ctx.acting!r} cannot move funds held for {reason!r}")
        return fn(ctx, reason, *args, **kwargs)

    return wrapper


def _hold(ctx: Context, reason: str, who: bytes, amount: int) -> None:
    bal = _take_free(ctx, who, amount, "hold")
    bal.hold(reason, amount)
    _settle(ctx, who, bal, True)
    ev.Reserved.emit(ctx, account=who, amount=encode_u128(amount), reason=reason)


def _release(ctx: Context, reason: str, who: bytes, amount: int, best_effort: bool = True) -> int:
    """Release `amount` (best_effort: up to it) held under `reason` to free; returns the amount released."""
    bal = load(ctx, who)
    held = bal.holds.get(reason, 0) if bal else 0
    if not best_effort and held < amount:
        raise errors.InsufficientReserved(f"held for {reason} {_open(held)} < {_open(amount)}")
    moved = min(amount, held)
    if bal is not None and moved > 0:
        bal.unhold(reason, moved)
        bal.free += moved
        _settle(ctx, who, bal, True)
        ev.Unreserved.emit(ctx, account=who, amount=encode_u128(moved), reason=reason)
    return max(moved, 0)


def _transfer_on_hold(ctx: Context, reason: str, source: bytes, dest: bytes, amount: int, on_hold: bool) -> None:
    _positive(amount)
    src = load(ctx, source)
    held = src.holds.get(reason, 0) if src else 0
    if src is None or held < amount:
        raise errors.InsufficientReserved(f"held for {reason} {_open(held)} < {_open(amount)}")
    src.unhold(reason, amount)
    dst = src if source == dest else load(ctx, dest)
    existed = dst is not None
    dst = dst or Balances()
    if on_hold:
        dst.hold(reason, amount)
    else:
        dst.free += amount
    _settle(ctx, source, src, True)
    if dest != source:
        _settle(ctx, dest, dst, existed)
    ev.ReserveRepatriated.emit(ctx, **{"from": source, "to": dest, "amount": encode_u128(amount),
                                       "to_reserved": on_hold, "reason": reason})


@_reason_of_caller
@public_interface(NAME)
def hold(ctx: Context, reason: str, who: bytes, amount: int) -> None:
    """Move free balance onto the hold named `reason` (a deposit, an escrow, a bond a pallet keeps)."""
    _hold(ctx, reason, who, amount)


@_reason_of_caller
@public_interface(NAME)
def release(ctx: Context, reason: str, who: bytes, amount: int, *, best_effort: bool = False) -> int:
    """Move `amount` held under `reason` back to free and return it; with best_effort, up to `amount`
    (what is held, if less), otherwise InsufficientReserved when less is held."""
    return _release(ctx, reason, who, amount, best_effort)


@_reason_of_caller
@public_interface(NAME)
def transfer_on_hold(ctx: Context, reason: str, source: bytes, dest: bytes, amount: int, *,
                     on_hold: bool = False) -> None:
    """Pay `amount` held under `reason` on `source` to `dest`'s free balance (on_hold: onto `dest`'s hold
    under the same reason)."""
    _transfer_on_hold(ctx, reason, source, dest, amount, on_hold)


@public_interface(NAME)
def balance_on_hold(ctx: Context, reason: str, who: bytes) -> int:
    """What `who` holds under `reason`."""
    bal = load(ctx, who)
    return bal.holds.get(reason, 0) if bal else 0


@public_interface(NAME)
def holds(ctx: Context, reason: str) -> dict[bytes, int]:
    """Every account holding funds under `reason`, with the amount (reads every account: for invariant
    checks, not for calls)."""
    found: dict[bytes, int] = {}
    for who, data in Account.iter(ctx):
        for entry in data.holds:
            if entry.reason == reason:
                found[who] = decode_u128(entry.amount)
    return found


@public_interface(NAME)
def reserve(ctx: Context, who: bytes, amount: int) -> None:
    """Move free balance to reserved, held under `token/reserve` (prefer a named `hold`)."""
    _hold(ctx, RESERVE, who, amount)


@public_interface(NAME)
def unreserve(ctx: Context, who: bytes, amount: int) -> int:
    """Move up to `amount` held under `token/reserve` back to free; returns the part that was not held."""
    return amount - _release(ctx, RESERVE, who, amount)


@public_interface(NAME)
def repatriate_reserved(ctx: Context, source: bytes, dest: bytes, amount: int, *, to_reserved: bool) -> None:
    """Move `amount` of `source`'s `token/reserve` hold to `dest`'s free balance (or its `token/reserve`)."""
    _transfer_on_hold(ctx, RESERVE, source, dest, amount, to_reserved)


def _credit_treasury(ctx: Context, amount: int) -> None:
    bal = load(ctx, TREASURY)
    existed = bal is not None
    bal = bal or Balances()
    bal.free += amount
    _settle(ctx, TREASURY, bal, existed)


@public_interface(NAME)
def slash(ctx: Context, who: bytes, amount: int) -> int:
    """Take up to `amount` from free, then from the anonymous reserve (`token/reserve`; named holds are
    their pallets' to settle), to the treasury; returns the amount slashed."""
    bal = load(ctx, who)
    if bal is None or amount <= 0:
        return 0
    from_free = min(amount, bal.free)
    from_reserved = min(amount - from_free, bal.holds.get(RESERVE, 0))
    bal.free -= from_free
    if from_reserved:
        bal.unhold(RESERVE, from_reserved)
    taken = from_free + from_reserved
    if taken:
        _settle(ctx, who, bal, True)
        _credit_treasury(ctx, taken)
        ev.Slashed.emit(ctx, account=who, amount=encode_u128(taken))
    return taken


@public_interface(NAME)
def slash_bonded(ctx: Context, who: bytes, amount: int) -> int:
    """Take up to `amount` from bonded, then the newest unbonding chunks, to the treasury; returns it."""
    bal = load(ctx, who)
    if bal is None or amount <= 0:
        return 0
    taken = min(amount, bal.bonded)
    bal.bonded -= taken
    while taken < amount and bal.unlocking:
        chunk_amount, at = bal.unlocking.pop()
        part = min(chunk_amount, amount - taken)
        taken += part
        if part < chunk_amount:
            bal.unlocking.append((chunk_amount - part, at))
    if taken:
        _settle(ctx, who, bal, True)
        _credit_treasury(ctx, taken)
        ev.Slashed.emit(ctx, account=who, amount=encode_u128(taken))
    return taken


@public_interface(NAME)
def bonded(ctx: Context, who: bytes) -> int:
    """Actively bonded funds (unbonding ones excluded)."""
    return account(ctx, who).bonded


@public_interface(NAME)
def bond(ctx: Context, who: bytes, amount: int) -> None:
    """Move free balance to the bond (staked, slashable)."""
    bal = _take_free(ctx, who, amount, "bond")
    bal.bonded += amount
    _settle(ctx, who, bal, True)
    ev.Bonded.emit(ctx, account=who, amount=encode_u128(amount))


@public_interface(NAME)
def unbond(ctx: Context, who: bytes, amount: int) -> int:
    """Start unbonding; returns the block from which the funds can be withdrawn."""
    _positive(amount)
    bal = load(ctx, who)
    if bal is None or bal.bonded < amount:
        raise errors.InsufficientBonded(f"bonded balance {_open(bal.bonded if bal else 0)} < {_open(amount)}")
    if len(bal.unlocking) >= ctx.config.max_unlock_chunks:
        raise errors.TooManyUnlockChunks(f"{len(bal.unlocking)} unbonds already pending")
    unlock_at = ctx.block_number + ctx.config.unbonding_period
    bal.bonded -= amount
    bal.unlocking.append((amount, unlock_at))
    _settle(ctx, who, bal, True)
    ev.Unbonded.emit(ctx, account=who, amount=encode_u128(amount), unlock_at=unlock_at)
    return unlock_at


@public_interface(NAME)
def withdraw_unbonded(ctx: Context, who: bytes) -> int:
    """Return every matured unbonding chunk to the free balance; returns the amount."""
    bal = load(ctx, who)
    matured = [c for c in (bal.unlocking if bal else []) if c[1] <= ctx.block_number]
    if bal is None or not matured:
        raise errors.NothingToWithdraw(f"nothing has finished unbonding by block {ctx.block_number}")
    amount = sum(a for a, _ in matured)
    bal.unlocking = [c for c in bal.unlocking if c[1] > ctx.block_number]
    bal.free += amount
    _settle(ctx, who, bal, True)
    ev.Withdrawn.emit(ctx, account=who, amount=encode_u128(amount))
    return amount


@public_interface(NAME)
def withdraw_fee(ctx: Context, who: bytes, amount: int) -> None:
    """Take a transaction fee from the free balance (the account may be reaped by it)."""
    bal = load(ctx, who)
    if bal is None or bal.free < amount:
        raise errors.InsufficientBalance(f"free balance {_open(bal.free if bal else 0)} cannot pay fee {_open(amount)}")
    bal.free -= amount
    _settle(ctx, who, bal, True)
    ev.FeeWithdrawn.emit(ctx, account=who, amount=encode_u128(amount))


@public_interface(NAME)
def deposit_fee(ctx: Context, who: bytes, amount: int) -> None:
    """Credit collected fees; a share too small to open the recipient's account goes to the treasury."""
    bal = load(ctx, who)
    if bal is None and amount < ctx.config.existential_deposit and who not in PROTOCOL_ACCOUNTS:
        who, bal = TREASURY, load(ctx, TREASURY)
    existed = bal is not None
    bal = bal or Balances()
    bal.free += amount
    _settle(ctx, who, bal, existed)
    ev.FeeDeposited.emit(ctx, account=who, amount=encode_u128(amount))
