"""Validators genesis: the first set, bonded from balances the token pallet's genesis created."""

from __future__ import annotations

import base64
import binascii

from runtime.codec import parse_open
from runtime.context import Context
from runtime.crypto import decode_address

from .calls import add_candidate
from .config import ValidatorsConfig
from .election import elect, install


def parse_key(text: str) -> bytes:
    """A consensus key as CometBFT writes it (base64) or as 64 hex digits."""
    try:
        return bytes.fromhex(text) if len(text) == 64 else base64.b64decode(text, validate=True)
    except (ValueError, binascii.Error) as exc:
        raise ValueError(f"a consensus key is 64 hex digits or base64 (CometBFT's pub_key value); {text!r} is "
                         "neither") from exc


def build(ctx: Context, config: ValidatorsConfig, genesis: dict) -> None:
    """`genesis = {"validators": [[address, consensus key (base64 or hex), bond], ...]}`: each is bonded
    as a candidate and the first set is elected from them at once. The token pallet must come first
    in the chain spec's pallet list (its balances pay the bonds)."""
    unknown = sorted(set(genesis) - {"validators"})
    if unknown:
        raise ValueError(f"validators genesis: unknown keys {unknown}")
    for entry in genesis.get("validators", []):
        address, key, amount = entry
        try:
            add_candidate(ctx, decode_address(address), parse_key(key), parse_open(amount))
        except Exception as exc:
            raise ValueError(f"validators genesis: {address}: {exc}") from exc
    install(ctx, elect(ctx))
