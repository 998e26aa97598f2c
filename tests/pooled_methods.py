"""The pooled LoRA methods (`model.POOLED`) against the segments path, over a pool too small for all the
adapters: imported by tests/test_openlora.py for `bgmv`, and run by it as a script in a child process
with TRITON_INTERPRET=1 for `sgmv` (the variable must be set before Triton is imported; the kernels then
run on the CPU with NumPy). Prints the figures as JSON; the test asserts on them.

    TRITON_INTERPRET=1 python tests/pooled_methods.py sgmv BASE_DIR ADAPTER_DIR...
"""

import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gpu_worker.lora.adapters import read_adapter
from gpu_worker.lora.model import LlamaRuntime, Sequence


def compare(method: str, base: Path, dirs: list[Path]) -> dict:
    """Prefill and decode steps of mixed batches (base-model rows between adapters' rows) through `method`
    on a two-slot pool for three adapters, each against the segments path; then one step with more
    adapters than slots."""
    loras = [read_adapter(d) for d in dirs]
    pooled = LlamaRuntime(base, pool_slots=2)  # three adapters, two slots: the pool must evict and reload
    reference = LlamaRuntime(base)
    batches = [[loras[0], loras[0], loras[1], None], [loras[2], loras[1]], [loras[0], None, loras[2]]]
    prompts = [[5, 9, 17, 33, 2], [7, 7, 7], [100, 200, 3, 4, 5, 6, 7], [1, 2]]
    error, steps = 0.0, 0
    for assigned in batches:
        ordered = sorted(assigned, key=lambda a: a.hash if a else b"")
        ours, theirs = [Sequence(a, []) for a in ordered], [Sequence(a, []) for a in ordered]
        feed = prompts[:len(ordered)]
        for _ in range(3):  # a prefill, then two decode steps
            got, want = pooled.step(ours, feed, method), reference.step(theirs, feed, "segments")
            error = max(error, float((got - want).abs().max()))
            feed = [[int(row.argmax())] for row in want]
            steps += 1
    try:
        pooled.step([Sequence(a, []) for a in loras], [[1]] * len(loras), method)
        overflow = ""
    except ValueError as exc:
        overflow = str(exc)
    pool = pooled.pool(method)
    return {"max_abs_error": error, "steps": steps, "pool_loads": pool.loads, "rank": pool.rank,
            "allocated": pool.allocated, "overflow": overflow, "default_method": pooled.default_method}


if __name__ == "__main__":
    torch.manual_seed(0)
    print(json.dumps(compare(sys.argv[1], Path(sys.argv[2]), [Path(d) for d in sys.argv[3:]])))  # noqa: T201 - JSON to the test
