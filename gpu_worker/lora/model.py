"""A LLaMA-family causal LM over Hugging Face weights, batched across requests and LoRA adapters.

The base model is read from a local Hugging Face directory (config.json + model.safetensors, or its
shards; nothing downloaded) and run by this module's own forward, so that KV caches stay per request and one batch
can mix requests that use different adapters:

- every Linear runs once for the whole batch (all rows of all requests),
- then each adapter adds its low-rank term to its own rows: requests are sorted by adapter so each
  adapter's rows are one contiguous segment (`segments`: two matmuls per segment), or every row
  gathers its own adapter's factors from resident adapter slots in two embedding-bag reductions per
  module (`bgmv`, bgmv.py: the CPU's default), or, on a GPU, Punica's SGMV kernels add every
  segment's term in two launches per module from device-resident slots (`sgmv`, sgmv.py; the slots:
  pool.py) - bench/openlora.py measures them side by side,
- attention reads each request's own KV cache (kv_cache.py): in a decode step (one new token per
  request) as one attention over all the caches padded to the longest, otherwise request by request.
  On the CPU a decode step pads only short caches: padding copies every cache every step, which past
  `PAD_BELOW` positions costs more than the loop over requests (one layer, 64 requests, hidden 256:
  padded 0.9 / 9.9 / 54 ms, the loop 2.4 / 2.8 / 4.8 ms with 9 / 128 / 512 positions cached). On a
  GPU copies are cheap and each request's attention is kernel launches, so a decode step always pads.
Outputs equal the single-adapter forward (PEFT's, or the base model's) within float tolerance - and,
with `batch_invariant` (what paid, replicated generation uses), bit for bit whatever else shares the
batch: a CPU matmul picks its kernel (and so its rounding) by the number of rows, so every matmul runs
on a row count padded to a multiple of `ROW_BLOCK`, where a row's result depends on that row alone
(bgmv's embedding bags need no padding: each row's bag is reduced on its own); tests/test_openlora.py
and tests/test_paid_generation.py check a request alone against the same request in mixed batches.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors.torch import load_file

from . import bgmv, sgmv
from .adapters import AdapterError, LoRA
from .kv_cache import KVCache
from .pool import AdapterPool

ROW_BLOCK = 16
PAD_BELOW = 32  # on the CPU, a decode step pads its caches into one attention while all are shorter than this
METHODS = ("segments", "bgmv", "sgmv")
POOLED = ("bgmv", "sgmv")  # the methods that read adapters from the runtime's resident slots
# the linears a step adds an adapter's terms to: a LoRA anywhere else (the head, the embeddings) would be
# silently left out of every answer, so an adapter carrying one is refused
SERVED = re.compile(r"model\.layers\.\d+\.(?:self_attn\.[qkvo]_proj|mlp\.(?:gate|up|down)_proj)")


def _shards(directory: Path) -> list[Path]:
    """The checkpoint's safetensors files: one, or the shards its index names (as `save_pretrained` writes)."""
    index = directory / "model.safetensors.index.json"
    if index.exists():
        return [directory / name for name in sorted(set(json.loads(index.read_text())["weight_map"].values()))]
    return [directory / "model.safetensors"]


def _padded_mm(x: torch.Tensor, w_t: torch.Tensor) -> torch.Tensor:
    """x @ w_t on a row count padded to a multiple of ROW_BLOCK (same kernel, so same rounding, per row)."""
    rows = x.shape[0]
    padded = -(-rows // ROW_BLOCK) * ROW_BLOCK
    if padded == rows:
        return x @ w_t
    return (torch.cat([x, x.new_zeros(padded - rows, x.shape[1])]) @ w_t)[:rows]


@dataclass
class Sequence:
    """One request's state: its adapter (None: the base model), tokens so far and its KV cache."""

    adapter: LoRA | None
    tokens: list[int]
    cache: KVCache = field(default_factory=KVCache)

    @property
    def cached(self) -> int:
        return len(self.cache)


@dataclass
class _Mix:
    """How one step adds the adapters' terms: its (adapter, start, end) segments, and for a pooled method
    its pool, the segments with an adapter as that method takes them (pool slots) and its `add_lora`."""

    segments: list[tuple[LoRA | None, int, int]]
    pool: AdapterPool | None = None
    slotted: sgmv.Segments | bgmv.Rows | None = None
    add: Callable | None = None


class LlamaRuntime:
    def __init__(self, directory: str | Path, device: torch.device | str = "cpu", dtype=torch.float32,
                 batch_invariant: bool = False, pool_slots: int = 128):
        """`pool_slots`: how many adapters a pooled method (`POOLED`) keeps resident at once."""
        directory = Path(directory)
        self.batch_invariant = batch_invariant
        self.mm = _padded_mm if batch_invariant else torch.matmul
        config = json.loads((directory / "config.json").read_text())
        if config.get("model_type") not in ("llama", "mistral", "qwen2"):
            raise ValueError(f"unsupported model_type {config.get('model_type')!r} (LLaMA-family models only)")
        self.device, self.dtype = torch.device(device), dtype
        weights = {}
        for shard in _shards(directory):
            weights.update(load_file(shard, device=str(self.device)))
        self.w = {k: v.to(dtype) for k, v in weights.items()}
        if "lm_head.weight" not in self.w:  # tied embeddings
            self.w["lm_head.weight"] = self.w["model.embed_tokens.weight"]
        self.layers = config["num_hidden_layers"]
        self.heads = config["num_attention_heads"]
        self.kv_heads = config.get("num_key_value_heads", self.heads)
        self.head_dim = config.get("head_dim") or config["hidden_size"] // self.heads
        self.eps = config.get("rms_norm_eps", 1e-6)
        theta = config.get("rope_theta") or (config.get("rope_parameters") or {}).get("rope_theta", 10000.0)
        self.inv_freq = 1.0 / (theta ** (torch.arange(0, self.head_dim, 2, device=self.device).float() / self.head_dim))
        self.vocab = config["vocab_size"]
        self.max_positions: int | None = config.get("max_position_embeddings")  # the context it was made for
        self.pool_slots = pool_slots
        self.pad_below = PAD_BELOW if self.device.type == "cpu" else float("inf")
        self.pools: dict[str, AdapterPool] = {}  # per pooled method: each reads its own layout

    def check(self, adapter: LoRA) -> None:
        """Refuse an adapter that does not fit this base (a module it lacks, or other widths), before a step
        would fail on it for every request in the batch."""
        for name, (a, b) in adapter.factors.items():
            if not SERVED.fullmatch(name):
                raise AdapterError(f"adapter {adapter.hash.hex()} has a LoRA on {name}; OpenLoRA serves adapters on "
                                   "the decoder's projections (q, k, v, o, gate, up, down) only")
            weight = self.w.get(f"{name}.weight")
            if weight is None or weight.dim() != 2:
                raise AdapterError(f"adapter {adapter.hash.hex()} targets {name}, which this base model lacks")
            if a.shape[1] != weight.shape[1] or b.shape[0] != weight.shape[0]:
                raise AdapterError(f"adapter {adapter.hash.hex()}: {name} is {a.shape[1]}→{b.shape[0]} in the "
                                   f"adapter but {weight.shape[1]}→{weight.shape[0]} in this base model")

    @property
    def default_method(self) -> str:
        """What a batcher uses unless told: the SGMV kernels where they run (a GPU with Triton), else bgmv."""
        return "sgmv" if sgmv.available(self.device) else "bgmv"

    def pool(self, method: str) -> AdapterPool:
        """The resident adapter slots of a pooled method, made on first use."""
        if method not in self.pools:
            shapes = {name[:-len(".weight")]: (w.shape[1], w.shape[0]) for name, w in self.w.items()
                      if name.startswith("model.layers.") and name.endswith(".weight") and w.dim() == 2}
            self.pools[method] = AdapterPool(shapes, self.pool_slots, self.device, self.dtype, self.check,
                                             transposed=method == "bgmv")
        return self.pools[method]

    def _mix(self, segments: list[tuple[LoRA | None, int, int]], method: str, rows: int) -> _Mix:
        if method not in METHODS:
            raise ValueError(f"unknown LoRA method {method!r}; known: {METHODS}")
        if method not in POOLED:
            return _Mix(segments)
        if method == "sgmv" and not sgmv.available(self.device):
            raise ValueError(f"the sgmv method needs a CUDA device with Triton (this runtime is on {self.device})")
        pool = self.pool(method)
        active = [(a, s, e) for a, s, e in segments if a is not None]
        slots = pool.slots([a for a, _, _ in active])
        spans = [(s, e, slot) for (_, s, e), slot in zip(active, slots, strict=True)]
        if method == "sgmv":
            return _Mix(segments, pool, sgmv.Segments.of(spans, self.device), sgmv.add_lora)
        return _Mix(segments, pool, bgmv.Rows(spans, rows, self.device), bgmv.add_lora)

    # --- building blocks -------------------------------------------------------------------------
    def _norm(self, x: torch.Tensor, name: str) -> torch.Tensor:
        x32 = x.float()
        x32 = x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.w[name] * x32.to(self.dtype)

    def _linear(self, x: torch.Tensor, name: str, mix: _Mix) -> torch.Tensor:
        out = self.mm(x, self.w[f"{name}.weight"].T)
        bias = self.w.get(f"{name}.bias")
        if bias is not None:
            out = out + bias
        if mix.pool is not None:
            if name in mix.pool.a:
                mix.add(out, x.contiguous(), mix.pool.a[name], mix.pool.b[name], mix.slotted)
            return out
        for adapter, start, end in mix.segments:
            if adapter is not None and name in adapter.factors:
                a, b = adapter.factors[name]
                out[start:end] += self.mm(self.mm(x[start:end], a.T), b.T) * adapter.scaling
        return out

    def _rotate(self, x: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        freqs = positions[:, None].float() * self.inv_freq[None]
        emb = torch.cat([freqs, freqs], dim=-1)
        cos, sin = emb.cos().to(x.dtype), emb.sin().to(x.dtype)
        half = x.shape[-1] // 2
        rotated = torch.cat([-x[..., half:], x[..., :half]], dim=-1)
        return x * cos[:, None, :] + rotated * sin[:, None, :]

    def _repeat_kv(self, x: torch.Tensor, dim: int) -> torch.Tensor:
        """Keys or values repeated along their head dimension to the query heads (grouped-query attention)."""
        repeat = self.heads // self.kv_heads
        return x if repeat == 1 else x.repeat_interleave(repeat, dim)

    def _attend_each(self, layer: int, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
                     sequences: list[Sequence], spans: list[tuple[int, int]]) -> torch.Tensor:
        """Attention request by request, each against its own KV cache (which grows by its new rows)."""
        attended = torch.empty_like(q)
        for seq, (start, end) in zip(sequences, spans, strict=True):
            k_all, v_all = seq.cache.append(layer, k[start:end], v[start:end])  # [T, kv, hd]
            k_all = self._repeat_kv(k_all.transpose(0, 1), 0)  # [heads, T, hd]
            v_all = self._repeat_kv(v_all.transpose(0, 1), 0)
            qs = q[start:end].transpose(0, 1)  # [heads, t, hd]
            scores = qs @ k_all.transpose(1, 2) / self.head_dim ** 0.5
            total, t = k_all.shape[1], end - start
            if t > 1:  # a single new position sees every cached one
                mask = torch.ones(t, total, dtype=torch.bool, device=self.device).tril(total - t)
                scores = scores.masked_fill(~mask, float("-inf"))
            attended[start:end] = (scores.softmax(-1) @ v_all).transpose(0, 1)
        return attended

    def _attend_decode(self, layer: int, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
                       sequences: list[Sequence], padding: torch.Tensor) -> torch.Tensor:
        """One new token per request: the caches grow by one position each, then one attention over all of
        them padded to the longest; `padding` [requests, longest] marks the positions to mask out."""
        cached = [seq.cache.append(layer, k[i:i + 1], v[i:i + 1]) for i, seq in enumerate(sequences)]
        pad = torch.nn.utils.rnn.pad_sequence
        keys = pad([k_all for k_all, _ in cached], batch_first=True)  # [B, T, kv, hd]
        values = pad([v_all for _, v_all in cached], batch_first=True)
        keys = self._repeat_kv(keys.permute(0, 2, 1, 3), 1)  # [B, heads, T, hd]
        values = self._repeat_kv(values.permute(0, 2, 1, 3), 1)
        scores = (q[:, :, None, :] @ keys.transpose(2, 3)) / self.head_dim ** 0.5  # [B, heads, 1, T]
        scores = scores.masked_fill(padding[:, None, None, :], float("-inf"))
        return (scores.softmax(-1) @ values)[:, :, 0, :]

    # --- the batched step ------------------------------------------------------------------------
    @torch.no_grad()
    def step(self, sequences: list[Sequence], new: list[list[int]], method: str = "segments") -> torch.Tensor:
        """Feed each sequence its new tokens (a prompt, or one decode token); returns the logits of each
        sequence's last new token [len(sequences), vocab]. Sequences must be ordered by adapter; `method`
        is one of METHODS."""
        rows, positions, spans, segments = [], [], [], []
        for seq, tokens in zip(sequences, new, strict=True):
            start = len(rows)
            rows += tokens
            positions += list(range(seq.cached, seq.cached + len(tokens)))
            spans.append((start, len(rows)))
            if segments and segments[-1][0] is seq.adapter and segments[-1][2] == start:
                segments[-1] = (seq.adapter, segments[-1][1], len(rows))
            else:
                segments.append((seq.adapter, start, len(rows)))
        mix = self._mix(segments, method, len(rows))
        # every request feeds one token against a short cache: one padded attention for all of them (not in
        # the batch-invariant runtime: the padding gives a reduction a length that depends on the neighbours)
        decode = not self.batch_invariant and all(len(tokens) == 1 and 0 < seq.cached < self.pad_below
                                                  for seq, tokens in zip(sequences, new, strict=True))
        if decode:  # every layer's caches have the same lengths: the mask is made once a step
            lengths = [seq.cached + 1 for seq in sequences]
            padding = (torch.arange(max(lengths), device=self.device)[None, :]
                       >= torch.tensor(lengths, device=self.device)[:, None])
        pos = torch.tensor(positions, device=self.device)
        h = self.w["model.embed_tokens.weight"][torch.tensor(rows, device=self.device)]
        for layer in range(self.layers):
            p = f"model.layers.{layer}"
            x = self._norm(h, f"{p}.input_layernorm.weight")
            q = self._linear(x, f"{p}.self_attn.q_proj", mix).view(-1, self.heads, self.head_dim)
            k = self._linear(x, f"{p}.self_attn.k_proj", mix).view(-1, self.kv_heads, self.head_dim)
            v = self._linear(x, f"{p}.self_attn.v_proj", mix).view(-1, self.kv_heads, self.head_dim)
            q, k = self._rotate(q, pos), self._rotate(k, pos)
            if decode:
                attended = self._attend_decode(layer, q, k, v, sequences, padding)
            else:
                attended = self._attend_each(layer, q, k, v, sequences, spans)
            h = h + self._linear(attended.reshape(len(rows), -1), f"{p}.self_attn.o_proj", mix)
            x = self._norm(h, f"{p}.post_attention_layernorm.weight")
            gate = self._linear(x, f"{p}.mlp.gate_proj", mix)
            up = self._linear(x, f"{p}.mlp.up_proj", mix)
            h = h + self._linear(torch.nn.functional.silu(gate) * up, f"{p}.mlp.down_proj", mix)
        for seq, tokens in zip(sequences, new, strict=True):
            seq.tokens += tokens
        last = torch.tensor([end - 1 for _, end in spans], device=self.device)
        h = self._norm(h[last], "model.norm.weight")
        return self.mm(h, self.w["lm_head.weight"].T)
