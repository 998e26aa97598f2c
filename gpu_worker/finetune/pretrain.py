"""A small LLaMA-family base model pretrained here, on text that ships with Python, in Hugging Face format.

Nothing may be downloaded at run time, yet ModelFactory must be exercised on a real checkpoint: so the
tests, the demo and the benchmark make one. The corpus is the documentation of Python's standard
library (module, class and function docstrings, read with `inspect`); a byte-level BPE tokenizer is
trained on it, then a `transformers.LlamaForCausalLM` (RMSNorm, rotary embeddings, SwiGLU, grouped
KV heads - the architecture of the LLaMA checkpoints users bring) learns to continue it. The result
is saved with `save_pretrained` - config.json, model.safetensors (sharded when asked), tokenizer.json,
tokenizer_config.json with a chat template - exactly what a downloaded checkpoint holds, so a user's
own model goes through the same code.
"""

from __future__ import annotations

import importlib
import inspect
import math
import warnings
from pathlib import Path

import torch

# Modules whose documentation makes the corpus: common, stable, import cleanly everywhere.
CORPUS_MODULES = ("argparse", "bisect", "collections", "csv", "dataclasses", "datetime", "decimal", "enum",
                  "fractions", "functools", "heapq", "itertools", "json", "math", "operator", "os.path",
                  "pathlib", "random", "re", "shutil", "statistics", "string", "textwrap", "typing")
SPECIAL = ("<|pad|>", "<|bos|>", "<|eos|>", "<|user|>", "<|assistant|>", "<|system|>")
CHAT_TEMPLATE = ("{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}<|eos|>{% endfor %}"
                 "{% if add_generation_prompt %}<|assistant|>{% endif %}")


def python_docs(modules: tuple[str, ...] = CORPUS_MODULES) -> list[str]:
    """The docstrings of the modules and their public members, in a fixed order (one string each)."""
    docs: list[str] = []
    for name in modules:
        module = importlib.import_module(name)
        if doc := inspect.getdoc(module):
            docs.append(doc)
        for attr in sorted(dir(module)):
            if attr.startswith("_"):
                continue
            with warnings.catch_warnings():  # typing.io and typing.re warn when touched
                warnings.simplefilter("ignore", DeprecationWarning)
                doc = inspect.getdoc(getattr(module, attr, None))
            if doc and len(doc) > 40 and doc not in docs:
                docs.append(doc)
    return docs


def train_tokenizer(texts: list[str], vocab_size: int):
    """A byte-level BPE tokenizer (as LLaMA 3's) with chat special tokens, as a transformers fast tokenizer."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    core = Tokenizer(models.BPE())
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    core.train_from_iterator(texts, trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=list(SPECIAL),
                                                        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                                        show_progress=False))
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=core, pad_token="<|pad|>", bos_token="<|bos|>",
                                        eos_token="<|eos|>")
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


def pretrain_base(directory: str | Path, *, vocab_size: int = 1024, hidden: int = 96, layers: int = 2,
                  heads: int = 4, kv_heads: int = 2, context: int = 128, steps: int = 300, batch: int = 16,
                  lr: float = 3e-3, seed: int = 0, max_shard_size: str | None = None) -> Path:
    """Pretrain the base and save it as a Hugging Face directory; returns the directory."""
    from transformers import LlamaConfig, LlamaForCausalLM
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    torch.manual_seed(seed)
    texts = python_docs()
    tokenizer = train_tokenizer(texts, vocab_size)
    stream = [t for text in texts for t in (tokenizer.bos_token_id, *tokenizer.encode(text), tokenizer.eos_token_id)]
    data = torch.tensor(stream[: len(stream) // context * context]).view(-1, context)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=hidden, intermediate_size=hidden * 8 // 3 // 8 * 8,
                         num_hidden_layers=layers, num_attention_heads=heads, num_key_value_heads=kv_heads,
                         max_position_embeddings=context * 4, tie_word_embeddings=False,
                         bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                         pad_token_id=tokenizer.pad_token_id)
    model = LlamaForCausalLM(config)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    order = torch.Generator().manual_seed(seed)
    model.train()
    for step in range(steps):
        rows = data[torch.randint(len(data), (batch,), generator=order)]
        for group in optimizer.param_groups:  # cosine decay to 10%
            group["lr"] = lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * step / steps)))
        loss = model(input_ids=rows, labels=rows).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    kwargs = {"max_shard_size": max_shard_size} if max_shard_size else {}
    model.save_pretrained(out, safe_serialization=True, **kwargs)
    tokenizer.save_pretrained(out)
    return out


def python_qa_rows(module: str = "builtins", limit: int = 80) -> list[dict[str, str]]:
    """Prompt/response rows about a module's functions, from their docstrings: a DataNet's worth of domain
    data for fine-tuning (the base saw the docs as prose, never in this question-and-answer form)."""
    rows = []
    mod = importlib.import_module(module)
    for name in sorted(dir(mod)):
        doc = inspect.getdoc(getattr(mod, name))
        if name.startswith("_") or not doc or not callable(getattr(mod, name)):
            continue
        first = doc.strip().split("\n\n")[0].replace("\n", " ")
        if 20 <= len(first) <= 200 and "(" not in first[:len(name) + 1]:
            rows.append({"prompt": f"What does {module}.{name} do?", "response": first})
        if len(rows) == limit:
            break
    return rows
