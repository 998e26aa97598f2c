"""ABCI socket framing: each message is an unsigned varint length, then that many protobuf bytes.

`FrameReader` is fed whatever a read returned - half a frame, a length prefix cut in two, ten frames
at once - and yields complete frames; a length over `max_frame` is refused before any byte of it is
buffered, so a broken peer cannot make the node allocate without bound.
"""

from __future__ import annotations

from sdk.wire import uvarint

MAX_FRAME = 128 * 1024 * 1024  # CometBFT caps a block at 100 MiB; a frame carries at most one block


class FramingError(ValueError):
    """The stream is not a sequence of well-formed frames (bad or oversized length prefix)."""


def frame(payload: bytes) -> bytes:
    return uvarint(len(payload)) + payload


class FrameReader:
    def __init__(self, max_frame: int = MAX_FRAME):
        self.max_frame = max_frame
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[bytes]:
        """Add bytes read from the stream; return every frame now complete, in order."""
        self._buffer += data
        frames: list[bytes] = []
        while True:
            header = self._length()
            if header is None:
                return frames
            length, start = header
            if len(self._buffer) - start < length:
                return frames
            frames.append(bytes(self._buffer[start:start + length]))
            del self._buffer[:start + length]

    def _length(self) -> tuple[int, int] | None:
        """(payload length, where the payload starts), or None while the prefix is incomplete."""
        value = shift = 0
        for i, byte in enumerate(self._buffer):
            if i == 10:
                raise FramingError("a length prefix longer than 10 bytes")
            value |= (byte & 0x7F) << shift
            if not byte & 0x80:
                if value > self.max_frame:
                    raise FramingError(f"a frame of {value} bytes exceeds the {self.max_frame}-byte limit")
                return value, i + 1
            shift += 7
        return None

    @property
    def pending(self) -> int:
        """Bytes received that do not yet make a whole frame."""
        return len(self._buffer)
