"""A second lane for the parts of a LoRA attribution pass that do not wait on the rest.

The worker makes each product on one thread (`device.deterministic`: a product split over threads sums in
another order, so a verifier on another machine would get other bytes). Three parts of a pass need nothing
the caller's thread is making at the time, so they go to a thread of their own - on a 2-core CPU, a core:
- a query's run without the adapter (`fine_tune_gain`'s base loss), while the traced run goes on, and its
  head after the traced run's, while the backward already runs (`lora_influence.query_projection` starts
  it before the gain is known);
- half the vocabulary of each head sweep (`swept_head`: the two halves' sums merged, always the same two);
- each layer-group's sketch, as soon as the backward has passed it (`lora_influence._Sketches`).
Every product is still made on one thread, of the same operands, in the same order, so the bytes do not
depend on which core makes them, nor on whether the lane was free (tests/test_lora_decoder.py). Measured
in one process against making all of it on one thread (bench/lora_attribution.py's facts queries, SmolLM2,
this 2-core AMD EPYC VM): 64-token answers in 0.64x the time (728 -> 462 ms p50) and 0.975x more with the
backward started early, the paid answers in 0.70x; about the same CPU in all. Attribution takes one query
at a time (paid.Attributor's lock), so one lane is all a pass shares.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

import torch

T = TypeVar("T")

_NAME = "attribution-lane"
_LANE = ThreadPoolExecutor(max_workers=1, thread_name_prefix=_NAME)


def beside(work: Callable[[], T]) -> Future[T]:
    """`work` started on the second lane, with the caller's thread count for its products (OpenMP's is per
    thread: a new thread would start at the core count) and building no graph (grad mode is per thread: off
    there). Asked for on the lane itself (the run without the adapter sweeps its head as every run does), it
    is done there and then: a lane cannot wait for itself."""
    threads = torch.get_num_threads()
    if threading.current_thread().name.startswith(_NAME):
        done: Future[T] = Future()
        done.set_result(_run(work, threads))
        return done
    return _LANE.submit(_run, work, threads)


def _run(work: Callable[[], T], threads: int) -> T:
    torch.set_num_threads(threads)
    with torch.no_grad():
        return work()
