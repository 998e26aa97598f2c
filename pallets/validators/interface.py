"""The validators pallet's public interface for other pallets and its own calls and hooks."""

from __future__ import annotations

import hashlib

from payable.validators.v1 import validators_pb2 as pb
from runtime.context import Context, public_interface

from . import errors
from .storage import Active, Candidates

NAME = "validators"


def consensus_address(key: bytes) -> bytes:
    """CometBFT's address of an ed25519 consensus key: the first 20 bytes of its SHA-256."""
    return hashlib.sha256(key).digest()[:20]


@public_interface(NAME)
def candidate(ctx: Context, who: bytes) -> pb.Candidate:
    found = Candidates.get(ctx, who)
    if found is None:
        raise errors.NotCandidate(f"{who.hex()} has no validator bond")
    return found


@public_interface(NAME)
def active_set(ctx: Context) -> pb.ValidatorSet:
    """The validator set in force (sorted by consensus key)."""
    return Active.get(ctx, pb.ValidatorSet())
