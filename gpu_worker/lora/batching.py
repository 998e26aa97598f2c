"""Continuous batching: requests join the running batch at every decode step, across adapters.

Each step admits queued requests (round-robin over adapters, so one busy adapter cannot starve the
others) while the batch has room - bounded by request count and by KV-cache tokens - then runs ONE
mixed forward: newcomers feed their prompts (prefill), running requests feed their last token
(decode), all adapters together (see model.py). Tokens stream to each request's queue as they are
made (with their log-probabilities, for a request that asked, in `Request.logprobs` before the token is
queued); a finished or cancelled request leaves the batch at the next step and frees its slot.

A request the base cannot run is refused when submitted (a token outside its vocabulary, more
positions than its context); a step that fails anyway (its memory ran out, say) fails the requests in
that step with the reason and the engine goes on serving - one thread serves every request, so an
exception that ended it would leave every stream waiting forever.
"""

from __future__ import annotations

import itertools
import queue
import threading
from collections import OrderedDict, deque
from dataclasses import dataclass, field

import structlog

from .adapters import AdapterError
from .cache import AdapterCache
from .kv_cache import KVCache
from .model import POOLED, LlamaRuntime, Sequence
from .sampling import Sampler, TokenLogprobs, token_logprobs

log = structlog.get_logger("payable.worker.openlora")


@dataclass
class Request:
    id: int
    adapter: bytes | None
    prompt: list[int]
    max_new: int
    tokens: queue.Queue = field(default_factory=queue.Queue)  # generated ids, then None
    cancelled: threading.Event = field(default_factory=threading.Event)
    generated: list[int] = field(default_factory=list)
    seq: Sequence | None = None
    finished_step: int | None = None  # the engine step at which it left the batch
    sampler: Sampler = field(default_factory=Sampler)  # greedy unless given
    stop: frozenset[int] = frozenset()  # tokens that end the generation (kept as its last token)
    error: str = ""  # why it ended early (its adapter could not be loaded, its step failed)
    with_logprobs: bool = False  # read each token's log-probabilities from its logits (`sampling.token_logprobs`)
    logprobs: list[TokenLogprobs] = field(default_factory=list)  # one per generated token, when asked

    def cancel(self) -> None:
        """Stop generating; the request leaves the batch (freeing its slot) at the next step."""
        self.cancelled.set()


class Batcher:
    """The continuous-batching loop over one base model (one thread); `submit` queues a request."""

    def __init__(self, runtime: LlamaRuntime, cache: AdapterCache, *, max_batch: int = 64,
                 max_kv_tokens: int = 65_536, method: str | None = None):
        """`method`: how a step adds the adapters' terms (`model.METHODS`); the runtime's default unless given."""
        self.runtime, self.cache = runtime, cache
        self.max_batch, self.max_kv_tokens = max_batch, max_kv_tokens
        self.method = method or runtime.default_method
        if self.method in POOLED and max_batch > runtime.pool_slots:
            raise ValueError(f"max_batch {max_batch} exceeds the runtime's {runtime.pool_slots} adapter slots: a "
                             "step could hold more adapters than its method keeps resident")
        self._queues: OrderedDict[bytes | None, deque[Request]] = OrderedDict()
        self._active: list[Request] = []
        self._ids = itertools.count(1)
        self._lock = threading.Condition()
        self._stop = False
        self.steps = 0
        self.completed = 0
        self._thread = threading.Thread(target=self._loop, name="openlora-engine", daemon=True)
        self._thread.start()

    def submit(self, adapter: bytes | None, prompt: list[int], max_new: int, sampler: Sampler | None = None,
               stop: frozenset[int] = frozenset(), logprobs: bool = False) -> Request:
        if not prompt or max_new < 1:
            raise ValueError("a request needs a non-empty prompt and max_new ≥ 1")
        if len(prompt) + max_new > self.max_kv_tokens:
            raise ValueError(f"prompt + max_new exceeds the {self.max_kv_tokens}-token KV budget")
        context = self.runtime.max_positions
        if context is not None and len(prompt) + max_new > context:
            raise ValueError(f"a prompt of {len(prompt)} tokens and {max_new} new tokens need {len(prompt) + max_new} "
                             f"positions; the base model's context is {context}")
        outside = next(((i, t) for i, t in enumerate(prompt) if not 0 <= t < self.runtime.vocab), None)
        if outside is not None:
            raise ValueError(f"prompt token {outside[1]} (position {outside[0]}) is outside the base model's "
                             f"vocabulary of {self.runtime.vocab}")
        if adapter is not None and adapter not in self.cache.registry:
            raise ValueError(f"adapter {adapter.hex()} is not registered")
        request = Request(next(self._ids), adapter, list(prompt), max_new, sampler=sampler or Sampler(), stop=stop,
                          with_logprobs=logprobs)
        with self._lock:
            if self._stop:
                raise RuntimeError("this engine is closed (its base model was replaced or the worker is stopping)")
            self._queues.setdefault(adapter, deque()).append(request)
            self._lock.notify()
        if adapter is not None:
            self.cache.prefetch([adapter])
        return request

    def close(self) -> None:
        with self._lock:
            self._stop = True
            self._lock.notify()
        self._thread.join()

    def stats(self) -> dict:
        with self._lock:
            return {"active": len(self._active), "queued": sum(len(q) for q in self._queues.values()),
                    "steps": self.steps, "completed": self.completed, **self.cache.stats()}

    # --- the loop --------------------------------------------------------------------------------
    def _kv_tokens(self) -> int:
        return sum(len(r.prompt) + r.max_new for r in self._active)

    def _admit(self) -> list[Request]:
        admitted = []
        while len(self._active) < self.max_batch and self._queues:
            adapter, waiting = next(iter(self._queues.items()))
            request = waiting[0]
            if self._kv_tokens() + len(request.prompt) + request.max_new > self.max_kv_tokens:
                break
            waiting.popleft()
            self._queues.move_to_end(adapter)  # round-robin: this adapter goes to the back of the line
            if not waiting:
                del self._queues[adapter]
            if request.cancelled.is_set():
                request.tokens.put(None)
                continue
            self._active.append(request)
            admitted.append(request)
        return admitted

    def _loop(self) -> None:
        while (batch := self._next_batch()) is not None:
            ready, feeds = self._feeds(batch)
            if not ready:
                continue
            try:
                logits = self.runtime.step([r.seq for r in ready], feeds, self.method)
            except Exception as exc:  # whatever failed (logged with its traceback), the engine must go on serving
                log.exception("openlora_step_failed", requests=len(ready))
                self._fail(ready, f"the engine step failed: {exc!r}")
                continue
            self._emit(ready, logits)

    def _next_batch(self) -> list[Request] | None:
        """Wait for work, then the requests of the next step (adapters contiguous); None once stopped."""
        with self._lock:
            while not self._stop and not self._active and not self._queues:
                self._lock.wait()
            if self._stop:
                for r in self._active:
                    r.tokens.put(None)
                return None
            for r in [r for r in self._active if r.cancelled.is_set()]:
                self._finish(r)
            self._admit()
            return sorted(self._active, key=lambda r: (r.adapter or b"", r.id))

    def _feeds(self, batch: list[Request]) -> tuple[list[Request], list[list[int]]]:
        """What each request feeds this step: a new one its prompt (its adapter checked and its KV cache made
        for all it can need, at once), the others their last token. A request whose adapter fails ends here."""
        ready, feeds = [], []
        for r in batch:
            if r.seq is None:
                try:
                    adapter = self.cache.get(r.adapter) if r.adapter else None
                    if adapter is not None:
                        self.runtime.check(adapter)
                except AdapterError as exc:  # its file changed, or it does not fit the base: this request fails
                    self._fail([r], str(exc))
                    continue
                r.seq = Sequence(adapter, [], KVCache(len(r.prompt) + r.max_new))
                feeds.append(r.prompt)
            else:
                feeds.append([r.generated[-1]])
            ready.append(r)
        return ready, feeds

    def _emit(self, batch: list[Request], logits) -> None:
        """Sample each request's next token (its log-probabilities read afterwards from the same logits, for the
        requests that asked), stream it, and finish requests that are done."""
        with self._lock:
            self.steps += 1
            tokens = [r.sampler(row) for r, row in zip(batch, logits, strict=True)]
            asked = [i for i, r in enumerate(batch) if r.with_logprobs]
            if asked:
                found = token_logprobs(logits[asked], [batch[i].sampler.temperature for i in asked],
                                       [tokens[i] for i in asked])
                for i, logprobs in zip(asked, found, strict=True):
                    batch[i].logprobs.append(logprobs)
            for r, token in zip(batch, tokens, strict=True):
                r.generated.append(token)
                r.tokens.put(token)
                if len(r.generated) >= r.max_new or token in r.stop:
                    self._finish(r)

    def _fail(self, requests: list[Request], reason: str) -> None:
        """End these requests early, each stream told why."""
        with self._lock:
            for r in requests:
                r.error = reason
                self._finish(r)

    def _finish(self, request: Request) -> None:
        request.finished_step = self.steps
        self._active.remove(request)
        request.tokens.put(None)
        request.seq = None  # free its KV cache
        self.completed += 1
