"""Weights (what a call may cost) and fees (what its signer pays for it).

A weight is declared per call, measured by `bench/weights.py` on a named reference machine: compute
time plus the storage reads and writes the call may perform. The executive counts the reads and
writes a dispatch really does, so a declaration that under-counts them is caught deterministically
(by the fuzzing harness); the compute part is compared against measurement by the benchmark, never
by a timed assertion in a test.

Fee = base + length × per-byte fee + weight × fee-per-ns × multiplier + tip, all integers.
"""

from __future__ import annotations

from dataclasses import dataclass

from payable.runtime.v1 import metadata_pb2

PPB = 1_000_000_000  # parts per billion: the unit of the fee multiplier


@dataclass(frozen=True)
class Weight:
    ref_time_ns: int
    reads: int = 0
    writes: int = 0

    def to_proto(self) -> metadata_pb2.Weight:
        return metadata_pb2.Weight(ref_time_ns=self.ref_time_ns, reads=self.reads, writes=self.writes)


@dataclass(frozen=True)
class DbWeights:
    """Cost of one storage access on the reference machine, in ns (overlay + RocksDB + trie share)."""

    read_ns: int = 3_000    # bench/weights.py: RocksDB get through the overlay, 100k+ keys
    write_ns: int = 40_000  # measured 18-26 µs per changed key (state root + synced commit), noisy

    def total_ns(self, weight: Weight) -> int:
        return weight.ref_time_ns + weight.reads * self.read_ns + weight.writes * self.write_ns


@dataclass(frozen=True)
class FeeConfig:
    """Chain-wide fee parameters (amounts in base units, 10^-18 OPEN)."""

    base_fee: int = 10**14
    byte_fee: int = 10**11
    fee_per_ns: int = 10**6
    multiplier_ppb: int = PPB
    author_share_percent: int = 20  # of the fee before tip; tips go wholly to the author

    def __post_init__(self) -> None:
        for name in ("base_fee", "byte_fee", "fee_per_ns", "multiplier_ppb"):
            if getattr(self, name) < 0:
                raise ValueError(f"fees.{name} must not be negative")
        if not 0 <= self.author_share_percent <= 100:
            raise ValueError("fees.author_share_percent must be within 0..100")

    def fee(self, length: int, weight_ns: int, tip: int) -> int:
        return (self.base_fee + length * self.byte_fee
                + weight_ns * self.fee_per_ns * self.multiplier_ppb // PPB + tip)

    def split(self, fee: int, tip: int) -> tuple[int, int]:
        """(to author, to treasury): exact, nothing lost to rounding."""
        to_author = (fee - tip) * self.author_share_percent // 100 + tip
        return to_author, fee - to_author


# gRPC's default receive limit, and so the one limit of every Payable server and of the SDK: a client
# with default settings can read anything they send, the fullest block included.
MAX_WIRE_MESSAGE = 4 * 1024 * 1024
BLOCK_ENVELOPE = 256 * 1024  # header (twice: bytes and decoded), seal, hash and per-extrinsic framing


@dataclass(frozen=True)
class BlockLimits:
    max_weight_ns: int = 1_500_000_000      # 75% of 2 s of compute on the reference machine
    max_length: int = 3 * 1024 * 1024        # bytes of extrinsics per block: a full block fits one wire message
    max_extrinsic_length: int = 128 * 1024   # bytes per extrinsic
    base_extrinsic_ns: int = 100_000         # decode + signature + nonce + fee: measured p90 72 µs

    def __post_init__(self) -> None:
        if min(self.max_weight_ns, self.max_length, self.max_extrinsic_length) <= 0:
            raise ValueError("block limits must be positive")
        if self.max_extrinsic_length > self.max_length:
            raise ValueError("block.max_extrinsic_length cannot exceed block.max_length")
        if self.max_length > MAX_WIRE_MESSAGE - BLOCK_ENVELOPE:
            raise ValueError(f"block.max_length must be at most {MAX_WIRE_MESSAGE - BLOCK_ENVELOPE} bytes, so that "
                             f"any block the chain produces fits one {MAX_WIRE_MESSAGE}-byte gRPC message")
