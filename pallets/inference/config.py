"""Inference pallet constants, set per chain in the chain spec's `config.inference`."""

from __future__ import annotations

from dataclasses import dataclass

from runtime.codec import ONE_OPEN


@dataclass(frozen=True)
class InferenceConfig:
    min_worker_bond: int = 100 * ONE_OPEN
    replication: int = 1               # workers assigned to each request
    deadline_blocks: int = 20          # a result must land within this many blocks
    max_inline_input: int = 4096       # bytes of input carried on chain; larger inputs go by content hash
    missed_deadline_penalty: int = ONE_OPEN  # slashed from each assigned worker that did not answer
    max_workers_per_model: int = 64    # bounds request_inference's weight
    max_input_tokens: int = 32_768     # the largest token bounds a request may escrow for
    max_new_tokens: int = 4_096

    def __post_init__(self) -> None:
        if not 1 <= self.replication <= 8:
            raise ValueError("inference.replication must be within 1..8")
        if min(self.deadline_blocks, self.max_inline_input, self.max_workers_per_model, self.max_input_tokens,
               self.max_new_tokens) < 1:
            raise ValueError("inference limits must be positive")
