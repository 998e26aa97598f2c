"""Offline chain tools on a stopped node's base path: check-chain, export-blocks, import-blocks."""

from __future__ import annotations

from pathlib import Path

from .common import chain_choice, chain_spec, emit, json_option


def _spans(numbers: tuple[int, ...]) -> str:
    """#3, #7..#9 - block numbers as runs."""
    runs: list[list[int]] = []
    for n in numbers:
        if runs and runs[-1][1] == n - 1:
            runs[-1][1] = n
        else:
            runs.append([n, n])
    return ", ".join(f"#{a}" if a == b else f"#{a}..#{b}" for a, b in runs)


def _finality(report, verb: str) -> tuple[dict, list[tuple[str, str]]]:
    """The JSON fields and table rows every tool reports: the chain's kind, and its blocks not yet final."""
    from node.chaintools import KIND_TEXT

    data = {"chain": report.kind, "finality": KIND_TEXT[report.kind], "not_final": list(report.not_final)}
    rows = [("chain", KIND_TEXT[report.kind])]
    if report.not_final:
        rows.append(("not yet final", f"{_spans(report.not_final)}: no commit recorded (a block is final by the next "
                                      f"height's commit, not fetched before the node stopped); {verb}"))
    return data, rows


def cmd_check_chain(args) -> int:
    from node.chaintools import COMETBFT, check_chain

    report = check_chain(Path(args.base_path))
    data, rows = _finality(report, "checked by re-execution only")
    result = "ok: every block re-executes to its stored roots"
    if report.kind == COMETBFT:
        final = report.blocks - len(report.not_final)
        result += (f"; {final} of {report.blocks} blocks final by a recorded commit signed by more than two "
                   "thirds of the voting power the chain's state elected")
    emit(args, {"ok": True, "blocks": report.blocks, "head": report.head_hash.hex(),
                "state_root": report.state_root.hex(), **data},
         [rows[0], ("result", result), ("blocks", str(report.blocks)), *rows[1:],
          ("head", report.head_hash.hex()), ("state root", report.state_root.hex())])
    return 0


def cmd_export_blocks(args) -> int:
    from node.chaintools import export_blocks

    report = export_blocks(Path(args.base_path), Path(args.output), args.start, args.end)
    data, rows = _finality(report, "exported without one")
    emit(args, {"exported": report.blocks, "file": args.output, **data},
         [*rows[:1], ("exported", f"{report.blocks} blocks to {args.output}"), *rows[1:]])
    return 0


def cmd_import_blocks(args) -> int:
    from node.chaintools import import_blocks

    from .logs import configure_logging

    configure_logging()
    report = import_blocks(Path(args.base_path), Path(args.input), chain_spec(args))
    data, rows = _finality(report, "imported without one")
    emit(args, {"imported": report.blocks, **data}, [*rows[:1], ("imported", f"{report.blocks} blocks"), *rows[1:]])
    return 0


def register(sub) -> None:
    def tool(name: str, help_text: str, func):
        parser = json_option(sub.add_parser(name, help=help_text))
        parser.add_argument("--base-path", required=True)
        parser.set_defaults(func=func)
        return parser

    tool("check-chain", "re-execute a stopped node's chain from genesis, verifying all roots and (a CometBFT "
         "chain) every block's commit signatures", cmd_check_chain)
    export = tool("export-blocks", "write a stopped node's blocks (a CometBFT chain's with their commits) to a file",
                  cmd_export_blocks)
    export.add_argument("--output", required=True)
    export.add_argument("--start", type=int, default=1)
    export.add_argument("--end", type=int)
    imp = tool("import-blocks", "import blocks from a file into a (stopped) node's chain", cmd_import_blocks)
    imp.add_argument("--input", required=True)
    chain_choice(imp)
