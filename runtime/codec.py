"""Encodings shared by state, wire and clients: 128-bit amounts, account ids, OPEN units.

Amounts are unsigned 128-bit integers (OPEN has 18 decimals, so 64 bits would hold only ~18 OPEN).
On the wire and in state they are minimal big-endian bytes: canonical, so two encoders never
disagree, and a non-canonical encoding is rejected rather than silently accepted.
"""

from __future__ import annotations

from decimal import Decimal, Inexact, InvalidOperation, localcontext

U128_MAX = (1 << 128) - 1
DECIMALS = 18
ONE_OPEN = 10**DECIMALS
ACCOUNT_ID_LEN = 32


class CodecError(ValueError):
    """A value could not be decoded or encoded; the message says which and why."""


def encode_u128(value: int) -> bytes:
    """Minimal big-endian bytes of an unsigned 128-bit integer (b'' for zero)."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise CodecError(f"amount must be an integer, got {type(value).__name__}")
    if value < 0 or value > U128_MAX:
        raise CodecError(f"amount {value} is outside 0..2^128-1")
    return value.to_bytes((value.bit_length() + 7) // 8, "big")


def decode_u128(data: bytes, field: str = "amount") -> int:
    """Inverse of `encode_u128`; rejects over-long and non-minimal encodings."""
    if len(data) > 16:
        raise CodecError(f"{field}: {len(data)} bytes is longer than a 128-bit amount")
    if data[:1] == b"\x00":
        raise CodecError(f"{field}: non-canonical encoding (leading zero byte)")
    return int.from_bytes(data, "big")


def check_account_id(data: bytes, field: str = "account") -> bytes:
    """Return `data` if it is a 32-byte account id, else raise a clear error."""
    if len(data) != ACCOUNT_ID_LEN:
        raise CodecError(f"{field}: account ids are {ACCOUNT_ID_LEN} bytes, got {len(data)}")
    return bytes(data)


def parse_open(text: str | int) -> int:
    """Parse an OPEN amount with up to 18 decimals ('1.5' -> 1.5e18 base units); ints are base units."""
    if isinstance(text, int):
        return text
    raw = str(text).strip().replace("_", "")
    try:
        value = Decimal(raw.removesuffix("OPEN").strip())
    except InvalidOperation as exc:
        raise CodecError(f"not an OPEN amount: {text!r}") from exc
    if not value.is_finite():
        raise CodecError(f"not an OPEN amount: {text!r}")
    with localcontext() as exact:  # every digit kept (the default 28 rounded a u128 amount silently)
        exact.prec, exact.traps[Inexact] = 80, True
        try:
            base = value.scaleb(DECIMALS)
        except Inexact as exc:
            raise CodecError(f"{text!r} has more digits than an amount") from exc
    if base < 0 or base.adjusted() >= 39:
        raise CodecError(f"{text!r} is outside the range of an amount")
    if base != base.to_integral_value():
        raise CodecError(f"{text!r} has more than {DECIMALS} decimals")
    units = int(base)
    if units > U128_MAX:
        raise CodecError(f"{text!r} is outside the range of an amount")
    return units


def format_open(units: int) -> str:
    """Human form of base units, e.g. 1500000000000000000 -> '1.5'."""
    whole, frac = divmod(units, ONE_OPEN)
    return f"{whole}.{frac:018d}".rstrip("0").rstrip(".") if frac else str(whole)
