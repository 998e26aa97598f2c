"""Install the pinned CometBFT and generate its ABCI protobuf types (run by `make`, once, cached).

CometBFT is a Go program: `go install github.com/cometbft/cometbft/cmd/cometbft@vX` puts the pinned
release into the virtual environment's `bin/` (GOBIN). The ABCI wire types are generated from the
`.proto` files inside that same downloaded module (and the gogoproto module it imports) - never
copied into this repository - into `<venv>/cometbft-proto`, which a `.pth` file puts on the path.
Both steps are skipped when their output is already there for this version.

    python -m node.abci.install
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

COMETBFT_VERSION = "0.38.26"
COMETBFT_MODULE = "github.com/cometbft/cometbft"
GOGOPROTO_MODULE = "github.com/cosmos/gogoproto"
VENV = Path(sys.prefix)
PROTO_OUT = VENV / "cometbft-proto"
PTH_FILE = "payable-cometbft-proto.pth"
STAMP = PROTO_OUT / f".generated-{COMETBFT_VERSION}"


class InstallError(RuntimeError):
    """A set-up step failed; the message says which and what to do."""


def binary_path() -> Path:
    """The cometbft binary this project runs: $PAYABLE_COMETBFT, else the virtual environment's own."""
    return Path(os.environ.get("PAYABLE_COMETBFT", VENV / "bin" / "cometbft"))


def installed_version(binary: Path | None = None) -> str | None:
    binary = binary or binary_path()
    if not binary.exists():
        return None
    done = subprocess.run([str(binary), "version"], capture_output=True, text=True, timeout=30)
    return done.stdout.strip() or None


def check_binary(binary: Path | None = None) -> Path:
    """The pinned cometbft binary, or InstallError saying what is missing or mismatched."""
    binary = binary or binary_path()
    version = installed_version(binary)
    if version is None:
        raise InstallError(f"no cometbft at {binary}: run `make cometbft` (or set PAYABLE_COMETBFT)")
    if version != COMETBFT_VERSION:
        raise InstallError(f"{binary} is CometBFT {version}, but this node speaks the ABCI of {COMETBFT_VERSION}: "
                           f"run `make cometbft` to install the pinned release")
    return binary


def _go(*args: str, env: dict | None = None) -> str:
    go = shutil.which("go")
    if go is None:
        raise InstallError("the Go toolchain is needed to install CometBFT (`go` is not on PATH)")
    done = subprocess.run([go, *args], capture_output=True, text=True, env=env, timeout=1800)
    if done.returncode != 0:
        raise InstallError(f"`go {' '.join(args)}` failed:\n{done.stderr.strip()[-2000:]}")
    return done.stdout.strip()


def install_binary() -> Path:
    binary = VENV / "bin" / "cometbft"
    if installed_version(binary) == COMETBFT_VERSION:
        return binary
    env = {**os.environ, "GOBIN": str(binary.parent)}
    _go("install", f"{COMETBFT_MODULE}/cmd/cometbft@v{COMETBFT_VERSION}", env=env)
    return check_binary(binary)


def _module_dir(module: str, version: str) -> Path:
    path = _go("mod", "download", "-json", f"{module}@{version}")
    found = re.search(r'"Dir":\s*"([^"]+)"', path)
    if found is None:
        raise InstallError(f"`go mod download` did not say where {module}@{version} is")
    return Path(found.group(1))


def generate_protos() -> Path:
    """ABCI types from the module's own .proto files into PROTO_OUT (importable as `tendermint.abci`)."""
    if not STAMP.exists():
        from grpc_tools import protoc

        comet = _module_dir(COMETBFT_MODULE, f"v{COMETBFT_VERSION}")
        gogo_version = re.search(rf"{re.escape(GOGOPROTO_MODULE)} (v\S+)", (comet / "go.mod").read_text())
        if gogo_version is None:
            raise InstallError(f"{comet}/go.mod names no {GOGOPROTO_MODULE} version")
        gogo = _module_dir(GOGOPROTO_MODULE, gogo_version.group(1))
        shutil.rmtree(PROTO_OUT, ignore_errors=True)
        PROTO_OUT.mkdir(parents=True)
        root = comet / "proto"
        sources = [str(p.relative_to(root)) for p in sorted((root / "tendermint").rglob("*.proto"))
                   if p.parent.name in ("abci", "crypto", "types", "version")]
        bundled = Path(protoc.__file__).parent / "_proto"  # google/protobuf/*.proto
        args = ["protoc", f"-I{root}", f"-I{gogo}", f"-I{bundled}", f"--python_out={PROTO_OUT}",
                *sources, "gogoproto/gogo.proto"]
        if protoc.main(args) != 0:
            raise InstallError(f"protoc failed on the ABCI protos of {comet}")
        for directory in [PROTO_OUT / "tendermint", *(p for p in PROTO_OUT.rglob("*") if p.is_dir())]:
            (directory / "__init__.py").touch()
        STAMP.touch()
    site = Path(sysconfig.get_paths()["purelib"])
    (site / PTH_FILE).write_text(f"{PROTO_OUT}\n")
    return PROTO_OUT


def main() -> None:
    try:
        binary = install_binary()
        out = generate_protos()
    except InstallError as exc:
        raise SystemExit(f"cometbft set-up: {exc}") from exc
    print(f"cometbft {COMETBFT_VERSION} at {binary}; ABCI types in {out}")  # noqa: T201 - the set-up command reports


if __name__ == "__main__":
    main()
