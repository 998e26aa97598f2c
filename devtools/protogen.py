"""Generate the Python protobuf/gRPC modules from `proto/`, or check that the committed ones are current.

Generated modules are committed next to their `.proto` sources so that installing the chain needs no
compiler; `--check` (run by the test suite) regenerates into a scratch directory and fails when any
committed file differs, so a `.proto` edit without regeneration never lands silently.
"""

from __future__ import annotations

import argparse
import filecmp
import sys
import tempfile
from pathlib import Path

GENERATED_SUFFIXES = ("_pb2.py", "_pb2.pyi", "_pb2_grpc.py")


def proto_sources(root: Path) -> list[Path]:
    """Every .proto file under `root`, in a stable order."""
    return sorted(root.rglob("*.proto"))


def generate(root: Path, out: Path) -> None:
    """Compile every .proto under `root` into `out` with grpc_tools' bundled protoc."""
    from grpc_tools import protoc  # dev dependency: only needed to (re)generate

    import payable

    sources = [str(p.relative_to(root)) for p in proto_sources(root)]
    includes = [root, Path(protoc.__file__).parent / "_proto"]
    payable_protos = Path(payable.__file__).resolve().parent.parent  # lets a pallet package import payable/*.proto
    if payable_protos != root.resolve():
        includes.append(payable_protos)
    args = ["protoc", *(f"-I{path}" for path in includes), f"--python_out={out}", f"--pyi_out={out}",
            f"--grpc_python_out={out}", *sources]
    if protoc.main(args) != 0:
        raise SystemExit(f"protoc failed for sources under {root}")
    # generated code is imported as packages (payable.token.v1.token_pb2): every directory needs an __init__
    for source in sources:
        for package in Path(source).parents[:-1]:
            (out / package / "__init__.py").touch()


def stale_files(root: Path) -> list[str]:
    """Generated files under `root` that differ from a fresh generation (or are missing/extra)."""
    with tempfile.TemporaryDirectory() as scratch:
        fresh = Path(scratch)
        generate(root, fresh)
        want = {p.relative_to(fresh) for p in fresh.rglob("*") if p.name.endswith(GENERATED_SUFFIXES)}
        have = {p.relative_to(root) for p in root.rglob("*") if p.name.endswith(GENERATED_SUFFIXES)}
        problems = [f"missing: {p}" for p in sorted(want - have)]
        problems += [f"not generated from any .proto: {p}" for p in sorted(have - want)]
        problems += [f"stale: {p}" for p in sorted(want & have)
                     if not filecmp.cmp(fresh / p, root / p, shallow=False)]
        return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", nargs="?", default="proto", type=Path, help="directory of .proto sources")
    parser.add_argument("--check", action="store_true", help="fail if generated files are stale")
    args = parser.parse_args(argv)
    if args.check:
        problems = stale_files(args.root)
        for line in problems:
            print(line, file=sys.stderr)
        if problems:
            print(f"run: python -m devtools.protogen {args.root}", file=sys.stderr)
        return 1 if problems else 0
    generate(args.root, args.root)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
