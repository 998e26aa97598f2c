"""Studio benchmark: page loads on a long chain, and what the OpenAI-compatible gateway adds to a paid call.

Pages: a dev chain of 10,000 blocks holding 1,000 settled paid inferences (a digits classifier with gradient
attribution, as in bench/payable_flow.py; built in-process by the real executive on RocksDB, the settlements
spread over the chain in rounds) is served by a `payable node` process and `payable studio` on loopback.
Debian's Chromium loads the explorer, an account page (a contributor paid in the settlements; its balances
proven in the page) and that contributor's earnings page (every payout listed and charted), `--loads` times
each; the figure is the browser's navigation timing (load event end, ms), p50 and p95 - and, for the account
page, also the time until the page has checked the proof.

Gateway: on a fresh dev chain (blocks every 0.2 s) where the demo's ModelFactory step published two adapters,
the same paid generation (prompt, 16 new tokens, greedy) is made directly over gRPC - pay, read the stream,
wait for the settlement, what `payable generate` does - and through `payable gateway` with the official
openai client (a non-streamed completion, which answers after the settlement), alternately, `--calls` times
each: p50s and their ratio.

    python bench/studio.py [--blocks 10000] [--settlements 1000] [--loads 20] [--calls 8]
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from node.ports import free_port  # noqa: E402
from payable.inference.v1 import inference_pb2 as inf  # noqa: E402
from payable.worker.v1 import worker_pb2 as wp  # noqa: E402
from runtime.chainspec import ChainSpec, dev_spec  # noqa: E402
from runtime.codec import ONE_OPEN, encode_u128  # noqa: E402
from runtime.crypto import Keypair  # noqa: E402
from runtime.executive import Executive  # noqa: E402
from runtime.storage.backend import RocksBackend  # noqa: E402
from sdk.client import Client  # noqa: E402
from sdk.wire import request_id_bytes  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--no-first-run"]
ROUND = 100  # requests per round (one block of requests, one block of results)


def _payable_flow():
    """bench/payable_flow.py's chain helper and classifier set-up (loaded by path: bench/ is no package)."""
    spec = importlib.util.spec_from_file_location("payable_flow", ROOT / "bench" / "payable_flow.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def build_chain(base_path: Path, blocks: int, settlements: int) -> tuple[Path, bytes]:
    """The long chain on disk (a node's base path) and its spec; returns (spec file, a paid contributor)."""
    from sklearn.datasets import load_digits

    from gpu_worker.worker import Worker

    flow = _payable_flow()
    digits = load_digits()
    x, y = (digits.data / 16.0).astype(np.float32), digits.target
    doc = dev_spec().to_dict()
    doc["config"]["inference"] = {"deadline_blocks": "1000"}
    spec_file = base_path.parent / "spec.json"
    spec_file.write_text(json.dumps(doc))
    executive = Executive.open(ChainSpec.from_dict(doc), RocksBackend(base_path / "db"))
    chain = flow.Chain(executive)
    with tempfile.TemporaryDirectory(prefix="studio-bench-worker-") as tmp:
        worker = Worker(tmp, Keypair.from_uri("//Eve"))
        flow.setup(chain, worker, x, y)
        model = chain.query("modelregistry", "get_model", flow.mr.ModelRequest(model=1), flow.mr.Model)
        rounds = max(1, settlements // ROUND)
        gap = max(0, (blocks - executive.head.number - 2 * rounds) // rounds)
        user, timing = Keypair.from_uri("//Alice"), {"proof_gathering": 0.0}
        for r in range(rounds):
            queries = [x[1000 + (r * ROUND + i) % 700].astype("<f4") for i in range(ROUND)]
            chain.block(*(chain.tx(user, "inference", 2, inf.RequestInference(
                model=1, input=q.tobytes(), max_fee=encode_u128(ONE_OPEN))) for q in queries))
            first = executive.head.number  # requests are numbered from 1 in order
            results = []
            for i, q in enumerate(queries):
                request_id = r * ROUND + i + 1
                seed = chain.query("inference", "get_request", inf.RequestRef(request=request_id),
                                   inf.Request).draw_seed
                signed = worker.gradient.attribute(wp.AttributeRequest(
                    model_hash=model.artifact_hash, index_hash=model.attribution_index_hash, input=q.tolist(),
                    label=-1, top_k=10, request_id=request_id_bytes(request_id), draw_seed=seed))
                results.append(chain.result(worker.key, request_id, signed, timing))
            chain.block(*results)
            for _ in range(gap):
                chain.block()
            print(f"  round {r + 1}/{rounds}: requests in #{first}, settled by #{executive.head.number}",
                  file=sys.stderr)
        while executive.head.number < blocks:
            chain.block()
    executive.close()
    executive.db.backend.close()
    return spec_file, Keypair.from_uri("//Bob").public


@contextlib.contextmanager
def process(args: list[str], log: Path, url: str | None = None):
    """A `payable` subcommand in its own process (waiting for `url` to answer when given); always stopped."""
    proc = subprocess.Popen([sys.executable, "-m", "cli", *args], stdout=open(log, "wb"), stderr=subprocess.STDOUT)
    try:
        deadline = time.time() + 120
        while url is not None:
            try:
                urllib.request.urlopen(url, timeout=5)
                break
            except urllib.error.HTTPError:
                break
            except OSError:
                if time.time() > deadline or proc.poll() is not None:
                    raise RuntimeError(f"{args[0]} did not start: {log.read_text()[-2000:]}") from None
                time.sleep(0.3)
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


def _percentiles(values: list[float]) -> dict:
    return {"p50_ms": round(float(np.percentile(values, 50)), 1), "p95_ms": round(float(np.percentile(values, 95)), 1),
            "n": len(values)}


def page_loads(url: str, contributor: bytes, loads: int) -> dict:
    from playwright.sync_api import sync_playwright

    from runtime.crypto import encode_address

    address = encode_address(contributor)
    pages = {"explorer": "/explorer", "account": f"/explorer/accounts/{address}",
             "earnings": f"/earnings/contributors/{address}"}
    out: dict = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page()
        page.set_default_timeout(120_000)
        for name, path in pages.items():
            page.goto(url + path)  # warm the studio's caches (metadata decoder) once
            loaded, checked = [], []
            for _ in range(loads):
                page.goto(url + path)
                loaded.append(page.evaluate("performance.getEntriesByType('navigation')[0].loadEventEnd"))
                if name == "account":
                    page.wait_for_selector("#proof-badge.ok")
                    checked.append(page.evaluate("performance.now()"))
            out[name] = _percentiles(loaded)
            if checked:
                out["account_proof_checked"] = _percentiles(checked)
        out["earnings_payouts_listed"] = page.locator("#payouts tbody tr").count()
        out["account_history_rows"] = page.goto(url + pages["account"]) and page.locator("#history tbody tr").count()
        browser.close()
    return out


def gateway_latency(work: Path, calls: int) -> dict:
    import grpc
    import openai

    from cli import demo_modelfactory
    from sdk.grpcserver import MESSAGE_OPTIONS
    from studio.generation import request_generation, stream_tokens, wait_closed

    node_port, worker_port, gateway_port = free_port(), free_port(), free_port()
    node_target, worker_target = f"127.0.0.1:{node_port}", f"127.0.0.1:{worker_port}"
    direct_key, gateway_key = Keypair.from_uri("//Direct-Bench"), Keypair.from_uri("//Gateway-Bench")
    with process(["node", "--dev", "--base-path", str(work / "node2"), "--grpc-port", str(node_port),
                  "--block-time", "0.2"], work / "node2.log"), \
            process(["worker", "--data-dir", str(work / "worker2"), "--grpc-port", str(worker_port), "--key",
                     "//Eve", "--node", node_target], work / "worker2.log"), Client(node_target) as client:
        client.wait_ready(60)
        channel = grpc.insecure_channel(worker_target, options=MESSAGE_OPTIONS)
        grpc.channel_ready_future(channel).result(timeout=120)
        with contextlib.redirect_stdout(sys.stderr):  # the demo step's story goes to stderr; stdout is the JSON
            base, adapters = demo_modelfactory.build(client, channel, 1)
        channel.close()
        alice = Keypair.from_uri("//Alice")
        client.submit_call(Keypair.from_uri("//Eve"), "inference", "register_worker", endpoint=worker_target,
                           base_models=[base], device="cpu", bond="100")
        for key in (direct_key, gateway_key):
            client.submit_call(alice, "token", "transfer_keep_alive", dest=key.public, amount="500")
        model, prompt = adapters[0].model, "What does builtins.len do?"
        api_key = "bench-api-key-0123456789"
        with process(["gateway", "--node", node_target, "--key", gateway_key.seed.hex(), "--port",
                      str(gateway_port), "--api-key", api_key], work / "gateway.log",
                     f"http://127.0.0.1:{gateway_port}/v1/models"):
            api = openai.OpenAI(base_url=f"http://127.0.0.1:{gateway_port}/v1", api_key=api_key, max_retries=0,
                                timeout=300)
            direct, through = [], []
            for _ in range(calls):
                t0 = time.perf_counter()
                request_id = request_generation(client, direct_key, model, prompt, max_new_tokens=16)
                list(stream_tokens(client, direct_key, request_id))
                wait_closed(client, request_id, timeout=120)
                direct.append((time.perf_counter() - t0) * 1000)
                t0 = time.perf_counter()
                api.completions.create(model=str(model), prompt=prompt, max_tokens=16)
                through.append((time.perf_counter() - t0) * 1000)
    d, g = _percentiles(direct), _percentiles(through)
    return {"direct_grpc": d, "gateway_openai_client": g, "added_p50_ms": round(g["p50_ms"] - d["p50_ms"], 1),
            "ratio_p50": round(g["p50_ms"] / d["p50_ms"], 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blocks", type=int, default=10_000)
    parser.add_argument("--settlements", type=int, default=1_000)
    parser.add_argument("--loads", type=int, default=20)
    parser.add_argument("--calls", type=int, default=8)
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory(prefix="studio-bench-") as tmp:
        work = Path(tmp)
        t0 = time.perf_counter()
        spec, contributor = build_chain(work / "node", args.blocks, args.settlements)
        built_s = time.perf_counter() - t0
        node_port, studio_port = free_port(), free_port()
        url = f"http://127.0.0.1:{studio_port}"
        with process(["node", "--chain", str(spec), "--base-path", str(work / "node"), "--grpc-port", str(node_port),
                      "--instant-seal"], work / "node.log"), \
                process(["studio", "--node", f"127.0.0.1:{node_port}", "--worker", "127.0.0.1:1", "--port",
                         str(studio_port)], work / "studio.log", f"{url}/api/chain"):
            with Client(f"127.0.0.1:{node_port}") as client:
                best = client.chain_info().best_number
            pages = page_loads(url, contributor, args.loads)
        gateway = gateway_latency(work, args.calls)
    print(json.dumps({"chain": {"blocks": best, "settlements": args.settlements, "built_in_s": round(built_s, 1)},
                      "page_load": pages, "gateway": gateway}, indent=2))


if __name__ == "__main__":
    main()
