"""Loopback ports for servers started by tools and tests.

A port is free when it is chosen and bound later by the server it is for, so two things can take it in
between, and both have:
- another port chosen in the same process: the sockets that prove ports free are closed on return, so
  a later call could hand out the same port again (a CometBFT test network gave node0's gRPC server and
  node4's p2p listener both port 35307, and node4 could not start). Every port handed out is remembered
  and never handed out again by this process;
- an outgoing connection's source port, which comes from the OS's ephemeral range - as does a port
  from binding to port 0. Ports are drawn from below that range instead, where no connection's source
  port lands (on loopback, dialing a not-yet-listening port from that same port even connects to itself).
"""

from __future__ import annotations

import random
import socket
import threading
from pathlib import Path

LOWEST = 10_000  # below: ports many services claim by convention
TRIES = 2_000
_given: set[int] = set()  # every port this process has handed out
_lock = threading.Lock()


def ephemeral_range() -> tuple[int, int]:
    """The OS's range for outgoing connections' source ports (Linux's default where it cannot be read)."""
    try:
        low, high = map(int, Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
        return low, high
    except (OSError, ValueError):
        return 32_768, 60_999


def free_ports(count: int) -> list[int]:
    """`count` distinct TCP ports on 127.0.0.1, free right now, never handed out before by this process,
    and below the ephemeral range (or, where that range leaves too little room below it, from the OS)."""
    low, _ = ephemeral_range()
    room = low - LOWEST >= 100 * count
    rng = random.SystemRandom()
    held: list[socket.socket] = []
    with _lock:
        try:
            for _ in range(TRIES):
                if len(held) == count:
                    break
                port = rng.randrange(LOWEST, low) if room else 0
                if port in _given:
                    continue
                s = socket.socket()
                try:
                    s.bind(("127.0.0.1", port))
                except OSError:  # in use, or held by this very call: draw again
                    s.close()
                    continue
                held.append(s)
                if s.getsockname()[1] in _given:  # the OS gave one out before
                    held.pop().close()
            if len(held) < count:
                raise OSError(f"no {count} free loopback ports found in {TRIES} tries")
            ports = [s.getsockname()[1] for s in held]
            _given.update(ports)
            return ports
        finally:
            for s in held:
                s.close()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now (see `free_ports`)."""
    return free_ports(1)[0]
