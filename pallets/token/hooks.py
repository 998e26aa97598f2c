"""Token hooks: the static config check, the invariant check, account balances for the node, and the
fee handler plugin."""

from __future__ import annotations

from runtime.codec import decode_u128
from runtime.context import Context
from runtime.errors import Invalid, InvalidTransaction, ensure
from runtime.hookspecs import hookimpl
from runtime.protocol import PROTOCOL_ACCOUNTS

from . import errors, interface
from .config import TokenConfig
from .storage import Account, Balances, issuance


def integrity_test(config: TokenConfig) -> None:
    ensure(isinstance(config, TokenConfig), "token config must be a TokenConfig")


def try_state(ctx: Context) -> None:
    """Total issuance equals the sum of all balances; no live account is dust; chunks are bounded; each
    account's reserved balance is exactly the sum of its holds, stored by reason in order, none empty.
    (Whether a hold is what its pallet owes is that pallet's own `try_state`, through `interface.holds`.)"""
    total = 0
    ed = ctx.config.existential_deposit
    for who, data in Account.iter(ctx):
        bal = Balances.from_proto(data)
        reasons = [h.reason for h in data.holds]
        ensure(reasons == sorted(set(reasons)) and all(bal.holds.values()),
               f"token: {who.hex()}'s holds are not sorted, distinct and non-zero")
        ensure(bal.reserved == sum(bal.holds.values()),
               f"token: {who.hex()} has {bal.reserved} reserved but {sum(bal.holds.values())} on hold")
        ensure(bal.total > 0, f"token: empty account {who.hex()} was not removed")
        ensure(who in PROTOCOL_ACCOUNTS or bal.locked > 0 or bal.free >= ed, f"token: account {who.hex()} is dust")
        ensure(len(bal.unlocking) <= ctx.config.max_unlock_chunks, f"token: {who.hex()} has too many chunks")
        total += bal.total
    ensure(total == issuance(ctx), f"token: total issuance {issuance(ctx)} != sum of balances {total}")


POSITIVE_AMOUNTS = frozenset({"transfer", "transfer_keep_alive", "bond", "unbond"})


def validate_transaction(ctx: Context, signer: bytes, call, args) -> None:
    """A transfer, bond or unbond of nothing could never succeed: refused at the door with its typed error
    (`rejected_by_pallet`: token.ZeroAmount, as the inference pallet refuses a request it can tell will
    fail), before any fee - not charged a fee to fail."""
    if call.name in POSITIVE_AMOUNTS and decode_u128(args.amount) == 0:
        raise errors.ZeroAmount(f"token.{call.name} of 0: the amount must be positive")


def account_balances(ctx: Context, who: bytes) -> dict[str, int]:
    """The chain's account balances come from this pallet (what the node's GetAccount shows)."""
    bal = interface.account(ctx, who)
    return {"free": bal.free, "reserved": bal.reserved, "bonded": bal.bonded, "unbonding": bal.unbonding}


def content_uploader(ctx: Context, account: bytes) -> bool:
    """Only an account that exists (it holds at least the existential deposit) stores blobs on a node: what
    an account costs is what keeps a flood of fresh keys from filling a node's content store."""
    return interface.account(ctx, account).total > 0


class FeeHandler:
    """Makes the token pallet the chain's fee currency (the runtime's fee hooks)."""

    @hookimpl
    def payable_withdraw_fee(self, ctx: Context, who: bytes, amount: int):
        try:
            interface.withdraw_fee(ctx, who, amount)
        except errors.InsufficientBalance as exc:
            raise InvalidTransaction(Invalid.CANNOT_PAY_FEE, exc.message) from exc
        return True

    @hookimpl
    def payable_deposit_fee(self, ctx: Context, who: bytes, amount: int):
        interface.deposit_fee(ctx, who, amount)
        return True
