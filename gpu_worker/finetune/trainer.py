"""The LoRA training loop: deterministic, checkpointed, resumable to the same bytes.

Why not `transformers.Trainer`: resuming it after a kill gives a different adapter (its data order
depends on sampler state it does not fully restore, and LLaMA-Factory's users report resume as broken,
#3660/#9766), and its per-step machinery costs throughput on small models. Here everything a step
depends on is a function of (seed, step) or is in the checkpoint:
- the data order of epoch e is a permutation drawn from a generator seeded with (seed, e);
- the LoRA factors' initial values come from the seed;
- a checkpoint holds the adapter weights, AdamW's moments, and the RNG state that dropout draws from;
- the learning rate is a pure function of the step.
So a run resumed from step k computes exactly what the uninterrupted run computed after step k, and
on the same device kind and thread count the adapter's bytes are equal (tests/test_finetune_engine.py
kills a worker with SIGKILL to check it).
"""

from __future__ import annotations

import json
import math
import os
import shutil
import time
import warnings
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from itertools import accumulate
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from ..device import building_models, global_rng
from ..frozen_base import arrange
from ..rows import IGNORE, Example, collate
from .config import TrainingConfig, lr_at

ADAPTER_CONFIG, ADAPTER_WEIGHTS = "adapter_config.json", "adapter_model.safetensors"
LLAMA_FAMILY = ("llama", "mistral", "qwen2")
# PEFT asks transformers a deprecated question on every wrap; the answer is right, the warning is noise
warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)


class Aborted(Exception):
    """The job was asked to stop; its last checkpoint stays, so it can be resumed."""


@dataclass
class Outcome:
    steps: int
    train_loss: float
    eval_loss: float | None
    base_eval_loss: float | None
    adapter_dir: Path


def load_tokenizer(directory: Path):
    """A LLaMA-family base's tokenizer (with a pad token), without its weights: enough to map and count rows."""
    from transformers import AutoTokenizer

    config = json.loads((directory / "config.json").read_text())
    if config.get("model_type") not in LLAMA_FAMILY:
        raise ValueError(f"the base is a {config.get('model_type')!r} model; ModelFactory fine-tunes LLaMA-family "
                         f"models ({', '.join(LLAMA_FAMILY)})")
    tokenizer = AutoTokenizer.from_pretrained(directory)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_base(directory: Path, device: torch.device | str = "cpu"):
    """The base model (fp32, eval mode) and its tokenizer from a Hugging Face directory; LLaMA family only.
    Built under `building_models`, the first import of transformers' lazy modules included: two threads
    importing them at once got "cannot import name 'AutoModelForCausalLM'"."""
    with building_models():
        from transformers import AutoModelForCausalLM
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # a worker's log and the demo's story are not progress-bar terminals
        tokenizer = load_tokenizer(directory)
        model = AutoModelForCausalLM.from_pretrained(directory, dtype=torch.float32).to(device)
    return model.eval(), tokenizer


def lora_model(base, config: TrainingConfig):
    """Wrap the base with fresh LoRA factors drawn from the seed."""
    from peft import LoraConfig, get_peft_model

    targets: str | list[str] = list(config.target_modules)
    if config.target_modules == ("all-linear",):
        # PEFT takes "all-linear" only for every layer; for some layers it needs the names spelled out
        targets = sorted({name.rsplit(".", 1)[-1] for name, module in base.named_modules()
                          if isinstance(module, torch.nn.Linear) and not name.endswith("lm_head")}) \
            if config.top_layers else "all-linear"
    layers = base.config.num_hidden_layers
    if config.top_layers > layers:
        raise ValueError(f"top_layers is {config.top_layers} but the base has {layers} layers")
    adapted = list(range(layers - config.top_layers, layers)) if config.top_layers else None
    lora = LoraConfig(r=config.rank, lora_alpha=config.alpha, lora_dropout=config.dropout, target_modules=targets,
                      bias="none", task_type="CAUSAL_LM", layers_to_transform=adapted)
    try:
        with global_rng(config.seed):
            return get_peft_model(base, lora)
    except ValueError as exc:
        raise ValueError(f"target_modules {list(config.target_modules)}: {exc}") from exc


def shared_prefix(batch: dict[str, torch.Tensor]) -> int:
    """How many leading tokens every row of the batch has in common, short of the shortest row's last token:
    a chat template's system prompt and turn header, 24 of SmolLM2's ~57 tokens per fact row."""
    ids, mask = batch["input_ids"], batch["attention_mask"]
    if ids.shape[0] < 2:
        return 0
    differs = (~((ids == ids[:1]) & (mask == 1)).all(dim=0)).nonzero()
    return min(int(differs[0]) if len(differs) else ids.shape[1], int(mask.sum(dim=1).min()) - 1)


def _hidden_at(causal, batch: dict[str, torch.Tensor], rows: torch.Tensor, cols: torch.Tensor) -> torch.Tensor:
    """The decoder's last hidden states at positions (rows[i], cols[i]), computed without padding and with the
    batch's common prefix run once: the prefix as one sequence whose keys and values the rest attend to,
    then every row's remainder packed into one sequence, each seeing the prefix and its own earlier tokens
    (a block-causal mask) at its own positions. Causal attention makes each token's state a function of
    its own row's earlier tokens alone, so this is the same function as the padded batch (gradients from
    every row meet in the one prefix pass); pads are never computed."""
    from transformers import DynamicCache

    decoder = causal.get_decoder()
    ids, mask = batch["input_ids"], batch["attention_mask"]
    device, prefix = ids.device, shared_prefix(batch)
    lengths = mask.sum(dim=1).tolist()
    cache = DynamicCache(config=causal.config)
    states = []
    if prefix:
        states.append(decoder(input_ids=ids[:1, :prefix], cache=cache, use_cache=True).last_hidden_state[0])
    tails = [torch.arange(prefix, n, device=device) for n in lengths]
    owner = torch.cat([torch.full((len(t),), i, device=device) for i, t in enumerate(tails)])
    positions = torch.cat(tails)
    visible = (owner[:, None] == owner[None, :]) & (positions[:, None] >= positions[None, :])
    visible = torch.cat([torch.ones(len(owner), prefix, dtype=torch.bool, device=device), visible], dim=1)
    packed = torch.cat([ids[i, prefix:n] for i, n in enumerate(lengths)])
    states.append(decoder(input_ids=packed[None], attention_mask=visible[None, None], position_ids=positions[None],
                          cache=cache if prefix else None, use_cache=bool(prefix)).last_hidden_state[0])
    starts = torch.tensor(list(accumulate((n - prefix for n in lengths[:-1]), initial=0)), device=device)
    index = torch.where(cols < prefix, cols, prefix + starts[rows] + cols - prefix)
    return torch.cat(states)[index]


def token_loss(model, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, int]:
    """Mean next-token cross-entropy over the labelled tokens, and how many tokens it covers.

    The same loss as the model's own (`labels=`: fp32 logits, mean over labelled positions), computed for
    less: the vocabulary projection runs on the labelled positions only (a chat row's answer is a quarter
    of its tokens, and SmolLM2's 49k-word head is a fifth of its forward), the batch's shared prefix
    runs once and padding not at all (`_hidden_at`). Only LLaMA-family decoders come here (`load_tokenizer`
    refuses others), which have no logit soft-capping or scaling between the decoder and the head."""
    targets = batch["labels"][:, 1:]
    keep = targets != IGNORE
    count = int(keep.sum())
    if count == 0:
        return torch.zeros((), requires_grad=True), 0
    causal = model.get_base_model() if hasattr(model, "get_base_model") else model
    rows, cols = keep.nonzero(as_tuple=True)
    hidden = _hidden_at(causal, batch, rows, cols)
    logits = causal.get_output_embeddings()(hidden).float()
    return torch.nn.functional.cross_entropy(logits, targets[keep]), count


@torch.no_grad()
def evaluate(model, examples: list[Example], pad_id: int, batch_size: int, device) -> float | None:
    """Mean token cross-entropy (nats) on held-out examples; None when there are none."""
    if not examples:
        return None
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    for start in range(0, len(examples), batch_size):
        loss, n = token_loss(model, collate(examples[start:start + batch_size], pad_id, device))
        total, count = total + float(loss) * n, count + n
    model.train(was_training)
    return total / max(count, 1)


def micro_batch(examples: list[Example], config: TrainingConfig, index: int) -> list[Example]:
    """The `index`-th micro-batch of the run: a pure function of (seed, index) - resume needs no sampler state."""
    per_epoch = math.ceil(len(examples) / config.batch_size)
    epoch, position = divmod(index, per_epoch)
    order = torch.randperm(len(examples), generator=torch.Generator().manual_seed(config.seed * 1_000_003 + epoch))
    picked = order[position * config.batch_size:(position + 1) * config.batch_size]
    return [examples[i] for i in picked.tolist()]


def save_adapter(model, config: TrainingConfig, directory: Path) -> None:
    """PEFT's format with canonical bytes: sorted JSON naming the base by its hash, sorted safetensors."""
    from peft import get_peft_model_state_dict

    tmp = directory.with_name(directory.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    peft_config = model.peft_config["default"].to_dict()
    peft_config["base_model_name_or_path"] = f"payable:{config.base_model}"
    peft_config = {k: sorted(v) if isinstance(v, set) else v for k, v in peft_config.items()}
    (tmp / ADAPTER_CONFIG).write_text(json.dumps(peft_config, sort_keys=True, indent=2, default=str) + "\n")
    state = {k: v.detach().to("cpu").contiguous() for k, v in sorted(get_peft_model_state_dict(model).items())}
    save_file(state, tmp / ADAPTER_WEIGHTS, metadata={"format": "pt"})
    shutil.rmtree(directory, ignore_errors=True)
    os.replace(tmp, directory)


class Checkpoints:
    """checkpoints/step-N/ under the job: written to a temporary name and renamed, so a kill mid-write
    leaves the previous checkpoint intact; the last two are kept."""

    def __init__(self, root: Path):
        self.root = root / "checkpoints"
        self.root.mkdir(parents=True, exist_ok=True)

    def latest(self) -> tuple[int, Path] | None:
        done = sorted((int(p.name[5:]), p) for p in self.root.glob("step-*") if p.name[5:].isdigit())
        return done[-1] if done else None

    def save(self, step: int, model, optimizer) -> None:
        from peft import get_peft_model_state_dict

        tmp = self.root / f".step-{step}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        save_file({k: v.detach().to("cpu").contiguous() for k, v in get_peft_model_state_dict(model).items()},
                  tmp / "adapter.safetensors")
        torch.save({"optimizer": optimizer.state_dict(), "rng": torch.get_rng_state(), "step": step},
                   tmp / "state.pt")
        os.replace(tmp, self.root / f"step-{step}")
        for old in sorted(self.root.glob("step-*"), key=lambda p: int(p.name[5:]))[:-2]:
            shutil.rmtree(old, ignore_errors=True)

    def restore(self, path: Path, model, optimizer, rng: bool) -> int:
        """Load a checkpoint; `rng`: also put back the default generator's state (a run with dropout, which
        holds the generator - a run without must not move another thread's stream)."""
        from peft import set_peft_model_state_dict

        set_peft_model_state_dict(model, load_file(path / "adapter.safetensors"))
        state = torch.load(path / "state.pt", weights_only=False)
        optimizer.load_state_dict(state["optimizer"])
        if rng:
            torch.set_rng_state(state["rng"])
        return int(state["step"])


def train(config: TrainingConfig, base, tokenizer, train_set: list[Example], eval_set: list[Example], job_dir: Path,
          *, report: Callable[[dict], None], stop: Callable[[], bool] = lambda: False, resume: bool = False,
          device: torch.device | str = "cpu") -> Outcome:
    """Train (or resume) the job in `job_dir`; `report` gets one progress point per optimizer step. With dropout,
    the run holds torch's default generator throughout (dropout draws from it at every step, and a checkpoint
    keeps its state), so a job on another thread cannot move its stream."""
    if not train_set:
        raise ValueError("the training split is empty: the snapshots map to no usable rows")
    with global_rng() if config.dropout else nullcontext():
        return _train(config, base, tokenizer, train_set, eval_set, job_dir, report, stop, resume, device)


def _train(config: TrainingConfig, base, tokenizer, train_set: list[Example], eval_set: list[Example], job_dir: Path,
           report: Callable[[dict], None], stop: Callable[[], bool], resume: bool,
           device: torch.device | str) -> Outcome:
    model = lora_model(base, config)
    if config.base_dtype != "float32":  # a float32 config trains as before the layout existed: same bytes
        arrange(model, config.base_dtype, transposed_head=False)
    params = [p for p in model.parameters() if p.requires_grad]
    # fused AdamW (one kernel over all LoRA factors; what transformers.Trainer uses too): 5x faster steps of
    # the optimizer than the per-tensor loop, and as deterministic
    optimizer = torch.optim.AdamW(params, lr=config.learning_rate, weight_decay=config.weight_decay, fused=True)
    checkpoints = Checkpoints(job_dir)
    total = config.steps_for(len(train_set))
    pad = tokenizer.pad_token_id
    first = 0
    base_eval = None
    latest = checkpoints.latest() if resume else None
    if latest is not None:
        first = checkpoints.restore(latest[1], model, optimizer, rng=bool(config.dropout))
    else:
        base_eval = evaluate(model, eval_set, pad, config.batch_size, device)
        report({"step": 0, "total_steps": total, "eval_loss": base_eval, "base_eval_loss": base_eval})
        if config.dropout:
            torch.manual_seed(config.seed)  # dropout's stream starts here, whatever evaluation consumed
    model.train()
    started, tokens, loss_value, eval_loss = time.perf_counter(), 0, float("nan"), None
    for step in range(first, total):
        if stop():
            raise Aborted(f"stopped before step {step + 1}")
        for group in optimizer.param_groups:
            group["lr"] = lr_at(config, step, total)
        optimizer.zero_grad(set_to_none=True)
        step_loss, step_count = 0.0, 0
        for k in range(config.grad_accum):
            batch = collate(micro_batch(train_set, config, step * config.grad_accum + k), pad, device)
            loss, count = token_loss(model, batch)
            (loss / config.grad_accum).backward()
            step_loss, step_count = step_loss + float(loss.detach()) * count, step_count + count
            tokens += int(batch["attention_mask"].sum())
        optimizer.step()
        loss_value = step_loss / max(step_count, 1)
        done = step + 1
        elapsed = time.perf_counter() - started
        point = {"step": done, "total_steps": total, "loss": loss_value, "lr": lr_at(config, step, total),
                 "epoch": done * config.batch_size * config.grad_accum / len(train_set),
                 "tokens_per_s": tokens / elapsed if elapsed else 0.0,
                 "eta_s": elapsed / (done - first) * (total - done)}
        if done % config.eval_every == 0 or done == total:
            eval_loss = evaluate(model, eval_set, pad, config.batch_size, device)
            point["eval_loss"] = eval_loss
        report(point)  # before the checkpoint: a kill between the two resumes from the one before, and
        # recomputes this point; the other order could leave a checkpoint whose step's point was never written
        if done % config.checkpoint_every == 0 and done < total:
            checkpoints.save(done, model, optimizer)
    adapter_dir = job_dir / "adapter"
    save_adapter(model, config, adapter_dir)
    return Outcome(total, loss_value, eval_loss, base_eval, adapter_dir)
