"""Attribution pallet errors; codes are stable and never reused."""

from __future__ import annotations

from runtime.errors import PalletError


class AttributionError(PalletError):
    pallet = "attribution"


class NotAssigned(AttributionError):
    """The signer is not assigned to this request."""
    code = 0


class AlreadyAnswered(AttributionError):
    """This worker already submitted a result for the request."""
    code = 1


class Closed(AttributionError):
    """The request is settled or expired, or its deadline has passed."""
    code = 2


class BadSignature(AttributionError):
    """The attribution result is not signed by the submitting worker over exactly its bytes."""
    code = 3


class Mismatch(AttributionError):
    """The result is for another request, input, model, index or method than this request's."""
    code = 4


class BadProof(AttributionError):
    """A credited contribution lacks a valid membership proof into a snapshot the model cites."""
    code = 5


class BadScores(AttributionError):
    """Shares must be non-negative fixed-point parts per billion summing to at most one."""
    code = 6


class Malformed(AttributionError):
    """The submitted result does not decode."""
    code = 7


class NotBonded(AttributionError):
    """The worker's bond is below the chain minimum or it is deregistering."""
    code = 8


class NotChallengeable(AttributionError):
    """The request is not settled, its challenge window has passed, or it is already disputed."""
    code = 9


class NotADispute(AttributionError):
    """The challenge agrees with the settled result, or the challenger was part of it."""
    code = 10


class NotJuror(AttributionError):
    """The signer is not on this dispute's jury, or has already voted."""
    code = 11


class BadRefusal(AttributionError):
    """A refusal's reason is unknown, or its numbers contradict what the chain records (context, bounds)."""
    code = 12


class NothingOwed(AttributionError):
    """Nothing is held for that contributor."""
    code = 13


class AccountEmpty(AttributionError):
    """What is held for the contributor is below the existential deposit and its account holds nothing yet."""
    code = 14


class NoTail(AttributionError):
    """The request has no tail left to pay: not settled yet, settled without one, or every page paid."""
    code = 15


class TailNotDue(AttributionError):
    """The tail may still be paid: it can be closed only after its window."""
    code = 17


class NotTheNextPage(AttributionError):
    """The page is not the one the tail's commitment names next (its leaves, order or size, or what follows)."""
    code = 16
