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
        at = 0  # frames are read at an offset and the buffer cut once: cutting each off its front moved the rest
        while True:
            header = self._length(at)
            if header is None or len(self._buffer) - header[1] < header[0]:
                del self._buffer[:at]
                return frames
            length, start = header
            frames.append(bytes(self._buffer[start:start + length]))
            at = start + length

    def _length(self, at: int) -> tuple[int, int] | None:
        """(payload length, where the payload starts) of the frame at offset `at`, or None while its prefix is
        incomplete."""
        value = shift = 0
        for i in range(at, len(self._buffer)):
            if i - at == 10:
                raise FramingError("a length prefix longer than 10 bytes")
            byte = self._buffer[i]
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
