"""A fine-tuning job's full configuration: what the chain records, by hash, and what `verify` re-runs.

The defaults are ModelFactory's one declaration, `sdk.modelfactory.Hyperparameters` (its docstring says
why each is what it is), which the studio's form and `payable finetune` read too.

The config is canonical JSON (sorted keys, no floats that do not round-trip), with the library
versions that shape the bytes of the result; its blake2b-256 is the training-config hash.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, replace

from runtime.crypto import blake2_256
from sdk.modelfactory import DEFAULTS

from ..frozen_base import BASE_DTYPES
from .dataset import DatasetSpec, SpecError

SCHEDULES = ("cosine", "linear", "constant")


def library_versions() -> dict[str, str]:
    import peft
    import safetensors
    import tokenizers
    import torch
    import transformers

    return {"peft": peft.__version__, "safetensors": safetensors.__version__, "tokenizers": tokenizers.__version__,
            "torch": torch.__version__.split("+")[0], "transformers": transformers.__version__}


@dataclass(frozen=True)
class TrainingConfig:
    base_model: str                    # the base's artifact hash (hex): its manifest in the content store
    dataset: DatasetSpec
    rank: int = DEFAULTS.rank
    alpha: int = DEFAULTS.alpha
    dropout: float = DEFAULTS.dropout
    target_modules: tuple[str, ...] = DEFAULTS.target_modules
    top_layers: int = DEFAULTS.top_layers          # LoRA on the last N layers only (0: all); see sdk.modelfactory
    learning_rate: float = DEFAULTS.learning_rate
    schedule: str = DEFAULTS.schedule
    warmup_ratio: float = DEFAULTS.warmup_ratio
    epochs: int = DEFAULTS.epochs
    max_steps: int = DEFAULTS.max_steps                # 0: epochs decide, capped at 200
    batch_size: int = DEFAULTS.batch_size
    grad_accum: int = DEFAULTS.grad_accum
    cutoff: int = DEFAULTS.cutoff                      # tokens per example
    weight_decay: float = DEFAULTS.weight_decay
    seed: int = DEFAULTS.seed
    checkpoint_every: int = DEFAULTS.checkpoint_every  # optimizer steps
    eval_every: int = DEFAULTS.eval_every
    # the precision the frozen base layers are held in (`gpu_worker.frozen_base`): part of what the adapter's
    # bytes are a function of, so recorded; a job asked for without one gets its worker's native one
    # (`FinetuneEngine.config_from`), a config recorded before the option existed is float32
    base_dtype: str = "float32"
    libraries: dict = field(default_factory=library_versions)

    def __post_init__(self) -> None:
        checks = [
            (len(bytes.fromhex(self.base_model)) == 32 if _hex(self.base_model) else False,
             "base_model must be the base model's 64-hex-digit artifact hash"),
            (1 <= self.rank <= 256, "rank must be within 1..256"),
            (0 < self.alpha <= 1024, "alpha must be within 1..1024"),
            (0.0 <= self.dropout < 1.0, "dropout must be within [0, 1)"),
            (bool(self.target_modules), "target_modules must name at least one module (or all-linear)"),
            (0 <= self.top_layers <= 1024, "top_layers must be within 0..1024 (0: every layer)"),
            (0 < self.learning_rate <= 0.1, "learning_rate must be within (0, 0.1]"),
            (self.schedule in SCHEDULES, f"schedule must be one of {SCHEDULES}"),
            (0.0 <= self.warmup_ratio <= 0.5, "warmup_ratio must be within [0, 0.5]"),
            (1 <= self.epochs <= 100, "epochs must be within 1..100"),
            (0 <= self.max_steps <= 100_000, "max_steps must be within 0..100000"),
            (1 <= self.batch_size <= 256, "batch_size must be within 1..256"),
            (1 <= self.grad_accum <= 256, "grad_accum must be within 1..256"),
            (8 <= self.cutoff <= 8192, "cutoff must be within 8..8192 tokens"),
            (0.0 <= self.weight_decay <= 1.0, "weight_decay must be within [0, 1]"),
            (0 <= self.seed < 2**63, "seed must be a non-negative 63-bit integer"),
            (1 <= self.checkpoint_every <= 100_000, "checkpoint_every must be at least 1 step"),
            (1 <= self.eval_every <= 100_000, "eval_every must be at least 1 step"),
            (self.base_dtype in BASE_DTYPES, f"base_dtype must be one of {sorted(BASE_DTYPES)}"),
        ]
        for ok, message in checks:
            if not ok:
                raise SpecError(message)

    def steps_for(self, train_examples: int) -> int:
        """Optimizer steps: max_steps, or the epochs' worth of the training split (at most 200)."""
        if self.max_steps:
            return self.max_steps
        per_epoch = math.ceil(train_examples / (self.batch_size * self.grad_accum))
        return max(1, min(200, per_epoch * self.epochs))

    def to_dict(self) -> dict:
        data = asdict(self)
        data["dataset"] = self.dataset.to_dict()
        data["target_modules"] = list(self.target_modules)
        if not self.top_layers:
            del data["top_layers"]  # configs recorded before the option existed keep their bytes and hash
        if self.base_dtype == "float32":
            del data["base_dtype"]  # likewise
        return data

    def to_json(self) -> bytes:
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":")).encode()

    def hash(self) -> bytes:
        return blake2_256(self.to_json())

    @classmethod
    def from_dict(cls, data: dict, *, libraries: dict | None = None) -> TrainingConfig:
        """A config from JSON data; hyper-parameters left out take their defaults. `libraries` (kept from the
        data when recorded) says which versions produced - or must reproduce - the adapter."""
        known = {f for f in cls.__dataclass_fields__}
        unknown = sorted(set(data) - known)
        if unknown:
            raise SpecError(f"unknown training config keys {unknown}")
        if "base_model" not in data or "dataset" not in data:
            raise SpecError("a training config needs base_model and dataset")
        values = dict(data)
        values["dataset"] = DatasetSpec.from_dict(data["dataset"])
        if "target_modules" in values:
            values["target_modules"] = tuple(values["target_modules"])
        types = {"rank": int, "alpha": int, "top_layers": int,
                 "epochs": int, "max_steps": int, "batch_size": int, "grad_accum": int,
                 "cutoff": int, "seed": int, "checkpoint_every": int, "eval_every": int, "dropout": float,
                 "learning_rate": float, "warmup_ratio": float, "weight_decay": float}
        try:
            for key, kind in types.items():
                if key in values:
                    values[key] = kind(values[key])
        except (TypeError, ValueError) as exc:
            raise SpecError(f"a hyper-parameter has the wrong type: {exc}") from exc
        config = cls(**values)
        return replace(config, libraries=libraries) if libraries is not None else config

    @classmethod
    def from_json(cls, raw: bytes | str) -> TrainingConfig:
        """Exactly a recorded config (its library versions kept, so its hash is unchanged)."""
        data = json.loads(raw)
        return cls.from_dict(data, libraries=data.get("libraries"))


def _hex(text: str) -> bool:
    try:
        bytes.fromhex(text)
        return True
    except (TypeError, ValueError):
        return False


def lr_at(config: TrainingConfig, step: int, total: int) -> float:
    """The learning rate of optimizer step `step` (0-based): linear warm-up, then the schedule."""
    warmup = int(total * config.warmup_ratio)
    if step < warmup:
        return config.learning_rate * (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    if config.schedule == "cosine":
        return config.learning_rate * 0.5 * (1 + math.cos(math.pi * progress))
    if config.schedule == "linear":
        return config.learning_rate * (1 - progress)
    return config.learning_rate


@dataclass(frozen=True)
class Estimate:
    steps: int
    train_tokens: int
    trainable_params: int
    memory_bytes: int
    seconds: float

    def to_dict(self) -> dict:
        return asdict(self)


def estimate(config: TrainingConfig, model_config: dict, train_examples: int, mean_tokens: float,
             tokens_per_s: float | None = None) -> Estimate:
    """Memory and time before starting. Memory: fp32 base weights + LoRA weights with AdamW's two moments
    and gradients + activations of one micro-batch (≈ 34·h·tokens·layers bytes, the Megatron estimate for
    a transformer layer without recomputation, plus the vocab-sized logits). Time: tokens over a
    throughput - measured on this worker when known, else a FLOP count at 5 GFLOP/s, a cautious CPU (2 per
    parameter forward, 4 backward through the adapted layers only: `top_layers` stops the backward early)."""
    h, vocab = model_config["hidden_size"], model_config["vocab_size"]
    layers, per_layer, base_params = _shapes(model_config)
    adapted = config.top_layers or layers  # backward stops below the lowest adapted layer
    trainable = adapted * sum(config.rank * (i + o) for i, o in per_layer)
    steps = config.steps_for(train_examples)
    tokens_per_step = config.batch_size * config.grad_accum * min(mean_tokens, config.cutoff)
    micro_tokens = config.batch_size * min(mean_tokens, config.cutoff)
    activations = int(34 * h * micro_tokens * layers + 8 * micro_tokens * vocab)
    memory = 4 * base_params + 16 * trainable + activations
    total_tokens = int(steps * tokens_per_step)
    throughput = tokens_per_s or 5e9 / flops_per_token(config, model_config)
    return Estimate(steps, total_tokens, trainable, memory, total_tokens / throughput)


def flops_per_token(config: TrainingConfig, model_config: dict) -> float:
    """A training token's arithmetic: 2 per base parameter forward, 4 backward through the adapted layers
    (`top_layers` stops the backward early) - what scales a rate measured under one config to another."""
    layers, _, base_params = _shapes(model_config)
    return (2 + 4 * (config.top_layers or layers) / layers) * base_params


def _shapes(model_config: dict) -> tuple[int, list[tuple[int, int]], int]:
    """(layers, each layer's projections as (in, out), the base's parameter count) of a LLaMA-style config."""
    h = model_config["hidden_size"]
    layers = model_config["num_hidden_layers"]
    inter = model_config.get("intermediate_size", 4 * h)
    heads = model_config["num_attention_heads"]
    kv = model_config.get("num_key_value_heads", heads)
    head_dim = model_config.get("head_dim") or h // heads
    per_layer = [(h, heads * head_dim), (h, kv * head_dim), (h, kv * head_dim), (heads * head_dim, h),
                 (h, inter), (h, inter), (inter, h)]
    base_params = layers * (sum(i * o for i, o in per_layer) + 2 * h) + 2 * model_config["vocab_size"] * h + h
    return layers, per_layer, base_params
