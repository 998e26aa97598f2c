"""Token genesis: initial balances; the total issuance is their sum."""

from __future__ import annotations

from runtime.codec import parse_open
from runtime.context import Context
from runtime.crypto import decode_address

from .config import TokenConfig
from .storage import Account, Balances, TotalIssuance


def build(ctx: Context, config: TokenConfig, genesis: dict) -> None:
    """`genesis = {"balances": [[address, amount], ...]}`; amounts in OPEN ('1.5') or base units (int)."""
    unknown = sorted(set(genesis) - {"balances"})
    if unknown:
        raise ValueError(f"token genesis: unknown keys {unknown}")
    total = 0
    seen: set[bytes] = set()
    for entry in genesis.get("balances", []):
        address, amount = entry
        who = decode_address(address) if isinstance(address, str) else bytes(address)
        units = parse_open(amount)
        if who in seen:
            raise ValueError(f"token genesis: {address} is listed twice")
        if units < config.existential_deposit:
            raise ValueError(f"token genesis: {address} gets {units}, below the existential deposit "
                             f"{config.existential_deposit}")
        seen.add(who)
        Account.insert(ctx, who, Balances(free=units).to_proto())
        total += units
    TotalIssuance.put(ctx, total)
