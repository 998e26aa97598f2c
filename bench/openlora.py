"""OpenLoRA benchmark: mixed-adapter batches against PEFT, side by side, interleaved rounds.

Base LLaMA-style models (hidden 256 and 768, 4 layers) with rank-16 adapters on every linear.
Workloads: a decode step of 64 requests × 1 token and a prefill of 32 requests × 16 tokens, with K
distinct adapters (1, 8, 64; requests spread uniformly). Methods: ours (sort-by-adapter segments;
BGMV, each row gathering its adapter's factors from resident slots in embedding bags; the
batch-invariant runtime, what paid generation runs; on a GPU, Punica-style SGMV kernels over
device-resident adapter slots), PEFT switching the active adapter per request, and PEFT's own
mixed-adapter batch (`adapter_names`).
Prints tokens/s, p50/p95 step latency, speedups, K=64 throughput as a fraction of K=1, the cost of
batch invariance, cold adapter load time, bytes per resident adapter and the max abs error against PEFT.

    python bench/openlora.py [--hidden 256 768] [--rounds 5] [--skip-generation] [--skip-context]
                             [--device cuda] [--dtype bfloat16] [--skip-switch]
                             [--skip-smollm2] [--smollm2-requests 64] [--smollm2-new-tokens 32]
                             [--skip-llama-cpp] [--llama-cpp-outtype f16]

Then a decode step of 64 requests at contexts of 8, 128 and 512 tokens (hidden 256), K = 1 and 64.
On a GPU, also the LoRA term alone for one 4096-wide module (the SGMV kernels against the per-segment
loop, K = 1, 8, 64). Then a generation run: 500 requests over 1,000 registered adapters (Zipf
popularity), continuous batching, a host cache that holds 200 of them: tokens/s, request latency, disk
loads, evictions.

Last, generation on the real base, SmolLM2-135M-Instruct (on the CPU): 64 rank-8 adapters on every linear,
64 requests (the held-out fact questions in the chat template) × 32 new tokens, greedy, all in flight and
spread over K = 1, 8, 64 adapters: ours (the batch-invariant engine paid generation runs, continuous
batching), PEFT switching the active adapter between requests, and llama.cpp's server (`make bench-tools`
builds it; the base and the adapters converted to GGUF by the export path, every adapter loaded with
`--lora`, one slot per request, each request naming its adapter in its `lora` field - the server batches
only requests with the same LoRA set). Prints tokens/s per method and K, ours K = 64 / K = 1, ours over
llama.cpp and over PEFT, and how often each method generated exactly what ours did.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gpu_worker.lora import sgmv  # noqa: E402
from gpu_worker.lora.adapters import LoRA, read_adapter  # noqa: E402
from gpu_worker.lora.model import LlamaRuntime, Sequence  # noqa: E402
from gpu_worker.lora.pool import AdapterPool  # noqa: E402

TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
VOCAB, LAYERS, RANK = 1000, 4, 16


def make_base(root: Path, hidden: int):
    import transformers

    torch.manual_seed(0)
    config = transformers.LlamaConfig(vocab_size=VOCAB, hidden_size=hidden, intermediate_size=hidden * 8 // 3 // 8 * 8,
                                      num_hidden_layers=LAYERS, num_attention_heads=max(4, hidden // 64),
                                      max_position_embeddings=256)
    transformers.LlamaForCausalLM(config).save_pretrained(root / "base")
    return config


def make_adapters(root: Path, config, count: int, rank: int = RANK, base: Path | None = None) -> list[Path]:
    """PEFT-format adapters on every linear (ModelFactory's default, "all-linear") written directly (the
    same files PEFT's save_pretrained produces): distinct seeded random factors, alpha = 2 × rank."""
    from safetensors.torch import save_file

    hidden, inner = config.hidden_size, config.intermediate_size
    kv = getattr(config, "num_key_value_heads", None) or config.num_attention_heads
    kv_width = kv * (getattr(config, "head_dim", None) or hidden // config.num_attention_heads)
    shapes = {"q_proj": (hidden, hidden), "k_proj": (hidden, kv_width), "v_proj": (hidden, kv_width),
              "o_proj": (hidden, hidden), "gate_proj": (hidden, inner), "up_proj": (hidden, inner),
              "down_proj": (inner, hidden)}
    dirs = []
    for a in range(count):
        g = torch.Generator().manual_seed(100 + a)
        tensors = {}
        for layer in range(config.num_hidden_layers):
            for name, (fan_in, fan_out) in shapes.items():
                part = "self_attn" if name.endswith(("q_proj", "k_proj", "v_proj", "o_proj")) else "mlp"
                key = f"base_model.model.model.layers.{layer}.{part}.{name}"
                tensors[f"{key}.lora_A.weight"] = torch.randn(rank, fan_in, generator=g) * 0.02
                tensors[f"{key}.lora_B.weight"] = torch.randn(fan_out, rank, generator=g) * 0.02
        out = root / f"adapter{a}"
        out.mkdir()
        save_file(tensors, out / "adapter_model.safetensors")
        (out / "adapter_config.json").write_text(json.dumps({
            "peft_type": "LORA", "r": rank, "lora_alpha": 2 * rank, "target_modules": TARGETS, "bias": "none",
            "task_type": "CAUSAL_LM", "base_model_name_or_path": str(base or root / "base"), "lora_dropout": 0.0}))
        dirs.append(out)
    return dirs


def peft_model(root: Path, dirs: list[Path], device: str, dtype: torch.dtype):
    import peft
    import transformers

    model = transformers.LlamaForCausalLM.from_pretrained(root / "base", dtype=dtype).to(device).eval()
    model = peft.PeftModel.from_pretrained(model, dirs[0], adapter_name="a0").eval()
    for i, d in enumerate(dirs[1:], start=1):
        model.load_adapter(d, adapter_name=f"a{i}")
    return model.to(device, dtype)


def timed(fn) -> float:
    """Wall time of fn, with the GPU's queued work finished before and after."""
    sync = torch.cuda.synchronize if torch.cuda.is_available() else (lambda: None)
    sync()
    start = time.perf_counter()
    fn()
    sync()
    return time.perf_counter() - start


def _row(times: dict[str, list[float]], errors: dict[str, float], ours: list[str], paid: str, tokens: int,
         switch: bool) -> dict:
    """One workload's figures: each method's throughput and latency, and ours against PEFT's."""
    row: dict = {m: {"tokens_per_s": round(tokens / statistics.median(t)),
                     "p50_ms": round(statistics.median(t) * 1000, 2),
                     "p95_ms": round(sorted(t)[max(0, int(0.95 * len(t)) - 1)] * 1000, 2)} for m, t in times.items()}
    best = max(ours, key=lambda m: row[m]["tokens_per_s"])
    row["ours_best"] = best
    if switch:
        row["speedup_vs_peft_switch"] = round(row[best]["tokens_per_s"] / row["peft_switch"]["tokens_per_s"], 2)
    row["speedup_vs_peft_mixed"] = round(row[best]["tokens_per_s"] / row["peft_mixed"]["tokens_per_s"], 2)
    row["max_abs_error_vs_peft"] = {m: round(e, 6) for m, e in errors.items()}
    row["batch_invariant_vs_plain"] = round(row["ours_invariant"]["tokens_per_s"]
                                            / row[f"ours_{paid}"]["tokens_per_s"], 2)
    return row


def run(hidden: int, rounds: int, work: Path, device: str, dtype: torch.dtype, switch: bool = True) -> dict:
    config = make_base(work, hidden)
    dirs = make_adapters(work, config, 64)
    loads = []
    for d in dirs[:20]:
        loads.append(timed(lambda d=d: read_adapter(d)) * 1000)
    adapters = [read_adapter(d).to(device, dtype) for d in dirs]
    runtime = LlamaRuntime(work / "base", device, dtype)
    invariant = LlamaRuntime(work / "base", device, dtype, batch_invariant=True)  # what paid generation runs
    model = peft_model(work, dirs, device, dtype)
    ours = ["ours_segments", "ours_bgmv"] + (["ours_sgmv"] if sgmv.available(device) else [])
    paid = invariant.default_method  # the paid path's way to add the adapters' terms on this device
    g = torch.Generator().manual_seed(0)
    out = {"hidden": hidden, "device": device, "dtype": str(dtype).removeprefix("torch."),
           "cold_adapter_load_ms_p50": round(statistics.median(loads), 2),
           "bytes_per_resident_adapter": adapters[0].nbytes, "workloads": {}}
    for workload, batch, length in (("decode", 64, 1), ("prefill", 32, 16)):
        for k in (1, 8, 64):
            assigned = sorted(range(batch), key=lambda r: r % k)  # sort requests by adapter
            names = [f"a{r % k}" for r in assigned]
            prompts = torch.randint(0, VOCAB, (batch, 8), generator=g).to(device)
            steps = torch.randint(0, VOCAB, (batch, length), generator=g).to(device)
            peft_methods = ("peft_switch", "peft_mixed") if switch else ("peft_mixed",)
            times = {m: [] for m in (*ours, "ours_invariant", *peft_methods)}
            errors, ours_logits = {}, {}
            for _ in range(rounds):  # interleaved: each method once per round
                for method in times:
                    if method.startswith("ours"):
                        seqs = [Sequence(adapters[r % k], []) for r in assigned]
                        engine = invariant if method == "ours_invariant" else runtime
                        engine.step(seqs, [p.tolist() for p in prompts])  # context to decode against
                        strategy = paid if method == "ours_invariant" else method.split("_")[1]
                        times[method].append(timed(lambda seqs=seqs, steps=steps, strategy=strategy, engine=engine:
                                                   engine.step(seqs, [s.tolist() for s in steps], strategy)))
                        ours_logits[method] = engine.step([Sequence(adapters[assigned[0] % k], [])],
                                                          [torch.cat([prompts[0], steps[0]]).tolist()], strategy)
                    elif method == "peft_switch":
                        caches = []
                        with torch.no_grad():
                            for i in range(batch):
                                model.set_adapter(names[i])
                                caches.append(model(prompts[i:i + 1], use_cache=True).past_key_values)

                            def switch(batch=batch, names=names, steps=steps, caches=caches):
                                for i in range(batch):
                                    model.set_adapter(names[i])
                                    model(steps[i:i + 1], past_key_values=caches[i], use_cache=True)
                            times[method].append(timed(switch))
                    else:
                        with torch.no_grad():
                            cache = model(prompts, use_cache=True, adapter_names=names).past_key_values
                            times[method].append(timed(lambda cache=cache, steps=steps, names=names: model(
                                steps, past_key_values=cache, use_cache=True, adapter_names=names)))
                            reference = model(torch.cat([prompts[:1], steps[:1]], 1),
                                              adapter_names=names[:1]).logits[0, -1]
                for m, logits in ours_logits.items():
                    errors[m] = max(errors.get(m, 0.0), float((logits[0].float() - reference.float()).abs().max()))
            row = _row(times, errors, ours, paid, batch * length, switch)
            out["workloads"][f"{workload}_K{k}"] = row
            print(f"hidden {hidden} {workload} K={k}: {json.dumps(row)}", file=sys.stderr)
        k1 = out["workloads"][f"{workload}_K1"]
        k64 = out["workloads"][f"{workload}_K64"]
        out[f"{workload}_K64_fraction_of_K1"] = round(
            k64[k64["ours_best"]]["tokens_per_s"] / k1[k1["ours_best"]]["tokens_per_s"], 3)
    return out


def generation_run(work: Path, device: str, dtype: torch.dtype, requests: int = 500, adapters: int = 1000,
                   new_tokens: int = 16) -> dict:
    """Continuous batching over many registered adapters, popularity skewed (Zipf), bounded cache."""
    from gpu_worker.lora.batching import Batcher
    from gpu_worker.lora.cache import AdapterCache

    config = make_base(work, 256)
    dirs = make_adapters(work, config, adapters)
    one = read_adapter(dirs[0]).nbytes
    # 200 of the 1,000 fit in host memory
    cache = AdapterCache(host_bytes=200 * one, device_bytes=64 * one, device=device, dtype=dtype)
    started = time.perf_counter()
    keys = [cache.register(d, read_adapter(d).hash) for d in dirs]
    register_s = time.perf_counter() - started
    engine = Batcher(LlamaRuntime(work / "base", device, dtype), cache, max_batch=64)
    rng = torch.Generator().manual_seed(1)
    weights = 1.0 / torch.arange(1, adapters + 1).float() ** 1.1
    chosen = torch.multinomial(weights, requests, replacement=True, generator=rng).tolist()
    latencies = []
    started = time.perf_counter()
    jobs = [(engine.submit(keys[a], torch.randint(0, VOCAB, (8,), generator=rng).tolist(), new_tokens),
             time.perf_counter()) for a in chosen]
    produced = 0
    for job, submitted in jobs:
        while job.tokens.get(timeout=600) is not None:
            produced += 1
        latencies.append(time.perf_counter() - submitted)
    elapsed = time.perf_counter() - started
    stats = engine.stats()
    engine.close()
    latencies.sort()
    return {"requests": requests, "registered_adapters": adapters, "distinct_adapters_used": len(set(chosen)),
            "tokens_per_s": round(produced / elapsed), "seconds": round(elapsed, 2),
            "request_latency_p50_s": round(latencies[len(latencies) // 2], 2),
            "request_latency_p95_s": round(latencies[int(0.95 * len(latencies))], 2),
            "register_1000_s": round(register_s, 2), "disk_loads": stats["disk_loads"],
            "evictions": stats["evictions"], "engine_steps": stats["steps"], "method": engine.method}


def context_run(work: Path, device: str, dtype: torch.dtype, hidden: int = 256, contexts=(8, 128, 512),
                rounds: int = 5) -> dict:
    """A decode step of 64 requests as their contexts grow: each K (1, 64 adapters) prefills its requests
    once per context, then every method takes decode steps in turn (the contexts grow by one a step).
    What a step costs beyond the LoRA term is attention over the caches, which grows with the context."""
    config = make_base(work, hidden)
    adapters = [read_adapter(d).to(device, dtype) for d in make_adapters(work, config, 64)]
    runtime = LlamaRuntime(work / "base", device, dtype)
    methods = ["segments", runtime.default_method]
    g = torch.Generator().manual_seed(2)
    found = {}
    for context in contexts:
        row = {}
        for k in (1, 64):
            seqs = [Sequence(adapters[r % k], []) for r in sorted(range(64), key=lambda r: r % k)]
            runtime.step(seqs, torch.randint(0, VOCAB, (64, context), generator=g).tolist())
            times = {m: [] for m in methods}
            for _ in range(rounds):
                for m in methods:
                    step = torch.randint(0, VOCAB, (64, 1), generator=g).tolist()
                    times[m].append(timed(lambda m=m, step=step, seqs=seqs: runtime.step(seqs, step, m)))
            best = min(methods, key=lambda m: statistics.median(times[m]))
            row[f"K{k}"] = {"tokens_per_s": round(64 / statistics.median(times[best])),
                            "p50_ms": round(statistics.median(times[best]) * 1000, 2), "method": best}
        row["K64_fraction_of_K1"] = round(row["K64"]["tokens_per_s"] / row["K1"]["tokens_per_s"], 3)
        found[str(context)] = row
        print(f"hidden {hidden} decode at context {context}: {json.dumps(row)}", file=sys.stderr)
    return {"hidden": hidden, "requests": 64, "contexts": found}


def kernel_run(device: str, dtype: torch.dtype, width: int = 4096, rows: int = 64, rank: int = 16) -> dict:
    """The LoRA term alone, for one width×width module and a decode step of `rows` rows with K adapters:
    the SGMV kernels against the per-segment loop, timed on the GPU (Triton's do_bench: median of many
    launches, caches flushed), so the figure is the kernels' own and not the Python around a model step."""
    from triton.testing import do_bench

    g = torch.Generator().manual_seed(0)
    loras = [LoRA(bytes([i]) * 32, rank, 2.0, {"m": (torch.randn(rank, width, generator=g) * 0.02,
                                                     torch.randn(width, rank, generator=g) * 0.02)}).to(device, dtype)
             for i in range(64)]
    pool = AdapterPool({"m": (width, width)}, 64, device, dtype, check=lambda adapter: None)  # no base to fit
    x = torch.randn(rows, width, generator=g).to(device, dtype)
    out = torch.zeros(rows, width, device=device, dtype=dtype)
    found = {}
    for k in (1, 8, 64):
        per = rows // k  # requests sorted by adapter: K segments of rows / K rows
        spans = [(i * per, (i + 1) * per, slot) for i, slot in enumerate(pool.slots(loras[:k]))]
        segments = sgmv.Segments.of(spans, device)

        def loop(k=k, per=per):
            for i, adapter in enumerate(loras[:k]):
                a, b = adapter.factors["m"]
                out[i * per:(i + 1) * per] += (x[i * per:(i + 1) * per] @ a.T) @ b.T * adapter.scaling

        found[f"K{k}"] = {"sgmv_us": round(do_bench(lambda segments=segments: sgmv.add_lora(
            out, x, pool.a["m"], pool.b["m"], segments)) * 1000, 1), "segment_loop_us": round(do_bench(loop) * 1000, 1)}
    found["sgmv_K64_time_over_K1"] = round(found["K64"]["sgmv_us"] / found["K1"]["sgmv_us"], 2)
    return {"width": width, "rows": rows, "rank": rank, **found}


# --- SmolLM2: generation with K adapters in flight, ours against PEFT and llama.cpp's server -------------
SMOLLM2_K = (1, 8, 64)
SMOLLM2_RANK = 8  # ModelFactory's default rank (sdk/modelfactory.py), on every linear as its "all-linear"


def smollm2_prompts(base_dir: Path, count: int) -> list[list[int]]:
    """The held-out fact questions in SmolLM2's chat template, as token ids (the same ids go to every method)."""
    from transformers import AutoTokenizer

    from gpu_worker.finetune.dataset import prompt_text
    from gpu_worker.finetune.facts import DOMAINS, held_out

    tokenizer = AutoTokenizer.from_pretrained(base_dir)
    questions = [fact.held_out for domain in DOMAINS for fact in held_out(domain)]
    return [tokenizer(prompt_text(tokenizer, questions[i % len(questions)], "chat"),
                      add_special_tokens=False)["input_ids"] for i in range(count)]


def _drain(request) -> list[int]:
    out = []
    while (token := request.tokens.get(timeout=600)) is not None:
        out.append(token)
    if request.error:
        raise RuntimeError(f"generation failed: {request.error}")
    return out


def smollm2_ours(base_dir: Path, dirs: list[Path], prompts: list[list[int]], new_tokens: int) -> dict:
    """The engine paid generation runs (LoRAEngine.serve_base: batch-invariant, continuous batching), all
    requests submitted at once, request i on adapter i mod K; per K: tokens/s and what each request generated."""
    from gpu_worker.lora.engine import LoRAEngine
    from gpu_worker.lora.sampling import Sampler

    engine = LoRAEngine("cpu")
    base = b"smollm2"
    engine.serve_base(base, base_dir)
    keys = [engine.load_adapter(d).hash for d in dirs]
    found = {}
    try:
        for k in SMOLLM2_K:
            for warm in [engine.submit_paid(base, key, prompts[0], 2, Sampler(), frozenset()) for key in keys[:k]]:
                _drain(warm)  # the K adapters resident, the first steps' kernels run
            started = time.perf_counter()
            requests = [engine.submit_paid(base, keys[i % k], p, new_tokens, Sampler(), frozenset())
                        for i, p in enumerate(prompts)]
            generated = [_drain(r) for r in requests]
            elapsed = time.perf_counter() - started
            found[k] = {"tokens_per_s": round(sum(map(len, generated)) / elapsed, 1), "seconds": round(elapsed, 2),
                        "generated": generated}
            print(f"smollm2 ours K={k}: {found[k]['tokens_per_s']} tokens/s", file=sys.stderr)
    finally:
        engine.close()
    return found


def smollm2_peft(base_dir: Path, dirs: list[Path], prompts: list[list[int]], new_tokens: int) -> dict:
    """PEFT with every adapter loaded, switching the active adapter between requests: the requests of one
    adapter are generated together (one batch, prompts left-padded), the adapters one after another - what
    serving without mixed-adapter batches amounts to (at K = 64, one request at a time)."""
    import peft
    import transformers

    model = transformers.LlamaForCausalLM.from_pretrained(base_dir, dtype=torch.float32).eval()
    model = peft.PeftModel.from_pretrained(model, dirs[0], adapter_name="a0").eval()
    for i, d in enumerate(dirs[1:], start=1):
        model.load_adapter(d, adapter_name=f"a{i}")
    pad = model.config.eos_token_id
    greedy = transformers.GenerationConfig(max_new_tokens=new_tokens, min_new_tokens=new_tokens, do_sample=False,
                                           pad_token_id=pad)
    found = {}
    with torch.no_grad():
        for k in SMOLLM2_K:
            generated: list[list[int]] = [[] for _ in prompts]
            started = time.perf_counter()
            for adapter in range(k):
                rows = list(range(adapter, len(prompts), k))
                width = max(len(prompts[r]) for r in rows)
                ids = torch.tensor([[pad] * (width - len(prompts[r])) + prompts[r] for r in rows])
                mask = torch.tensor([[0] * (width - len(prompts[r])) + [1] * len(prompts[r]) for r in rows])
                model.set_adapter(f"a{adapter}")
                out = model.generate(input_ids=ids, attention_mask=mask, generation_config=greedy)
                for row, tokens in zip(rows, out[:, width:].tolist(), strict=True):
                    generated[row] = tokens
            elapsed = time.perf_counter() - started
            found[k] = {"tokens_per_s": round(sum(map(len, generated)) / elapsed, 1), "seconds": round(elapsed, 2),
                        "generated": generated}
            print(f"smollm2 peft_switch K={k}: {found[k]['tokens_per_s']} tokens/s", file=sys.stderr)
    return found


def smollm2_llama_cpp(base_dir: Path, dirs: list[Path], prompts: list[list[int]], new_tokens: int,
                      outtype: str) -> tuple[dict, dict]:
    """llama.cpp's server over the base as a GGUF model with every adapter as a GGUF LoRA (`--lora`), one slot
    per request, request i selecting adapter i mod K by its `lora` field; (per K results, what was run).
    Not built: no results, and the report says so."""
    from bench import llama_server

    if llama_server.binary() is None:
        return {}, {"skipped": f"llama-server is not built at {llama_server.server_dir()}: run `make bench-tools`"}
    started = time.perf_counter()
    base, loras = llama_server.gguf_files(base_dir, dirs, ROOT / "bench" / ".cache" / "openlora-gguf", outtype)
    about = {"binary": str(llama_server.binary()), "build_seconds": llama_server.build_seconds(),
             "gguf_outtype": outtype, "conversion_s": round(time.perf_counter() - started, 1),
             "slots": len(prompts), "threads": 2}
    found = {}
    context = max(map(len, prompts)) + new_tokens
    with llama_server.serving(base, loras, slots=len(prompts), context=context) as url:
        for k in SMOLLM2_K:
            llama_server.decode(url, prompts[:k], list(range(k)), 2)  # warm: the K adapters' graphs built once
            found[k] = llama_server.decode(url, prompts, [i % k for i in range(len(prompts))], new_tokens)
            print(f"smollm2 llama.cpp K={k}: {found[k]['tokens_per_s']} tokens/s", file=sys.stderr)
    return found, about


def _agreement(ours: dict, other: dict) -> dict:
    """How often another method generated exactly what ours did (greedy: the same model, up to rounding)."""
    pairs = [(a, b) for k in other for a, b in zip(ours[k]["generated"], other[k]["generated"], strict=True)]
    return {"same_first_token": round(sum(a[:1] == b[:1] for a, b in pairs) / len(pairs), 3),
            "identical_generations": round(sum(a == b for a, b in pairs) / len(pairs), 3)}


def smollm2_run(requests: int, new_tokens: int, llama_cpp: bool, outtype: str) -> dict:
    """Decode tokens/s on SmolLM2-135M-Instruct with K = 1, 8, 64 rank-8 adapters, requests spread over them,
    all in flight: ours, PEFT switching per request, llama.cpp's server; same prompts, greedy, same lengths."""
    from bench.finetune_defaults import smollm2

    if requests < max(SMOLLM2_K):
        raise ValueError(f"{requests} requests cannot spread over {max(SMOLLM2_K)} adapters")
    import transformers

    base_dir = smollm2()
    config = transformers.AutoConfig.from_pretrained(base_dir)
    prompts = smollm2_prompts(base_dir, requests)
    with tempfile.TemporaryDirectory(prefix="payable-openlora-smollm2-") as tmp:
        dirs = make_adapters(Path(tmp), config, max(SMOLLM2_K), SMOLLM2_RANK, base_dir)
        methods = {"ours": smollm2_ours(base_dir, dirs, prompts, new_tokens),
                   "peft_switch": smollm2_peft(base_dir, dirs, prompts, new_tokens)}
        if llama_cpp:
            methods["llama_cpp"], about = smollm2_llama_cpp(base_dir, dirs, prompts, new_tokens, outtype)
        else:
            about = {"skipped": "--skip-llama-cpp"}
    out: dict = {"base": "SmolLM2-135M-Instruct", "adapters": {"rank": SMOLLM2_RANK, "targets": "all-linear",
                                                                 "registered": max(SMOLLM2_K)},
                 "requests": requests, "max_new_tokens": new_tokens, "prompt_tokens_mean":
                 round(statistics.mean(map(len, prompts)), 1), "greedy": True,
                 "tokens_per_s": {m: {f"K{k}": r["tokens_per_s"] for k, r in found.items()}
                                  for m, found in methods.items() if found},
                 "llama_cpp": about}
    ours = out["tokens_per_s"]["ours"]
    out["ours_K64_over_K1"] = round(ours["K64"] / ours["K1"], 3)  # target ≥ 0.85
    out["ours_over_peft_switch"] = {k: round(ours[k] / v, 2) for k, v in out["tokens_per_s"]["peft_switch"].items()}
    if methods.get("llama_cpp"):
        theirs = out["tokens_per_s"]["llama_cpp"]
        out["ours_over_llama_cpp"] = {k: round(ours[k] / theirs[k], 2) for k in ("K1", "K8", "K64")}  # ≥ 1.0 at 8, 64
        out["llama_cpp_K64_over_K1"] = round(theirs["K64"] / theirs["K1"], 3)
    out["agreement_with_ours"] = {m: _agreement(methods["ours"], found) for m, found in methods.items()
                                  if m != "ours" and found}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hidden", type=int, nargs="*", default=[256, 768],
                        help="model widths (none: only the generation run)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--skip-generation", action="store_true")
    parser.add_argument("--skip-context", action="store_true", help="leave out decode at longer contexts")
    parser.add_argument("--device", default="cpu", help="cpu, or cuda (adds the SGMV kernels)")
    parser.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"])
    parser.add_argument("--skip-switch", action="store_true",
                        help="leave out PEFT switching adapters per request (the slowest, 64 forwards a step)")
    parser.add_argument("--skip-smollm2", action="store_true", help="leave out generation on SmolLM2")
    parser.add_argument("--smollm2-requests", type=int, default=64, help="requests per K (at least 64)")
    parser.add_argument("--smollm2-new-tokens", type=int, default=32)
    parser.add_argument("--skip-llama-cpp", action="store_true", help="leave out llama.cpp's server on SmolLM2")
    parser.add_argument("--llama-cpp-outtype", default="f16", choices=["f16", "f32"],
                        help="the GGUF type of the base and adapters llama.cpp serves")
    args = parser.parse_args()
    torch.set_num_threads(2)
    dtype = getattr(torch, args.dtype)
    results = []
    for hidden in args.hidden:
        with tempfile.TemporaryDirectory(prefix="payable-openlora-") as tmp:
            results.append(run(hidden, args.rounds, Path(tmp), args.device, dtype, not args.skip_switch))
    report = {"benchmark": "openlora", "threads": 2, "results": results}
    if args.device.startswith("cuda"):
        report["gpu"] = torch.cuda.get_device_name(args.device)
        report["kernel"] = kernel_run(args.device, dtype)
    if not args.skip_context:
        with tempfile.TemporaryDirectory(prefix="payable-openlora-") as tmp:
            report["decode_context"] = context_run(Path(tmp), args.device, dtype)
    if not args.skip_generation:
        with tempfile.TemporaryDirectory(prefix="payable-openlora-") as tmp:
            report["generation"] = generation_run(Path(tmp), args.device, dtype)
    if not args.skip_smollm2:
        report["smollm2"] = smollm2_run(args.smollm2_requests, args.smollm2_new_tokens, not args.skip_llama_cpp,
                                        args.llama_cpp_outtype)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
