"""Paid generation with an adapter: fetched by its on-chain hash, served by OpenLoRA, streamed to the
requester alone, attributed to the adapter's fine-tuning rows, and answered with a signed result.

For a request assigned to this worker for a `PEFT_LORA` model, `answer` (on a thread of its own, so
that concurrent requests - across adapters - share the engine's batches):
1. makes the model servable (`_served`, once per adapter): the base directory and the adapter fetched
   from the node's content store by the hashes on chain (every file checked against its manifest: a
   copy whose bytes differ is fetched again, an artifact that does not match its hash is refused), the
   attribution index likewise, and the training config, whose template renders the prompt;
2. renders and tokenizes the prompt, refuses it beyond the request's input-token bound, and queues it on
   the base's batch-invariant batcher with the adapter, greedy or sampled from the on-chain seed,
   stopping at end-of-sequence or `max_new_tokens`;
3. appends each token to the request's `PaidStream`, which its requester reads over gRPC after proving,
   by a signature over the request id, that they are the requester (`open_stream`);
4. credits the output to the rows (`lora.attribution.AdapterIndex`) and signs the result with the token
   counts it is charged for.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import structlog
import torch

from payable.inference.v1 import inference_pb2 as inf
from payable.modelregistry.v1 import modelregistry_pb2 as mr
from payable.modelregistry.v1.methods import ADAPTER_METHOD_NAMES
from payable.worker.v1 import worker_pb2 as pb
from runtime.crypto import Keypair, blake2_256, verify
from sdk.artifacts import ATTRIBUTION_INDEX, HF_MODEL, PEFT_LORA, fetch_directory
from sdk.client import Client
from sdk.wire import CONTENT_READ_MAX_SKEW_S, request_id_bytes, stream_read_message

from .errors import ArtifactError
from .finetune.config import TrainingConfig
from .finetune.dataset import IGNORE, Example, Row, prompt_text
from .lora.adapters import CONFIG, WEIGHTS, adapter_hash
from .lora.attribution import AdapterIndex
from .lora.engine import LoRAEngine
from .lora.influence import lora_modules
from .lora.sampling import Sampler, seed_for
from .results import MAX_DRAWS, build_result, sampled_credit

log = structlog.get_logger("payable.worker.paid")
DEFAULT_NEW_TOKENS = 64
KEPT_STREAMS = 4096
STREAM_WAIT_S = 30.0


@dataclass
class PaidStream:
    """One paid request's tokens as they come, for its requester; `end` closes it."""

    request: int
    requester: bytes
    tokens: list[tuple[int, str]] = field(default_factory=list)
    end: pb.PaidStreamEnd | None = None
    changed: threading.Condition = field(default_factory=threading.Condition)

    def push(self, token: int, text: str) -> None:
        with self.changed:
            self.tokens.append((token, text))
            self.changed.notify_all()

    def close(self, end: pb.PaidStreamEnd) -> None:
        with self.changed:
            self.end = end
            self.changed.notify_all()

    def events(self, alive=lambda: True):
        """Every token from the first, then the end; waits for more while the reader is `alive`."""
        sent = 0
        while alive():
            with self.changed:
                while sent == len(self.tokens) and self.end is None:
                    if not self.changed.wait(timeout=0.5) and not alive():
                        return
                fresh, end = self.tokens[sent:], self.end
            for token, text in fresh:
                yield pb.PaidStreamEvent(token=pb.GeneratedToken(token=token, index=sent, text=text))
                sent += 1
            if end is not None and sent == len(self.tokens):
                yield pb.PaidStreamEvent(end=end)
                return


@dataclass
class Served:
    """What serving one adapter model needs, ready."""

    base: bytes          # the base's artifact hash (its batcher's key)
    adapter: bytes       # the adapter's content hash in the OpenLoRA cache
    tokenizer: object
    template: str
    index: AdapterIndex
    base_dir: Path
    adapter_dir: Path
    slot: str = ""       # its configuration's slot in the attributor (see `PaidEngine._attributor`)

    def __post_init__(self) -> None:
        if not self.slot:
            self.slot = "slot-" + blake2_256((self.adapter_dir / CONFIG).read_bytes()).hex()[:16]


class StreamRefused(Exception):
    """A stream read that is refused; `code` is the gRPC status name to answer with."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


class PaidEngine:
    def __init__(self, root: Path, key: Keypair, lora: LoRAEngine, device):
        self.root = Path(root) / "paid"
        self.root.mkdir(parents=True, exist_ok=True)
        self.key, self.lora, self.device = key, lora, device
        self.genesis = b""
        self.streams: OrderedDict[int, PaidStream] = OrderedDict()
        self._served: dict[bytes, Served] = {}
        self._tokenizers: dict[bytes, object] = {}  # base hash → its tokenizer
        self._attributors: dict[bytes, object] = {}  # base hash → PeftModel with a slot per adapter config
        self._in_slot: dict[tuple[bytes, str], bytes] = {}  # (base, slot) → the adapter whose factors it holds
        self._lock = threading.Condition()
        self._prepare_lock = threading.Lock()
        self._attribute_lock = threading.Lock()

    # --- streams ---------------------------------------------------------------------------------
    def expect(self, request: inf.Request) -> PaidStream:
        """Open the request's stream (before generation starts, so its requester may connect at once)."""
        with self._lock:
            stream = self.streams.get(request.id)
            if stream is None:
                stream = self.streams[request.id] = PaidStream(request.id, bytes(request.requester))
                while len(self.streams) > KEPT_STREAMS:
                    self.streams.popitem(last=False)
                self._lock.notify_all()
            return stream

    def open_stream(self, request_id: int, requester: bytes, issued_at: int, signature: bytes) -> PaidStream:
        """The stream, if the caller proves to be the request's requester; else StreamRefused."""
        if abs(time.time() - issued_at) > CONTENT_READ_MAX_SKEW_S:
            raise StreamRefused("UNAUTHENTICATED", f"issued_at is more than {CONTENT_READ_MAX_SKEW_S} s from the "
                                                   f"worker's clock: sign a fresh read")
        if len(requester) != 32 or not verify(requester, stream_read_message(self.genesis, request_id, requester,
                                                                             issued_at), signature):
            raise StreamRefused("UNAUTHENTICATED", "the signature is not the given requester's over this request")
        deadline = time.monotonic() + STREAM_WAIT_S
        with self._lock:
            while request_id not in self.streams:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise StreamRefused("NOT_FOUND", f"request {request_id} is not assigned to this worker (or its "
                                                     f"block has not reached it)")
                self._lock.wait(timeout=left)
            stream = self.streams[request_id]
        if stream.requester != requester:
            raise StreamRefused("PERMISSION_DENIED", f"only the requester of request {request_id} may read its "
                                                     f"stream")
        return stream

    # --- serving ---------------------------------------------------------------------------------
    def _served_model(self, client: Client, model: mr.Model) -> Served:
        with self._prepare_lock:
            found = self._served.get(model.artifact_hash)
            if found is not None:
                return found
            base = client.pallet_query("modelregistry", "get_base_model",
                                       mr.BaseModelRequest(base_model=model.base_model), mr.BaseModel)
            base_dir = self.root / "bases" / base.artifact_hash.hex()
            adapter_dir = self.root / "adapters" / model.artifact_hash.hex()
            index_dir = self.root / "indexes" / model.attribution_index_hash.hex()
            try:
                fetch_directory(client, base.artifact_hash, base_dir, kind=HF_MODEL, reader=self.key)
                fetch_directory(client, model.artifact_hash, adapter_dir, kind=PEFT_LORA, reader=self.key)
                fetch_directory(client, model.attribution_index_hash, index_dir, kind=ATTRIBUTION_INDEX,
                                reader=self.key)
                config = TrainingConfig.from_json(client.download(model.training_config_hash, reader=self.key))
            except (ValueError, KeyError, OSError) as exc:
                raise ArtifactError(f"model {model.id}: {exc}") from exc
            index = AdapterIndex(index_dir)
            want = ADAPTER_METHOD_NAMES.get(model.attribution_method)
            if index.method != want or (want == "span+lora-gradient"
                                        and index.meta["span_weight_bps"] != model.span_weight_bps):
                raise ArtifactError(f"model {model.id}: its index is for {index.method}, the chain records {want}")
            from .finetune.trainer import load_tokenizer

            self.lora.serve_base(base.artifact_hash, base_dir)
            lora_hash = adapter_hash((adapter_dir / CONFIG).read_bytes(), (adapter_dir / WEIGHTS).read_bytes())
            self.lora.cache.register(adapter_dir, lora_hash)
            if base.artifact_hash not in self._tokenizers:  # one per base, shared by its adapters
                self._tokenizers[base.artifact_hash] = load_tokenizer(base_dir)
            found = Served(base.artifact_hash, lora_hash, self._tokenizers[base.artifact_hash],
                           config.dataset.template, index, base_dir, adapter_dir)
            self.load_attributor(found)
            self._served[model.artifact_hash] = found
            log.info("adapter_ready", model=model.id, adapter=model.artifact_hash.hex()[:16],
                     base=base.artifact_hash.hex()[:16], method=index.method)
            return found

    def answer(self, client: Client, request: inf.Request, model: mr.Model) -> pb.SignedAttribution:
        """Generate (streaming), attribute and sign; the stream ends with the counts, or the error."""
        stream = self.expect(request)
        try:
            served = self._served_model(client, model)
            raw = request.input or client.download(request.input_hash, reader=self.key)
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise ArtifactError(f"request {request.id}: the prompt is not UTF-8 text") from exc
            tokenizer = served.tokenizer
            prompt = tokenizer.encode(prompt_text(tokenizer, text, served.template), add_special_tokens=False)
            if request.max_input_tokens and len(prompt) > request.max_input_tokens:
                raise ArtifactError(f"request {request.id}: the prompt is {len(prompt)} tokens; the request escrowed "
                                    f"for at most {request.max_input_tokens}")
            sampling = request.sampling
            sampler = Sampler(sampling.temperature_milli / 1000, (sampling.top_p_milli or 1000) / 1000,
                              seed_for(request.id, request.input_hash, request.created_at))
            job = self.lora.submit_paid(served.base, served.adapter, prompt,
                                        request.max_new_tokens or DEFAULT_NEW_TOKENS, sampler,
                                        frozenset({tokenizer.eos_token_id}))
            output = self._relay(job, stream, tokenizer)
            if job.error:
                raise ArtifactError(f"request {request.id}: {job.error}")
            signed = self.attribute(served, request, model, prompt, output)
        except (ArtifactError, ValueError, KeyError, OSError, RuntimeError) as exc:  # the stream says why
            stream.close(pb.PaidStreamEnd(error=str(exc)))
            raise
        stream.close(pb.PaidStreamEnd(input_tokens=len(prompt), output_tokens=len(output),
                                      output_hash=_output_hash(output)))
        return signed

    @staticmethod
    def _relay(job, stream: PaidStream, tokenizer) -> list[int]:
        """Move the engine's tokens into the stream, each with the text it completes. Only the tokens since
        the last line break are decoded again (so a long generation does not re-decode all it made), and a
        token that ends inside a multi-byte character sends no text until the character is whole."""
        output, line, shown = [], [], 0
        while True:
            token = job.tokens.get()
            if token is None:
                return output
            output.append(token)
            line.append(token)
            text = tokenizer.decode(line, skip_special_tokens=True)
            if text.endswith("\ufffd"):
                stream.push(token, "")
                continue
            stream.push(token, text[shown:])
            line, shown = ([], 0) if text.endswith("\n") else (line, len(text))

    def load_attributor(self, served: Served) -> None:
        """Give the adapter's configuration a slot in its base's PEFT model now (when the adapter becomes
        servable), not on its first query."""
        if served.index.features is not None:
            with self._attribute_lock:
                self._attributor(served)

    def _attributor(self, served: Served):
        """The base as a PEFT model with one slot per adapter *configuration* (rank, alpha, targets), into
        which the queried adapter's factors are copied from OpenLoRA's cache: PEFT's own switch between many
        loaded adapters walks every module (~40 ms with 64 adapters), a copy of the factors takes microseconds."""
        from peft import PeftModel

        from .finetune.trainer import load_base

        slot = served.slot
        model = self._attributors.get(served.base)
        if model is None:
            base, _ = load_base(served.base_dir, self.device)
            model = self._attributors[served.base] = PeftModel.from_pretrained(base, served.adapter_dir,
                                                                               adapter_name=slot).eval()
        elif slot not in model.peft_config:
            model.load_adapter(served.adapter_dir, adapter_name=slot)
        if model.active_adapter != slot:
            model.set_adapter(slot)
        if self._in_slot.get((served.base, slot)) != served.adapter:
            factors = self.lora.cache.get(served.adapter).factors
            with torch.no_grad():
                for name, layer in lora_modules(model, slot):
                    a, b = factors[name.removeprefix("base_model.model.")]
                    layer.lora_A[slot].weight.copy_(a)
                    layer.lora_B[slot].weight.copy_(b)
            self._in_slot[(served.base, slot)] = served.adapter
        return model, slot

    def attribute(self, served: Served, request: inf.Request, model: mr.Model, prompt: list[int],
                   output: list[int]) -> pb.SignedAttribution:
        index = served.index
        query = Example(Row(0, b"", 0), "", tuple(prompt + output), tuple([IGNORE] * len(prompt) + output))
        with self._attribute_lock:
            peft_model, name = self._attributor(served) if index.features is not None else (None, "default")
            credit = index.credit(peft_model, served.tokenizer, query, output, name)
        rid = request_id_bytes(request.id)
        shares = sampled_credit(credit.rows, index.row_contribution, MAX_DRAWS, rid + request.input_hash,
                                paid_fraction=credit.paid_fraction)
        ids = [cid for cid, _ in index.contributions]
        spans = [pb.Span(start=s.start, length=s.length, count=s.count,
                         contribution_ids=sorted({ids[index.row_contribution[d]] for d in s.documents}))
                 for s in credit.spans]
        return build_result(model_hash=model.artifact_hash, index_hash=model.attribution_index_hash,
                            input_hash=request.input_hash, output_hash=_output_hash(output),
                            method=ADAPTER_METHOD_NAMES[model.attribution_method], params=index.params(), shares=shares,
                            contributions=index.contributions, worker=self.key, request_id=rid, spans=spans,
                            tokens=(len(prompt), len(output)))


def _output_hash(output: list[int]) -> bytes:
    return blake2_256(np.array(output, dtype="<u4").tobytes())
