"""Inference pallet errors; codes are stable and never reused."""

from __future__ import annotations

from runtime.errors import PalletError


class InferenceError(PalletError):
    pallet = "inference"


class UnknownWorker(InferenceError):
    """The account is not a registered worker."""
    code = 0


class AlreadyRegistered(InferenceError):
    """The account is already a registered worker."""
    code = 1


class BondTooSmall(InferenceError):
    """A worker's bond must be at least the chain minimum."""
    code = 2


class BadInput(InferenceError):
    """A field is malformed or out of bounds; the message says which."""
    code = 3


class UnknownRequest(InferenceError):
    """No inference request has this id."""
    code = 4


class NoWorker(InferenceError):
    """No bonded, active worker serves this model."""
    code = 5


class FeeTooLow(InferenceError):
    """max_fee is below the model's price."""
    code = 6


class Leaving(InferenceError):
    """The worker is deregistering."""
    code = 7


class NotPending(InferenceError):
    """The request is settled or expired: its escrow is no longer held."""
    code = 8


class ContextExceeded(InferenceError):
    """max_new_tokens leaves no room for a prompt in the model's base context (its registered context length)."""
    code = 9


class InputTooLarge(InferenceError):
    """The inline input is over the chain's `max_inline_input` bytes (larger inputs go by content hash)."""
    code = 10


class NoInput(InferenceError):
    """A request needs an input: inline bytes, or the 32-byte hash of one in the content store."""
    code = 11
