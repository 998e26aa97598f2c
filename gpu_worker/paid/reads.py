"""Read authentication: a requester proves, by a fresh signature bound to the chain, that they are who
reads a paid stream.

The signature is the requester's over `sdk.wire.stream_read_message(genesis, request, requester,
issued_at)`; the genesis hash binds it to one chain, so the follower hands it over (`set_genesis`)
once it has connected to its node. Until then no read verifies.
"""

from __future__ import annotations

import time

from runtime.crypto import verify
from sdk.wire import CONTENT_READ_MAX_SKEW_S, stream_read_message

from .streams import StreamRefused


class ReadAuthenticator:
    def __init__(self, genesis: bytes = b""):
        self.genesis = genesis

    def set_genesis(self, genesis: bytes) -> None:
        """The chain whose requesters read here (set when the follower connects to its node)."""
        self.genesis = genesis

    def check(self, request: int, requester: bytes, issued_at: int, signature: bytes) -> None:
        """Nothing if the signature is the requester's over this read, now; else StreamRefused."""
        if abs(time.time() - issued_at) > CONTENT_READ_MAX_SKEW_S:
            raise StreamRefused("UNAUTHENTICATED", f"issued_at is more than {CONTENT_READ_MAX_SKEW_S} s from the "
                                                   f"worker's clock: sign a fresh read")
        if len(requester) != 32 or not verify(requester, stream_read_message(self.genesis, request, requester,
                                                                             issued_at), signature):
            raise StreamRefused("UNAUTHENTICATED", "the signature is not the given requester's over this request")
