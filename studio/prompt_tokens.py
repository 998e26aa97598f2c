"""A prompt's tokens, counted before paying exactly as the worker serving the adapter will count them - so a
prompt that cannot fit is refused here, before anything is signed, escrowed or charged.

The worker renders the prompt with the adapter's training template (`sdk.prompts.prompt_text`, the same
function), tokenizes it with the base's tokenizer and refuses (signed, refunded less the workers' part of the
flat fee) when prompt tokens and new tokens exceed the base's context. Paying for a refusal helps nobody, so
every client that pays - the OpenAI gateway, the studio's playground, `payable generate` - asks `check` first:

- the template comes from the model's recorded training config (`training_config_hash`, a small JSON blob);
- the tokenizer comes from the base's artifact in the node's content store, its tokenizer files only
  (`TOKENIZER_FILES`, a few MB, never the weights), every byte checked against the base's manifest, kept on
  disk under the base's hash and in memory per process; the worker loads the same files from the same
  directory artifact, so the counts agree token for token;
- the limit is the base's context: its on-chain `context_length` and its config's `max_position_embeddings`
  (what the worker's model enforces), the smaller where both are given; besides it, the request's own input
  bound (what the escrow covers) and the chain's `inference.max_input_tokens`.

Requests that pay without this check (`generation.request_generation`, used by scripts and tests that want
the chain's and the worker's own refusals) still get those: the check spares the requester, it is not the
protocol's defence.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from payable.modelregistry.v1 import modelregistry_pb2 as mr
from sdk.artifacts import HF_MODEL, ArtifactError, fetch_directory
from sdk.client import Client, ClientError
from sdk.prompts import prompt_text, recorded_template

TOKENIZER_FILES = frozenset({
    "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "added_tokens.json",
    "chat_template.jinja", "chat_template.json", "tokenizer.model", "vocab.json", "merges.txt",
    "config.json",  # small: the model type a tokenizer may be resolved by, and max_position_embeddings
})


class PromptTooLong(ValueError):
    """The prompt does not fit: `limit` positions (or input tokens) and what was asked, in the message."""

    def __init__(self, message: str, *, input_tokens: int, max_new_tokens: int, limit: int):
        super().__init__(message)
        self.input_tokens, self.max_new_tokens, self.limit = input_tokens, max_new_tokens, limit


@dataclass(frozen=True)
class Counted:
    """A prompt as the worker will see it: its tokens after the adapter's template, and the base's context
    (0: the base declares none)."""

    tokens: int
    template: str
    context: int


@dataclass
class _Base:
    tokenizer: object
    context: int
    lock: threading.Lock  # a fast tokenizer is not to be used from two threads at once


def default_cache_dir() -> Path:
    """$PAYABLE_CACHE/tokenizers, or ~/.cache/payable/tokenizers: one directory per base hash."""
    root = os.environ.get("PAYABLE_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "payable")
    return Path(root) / "tokenizers"


def warm_up() -> threading.Thread:
    """Import the tokenizer library on a thread of its own, at a server's start: transformers takes seconds
    to import, which the first signing dialog would otherwise wait for."""
    def load() -> None:
        try:
            from transformers import AutoTokenizer  # noqa: F401 - the import is the work
        except ImportError:
            return  # without the library the first count says so, where a caller sees it

    thread = threading.Thread(target=load, name="prompt-tokens-warm-up", daemon=True)
    thread.start()
    return thread


def load_tokenizer(directory: Path) -> tuple[object, int]:
    """The tokenizer in a base's directory (its tokenizer files are enough) and the context its config
    declares (0: none)."""
    from transformers import AutoTokenizer

    config = directory / "config.json"
    declared = json.loads(config.read_text()).get("max_position_embeddings") if config.exists() else None
    return AutoTokenizer.from_pretrained(directory), int(declared or 0)


class PromptCounter:
    """Counts prompts for adapter models; tokenizers are fetched once per base (by its artifact hash) and
    templates read once per training config."""

    def __init__(self, cache_dir: str | Path | None = None):
        self.cache_dir = cache_dir  # None: default_cache_dir(), read when a base is first fetched
        self._bases: dict[bytes, _Base] = {}
        self._templates: dict[bytes, str] = {}
        self._lock = threading.Lock()

    def _base(self, node: Client, base: mr.BaseModel) -> _Base:
        with self._lock:  # one fetch per base, whoever asks first
            found = self._bases.get(base.artifact_hash)
            if found is None:
                root = Path(self.cache_dir) if self.cache_dir else default_cache_dir()
                directory = root / base.artifact_hash.hex()
                try:
                    fetch_directory(node, base.artifact_hash, directory, kind=HF_MODEL, only=TOKENIZER_FILES)
                    tokenizer, declared = load_tokenizer(directory)
                except (ArtifactError, OSError, ValueError) as exc:  # the node's copy, not the prompt, is at fault
                    raise ClientError(f"base model {base.id}'s tokenizer could not be read from the node's content "
                                      f"store, so the prompt could not be counted before paying: {exc}") from exc
                context = min((c for c in (base.context_length, declared) if c), default=0)
                found = self._bases[base.artifact_hash] = _Base(tokenizer, context, threading.Lock())
            return found

    def _template(self, node: Client, model: mr.Model) -> str:
        with self._lock:
            if model.training_config_hash not in self._templates:
                raw = node.download(model.training_config_hash)
                try:
                    self._templates[model.training_config_hash] = recorded_template(raw or b"")
                except (ValueError, KeyError, TypeError, AttributeError) as exc:
                    raise ClientError(f"model {model.id}'s training config is not a ModelFactory config, so the "
                                      f"prompt's template is unknown: {exc!r}") from exc
            return self._templates[model.training_config_hash]

    def count(self, node: Client, model: mr.Model, prompt: str, base: mr.BaseModel | None = None) -> Counted:
        """The prompt's tokens as the worker serving `model` (an adapter) will count them (`base`: its base
        model's record, when the caller has read it)."""
        if base is None:
            base = base_record(node, model)
        loaded = self._base(node, base)
        template = self._template(node, model)
        with loaded.lock:
            rendered = prompt_text(loaded.tokenizer, prompt, template)
            tokens = len(loaded.tokenizer.encode(rendered, add_special_tokens=False))  # type: ignore[attr-defined]
        return Counted(tokens, template, loaded.context)

    def check(self, node: Client, model: mr.Model, prompt: str, *, max_new_tokens: int,
              max_input_tokens: int = 0) -> Counted:
        """The count, or PromptTooLong (OpenAI's words and the numbers) when the prompt with `max_new_tokens`
        exceeds the base's context, the request's input bound `max_input_tokens` (0: none), or the chain's.
        New tokens that fill the on-chain context by themselves are refused before any tokenizer is fetched."""
        base = base_record(node, model)
        head = f"Model {model.id}'s maximum context length is {{context}} tokens (its base model {model.base_model}'s)"
        if base.context_length and max_new_tokens >= base.context_length:
            raise PromptTooLong(
                f"{head.format(context=base.context_length)}; however you requested {max_new_tokens} tokens for the "
                "completion alone, which leaves no room for a prompt. Please reduce your completion length. "
                "Nothing was signed or paid.", input_tokens=0, max_new_tokens=max_new_tokens,
                limit=base.context_length)
        counted = self.count(node, model, prompt, base)
        tokens, context = counted.tokens, counted.context
        rendered = f"{tokens} in your prompt, after the adapter's {counted.template!r} template"
        if context and tokens + max_new_tokens > context:
            room = (f"at most {context - tokens} new tokens fit after this prompt" if tokens < context
                    else "the prompt alone fills it")
            raise PromptTooLong(
                f"{head.format(context=context)}; however you requested {tokens + max_new_tokens} tokens ({rendered}; "
                f"{max_new_tokens} for the completion): {room}. Please reduce your prompt or completion length. "
                "Nothing was signed or paid.", input_tokens=tokens, max_new_tokens=max_new_tokens, limit=context)
        bounds = [(max_input_tokens, "the request's input bound"),
                  (chain_input_limit(node), "the chain's limit (inference.max_input_tokens)")]
        for limit, what in bounds:
            if limit and tokens > limit:
                raise PromptTooLong(f"The prompt is {tokens} tokens ({rendered}), over {what} of {limit} input "
                                    "tokens. Please reduce your prompt. Nothing was signed or paid.",
                                    input_tokens=tokens, max_new_tokens=max_new_tokens, limit=limit)
        return counted


def base_record(node: Client, model: mr.Model) -> mr.BaseModel:
    return node.pallet_query("modelregistry", "get_base_model", mr.BaseModelRequest(base_model=model.base_model),
                             mr.BaseModel)


def chain_input_limit(node: Client) -> int:
    """The most input tokens a request may escrow for on this chain (the inference pallet's constant; 0 when
    the chain has no inference pallet)."""
    for pallet in node.metadata.pallets:
        if pallet.name == "inference" and pallet.config_json:
            return int(json.loads(pallet.config_json).get("max_input_tokens", 0))
    return 0


COUNTER = PromptCounter()
"""The process's counter (its tokenizers stay loaded): what the gateway, the playground and the CLI use."""


def check(node: Client, model: mr.Model, prompt: str, *, max_new_tokens: int, max_input_tokens: int = 0) -> Counted:
    """`PromptCounter.check` with the process's counter."""
    return COUNTER.check(node, model, prompt, max_new_tokens=max_new_tokens, max_input_tokens=max_input_tokens)
