"""The ABCI socket server: CometBFT opens four connections (consensus, mempool, query, snapshot) and
each is served on its own thread, its requests answered strictly in order.

An address is `tcp://HOST:PORT` or `unix:///path`. A request the application cannot answer gets an
`exception` response (CometBFT stops on one from the consensus connection, which is what must happen
when the state machine fails) and the connection closes. Flush is answered on the spot.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Callable

import structlog
from google.protobuf.message import DecodeError

from .framing import FrameReader, FramingError, frame
from .types import abci

log = structlog.get_logger("payable.abci")
READ_SIZE = 256 * 1024


def parse_address(address: str) -> tuple[int, str | tuple[str, int]]:
    """(socket family, bind address) of `tcp://host:port` or `unix:///path`."""
    if address.startswith("unix://"):
        return socket.AF_UNIX, address[len("unix://"):]
    host, _, port = address.removeprefix("tcp://").rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"an ABCI address is tcp://HOST:PORT or unix:///PATH, got {address!r}")
    return socket.AF_INET, (host, int(port))


class AbciServer:
    def __init__(self, handle: Callable[[abci.Request], abci.Response], address: str,
                 on_close: Callable[[], None] | None = None):
        """handle(request) -> response for every request but flush; it may raise (→ exception response).
        on_close() runs on a connection's own thread when that connection ends."""
        self.handle = handle
        self.on_close = on_close
        self.address = address
        family, where = parse_address(address)
        if family == socket.AF_UNIX and isinstance(where, str) and os.path.exists(where):
            os.unlink(where)
        self._sock = socket.socket(family, socket.SOCK_STREAM)
        if family == socket.AF_INET:
            self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(where)
        self._sock.listen(8)
        self.port = self._sock.getsockname()[1] if family == socket.AF_INET else None
        self._stopped = threading.Event()
        self._connections: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._accept, name="abci-accept", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        try:
            self._sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._sock.close()
        with self._lock:
            for conn in self._connections:
                try:
                    conn.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
        for thread in [self._thread, *self._threads]:
            if thread is not None:
                thread.join(timeout=5)

    def _accept(self) -> None:
        while not self._stopped.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            with self._lock:
                self._connections.append(conn)
            thread = threading.Thread(target=self._serve, args=(conn,), name="abci-conn", daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, conn: socket.socket) -> None:
        reader = FrameReader()
        try:
            while True:
                data = conn.recv(READ_SIZE)
                if not data:
                    return
                out = []
                for payload in reader.feed(data):
                    response, fatal = self._respond(payload)
                    out.append(frame(response.SerializeToString()))
                    if fatal:
                        conn.sendall(b"".join(out))
                        return
                if out:
                    conn.sendall(b"".join(out))
        except FramingError as exc:
            log.error("abci_framing_error", error=str(exc))
        except OSError:
            pass
        finally:
            with self._lock:
                if conn in self._connections:
                    self._connections.remove(conn)
            conn.close()
            if self.on_close is not None:
                self.on_close()

    def _respond(self, payload: bytes) -> tuple[abci.Response, bool]:
        """The response to one request frame, and whether the connection must close after it."""
        try:
            request = abci.Request.FromString(payload)
        except DecodeError as exc:  # an undecodable frame is the peer's error, reported to it
            return abci.Response(exception=abci.ResponseException(error=f"undecodable request: {exc}")), True
        if request.WhichOneof("value") == "flush":
            return abci.Response(flush=abci.ResponseFlush()), False
        try:
            return self.handle(request), False
        except Exception as exc:  # last resort: reported to CometBFT, which stops on it (logged with its traceback)
            log.exception("abci_request_failed", request=request.WhichOneof("value"))
            return abci.Response(exception=abci.ResponseException(error=f"{type(exc).__name__}: {exc}")), True
