"""Device choice and the torch settings that make results reproducible.

Small models on a few CPU cores are far faster single-threaded (thread hand-offs cost more than the
work), and a fixed thread count plus deterministic algorithms is what makes two runs - in two
processes - produce the same bytes.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import torch

# Process-wide torch state that jobs on several threads (fine-tuning slots, a classifier's training, the paid
# path's attributor) must take turns with: the default generator (seeded and drawn from, or each job would
# draw from the other's stream), and model construction - transformers and PEFT build modules under contexts
# that patch torch.nn for the whole process (meta-device init), so a model built on one thread while
# another loads gets parameters with no data. One lock for both, so no two orders of taking them exist.
_TORCH_GLOBALS = threading.RLock()


def pick_device(choice: str = "auto") -> torch.device:
    if choice not in ("auto", "cpu", "cuda"):
        raise ValueError(f"device must be auto, cpu or cuda, not {choice!r}")
    if choice == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("--device cuda was asked for, but torch sees no CUDA device")
    if choice == "auto":
        choice = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(choice)


def deterministic(threads: int = 1) -> None:
    """Fixed threads and deterministic kernels: same inputs, same bytes (per device kind)."""
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # cuBLAS refuses determinism without it
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True, warn_only=False)


@contextmanager
def global_rng(seed: int | None = None) -> Iterator[None]:
    """Hold torch's default generator, seeded with `seed` if given, while the block draws from it: what a
    model's initial weights or dropout take from it is then a function of the seed alone."""
    with _TORCH_GLOBALS:
        if seed is not None:
            torch.manual_seed(seed)
        yield


@contextmanager
def building_models() -> Iterator[None]:
    """Hold torch's process-wide state while a model is loaded or wrapped (`from_pretrained`, PEFT)."""
    with _TORCH_GLOBALS:
        yield
