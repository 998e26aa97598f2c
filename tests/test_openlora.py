"""OpenLoRA core: batched multi-adapter outputs equal PEFT's single-adapter outputs; the cache is bounded."""

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers", reason="OpenLoRA needs transformers and peft (worker extra)")
peft = pytest.importorskip("peft")

from gpu_worker.lora.adapters import AdapterError, LoRA, adapter_hash, read_adapter  # noqa: E402
from gpu_worker.lora.cache import AdapterCache  # noqa: E402
from gpu_worker.lora.model import PAD_BELOW, LlamaRuntime, Sequence  # noqa: E402
from gpu_worker.lora.pool import AdapterPool  # noqa: E402

TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    torch.manual_seed(0)
    root = tmp_path_factory.mktemp("openlora")
    config = transformers.LlamaConfig(vocab_size=300, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256)
    base = transformers.LlamaForCausalLM(config).eval()
    base.save_pretrained(root / "base")
    adapters = []
    for i in range(3):
        torch.manual_seed(10 + i)
        lora = peft.LoraConfig(r=4 + 2 * i, lora_alpha=8, target_modules=TARGETS, init_lora_weights=False)
        peft_model = peft.get_peft_model(transformers.LlamaForCausalLM.from_pretrained(root / "base"), lora)
        peft_model.save_pretrained(root / f"adapter{i}")
        adapters.append(root / f"adapter{i}")
    return root, adapters


def _reference(root, adapter_dir, tokens):
    model = transformers.LlamaForCausalLM.from_pretrained(root / "base").eval()
    if adapter_dir is not None:
        model = peft.PeftModel.from_pretrained(model, adapter_dir).eval()
    with torch.no_grad():
        return model(torch.tensor([tokens])).logits[0, -1]


@pytest.mark.parametrize("method", ["segments", "bgmv"])
def test_a_mixed_adapter_batch_equals_each_single_adapter_forward(models, method):
    root, dirs = models
    runtime = LlamaRuntime(root / "base")
    loras = [read_adapter(d) for d in dirs]
    prompts = [[5, 9, 17, 33, 2], [7, 7, 7], [100, 200, 3, 4, 5, 6, 7], [1, 2]]
    assigned = [loras[0], loras[0], loras[2], None]  # two share an adapter; one uses the base model
    sequences = [Sequence(a, []) for a in assigned]
    logits = runtime.step(sequences, prompts, method)
    references = [_reference(root, dirs[0], prompts[0]), _reference(root, dirs[0], prompts[1]),
                  _reference(root, dirs[2], prompts[2]), _reference(root, None, prompts[3])]
    for got, want in zip(logits, references, strict=True):
        torch.testing.assert_close(got, want, atol=1e-4, rtol=1e-4)
    # a decode step over requests of different lengths, still mixed
    nxt = [[int(x.argmax())] for x in logits]
    logits = runtime.step(sequences, nxt, method)
    for seq, got, d in zip(sequences, logits, [dirs[0], dirs[0], dirs[2], None], strict=True):
        torch.testing.assert_close(got, _reference(root, d, seq.tokens), atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize(("method", "pad_below"), [("segments", PAD_BELOW), ("bgmv", PAD_BELOW),
                                                   ("bgmv", float("inf"))])  # inf: what a GPU runtime does
def test_decode_past_the_padded_attention_equals_each_single_adapter_forward(models, method, pad_below):
    """Decode steps over short caches (one padded attention), a step that mixes a prompt in (request by
    request), then decode steps whose caches pass PAD_BELOW (on the CPU the loop over requests, on a GPU
    still padded; a cache's buffers double on the way): every request's logits still equal PEFT's
    forward of its whole sequence."""
    root, dirs = models
    runtime = LlamaRuntime(root / "base")
    assert runtime.pad_below == PAD_BELOW  # on the CPU
    runtime.pad_below = pad_below
    loras = [read_adapter(d) for d in dirs]
    assigned = [(loras[0], dirs[0]), (loras[1], dirs[1]), (None, None)]
    sequences = [Sequence(a, []) for a, _ in assigned]
    short = sequences[:2]
    logits = runtime.step(short, [list(range(1, PAD_BELOW - 3)), [7, 7, 7]], method)
    for _ in range(2):  # caches of 28-29 and 3-4 positions: the padded attention
        logits = runtime.step(short, [[int(x.argmax())] for x in logits], method)
    nxt = [[int(x.argmax())] for x in logits]
    logits = runtime.step(sequences, [*nxt, list(range(50, 50 + PAD_BELOW + 3))], method)
    for _ in range(4):  # the first cache passes 32 positions (its buffers double), the third starts past PAD_BELOW
        logits = runtime.step(sequences, [[int(x.argmax())] for x in logits], method)
    assert [seq.cached for seq in sequences] == [PAD_BELOW + 3, 10, PAD_BELOW + 7]
    for seq, got, (_, d) in zip(sequences, logits, assigned, strict=True):
        torch.testing.assert_close(got, _reference(root, d, seq.tokens), atol=1e-4, rtol=1e-4)


def test_adapters_are_identified_by_content_and_corruption_is_refused(models, tmp_path):
    import shutil

    _, dirs = models
    good = read_adapter(dirs[1])
    raw = (dirs[1] / "adapter_config.json").read_bytes(), (dirs[1] / "adapter_model.safetensors").read_bytes()
    assert good.hash == adapter_hash(*raw) and good.rank == 6
    copy = tmp_path / "copy"
    shutil.copytree(dirs[1], copy)
    weights = bytearray((copy / "adapter_model.safetensors").read_bytes())
    weights[-3] ^= 0xFF
    (copy / "adapter_model.safetensors").write_bytes(bytes(weights))
    with pytest.raises(AdapterError, match="registered"):
        read_adapter(copy, expected=good.hash)


def test_what_is_no_adapter_or_base_is_refused_as_such_not_as_the_workers_failure(models, tmp_path):
    """A path that is a file, or a base whose weights are corrupt, is the caller's (or the artifact owner's)
    error: AdapterError / ArtifactError - what the gRPC service answers INVALID_ARGUMENT and a paid request
    turns into a signed refusal - never an exception the worker does not expect."""
    import shutil

    from gpu_worker.errors import ArtifactError
    from gpu_worker.lora.engine import LoRAEngine

    root, _ = models
    with pytest.raises(AdapterError, match="is not a readable PEFT adapter directory"):
        read_adapter(root / "base" / "config.json")  # a file, not a directory
    broken = tmp_path / "broken-base"
    shutil.copytree(root / "base", broken)
    (broken / "model.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not a header}")
    engine = LoRAEngine("cpu")
    with pytest.raises(ArtifactError, match="cannot load base model"):
        engine.load_base(broken)
    with pytest.raises(ArtifactError, match="cannot load base model"):
        engine.serve_base(b"k" * 32, broken)
    assert engine.bases == {}


def test_an_adapter_with_a_lora_outside_the_decoders_projections_is_refused_by_name(models):
    """A LoRA on the head would be left out of every answer OpenLoRA gives: refused before it is served."""
    root, dirs = models
    runtime = LlamaRuntime(root / "base")
    served = read_adapter(dirs[0])
    runtime.check(served)  # the projections alone: served
    head = runtime.w["lm_head.weight"]
    with_head = LoRA(served.hash, served.rank, served.scaling,
                     {**served.factors, "lm_head": (torch.randn(served.rank, head.shape[1]),
                                                    torch.randn(head.shape[0], served.rank))})
    with pytest.raises(AdapterError, match="a LoRA on lm_head; OpenLoRA serves adapters on the decoder's projections"):
        runtime.check(with_head)


def test_the_cache_stays_within_its_bounds_and_evicts_least_recently_used(models):
    _, dirs = models
    sizes = [read_adapter(d).nbytes for d in dirs]
    # adapters 0, 1, 2 have ranks 4, 6, 8: the host tier holds 0 and 2 together, but not all three
    cache = AdapterCache(host_bytes=sizes[0] + sizes[2] + 1, device_bytes=max(sizes) + 1)
    keys = [cache.register(d, read_adapter(d).hash) for d in dirs]
    cache.get(keys[0])
    cache.get(keys[1])
    assert cache.stats()["device"] == 1  # only one fits on the "device" tier
    cache.get(keys[0])                   # 0 becomes most recently used on the host tier
    cache.get(keys[2])                   # host tier must evict: 1 is the least recently used
    assert keys[1] not in cache.host.items and keys[0] in cache.host.items
    assert cache.host.used <= cache.host.limit and cache.device_tier.used <= cache.device_tier.limit
    with pytest.raises(AdapterError, match="not registered"):
        cache.get(b"\x00" * 32)


def _greedy(runtime, adapter, prompt, steps):
    seq, out, feed = Sequence(adapter, []), [], prompt
    for _ in range(steps):
        token = int(runtime.step([seq], [feed])[0].argmax())
        out.append(token)
        feed = [token]
    return out


def _drain(request, timeout=60):
    out = []
    while (token := request.tokens.get(timeout=timeout)) is not None:
        out.append(token)
    return out


def test_continuous_batching_matches_unbatched_generation_and_admits_mid_flight(models):
    from gpu_worker.lora.batching import Batcher

    root, dirs = models
    runtime = LlamaRuntime(root / "base")
    cache = AdapterCache(host_bytes=1 << 24, device_bytes=1 << 24)
    keys = [cache.register(d, read_adapter(d).hash) for d in dirs]
    engine = Batcher(runtime, cache, max_batch=8)
    try:
        jobs = [(keys[i % 3] if i < 5 else None, [3 + i, 40 + i, 7], 6 + i) for i in range(6)]
        requests = [engine.submit(*job) for job in jobs[:3]]
        first = requests[0].tokens.get(timeout=60)
        requests += [engine.submit(*job) for job in jobs[3:]]  # arrive while the first ones are decoding
        outputs = [[first] + _drain(requests[0])] + [_drain(r) for r in requests[1:]]
        for (key, prompt, n), got in zip(jobs, outputs, strict=True):
            adapter = cache.get(key) if key else None
            assert got == _greedy(runtime, adapter, prompt, n)
        assert engine.stats()["completed"] == 6 and engine.steps < sum(n for _, _, n in jobs)  # batched, not serial
    finally:
        engine.close()


def test_cancellation_frees_the_slot_and_adapters_are_served_fairly(models):
    from gpu_worker.lora.batching import Batcher

    root, dirs = models
    cache = AdapterCache(host_bytes=1 << 24, device_bytes=1 << 24)
    keys = [cache.register(d, read_adapter(d).hash) for d in dirs]
    engine = Batcher(LlamaRuntime(root / "base"), cache, max_batch=1)
    try:
        long = engine.submit(keys[0], [1, 2, 3], 200)
        assert long.tokens.get(timeout=60) is not None
        busy = [engine.submit(keys[0], [5, 6], 2) for _ in range(3)]
        other = engine.submit(keys[1], [9, 9], 2)
        long.cancel()
        rest = _drain(long)
        assert len(rest) < 199  # stopped early: the slot was freed
        for r in (*busy, other):
            _drain(r)
        # one slot: round-robin admission serves adapter 1 right after adapter 0's first request
        order = sorted((*busy, other), key=lambda r: r.finished_step)
        assert [r.id for r in order] == [busy[0].id, other.id, busy[1].id, busy[2].id]
        assert engine.stats()["queued"] == 0 and engine.stats()["active"] == 0
    finally:
        engine.close()


@pytest.mark.e2e
def test_openlora_serves_mixed_adapters_over_grpc_with_streaming_and_cancellation(models, worker_channel, tmp_path):
    import threading

    import grpc

    from payable.worker.v1 import worker_pb2 as pb
    from payable.worker.v1 import worker_pb2_grpc

    root, dirs = models
    stub = worker_pb2_grpc.OpenLoRAStub(worker_channel)
    with pytest.raises(grpc.RpcError) as info:
        next(stub.Generate(pb.LoRAGenerateRequest(prompt=[1, 2], max_new_tokens=2), timeout=30))
    assert info.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    stub.LoadBase(pb.LoadBaseRequest(directory=str(root / "base"), max_batch=8), timeout=60)
    with pytest.raises(grpc.RpcError) as info:  # more rows than adapter slots: refused, the loaded base serves on
        stub.LoadBase(pb.LoadBaseRequest(directory=str(root / "base"), max_batch=1000), timeout=60)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "1000 exceeds" in info.value.details()
    hashes = [stub.LoadAdapter(pb.LoadAdapterRequest(directory=str(d), expected_hash=read_adapter(d).hash),
                               timeout=30).hash for d in dirs]
    with pytest.raises(grpc.RpcError) as info:
        stub.LoadAdapter(pb.LoadAdapterRequest(directory=str(dirs[0]), expected_hash=b"\x01" * 32), timeout=30)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(grpc.RpcError) as info:  # a token id the base does not have
        next(stub.Generate(pb.LoRAGenerateRequest(prompt=[1, 999], max_new_tokens=2), timeout=30))
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "vocabulary of 300" in info.value.details()
    wide = stub.LoadAdapter(pb.LoadAdapterRequest(directory=str(_wide_adapter(tmp_path / "wide"))), timeout=30).hash
    with pytest.raises(grpc.RpcError) as info:  # its request fails in the engine: the stream ends saying why
        list(stub.Generate(pb.LoRAGenerateRequest(adapter_hash=wide, prompt=[1, 2], max_new_tokens=2), timeout=60))
    assert info.value.code() == grpc.StatusCode.FAILED_PRECONDITION and "64→64 in this base" in info.value.details()
    assert sorted(stub.ListAdapters(pb.ListAdaptersRequest(), timeout=30).hashes) == sorted([*hashes, wide])

    runtime = LlamaRuntime(root / "base")
    results: dict[int, list[int]] = {}

    def client(i: int) -> None:
        stream = stub.Generate(pb.LoRAGenerateRequest(adapter_hash=hashes[i % 3], prompt=[10 + i, 20, 30],
                                                      max_new_tokens=5), timeout=120)
        results[i] = [t.token for t in stream]

    threads = [threading.Thread(target=client, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i, tokens in results.items():
        assert tokens == _greedy(runtime, read_adapter(dirs[i % 3]), [10 + i, 20, 30], 5)
    long = stub.Generate(pb.LoRAGenerateRequest(adapter_hash=hashes[0], prompt=[1, 2, 3], max_new_tokens=250),
                         timeout=120)
    next(long)
    long.cancel()  # the client hangs up: its slot must be freed
    import time

    for _ in range(100):
        stats = stub.Stats(pb.LoRAStatsRequest(), timeout=30)
        if stats.active == 0:
            break
        time.sleep(0.1)
    assert stats.active == 0 and stats.completed >= 8 and stats.registered == 4


@pytest.mark.parametrize("method", ["segments", "bgmv"])
def test_batch_invariant_steps_give_a_request_the_same_bits_alone_and_in_any_mixed_batch(models, method):
    """What lets replicated workers agree byte for byte: each request's logits do not depend on what else
    shares its batch (prefill and decode, with and without adapters, different batch sizes)."""
    root, dirs = models
    runtime = LlamaRuntime(root / "base", batch_invariant=True)

    def step(sequences, new):
        return runtime.step(sequences, new, method)

    loras = [read_adapter(d) for d in dirs]
    prompt, adapter = [5, 9, 17, 33, 2, 71], loras[1]
    alone = Sequence(adapter, [])
    alone_logits = [step([alone], [prompt])[0]]
    crowds = [[(loras[0], [1, 2, 3])], [(None, [8] * 20), (loras[0], [4, 4]), (loras[2], [9, 8, 7, 6, 5])],
              [(loras[i % 3], [i + 1, i + 2]) for i in range(17)]]
    for crowd in crowds:
        seqs = [Sequence(a, []) for a, _ in crowd] + [Sequence(adapter, [])]
        order = sorted(range(len(seqs)), key=lambda i: id(seqs[i].adapter))  # grouped by adapter, as the batcher
        mixed = step([seqs[i] for i in order], [([*(p for _, p in crowd), prompt])[i] for i in order])
        assert torch.equal(mixed[order.index(len(seqs) - 1)], alone_logits[0])
    feed = [int(alone_logits[0].argmax())]
    for turn in range(4):  # decode steps: alone, and a twin in the same state next to a request mid-prefill
        twin = Sequence(adapter, [])
        step([twin], [prompt])
        for token in alone.tokens[len(prompt):]:
            step([twin], [[token]])
        solo = step([alone], [feed])[0]
        other = Sequence(loras[0], [])
        together = step([other, twin], [[3] * (turn + 2), feed])[1]
        assert torch.equal(solo, together)
        feed = [int(solo.argmax())]


def test_seeded_sampling_is_reproducible_and_batch_independent(models):
    from gpu_worker.lora.batching import Batcher
    from gpu_worker.lora.sampling import Sampler, seed_for

    root, dirs = models
    cache = AdapterCache(host_bytes=1 << 24, device_bytes=1 << 24)
    keys = [cache.register(d, read_adapter(d).hash) for d in dirs]
    seed = seed_for(7, bytes(32), 12)
    assert seed == seed_for(7, bytes(32), 12) != seed_for(8, bytes(32), 12)
    engine = Batcher(LlamaRuntime(root / "base", batch_invariant=True), cache, max_batch=16)
    try:
        alone = _drain(engine.submit(keys[0], [5, 6, 7], 12, Sampler(1.2, 0.95, seed)))
        crowd = [engine.submit(keys[i % 3], [i, i + 1], 12, Sampler(0.7, 1.0, i)) for i in range(9)]
        again = engine.submit(keys[0], [5, 6, 7], 12, Sampler(1.2, 0.95, seed))
        assert _drain(again) == alone
        other_seed = _drain(engine.submit(keys[0], [5, 6, 7], 12, Sampler(1.2, 0.95, seed + 1)))
        assert other_seed != alone  # the seed matters (12 draws at temperature 1.2)
        for request in crowd:
            assert len(_drain(request)) == 12
    finally:
        engine.close()
    with pytest.raises(ValueError):
        Sampler(3.0)


def _check_pooled(found: dict, rank: int) -> None:
    """`rank`: what ranks 4, 6 and 8 share in the method's pool (bgmv: the largest; sgmv: Triton's
    smallest dot size)."""
    assert found["steps"] == 9 and found["max_abs_error"] < 1e-4
    assert found["pool_loads"] >= 4  # the third batch's adapters came back after eviction
    assert found["rank"] == rank
    assert found["allocated"] == 2  # grown from one slot as adapters came, never past the capacity
    assert "exceed the pool's 2 slots" in found["overflow"]


def test_bgmv_equals_the_segments_path_through_a_pool_that_evicts(models):
    """The CPU's default method (gpu_worker/lora/bgmv.py): each row gathers its adapter's factors from
    the resident slots; loaded, evicted and reloaded slots must give the segments path's logits."""
    from pooled_methods import compare

    root, dirs = models
    found = compare("bgmv", root / "base", dirs)
    _check_pooled(found, rank=8)
    assert found["default_method"] == "bgmv"  # where the SGMV kernels do not run, batchers use bgmv


def test_a_pool_grows_in_slots_and_rank_keeping_its_resident_adapters(models, tmp_path):
    """A rank-20 adapter arriving after rank-4 and rank-6 ones widens every slot - to rank 20 in bgmv's
    tables (no padding: a bag reads every column), to 32 in the SGMV kernels' layout (tiles of 16) - and a
    third adapter doubles the slots; the adapters already resident must still give the segments path's logits."""
    root, dirs = models
    torch.manual_seed(30)
    lora = peft.LoraConfig(r=20, lora_alpha=8, target_modules=TARGETS, init_lora_weights=False)
    peft.get_peft_model(transformers.LlamaForCausalLM.from_pretrained(root / "base"), lora).save_pretrained(
        tmp_path / "wide")
    small, medium, wide = (read_adapter(d) for d in (dirs[0], dirs[1], tmp_path / "wide"))
    pooled, reference = LlamaRuntime(root / "base"), LlamaRuntime(root / "base")
    prompts = [[5, 9, 17, 33, 2], [7, 7, 7], [100, 200, 3]]
    for assigned in ([small, medium], [wide], [small, medium, wide]):
        ordered = sorted(assigned, key=lambda a: a.hash)
        got = pooled.step([Sequence(a, []) for a in ordered], prompts[:len(ordered)], "bgmv")
        want = reference.step([Sequence(a, []) for a in ordered], prompts[:len(ordered)], "segments")
        torch.testing.assert_close(got, want, atol=1e-4, rtol=1e-4)
    pool = pooled.pool("bgmv")
    assert pool.rank == 20 and pool.allocated == 4 and pool.loads == 3
    tiled = AdapterPool(pool.shapes, 4, "cpu", torch.float32, pooled.check)
    tiled.slots([small, medium])
    tiled.slots([wide])
    assert tiled.rank == 32 and tiled.allocated == 4


@pytest.mark.e2e
def test_sgmv_kernels_equal_the_segments_path_under_the_triton_interpreter(models):
    """The Punica-style kernels (gpu_worker/lora/sgmv.py) compile for CUDA only; Triton's interpreter runs
    the same kernels on the CPU, so their results are checked here on every machine."""
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    pytest.importorskip("triton")
    root, dirs = models
    helper = Path(__file__).with_name("pooled_methods.py")
    done = subprocess.run([sys.executable, str(helper), "sgmv", str(root / "base"), *map(str, dirs)],
                          capture_output=True, text=True, timeout=600, env={**os.environ, "TRITON_INTERPRET": "1"})
    assert done.returncode == 0, done.stderr[-3000:]
    found = json.loads(done.stdout.strip().splitlines()[-1])
    _check_pooled(found, rank=16)
    assert found["default_method"] == "sgmv"  # where the kernels run, batchers use them


def _wide_adapter(directory):
    """An adapter in PEFT's format, but made for a base twice as wide as the fixture's."""
    import json

    from safetensors.torch import save_file

    directory.mkdir()
    save_file({"base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight": torch.zeros(4, 128),
               "base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight": torch.zeros(128, 4)},
              directory / "adapter_model.safetensors")
    (directory / "adapter_config.json").write_text(json.dumps({"peft_type": "LORA", "r": 4, "lora_alpha": 8}))
    return directory


def test_an_adapter_that_does_not_fit_the_base_fails_its_request_not_the_engine(models, tmp_path):
    from gpu_worker.lora.batching import Batcher

    root, dirs = models
    wide = _wide_adapter(tmp_path / "wide")
    cache = AdapterCache(host_bytes=1 << 24, device_bytes=1 << 24)
    good, bad = (cache.register(d, read_adapter(d).hash) for d in (dirs[0], wide))
    runtime = LlamaRuntime(root / "base")
    engine = Batcher(runtime, cache, max_batch=8)
    try:
        failing, serving = engine.submit(bad, [1, 2, 3], 4), engine.submit(good, [1, 2, 3], 4)
        assert _drain(failing) == [] and "q_proj is 128→128 in the adapter but 64→64" in failing.error
        assert _drain(serving) == _greedy(runtime, cache.get(good), [1, 2, 3], 4)
        assert _drain(engine.submit(good, [4, 5], 2)) == _greedy(runtime, cache.get(good), [4, 5], 2)  # lives on
    finally:
        engine.close()
    with pytest.raises(RuntimeError, match="this engine is closed"):  # not queued where nothing will run it
        engine.submit(good, [1, 2], 2)
    with pytest.raises(ValueError, match="exceeds the runtime's 4 adapter slots"):
        Batcher(LlamaRuntime(root / "base", pool_slots=4), cache, max_batch=8, method="sgmv")


def test_requests_the_base_cannot_run_are_refused_when_submitted(models):
    from gpu_worker.lora.batching import Batcher

    root, dirs = models
    cache = AdapterCache(host_bytes=1 << 24, device_bytes=1 << 24)
    engine = Batcher(LlamaRuntime(root / "base"), cache, max_batch=8)  # vocabulary 300, context 256
    try:
        with pytest.raises(ValueError, match=r"prompt token 300 \(position 1\) is outside the base model's "
                                             r"vocabulary of 300"):
            engine.submit(None, [5, 300, 7], 4)
        with pytest.raises(ValueError, match=r"prompt token -1 \(position 0\)"):
            engine.submit(None, [-1], 4)
        with pytest.raises(ValueError, match="a prompt of 200 tokens and 57 new tokens need 257 positions; the base "
                                             "model's context is 256"):
            engine.submit(None, [1] * 200, 57)
        assert len(_drain(engine.submit(None, [1] * 200, 56))) == 56  # exactly the context: served
        assert engine.stats()["active"] == engine.stats()["queued"] == 0
    finally:
        engine.close()


def test_a_failing_step_fails_its_requests_and_the_engine_serves_on(models):
    from gpu_worker.lora.batching import Batcher

    root, dirs = models
    cache = AdapterCache(host_bytes=1 << 24, device_bytes=1 << 24)
    key = cache.register(dirs[0], read_adapter(dirs[0]).hash)
    runtime = LlamaRuntime(root / "base")
    engine = Batcher(runtime, cache, max_batch=8)
    real_step, failures = runtime.step, []

    def step_that_runs_out_of_memory_once(*args):  # what a step over too large a batch can do
        if not failures:
            failures.append(1)
            raise MemoryError("could not allocate 8 GiB")
        return real_step(*args)

    runtime.step = step_that_runs_out_of_memory_once
    try:
        failed = engine.submit(key, [1, 2, 3], 4)
        assert _drain(failed) == []
        assert failed.error == "the engine step failed: MemoryError('could not allocate 8 GiB')"
        served = engine.submit(key, [1, 2, 3], 4)
        assert _drain(served) == _greedy(LlamaRuntime(root / "base"), cache.get(key), [1, 2, 3], 4)
        assert served.error == "" and engine.stats()["active"] == 0
    finally:
        engine.close()


def test_a_request_reserves_its_whole_kv_cache_when_it_joins(models):
    """prompt + max_new positions, allocated at its first step: the batcher's KV budget is the memory."""
    from gpu_worker.lora.batching import Batcher

    root, _ = models
    runtime = LlamaRuntime(root / "base")
    engine = Batcher(runtime, AdapterCache(host_bytes=1 << 24, device_bytes=1 << 24), max_batch=8)
    real_step, seen = runtime.step, []

    def step(sequences, new, method):
        out = real_step(sequences, new, method)
        seen.append([seq.cache.capacity for seq in sequences])
        return out

    runtime.step = step
    try:
        assert len(_drain(engine.submit(None, [1, 2, 3], 30))) == 30
    finally:
        engine.close()
    assert seen == [[33]] * 30  # one allocation, never grown


def test_token_logprobs_come_from_the_logits_the_token_was_drawn_from_and_change_no_token(models):
    """Asking for log-probabilities leaves the tokens as they were (greedy and seeded); each token's log-probability
    is its log-softmax under its temperature (replayed step by step on a lone runtime), its alternatives the 20
    most likely there, sorted, the greedy token first."""
    from gpu_worker.lora.batching import Batcher
    from gpu_worker.lora.sampling import TOP_LOGPROBS, Sampler

    root, dirs = models
    cache = AdapterCache(host_bytes=1 << 24, device_bytes=1 << 24)
    key = cache.register(dirs[0], read_adapter(dirs[0]).hash)
    runtime = LlamaRuntime(root / "base", batch_invariant=True)
    engine = Batcher(runtime, cache, max_batch=8)
    try:
        for temperature in (0.0, 1.2):
            plain = engine.submit(key, [5, 6, 7], 10, Sampler(temperature, 1.0, 3))
            crowd = [engine.submit(None, [i, i + 2], 10, Sampler(0.8, 1.0, i), logprobs=i % 2 == 0) for i in range(3)]
            asked = engine.submit(key, [5, 6, 7], 10, Sampler(temperature, 1.0, 3), logprobs=True)
            tokens = _drain(asked)
            assert tokens == _drain(plain) and plain.logprobs == []
            assert len(asked.logprobs) == len(tokens) == 10
            for request in crowd:  # its neighbours in the batch get theirs only when they asked
                assert len(_drain(request)) == 10 and len(request.logprobs) == (10 if request.with_logprobs else 0)
            seq, feed = Sequence(cache.get(key), []), [5, 6, 7]
            for token, found in zip(tokens, asked.logprobs, strict=True):
                logits = runtime.step([seq], [feed], engine.method)[0].double()  # as the engine added the adapter
                expected = torch.log_softmax(logits / (temperature or 1.0), dim=-1)
                assert found.logprob == pytest.approx(float(expected[token]), abs=1e-9) and found.logprob <= 0
                ids = [t for t, _ in found.top]
                values = [v for _, v in found.top]
                assert len(ids) == TOP_LOGPROBS and values == sorted(values, reverse=True)
                assert ids == expected.topk(TOP_LOGPROBS).indices.tolist()
                if temperature == 0:
                    assert ids[0] == token and values[0] == found.logprob
                feed = [token]
    finally:
        engine.close()
