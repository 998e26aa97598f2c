"""Run by tests/test_openlora.py in a child process with TRITON_INTERPRET=1 (it must be set before Triton
is imported): the SGMV kernels on the CPU, against the segments path, over a pool too small for all
adapters. Prints the figures as JSON; the test asserts on them.

    TRITON_INTERPRET=1 python tests/sgmv_interpreted.py BASE_DIR ADAPTER_DIR...
"""

import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gpu_worker.lora.adapters import read_adapter  # noqa: E402
from gpu_worker.lora.model import LlamaRuntime, Sequence  # noqa: E402


def main() -> None:
    base, dirs = Path(sys.argv[1]), [Path(d) for d in sys.argv[2:]]
    loras = [read_adapter(d) for d in dirs]
    kernels = LlamaRuntime(base, pool_slots=2)  # three adapters, two slots: the pool must evict and reload
    reference = LlamaRuntime(base)
    batches = [[loras[0], loras[0], loras[1], None], [loras[2], loras[1]], [loras[0], None, loras[2]]]
    prompts = [[5, 9, 17, 33, 2], [7, 7, 7], [100, 200, 3, 4, 5, 6, 7], [1, 2]]
    error, steps = 0.0, 0
    for assigned in batches:
        ordered = sorted(assigned, key=lambda a: a.hash if a else b"")
        ours, theirs = [Sequence(a, []) for a in ordered], [Sequence(a, []) for a in ordered]
        feed = prompts[:len(ordered)]
        for _ in range(3):  # a prefill, then two decode steps
            got, want = kernels.step(ours, feed, "sgmv"), reference.step(theirs, feed, "segments")
            error = max(error, float((got - want).abs().max()))
            feed = [[int(row.argmax())] for row in want]
            steps += 1
    try:
        kernels.step([Sequence(a, []) for a in loras], [[1]] * len(loras), "sgmv")
        overflow = ""
    except ValueError as exc:
        overflow = str(exc)
    print(json.dumps({"max_abs_error": error, "steps": steps, "pool_loads": kernels.pool.loads,
                      "rank": kernels.pool.rank, "overflow": overflow, "default_method": kernels.default_method}))


if __name__ == "__main__":
    torch.manual_seed(0)
    main()
