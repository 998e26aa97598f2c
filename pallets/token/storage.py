"""Token pallet storage: one record per account, plus the total issuance.

`Balances` is the in-memory view of an account record: plain Python integers, converted to and from
the canonical protobuf encoding (`AccountData`) at the storage boundary. Named holds live inside the
account record (as FRAME's `Holds` beside each account), so placing or releasing one costs the same one
read and one write as the anonymous reserve it replaced; `reserved` is kept as their sum.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from payable.token.v1 import token_pb2 as pb
from runtime.codec import decode_u128, encode_u128
from runtime.context import Context
from runtime.storage.items import BLAKE2_128_CONCAT, BYTES, U128, PalletStorage, ProtoCodec

storage = PalletStorage("token")
Account = storage.map("Account", BYTES, ProtoCodec(pb.AccountData), BLAKE2_128_CONCAT,
                      "Free, reserved (with its named holds), bonded and unbonding balance of each existing "
                      "account.")
TotalIssuance = storage.value("TotalIssuance", U128, "Sum of every account's balances (all four parts).")


@dataclass
class Balances:
    free: int = 0
    reserved: int = 0
    bonded: int = 0
    unlocking: list[tuple[int, int]] = field(default_factory=list)  # (amount, unlock_at block)
    holds: dict[str, int] = field(default_factory=dict)  # reason → amount held; sums to `reserved`

    @property
    def unbonding(self) -> int:
        return sum(amount for amount, _ in self.unlocking)

    @property
    def locked(self) -> int:
        """Funds that keep an account alive even when its free balance is dust."""
        return self.reserved + self.bonded + self.unbonding

    @property
    def total(self) -> int:
        return self.free + self.locked

    @classmethod
    def from_proto(cls, data: pb.AccountData) -> Balances:
        return cls(decode_u128(data.free, "free"), decode_u128(data.reserved, "reserved"),
                   decode_u128(data.bonded, "bonded"),
                   [(decode_u128(c.amount, "unlocking"), c.unlock_at) for c in data.unlocking],
                   {h.reason: decode_u128(h.amount, "hold") for h in data.holds})

    def to_proto(self) -> pb.AccountData:
        """The canonical record: holds sorted by reason, empty ones dropped."""
        return pb.AccountData(free=encode_u128(self.free), reserved=encode_u128(self.reserved),
                              bonded=encode_u128(self.bonded),
                              unlocking=[pb.UnlockChunk(amount=encode_u128(a), unlock_at=at)
                                         for a, at in self.unlocking],
                              holds=[pb.Hold(reason=reason, amount=encode_u128(amount))
                                     for reason, amount in sorted(self.holds.items()) if amount])

    def hold(self, reason: str, amount: int) -> None:
        """Put `amount` (already taken from free) on hold under `reason`."""
        self.holds[reason] = self.holds.get(reason, 0) + amount
        self.reserved += amount

    def unhold(self, reason: str, amount: int) -> None:
        """Take `amount` off the hold under `reason` (the caller checked it is there)."""
        left = self.holds.get(reason, 0) - amount
        if left:
            self.holds[reason] = left
        else:
            self.holds.pop(reason, None)
        self.reserved -= amount


def load(ctx: Context, who: bytes) -> Balances | None:
    data = Account.get(ctx, who)
    return None if data is None else Balances.from_proto(data)


def issuance(ctx: Context) -> int:
    return TotalIssuance.get(ctx, 0)
