"""A network's content across its nodes through IPFS (kubo): the pinned daemon's install (install.py), its
private-swarm repository and HTTP RPC client (kubo.py), and what a node puts into the swarm, fetches from
it, verifies and unpins (replication.py). The dev node uses none of it: its embedded store is all it has.
"""
