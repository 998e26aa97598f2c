"""Offline chain tools on a stopped node's base path: check-chain, export-blocks, import-blocks."""

from __future__ import annotations

from pathlib import Path

from .common import chain_choice, chain_spec, emit, json_option


def cmd_check_chain(args) -> int:
    from node.chaintools import check_chain

    report = check_chain(Path(args.base_path))
    emit(args, {"ok": True, "blocks": report.blocks, "head": report.head_hash.hex(),
                "state_root": report.state_root.hex()},
         [("result", "ok: every block re-executes to its stored roots"), ("blocks", str(report.blocks)),
          ("head", report.head_hash.hex()), ("state root", report.state_root.hex())])
    return 0


def cmd_export_blocks(args) -> int:
    from node.chaintools import export_blocks

    count = export_blocks(Path(args.base_path), Path(args.output), args.start, args.end)
    emit(args, {"exported": count, "file": args.output}, [("exported", f"{count} blocks to {args.output}")])
    return 0


def cmd_import_blocks(args) -> int:
    from node.chaintools import import_blocks

    from .logs import configure_logging

    configure_logging()
    count = import_blocks(Path(args.base_path), Path(args.input), chain_spec(args))
    emit(args, {"imported": count}, [("imported", f"{count} blocks")])
    return 0


def register(sub) -> None:
    def tool(name: str, help_text: str, func):
        parser = json_option(sub.add_parser(name, help=help_text))
        parser.add_argument("--base-path", required=True)
        parser.set_defaults(func=func)
        return parser

    tool("check-chain", "re-execute a stopped node's chain from genesis, verifying all roots", cmd_check_chain)
    export = tool("export-blocks", "write a stopped node's blocks to a file", cmd_export_blocks)
    export.add_argument("--output", required=True)
    export.add_argument("--start", type=int, default=1)
    export.add_argument("--end", type=int)
    imp = tool("import-blocks", "import blocks from a file into a (stopped) node's chain", cmd_import_blocks)
    imp.add_argument("--input", required=True)
    chain_choice(imp)
