"""How a worker's signed refusal is signed: both the worker (signing) and the chain (verifying) use this.

The signature covers `REFUSAL_DOMAIN ‖ serialized Refusal`, not the bare bytes as an attribution result's
does: the prefix keeps a refusal's signature from ever verifying as a result's (or the reverse), whatever
bytes the two messages happen to share.
"""

REFUSAL_DOMAIN = b"payable/attribution/refusal/v1:"


def refusal_message(refusal: bytes) -> bytes:
    """The bytes a refusal's signature covers."""
    return REFUSAL_DOMAIN + refusal
