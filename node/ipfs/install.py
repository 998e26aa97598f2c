"""Install the pinned kubo (IPFS) daemon into the virtual environment's `bin/` (run by `make`, once, cached).

`go install github.com/ipfs/kubo/cmd/ipfs@v0.43.1` is refused by the go command: kubo's go.mod holds a
`replace` of go-libp2p by a fork (a go-libp2p that already requires quic-go v0.62.0 and webtransport-go
v0.13.0), and `go install pkg@version` refuses any module with a replace. That fork is not served by the Go
module proxy either. So the pinned kubo module is downloaded through the module proxy like any module, its
source copied to a temporary folder, the replace swapped for upstream go-libp2p v0.50.0 - the first release
that requires exactly those quic-go and webtransport-go versions, what the replace's own TODO waits for -
and `./cmd/ipfs` built there into GOBIN. Skipped when the pinned version is already installed.

    python -m node.ipfs.install
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

KUBO_VERSION = "0.43.1"
KUBO_MODULE = "github.com/ipfs/kubo"
LIBP2P_MODULE = "github.com/libp2p/go-libp2p"
LIBP2P_UPSTREAM = "v0.50.0"  # in place of the fork kubo's go.mod names (not served by the module proxy)
VENV = Path(sys.prefix)


class InstallError(RuntimeError):
    """The kubo set-up failed; the message says which step and what to do."""


def binary_path() -> Path:
    """The ipfs binary this project runs: $PAYABLE_IPFS, else the virtual environment's own."""
    return Path(os.environ.get("PAYABLE_IPFS", VENV / "bin" / "ipfs"))


def installed_version(binary: Path | None = None) -> str | None:
    binary = binary or binary_path()
    if not binary.exists():
        return None
    done = subprocess.run([str(binary), "version", "--number"], capture_output=True, text=True, timeout=30)
    return done.stdout.strip() or None


def check_binary(binary: Path | None = None) -> Path:
    """The pinned ipfs binary, or InstallError saying what is missing or mismatched."""
    binary = binary or binary_path()
    version = installed_version(binary)
    if version != KUBO_VERSION:
        found = f"kubo {version}" if version else "no ipfs"
        raise InstallError(f"{binary}: {found}, this project runs kubo {KUBO_VERSION}: run `make` (or "
                           f"`python -m node.ipfs.install`, or set PAYABLE_IPFS)")
    return binary


def _go(*args: str, cwd: Path | None = None, env: dict | None = None) -> str:
    go = shutil.which("go")
    if go is None:
        raise InstallError("the Go toolchain is needed to build kubo (`go` is not on PATH)")
    done = subprocess.run([go, *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=3600)
    if done.returncode != 0:
        raise InstallError(f"`go {' '.join(args)}` failed:\n{done.stderr.strip()[-2000:]}")
    return done.stdout.strip()


def install_binary() -> tuple[Path, float]:
    """Build the pinned kubo into the venv's bin/ unless it is there; (its path, seconds the build took)."""
    binary = VENV / "bin" / "ipfs"
    if installed_version(binary) == KUBO_VERSION:
        return binary, 0.0
    started = time.monotonic()
    listing = _go("mod", "download", "-json", f"{KUBO_MODULE}@v{KUBO_VERSION}")
    found = re.search(r'"Dir":\s*"([^"]+)"', listing)
    if found is None:
        raise InstallError(f"`go mod download` did not say where {KUBO_MODULE}@v{KUBO_VERSION} is")
    with tempfile.TemporaryDirectory(prefix="kubo-build-") as tmp:
        source = Path(tmp) / "kubo"
        shutil.copytree(found.group(1), source)
        for path in [source, *source.rglob("*")]:  # the module cache is read-only
            path.chmod(path.stat().st_mode | stat.S_IWUSR)
        _go("mod", "edit", f"-dropreplace={LIBP2P_MODULE}", f"-require={LIBP2P_MODULE}@{LIBP2P_UPSTREAM}", cwd=source)
        env = {**os.environ, "GOFLAGS": "-buildvcs=false -mod=mod"}
        _go("build", "-trimpath", "-o", str(binary), "./cmd/ipfs", cwd=source, env=env)
    return check_binary(binary), time.monotonic() - started


def main() -> None:
    try:
        binary, seconds = install_binary()
    except InstallError as exc:
        raise SystemExit(f"kubo set-up: {exc}") from exc
    built = f" (built in {seconds:.0f} s)" if seconds else " (already installed)"
    print(f"kubo {KUBO_VERSION} at {binary}{built}")  # noqa: T201 - the set-up command reports


if __name__ == "__main__":
    main()
