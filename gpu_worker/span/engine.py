"""The span engine: tiny language models trained on a snapshot's text, generation, and span attribution
over a suffix-array index of the training tokens."""

from __future__ import annotations

import json
import shutil
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import structlog
import torch

from payable.attribution.v1 import attribution_pb2 as at
from payable.worker.v1 import worker_pb2 as pb
from runtime.crypto import Keypair, blake2_256

from ..artifacts import Store
from ..errors import ArtifactError, ArtifactNotFound
from ..results import MAX_LISTED, build_result, credit_shares
from .credit import CreditParams, attribute_spans
from .index import Document, SpanIndex, build_index
from .lm import LMConfig, generate, lm_to_onnx, load_lm, load_tokenizer, train_lm, train_tokenizer

log = structlog.get_logger("payable.worker.span")


class SpanEngine:
    def __init__(self, store: Store, key: Keypair, device: torch.device):
        self.store, self.key, self.device = store, key, device
        self.root = store.root / "span-indexes"
        self.root.mkdir(exist_ok=True)
        self._indexes: dict[bytes, SpanIndex] = {}
        self._lock = threading.Lock()

    def train(self, request: pb.TrainLanguageModelRequest) -> pb.TrainResponse:
        from safetensors.torch import save as save_safetensors

        dataset_hash = self.store.put_text_dataset(request.dataset)
        texts = [d.text for d in request.dataset.documents]
        tokenizer_json = train_tokenizer(texts, request.vocab_size or 2000)
        tokenizer = load_tokenizer(tokenizer_json)
        documents = [np.array(tokenizer.encode(t).ids) for t in texts]
        config = LMConfig(vocab=tokenizer.get_vocab_size())
        state = train_lm(config, documents, seed=request.seed, steps=request.steps or 400, device=self.device)
        weights = save_safetensors(dict(sorted(state.items())))
        artifact = pb.ModelArtifact(config_json=config.to_json(), weights=weights, onnx=lm_to_onnx(config, state),
                                    tokenizer_json=tokenizer_json)
        model_hash = self.store.put_model(artifact)
        log.info("language_model_trained", model=model_hash.hex(), documents=len(texts),
                 tokens=int(sum(len(d) for d in documents)))
        return pb.TrainResponse(model_hash=model_hash, dataset_hash=dataset_hash)

    def _tokenizer(self, model_hash: bytes):
        _, _, artifact = self.store.model(model_hash)
        if not artifact.tokenizer_json:
            raise ArtifactError(f"model {model_hash.hex()} is not a language model (no tokenizer)")
        return load_tokenizer(artifact.tokenizer_json)

    def build_index(self, request: pb.SpanIndexRequest):
        """Yields IndexProgress; the last message carries the span index hash."""
        tokenizer = self._tokenizer(request.model_hash)
        dataset = self.store.text_dataset(request.dataset_hash)
        work = Path(tempfile.mkdtemp(prefix="building-", dir=self.root))
        started = time.perf_counter()
        documents = (Document(np.array(tokenizer.encode(d.text).ids), d.contribution) for d in dataset.documents)
        index_hash = build_index(documents, [(c.id, bytes(c.contributor)) for c in dataset.contributions], work,
                                 vocab_size=tokenizer.get_vocab_size())
        final = self.root / index_hash.hex()
        if final.exists():
            shutil.rmtree(work)
        else:
            work.replace(final)
        size = sum(p.stat().st_size for p in final.iterdir())
        log.info("span_index_built", index=index_hash.hex(), bytes=size,
                 seconds=round(time.perf_counter() - started, 2))
        yield pb.IndexProgress(phase="done", done=1, total=1, index_hash=index_hash, index_bytes=size)

    def index(self, index_hash: bytes) -> SpanIndex:
        with self._lock:
            if index_hash not in self._indexes:
                root = self.root / index_hash.hex()
                if not root.exists():
                    raise ArtifactNotFound(f"no span index {index_hash.hex()} in {self.store.root}")
                try:
                    self._indexes[index_hash] = SpanIndex(root, index_hash)
                except ValueError as exc:
                    raise ArtifactError(str(exc)) from exc
            return self._indexes[index_hash]

    def generate(self, request: pb.GenerateRequest) -> pb.GenerateResponse:
        config, state, _ = self.store.model(request.model_hash)
        tokenizer = self._tokenizer(request.model_hash)
        prompt = tokenizer.encode(request.prompt).ids
        if not prompt:
            raise ArtifactError("the prompt is empty")
        tokens = generate(load_lm(config, state, self.device), prompt, min(request.max_tokens or 64, 1024))
        return pb.GenerateResponse(text=tokenizer.decode(tokens), tokens=tokens, prompt_tokens=len(prompt),
                                   output_hash=blake2_256(np.array(tokens, dtype="<u4").tobytes()))

    def attribute(self, request: pb.SpanAttributeRequest) -> at.SignedAttribution:
        index = self.index(request.index_hash)
        params = CreditParams(min_length=request.min_length or 8, max_count=request.max_count or 100)
        try:
            spans, credit, coverage = attribute_spans(index, request.tokens, params)
        except ValueError as exc:
            raise ArtifactError(str(exc)) from exc
        shares = credit_shares(credit, index.doc_contribution, request.top_k or MAX_LISTED, paid_fraction=coverage)
        ids = [cid for cid, _ in index.contributions]
        return build_result(
            model_hash=request.model_hash, index_hash=request.index_hash, input_hash=request.input_hash,
            output_hash=blake2_256(np.array(request.tokens, dtype="<u4").tobytes()), method="span",
            params={"min_length": params.min_length, "max_count": params.max_count}, shares=shares,
            contributions=index.contributions, worker=self.key, request_id=request.request_id,
            tokens=(request.input_tokens, len(request.tokens)), draw_seed=request.draw_seed,
            spans=[at.Span(start=s.start, length=s.length, count=s.count,
                           contribution_ids=sorted({ids[index.doc_contribution[d]] for d in s.documents}))
                   for s in spans])

    def index_summaries(self) -> list[pb.StatusResponse.IndexInfo]:
        """The span indexes on disk, for the worker's Status."""
        found = []
        for path in sorted(self.root.glob("*/manifest.json")):
            manifest = json.loads(path.read_text())
            found.append(pb.StatusResponse.IndexInfo(
                index_hash=bytes.fromhex(path.parent.name), bytes=sum(p.stat().st_size for p in path.parent.iterdir()),
                examples=sum(s["tokens"] for s in manifest["shards"]), method="span"))
        return found
