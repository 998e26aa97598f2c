"""llama.cpp's HTTP server for the benchmarks: built once from the pinned sdist, run on loopback.

Why: bench/openlora.py compares OpenLoRA's multi-adapter decode against what a CPU user would otherwise
run, llama.cpp's `llama-server` serving the same adapters as GGUF LoRAs (`--lora`, chosen per request by
the request's `lora` field). The server is built from exactly the llama.cpp that the GGUF export uses: the
vendored tree of the `llama-cpp-python` sdist pinned (by sha256) in gpu_worker/finetune/gguf_export.py.
This is a dev/bench tool only: no shipped code imports it.

    python -m bench.llama_server build [--sdist FILE]   # once (minutes on 2 cores); `make bench-tools`
    python -m bench.llama_server where

The build configures cmake (Release, static, native CPU flags, no curl/openssl, no web UI download, no
tests or examples), builds only the `llama-server` target and installs the binary into
`<tool_dir>/server/`, beside a stamp holding the sdist's hash; a present binary with a matching stamp is
reused, never rebuilt.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from gpu_worker.finetune import gguf_export  # noqa: E402
from gpu_worker.gguf_import import sha256_file  # noqa: E402

BINARY = "llama-server"
STAMP = ".built-from"
CMAKE_FLAGS = ["-DCMAKE_BUILD_TYPE=Release", "-DBUILD_SHARED_LIBS=OFF", "-DGGML_NATIVE=ON", "-DLLAMA_CURL=OFF",
               "-DLLAMA_OPENSSL=OFF", "-DLLAMA_BUILD_SERVER=ON", "-DLLAMA_BUILD_TOOLS=ON",
               "-DLLAMA_BUILD_TESTS=OFF", "-DLLAMA_BUILD_EXAMPLES=OFF", "-DLLAMA_BUILD_APP=OFF",
               "-DLLAMA_BUILD_UI=OFF", "-DLLAMA_USE_PREBUILT_UI=OFF"]


def server_dir() -> Path:
    return gguf_export.tool_dir() / "server"


def _stamp_text() -> str:
    return f"{gguf_export.SDIST} sha256 {gguf_export.SDIST_SHA256}\n"


def binary() -> Path | None:
    """The built server, or None when it is missing or was built from another sdist."""
    folder = server_dir()
    stamp = folder / STAMP
    if (folder / BINARY).is_file() and stamp.is_file() and stamp.read_text() == _stamp_text():
        return folder / BINARY
    return None


def build(sdist: Path | None = None, jobs: int = 2) -> Path:
    """Build `llama-server` from the pinned sdist's vendor/llama.cpp (downloaded with pip unless given);
    returns the binary. The install folder appears whole (binary and stamp) or is left as it was."""
    found = binary()
    if found:
        return found
    for tool in ("cmake", "c++"):
        if shutil.which(tool) is None:
            raise RuntimeError(f"building llama-server needs {tool} on PATH")
    folder = server_dir()
    folder.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="llama-server-build-", dir=folder.parent) as tmp:
        work = Path(tmp)
        archive = Path(sdist) if sdist else gguf_export._download_sdist(work)
        got = sha256_file(archive)
        if got != gguf_export.SDIST_SHA256:
            raise RuntimeError(f"{archive} has sha256 {got}, not the pinned {gguf_export.SDIST_SHA256}")
        source = work / "src"
        with tarfile.open(archive, "r:gz") as tar:
            members = [m for m in tar.getmembers() if m.name.startswith(gguf_export.VENDORED)]
            for member in members:
                member.name = member.name[len(gguf_export.VENDORED):]
            tar.extractall(source, members=[m for m in members if m.name], filter="data")
        build_dir = work / "build"
        started = time.perf_counter()
        for command in (["cmake", "-S", str(source), "-B", str(build_dir), *CMAKE_FLAGS],
                        ["cmake", "--build", str(build_dir), "--target", BINARY, "-j", str(jobs)]):
            done = subprocess.run(command, capture_output=True, text=True)
            if done.returncode != 0:
                raise RuntimeError(f"{' '.join(command[:3])} failed: {(done.stdout + done.stderr)[-3000:]}")
        built = next(build_dir.rglob(f"bin/{BINARY}"))
        staging = work / "server"
        staging.mkdir()
        shutil.copy2(built, staging / BINARY)
        (staging / "build.json").write_text(json.dumps({"seconds": round(time.perf_counter() - started, 1),
                                                        "jobs": jobs, "cmake_flags": CMAKE_FLAGS}))
        (staging / STAMP).write_text(_stamp_text())
        if folder.exists():
            shutil.rmtree(folder)
        staging.replace(folder)
    return folder / BINARY


def build_seconds() -> float | None:
    """How long the cached build took (cmake configure + build), as recorded when it was made."""
    record = server_dir() / "build.json"
    return json.loads(record.read_text())["seconds"] if record.is_file() else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def post(url: str, body: dict, timeout: float = 600) -> dict:
    request = urllib.request.Request(url, json.dumps(body).encode(), {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as reply:
        return json.loads(reply.read())


@contextmanager
def serving(model: Path, loras: list[Path], *, slots: int, context: int, threads: int = 2,
            ready_timeout: float = 300):
    """Run the built server on a free loopback port with every LoRA loaded (scale 0 until a request names
    it); yields its base URL and always stops it."""
    server = binary()
    if server is None:
        raise RuntimeError(f"llama-server is not built at {server_dir()}: run `make bench-tools`")
    port = free_port()
    command = [str(server), "-m", str(model), "--host", "127.0.0.1", "--port", str(port), "-np", str(slots),
               "-c", str(context * slots), "-t", str(threads), "-tb", str(threads), "--no-warmup",
               "--lora-init-without-apply", "--no-webui"]
    for lora in loras:
        command += ["--lora", str(lora)]
    log = tempfile.TemporaryFile()
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + ready_timeout
        while True:
            if process.poll() is not None:
                log.seek(0)
                raise RuntimeError(f"llama-server exited with {process.returncode}: "
                                   f"{log.read().decode(errors='replace')[-2000:]}")
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2) as reply:
                    if reply.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"llama-server did not become ready in {ready_timeout} s")
            time.sleep(0.2)
        yield url
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        log.close()


def gguf_files(base_dir: Path, adapters: list[Path], cache: Path, outtype: str = "f16") -> tuple[Path, list[Path]]:
    """The base as a GGUF model and each PEFT adapter as a GGUF LoRA, through the export path users get
    (`convert_base`, `export_gguf`: llama.cpp's own converters), cached by content hash so a second run
    converts nothing. Two conversions run at once (each is a subprocess)."""
    from concurrent.futures import ThreadPoolExecutor

    gguf_export.install()
    weights = sorted(Path(base_dir).glob("*.safetensors"))
    base_key = sha256_file(weights[0])[:16] if len(weights) == 1 else Path(base_dir).name
    base = cache / f"base-{base_key}-{outtype}.gguf"
    if not base.is_file():
        partial = gguf_export.convert_base(Path(base_dir), cache / f".partial-{base.name}", outtype)
        partial.replace(base)

    def one(adapter: Path) -> Path:
        key = sha256_file(adapter / "adapter_model.safetensors")[:16]
        target = cache / f"lora-{key}-{outtype}.gguf"
        if not target.is_file():
            with tempfile.TemporaryDirectory(prefix="lora-", dir=cache) as tmp:
                written = gguf_export.export_gguf(Path(base_dir), adapter, Path(tmp), "# bench adapter\n",
                                                  outtype=outtype, name=key)
                Path(written["gguf"]).replace(target)
        return target

    cache.mkdir(parents=True, exist_ok=True)
    with ThreadPoolExecutor(2) as pool:
        return base, list(pool.map(one, adapters))


def decode(url: str, prompts: list[list[int]], loras: list[int], new_tokens: int) -> dict:
    """All requests in flight at once, request i with LoRA `loras[i]` (the request's `lora` field: the others
    stay at scale 0), greedy, exactly `new_tokens` each (EOS ignored); aggregate generated tokens/s over the
    wall time from the first request sent to the last answer, and the tokens each request generated."""
    from concurrent.futures import ThreadPoolExecutor

    def one(i: int) -> dict:
        return post(f"{url}/completion", {"prompt": prompts[i], "n_predict": new_tokens, "ignore_eos": True,
                                          "temperature": 0.0, "top_k": 1, "cache_prompt": False, "seed": 0,
                                          "return_tokens": True,
                                          "lora": [{"id": loras[i], "scale": 1.0}]})

    started = time.perf_counter()
    with ThreadPoolExecutor(len(prompts)) as pool:
        answers = list(pool.map(one, range(len(prompts))))
    elapsed = time.perf_counter() - started
    tokens = sum(a["tokens_predicted"] for a in answers)
    if tokens != new_tokens * len(prompts):
        raise RuntimeError(f"llama-server generated {tokens} tokens, expected {new_tokens * len(prompts)}")
    return {"tokens_per_s": round(tokens / elapsed, 1), "seconds": round(elapsed, 2),
            "generated": [a["tokens"] for a in answers]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.llama_server", description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=("build", "where"))
    parser.add_argument("--sdist", type=Path, help=f"a local {gguf_export.SDIST} (else pip downloads it)")
    parser.add_argument("-j", "--jobs", type=int, default=2)
    args = parser.parse_args(argv)
    if args.action == "build":
        path = build(args.sdist, args.jobs)
        sys.stdout.write(f"{path} (built in {build_seconds()} s)\n")
        return 0
    path = binary()
    if path is None:
        sys.stderr.write(f"llama-server is not built at {server_dir()}\n")
        return 1
    sys.stdout.write(f"{path}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
