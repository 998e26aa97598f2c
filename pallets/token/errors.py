"""Token pallet errors; codes are stable and never reused."""

from __future__ import annotations

from runtime.errors import PalletError


class TokenError(PalletError):
    pallet = "token"


class InsufficientBalance(TokenError):
    """The free balance cannot cover the amount."""
    code = 0


class ExistentialDeposit(TokenError):
    """The transfer would create an account holding less than the existential deposit."""
    code = 1


class KeepAlive(TokenError):
    """The transfer would take the sender below the existential deposit (use `transfer` to allow that)."""
    code = 2


class InsufficientReserved(TokenError):
    """The balance on hold (under the hold's reason) cannot cover the amount."""
    code = 3


class InsufficientBonded(TokenError):
    """The bonded balance cannot cover the amount."""
    code = 4


class TooManyUnlockChunks(TokenError):
    """Too many unbonds are pending; withdraw matured ones first."""
    code = 5


class NothingToWithdraw(TokenError):
    """No unbonded funds have completed the unbonding period."""
    code = 6


class ZeroAmount(TokenError):
    """The amount must be greater than zero."""
    code = 7


class Overflow(TokenError):
    """The balance would exceed the largest representable amount."""
    code = 8


class BadHoldReason(TokenError):
    """A hold's reason is "<pallet>/<name>": ASCII, at most 64 bytes."""
    code = 9


class NotHoldOwner(TokenError):
    """Only the pallet a hold's reason names may place, release or pay out funds held under it."""
    code = 10


class BondInUse(TokenError):
    """Another pallet's records stand on this bond (a validator's, a worker's): unbond it through that pallet."""
    code = 11
