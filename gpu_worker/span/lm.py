"""A tiny causal language model and its tokenizer, trained on a snapshot's text - nothing downloaded.

The tokenizer is a byte-level BPE trained offline on the snapshot itself (`tokenizers`); the model is
a small causal transformer (learned positions, pre-norm self-attention blocks with a causal mask) built from
a declared config and trained from a seed; both are data (JSON + safetensors), and the model exports
to ONNX for inference.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ..configs import LMConfig
from ..device import building_models, global_rng


class Block(nn.Module):
    """Pre-norm causal self-attention + MLP, written out so the ONNX graph takes any sequence length."""

    def __init__(self, config: LMConfig):
        super().__init__()
        d = config.d_model
        self.heads = config.heads
        self.norm1, self.norm2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.qkv, self.proj = nn.Linear(d, 3 * d), nn.Linear(d, d)
        self.mlp = nn.Sequential(nn.Linear(d, 4 * d), nn.GELU(), nn.Linear(4 * d, d))
        self.register_buffer("causal", torch.tril(torch.ones(config.context, config.context, dtype=torch.bool)),
                             persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        q, k, v = self.qkv(self.norm1(x)).split(d, dim=2)
        q, k, v = (z.reshape(b, t, self.heads, d // self.heads).transpose(1, 2) for z in (q, k, v))
        scores = (q @ k.transpose(-2, -1)) / (d // self.heads) ** 0.5
        scores = scores.masked_fill(~self.causal[:t, :t], float("-inf"))
        attended = (scores.softmax(dim=-1) @ v).transpose(1, 2).reshape(b, t, d)
        x = x + self.proj(attended)
        return x + self.mlp(self.norm2(x))


class TinyLM(nn.Module):
    def __init__(self, config: LMConfig):
        super().__init__()
        self.config = config
        self.embed = nn.Embedding(config.vocab, config.d_model)
        self.position = nn.Embedding(config.context, config.d_model)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.layers))
        self.norm = nn.LayerNorm(config.d_model)
        self.head = nn.Linear(config.d_model, config.vocab)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        positions = torch.arange(tokens.shape[1], device=tokens.device)
        hidden = self.embed(tokens) + self.position(positions)
        for block in self.blocks:
            hidden = block(hidden)
        return self.head(self.norm(hidden))


def train_tokenizer(texts: list[str], vocab_size: int = 2000) -> str:
    """A byte-level BPE trained on `texts` only; returns the tokenizer as JSON."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tokenizer.train_from_iterator(texts, trainer)
    return tokenizer.to_str()


def load_tokenizer(tokenizer_json: str):
    from tokenizers import Tokenizer

    return Tokenizer.from_str(tokenizer_json)


def train_lm(config: LMConfig, documents: list[np.ndarray], seed: int = 0, steps: int = 400, batch: int = 16,
             lr: float = 3e-3, device: str | torch.device = "cpu") -> dict[str, torch.Tensor]:
    """Next-token training on random windows of the documents; deterministic from `seed`."""
    rng = np.random.default_rng(seed)
    with global_rng(seed):
        model = TinyLM(config).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    usable = [d for d in documents if len(d) >= 2]
    if not usable:
        raise ValueError("no document has two tokens to learn from")
    weights = np.array([len(d) for d in usable], dtype=np.float64)
    for _ in range(steps):
        windows = []
        for d in rng.choice(len(usable), size=batch, p=weights / weights.sum()):
            doc = usable[d]
            start = rng.integers(0, max(1, len(doc) - config.context - 1) + 1)
            windows.append(doc[start:start + config.context + 1])
        width = min(len(w) for w in windows)
        chunk = torch.as_tensor(np.stack([w[:width] for w in windows]), dtype=torch.long, device=device)
        logits = model(chunk[:, :-1])
        loss = nn.functional.cross_entropy(logits.reshape(-1, config.vocab), chunk[:, 1:].reshape(-1))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}


def load_lm(config: LMConfig, state: dict[str, torch.Tensor], device: str | torch.device = "cpu") -> TinyLM:
    with building_models():
        model = TinyLM(config)
    model.load_state_dict(state)
    return model.to(device).eval()


@torch.no_grad()
def generate(model: TinyLM, prompt: list[int], new_tokens: int) -> list[int]:
    """Greedy continuation (deterministic), within the model's context window."""
    tokens = list(prompt)
    device = next(model.parameters()).device
    for _ in range(new_tokens):
        window = torch.as_tensor([tokens[-model.config.context:]], dtype=torch.long, device=device)
        tokens.append(int(model(window)[0, -1].argmax()))
    return tokens[len(prompt):]


def lm_to_onnx(config: LMConfig, state: dict[str, torch.Tensor]) -> bytes:
    """The model as an ONNX graph (tokens [1, t] → logits [1, t, vocab]) for ONNX Runtime."""
    import io
    import warnings

    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter is deprecated but needs no extra packages
        torch.onnx.export(load_lm(config, state), (torch.zeros(1, 8, dtype=torch.long),), buffer, dynamo=False,
                          input_names=["tokens"], output_names=["logits"], dynamic_axes={"tokens": {1: "t"}})
    return buffer.getvalue()
