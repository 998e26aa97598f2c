"""Error types shared by the runtime: typed pallet errors and transaction-validity rejections."""

from __future__ import annotations

import enum


class PalletError(Exception):
    """A call failed for a reason its pallet declares. Its writes are rolled back; fee and nonce stay.

    Each pallet subclasses this once (setting `pallet`), then declares one subclass per error with a
    stable `code` and a one-line docstring; raise it with a message saying what was wrong.
    """

    pallet: str = ""
    code: int = -1

    @classmethod
    def declared(cls) -> list[type[PalletError]]:
        """Every concrete error below this base, ordered by code."""
        found, stack = [], list(cls.__subclasses__())
        while stack:
            sub = stack.pop()
            stack.extend(sub.__subclasses__())
            if sub.code >= 0:
                found.append(sub)
        return sorted(found, key=lambda e: e.code)

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else (self.__doc__ or "").strip()

    @property
    def named(self) -> str:
        """`pallet.Error: message` - how a refusal names its typed error to a client."""
        return f"{self.pallet}.{type(self).__name__}: {self.message}"


class Invalid(enum.IntEnum):
    """Why an extrinsic cannot be included at all (nothing charged, nothing written)."""

    OVERSIZE = 1
    BAD_ENCODING = 2
    BAD_SIGNATURE = 3
    WRONG_GENESIS = 4
    EXPIRED = 5
    STALE_NONCE = 6
    FUTURE_NONCE = 7
    UNKNOWN_PALLET = 8
    UNKNOWN_CALL = 9
    BAD_CALL_ARGS = 10
    CANNOT_PAY_FEE = 11
    EXHAUSTS_RESOURCES = 12
    NOT_ALLOWED = 13  # e.g. an inherent-only call signed by a user, or an inherent from a user
    REJECTED_BY_PALLET = 14


class InvalidTransaction(Exception):
    """An extrinsic is invalid: `reason` is the machine-readable kind, the message the human one."""

    def __init__(self, reason: Invalid, message: str):
        super().__init__(f"{reason.name.lower()}: {message}")
        self.reason = reason
        self.detail = message


class NotFound(LookupError):
    """What a query asks about does not exist (a request's settlement before it settles, a snapshot version
    never published): the node answers NOT_FOUND - the request was well formed - with this message."""


class StorageAccessError(RuntimeError):
    """A pallet touched a key outside its own state slice (a bug in that pallet)."""


class ChainSpecError(ValueError):
    """The chain spec is malformed or names something that does not exist."""


class InvariantViolation(RuntimeError):
    """A pallet's state broke one of its declared invariants (found by `try_state`): a bug, never user error."""


def ensure(holds: bool, message: str) -> None:
    """Raise InvariantViolation(message) unless `holds`: a real check, unlike `assert`, which `python -O` strips."""
    if not holds:
        raise InvariantViolation(message)
