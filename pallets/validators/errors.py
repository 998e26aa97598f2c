"""Validators pallet errors; codes are stable and never reused."""

from __future__ import annotations

from runtime.errors import PalletError


class ValidatorsError(PalletError):
    pallet = "validators"


class NotCandidate(ValidatorsError):
    """The account has no bond as a validator candidate."""
    code = 0


class AlreadyCandidate(ValidatorsError):
    """The account is a candidate already: use bond_extra to add to its bond."""
    code = 1


class BadKey(ValidatorsError):
    """A consensus key is a 32-byte ed25519 public key."""
    code = 2


class KeyInUse(ValidatorsError):
    """This consensus key belongs (or belonged) to another candidate; keys are never reused."""
    code = 3


class BondTooSmall(ValidatorsError):
    """A candidate's bond must stay at least the chain minimum (unbond all of it to leave)."""
    code = 4


class Jailed(ValidatorsError):
    """The candidate was slashed for double signing or a light-client attack: jailed for good (tombstoned,
    as Cosmos does), it can never be elected or unjailed again; it may only unbond."""
    code = 5


class StillJailed(ValidatorsError):
    """The candidate was jailed for downtime and its jail period (block time) has not ended yet."""
    code = 6


class NotJailed(ValidatorsError):
    """Only a jailed candidate can be unjailed."""
    code = 7
