"""Paid streams: each paid request's tokens as they come, kept for its requester to read.

A stream is opened as soon as the follower sees the request (so its requester may connect before the
first token), filled by the relay, and closed with the counts or the error. Each token is kept with its
log-probabilities (the relay always reads them: generation starts before the requester connects); a
reader gets them only when it asks, as many alternatives as it asks for. The registry keeps the
last `KEPT_STREAMS` streams and lets a reader wait (up to `STREAM_WAIT_S`) for a request whose block
has not reached this worker yet.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from payable.worker.v1 import worker_pb2 as pb

KEPT_STREAMS = 4096
STREAM_WAIT_S = 30.0


class StreamRefused(Exception):
    """A stream read that is refused; `code` is the gRPC status name to answer with."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


@dataclass
class PaidStream:
    """One paid request's tokens as they come, for its requester; `end` closes it."""

    request: int
    requester: bytes
    tokens: list[pb.GeneratedToken] = field(default_factory=list)
    end: pb.PaidStreamEnd | None = None
    changed: threading.Condition = field(default_factory=threading.Condition)

    def push(self, token: pb.GeneratedToken) -> None:
        with self.changed:
            self.tokens.append(token)
            self.changed.notify_all()

    def close(self, end: pb.PaidStreamEnd) -> None:
        with self.changed:
            self.end = end
            self.changed.notify_all()

    def events(self, alive: Callable[[], bool] = lambda: True, logprobs: bool = False,
               top_logprobs: int = 0) -> Iterator[pb.PaidStreamEvent]:
        """Every token from the first, then the end; waits for more while the reader is `alive`. Without
        `logprobs` a token is its id, index, text and whether it is the stop token; with them, also its piece,
        log-probability and its first `top_logprobs` alternatives."""
        sent = 0
        while alive():
            with self.changed:
                while sent == len(self.tokens) and self.end is None:
                    if not self.changed.wait(timeout=0.5) and not alive():
                        return
                fresh, end = self.tokens[sent:], self.end
            for token in fresh:
                yield pb.PaidStreamEvent(token=shown(token, logprobs, top_logprobs))
                sent += 1
            if end is not None and sent == len(self.tokens):
                yield pb.PaidStreamEvent(end=end)
                return


def shown(token: pb.GeneratedToken, logprobs: bool, top_logprobs: int) -> pb.GeneratedToken:
    """The token as a reader asked for it: without log-probabilities, or with `top_logprobs` alternatives."""
    if not logprobs:
        return pb.GeneratedToken(token=token.token, index=token.index, text=token.text, stop=token.stop)
    if len(token.top_logprobs) <= top_logprobs:
        return token
    out = pb.GeneratedToken()
    out.CopyFrom(token)
    del out.top_logprobs[top_logprobs:]
    return out


class StreamRegistry:
    """The streams by request id, the most recent `KEPT_STREAMS`; a reader may wait for one to open."""

    def __init__(self, kept: int = KEPT_STREAMS, wait_s: float = STREAM_WAIT_S):
        self.kept, self.wait_s = kept, wait_s
        self.streams: OrderedDict[int, PaidStream] = OrderedDict()
        self._opened = threading.Condition()

    def expect(self, request: int, requester: bytes) -> PaidStream:
        """The request's stream, opened now if it is not yet (before generation starts)."""
        with self._opened:
            stream = self.streams.get(request)
            if stream is None:
                stream = self.streams[request] = PaidStream(request, requester)
                while len(self.streams) > self.kept:
                    self.streams.popitem(last=False)
                self._opened.notify_all()
            return stream

    def open(self, request: int, requester: bytes) -> PaidStream:
        """The stream for an authenticated `requester`: waits for it to open, refuses anyone else's."""
        deadline = time.monotonic() + self.wait_s
        with self._opened:
            while request not in self.streams:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise StreamRefused("NOT_FOUND", f"request {request} is not assigned to this worker (or its "
                                                     f"block has not reached it)")
                self._opened.wait(timeout=left)
            stream = self.streams[request]
        if stream.requester != requester:
            raise StreamRefused("PERMISSION_DENIED", f"only the requester of request {request} may read its "
                                                     f"stream")
        return stream
