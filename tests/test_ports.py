"""Loopback ports for test and tool servers: distinct across calls (a test network once got one port for
two of its nodes' servers), and from below the ephemeral range, where no outgoing connection's source
port can take them before the server binds."""

import socket

from node.ports import ephemeral_range, free_port, free_ports


def test_ports_are_never_handed_out_twice_and_lie_below_the_ephemeral_range():
    low, high = ephemeral_range()
    assert 0 < low <= high
    calls = [free_ports(5) for _ in range(40)] + [[free_port()] for _ in range(40)]
    ports = [port for call in calls for port in call]
    assert len(set(ports)) == len(ports) == 240  # distinct within and across calls, as the sockets closed between
    assert all(port < low for port in ports)
    held = []
    try:
        for port in ports[:20]:  # each is free for a server to bind
            s = socket.socket()
            held.append(s)
            s.bind(("127.0.0.1", port))
            s.listen()
    finally:
        for s in held:
            s.close()
