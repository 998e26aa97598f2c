"""The token pallet's public interface: what other pallets and the runtime call to move OPEN.

Every function runs acting as the token pallet (`public_interface`), checks first and mutates after,
and emits an event for each movement. Slashed funds go to the treasury: nothing is ever minted or lost
except dust, which is burned from the total issuance when an account is reaped. The protocol's
accounts (the treasury, the block-rewards pot) are exempt from the existential deposit: never reaped.
"""

from __future__ import annotations

from runtime.codec import U128_MAX, encode_u128, format_open
from runtime.context import Context, public_interface
from runtime.protocol import PROTOCOL_ACCOUNTS, TREASURY

from . import errors
from . import events as ev
from .storage import Account, Balances, TotalIssuance, issuance, load

NAME = "token"


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


@public_interface(NAME)
def reserve(ctx: Context, who: bytes, amount: int) -> None:
    """Move free balance to reserved (e.g. a deposit held by another pallet)."""
    bal = _take_free(ctx, who, amount, "reserve")
    bal.reserved += amount
    _settle(ctx, who, bal, True)
    ev.Reserved.emit(ctx, account=who, amount=encode_u128(amount))


@public_interface(NAME)
def unreserve(ctx: Context, who: bytes, amount: int) -> int:
    """Move up to `amount` of reserved back to free; returns the part that was not reserved."""
    bal = load(ctx, who)
    moved = min(amount, bal.reserved if bal else 0)
    if moved:
        bal.reserved -= moved
        bal.free += moved
        _settle(ctx, who, bal, True)
        ev.Unreserved.emit(ctx, account=who, amount=encode_u128(moved))
    return amount - moved


@public_interface(NAME)
def repatriate_reserved(ctx: Context, source: bytes, dest: bytes, amount: int, *, to_reserved: bool) -> None:
    """Move `amount` of `source`'s reserved balance to `dest`'s free (or reserved) balance."""
    _positive(amount)
    src = load(ctx, source)
    if src is None or src.reserved < amount:
        raise errors.InsufficientReserved(f"reserved balance {_open(src.reserved if src else 0)} < {_open(amount)}")
    src.reserved -= amount
    dst = src if source == dest else load(ctx, dest)
    existed = dst is not None
    dst = dst or Balances()
    if to_reserved:
        dst.reserved += amount
    else:
        dst.free += amount
    _settle(ctx, source, src, True)
    if dest != source:
        _settle(ctx, dest, dst, existed)
    ev.ReserveRepatriated.emit(ctx, **{"from": source, "to": dest, "amount": encode_u128(amount),
                                       "to_reserved": to_reserved})


def _credit_treasury(ctx: Context, amount: int) -> None:
    bal = load(ctx, TREASURY)
    existed = bal is not None
    bal = bal or Balances()
    bal.free += amount
    _settle(ctx, TREASURY, bal, existed)


@public_interface(NAME)
def slash(ctx: Context, who: bytes, amount: int) -> int:
    """Take up to `amount` from free, then reserved, to the treasury; returns the amount slashed."""
    bal = load(ctx, who)
    if bal is None or amount <= 0:
        return 0
    from_free = min(amount, bal.free)
    from_reserved = min(amount - from_free, bal.reserved)
    bal.free -= from_free
    bal.reserved -= from_reserved
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
    if not matured:
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
