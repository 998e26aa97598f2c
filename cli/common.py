"""What every `payable` subcommand shares: key and account parsing, the client options, and output."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from pathlib import Path

from runtime.chainspec import ChainSpec, dev_spec
from runtime.crypto import Keypair, decode_address

DEFAULT_NODE = "127.0.0.1:9944"


def keypair_from(text: str) -> Keypair:
    """A signing key from a dev name ('//Alice'), 64 hex digits of seed, or a file holding either."""
    if text.startswith("//"):
        return Keypair.from_uri(text)
    source = ""
    if os.path.isfile(text):
        source, text = text, Path(text).read_text().strip()
        if text.startswith("//"):
            return Keypair.from_uri(text)
    try:
        seed = bytes.fromhex(text.removeprefix("0x"))
    except ValueError:
        seed = b""
    if len(seed) != 32 and source:
        raise ValueError(f"the file {source} holds neither a dev name nor a 32-byte hex seed: a key file is what "
                         "`payable key generate --output FILE` writes")
    if len(seed) != 32:
        raise ValueError(f"{text[:20]!r} is neither a dev name like //Alice, a 32-byte hex seed, nor a key file")
    return Keypair(seed)


def account_from(text: str) -> bytes:
    return Keypair.from_uri(text).public if text.startswith("//") else decode_address(text)


def json_option(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("--json", action="store_true", help="print JSON for scripts")
    return parser


def client_command(sub, name: str, help_text: str, func, *, signed: bool = False) -> argparse.ArgumentParser:
    """A subcommand that talks to a node: --node and --json, plus --from when it signs."""
    parser = json_option(sub.add_parser(name, help=help_text))
    parser.add_argument("--node", default=DEFAULT_NODE, help=f"node gRPC address (default {DEFAULT_NODE})")
    if signed:
        parser.add_argument("--from", dest="sender", required=True, help="signing key: //Name, hex seed or key file")
    parser.set_defaults(func=func)
    return parser


def chain_choice(parser: argparse.ArgumentParser, *, required: bool = False) -> None:
    """--dev or --chain SPEC.json, one of them."""
    group = parser.add_mutually_exclusive_group(required=required)
    group.add_argument("--dev", action="store_true", help="the development chain (prefunded //Alice, //Bob, ...)")
    group.add_argument("--chain", help="a chain spec JSON file")


def chain_spec(args) -> ChainSpec | None:
    return dev_spec() if args.dev else ChainSpec.load(args.chain) if args.chain else None


def client(args):
    from sdk.client import Client

    return Client(args.node)


def at_least(minimum: int):
    """An argparse type: an integer of at least `minimum`, refused by name otherwise (e.g. CometBFT exits on a
    negative timeout; a network with no epoch length never elects)."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{value} is below the least allowed, {minimum}")
        return value
    return parse


def emit(args, data, table: list[tuple[str, str]] | None = None) -> None:
    """JSON with --json (or when there is no table), else an aligned two-column table."""
    if args.json or table is None:
        print(json.dumps(data, indent=2, sort_keys=True))
    else:
        width = max(len(k) for k, _ in table)
        for key, value in table:
            print(f"{key:<{width}}  {value}")


def tx_result(args, result) -> int:
    data = {"hash": result.hash.hex(), "block": result.block_number, "index": result.extrinsic_index,
            "success": result.success, "error": result.error}
    emit(args, data, [("extrinsic", result.hash.hex()), ("block", f"#{result.block_number}"),
                      ("result", "success" if result.success else f"FAILED {result.error}")])
    return 0 if result.success else 1


def created(client, result, name: str, message_type):
    """The event `name` that the extrinsic emitted (to learn the id it created); fails if the call did."""
    if not result.success:
        raise ValueError(f"the call failed: {result.error}")
    return client.emitted(result.block_number, result.extrinsic_index, name, message_type)


def progress_bar(sent: int, total: int, doing: str = "uploading") -> None:
    width = 30
    done = int(width * sent / total) if total else width
    print(f"\r  {doing} [{'#' * done}{'.' * (width - done)}] {sent:,}/{total:,} bytes", end="", file=sys.stderr)
    if sent >= total:
        print(file=sys.stderr)


def download_bar(received: int, total: int) -> None:
    progress_bar(received, total, "downloading")


STALLED_STOP_S = 15  # a clean stop takes a few seconds (the servers' 2 s grace, closing the databases)


def wait_for_stop_signal() -> None:
    """Block until SIGINT or SIGTERM: servers then stop cleanly instead of dying mid-write. Should the stop
    itself stall (a thread that will not finish), every thread's stack goes to stderr - the process's log -
    after STALLED_STOP_S seconds, so whoever has to kill it can see what it was waiting for."""
    import faulthandler

    stopping = threading.Event()

    def stop(sig, _frame) -> None:
        stopping.set()
        signal.signal(sig, signal.SIG_DFL)  # a second one (Ctrl-C again) ends the process at once

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, stop)
    stopping.wait()
    try:
        faulthandler.dump_traceback_later(STALLED_STOP_S, exit=False)
    except (AttributeError, OSError, RuntimeError, ValueError):  # no stderr to write to: stop all the same
        pass


def worker_rpc(call, request, timeout: float | None = 600):
    """A call to the worker's gRPC API; its refusal as a ValueError that names the worker's status and reason
    (the CLI prints it and exits 2)."""
    import grpc

    try:
        return call(request, timeout=timeout)
    except grpc.RpcError as exc:
        raise ValueError(f"worker: {exc.code().name}: {exc.details()}") from exc
