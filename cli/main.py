"""The `payable` command line: run a node or a worker, manage keys, send transactions, read the chain.

Client commands talk to a node over gRPC (`--node HOST:PORT`, default 127.0.0.1:9944) through the
client SDK, print tables for people and JSON with `--json`.
"""

from __future__ import annotations

import argparse
import os
import sys

from runtime.codec import CodecError

from . import (
    audit,
    chain,
    chaintools,
    datanet,
    demo,
    finetune,
    gateway,
    generate,
    model,
    node,
    studio,
    testnet,
    validator,
    worker,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="payable", description="Payable AI chain: node and client tools")
    sub = parser.add_subparsers(dest="command", required=True)
    for subject in (node, testnet, validator, worker, chaintools, chain, datanet, model, audit, finetune, generate,
                    gateway, studio, demo):
        subject.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from node.chaintools import BlockFileError
    from runtime.errors import ChainSpecError
    from runtime.executive import BlockImportError
    from sdk.client import ClientError

    try:
        return args.func(args)
    except BrokenPipeError as exc:
        if not _stdout_closed():  # another pipe (a socket, a child's): an error like any other
            print(f"error: {exc}", file=sys.stderr)
            return 2
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit's flush
        return 0  # the reader (head, less) closed our output after what it wanted: not an error
    except (ClientError, ChainSpecError, BlockImportError, BlockFileError, CodecError, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _stdout_closed() -> bool:
    """Whether our standard output is a pipe its reader has closed (poll reports an error on its write end)."""
    import select

    try:
        poller = select.poll()
        poller.register(sys.stdout.fileno(), select.POLLOUT)
        return any(events & select.POLLERR for _, events in poller.poll(0))
    except (OSError, ValueError):
        return False
