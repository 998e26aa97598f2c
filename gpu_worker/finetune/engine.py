"""ModelFactory's engine: fine-tuning jobs that persist, stream progress, abort, resume and publish.

Each job lives in `finetune/<id>/` under the worker's data directory: `job.json` (its immutable config,
its state and results), `progress.jsonl` (every progress point, so a client that reconnects - or a
browser reloaded mid-run - gets the whole curve), `checkpoints/`, `adapter/` and `merged/`. The state
on disk is the truth: a worker restarted after a crash finds its running job `interrupted`, and
`resume` continues it from the last checkpoint to the same adapter bytes.

Jobs run on background threads, `slots` at a time (`job_slots`: one on a GPU, whose memory and kernels one job
fills; one per core on a CPU, where each job runs single-threaded - two 135M-parameter jobs on 2 cores finish
in the time of one); others wait `queued`. The same slots bound index builds for publishing.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import torch

from payable.modelregistry.v1 import modelregistry_pb2 as mr
from payable.modelregistry.v1.methods import ADAPTER_METHODS
from provenance.documents import publish_card
from runtime.codec import encode_u128, parse_open
from runtime.crypto import Keypair, blake2_256, encode_address
from sdk.artifacts import ATTRIBUTION_INDEX, PEFT_LORA, directory_hash, upload_directory
from sdk.client import Client
from sdk.modelfactory import DEFAULT_REWARD_SPLIT

from ..device import building_models, deterministic
from ..frozen_base import native_dtype
from .config import TrainingConfig, estimate, flops_per_token, library_versions
from .dataset import DatasetSpec, Prepared, prepare, prompt_text
from .export import export_merged
from .sources import check_current, check_inputs, fetch_base, snapshot_sources
from .trainer import Aborted, evaluate, load_base, load_tokenizer, train

DEFAULT_METHOD, DEFAULT_SPAN_WEIGHT = "span+lora-gradient", 5000
# (model, tokenizer, training rows, held-out rows, directory, method, span weight bps, learning rate): writes the
# adapter's attribution index; the worker passes gpu_worker.adapter_index.build_for_publish
IndexBuilder = Callable[[object, object, list, list, Path, str, int, float, int], None]
TERMINAL = ("completed", "failed", "aborted", "interrupted")
RESUMABLE = ("failed", "aborted", "interrupted")
PREVIEW_LIMIT = 50


class JobError(ValueError):
    """A job request cannot be honoured (unknown job, wrong state); the message says why."""


@dataclass
class Job:
    id: str
    owner: str
    config: TrainingConfig
    prompts: list[str]
    state: str = "queued"
    error: str = ""
    created_at: float = field(default_factory=time.time)
    results: dict = field(default_factory=dict)
    points: list[dict] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def record(self) -> dict:
        return {"id": self.id, "owner": self.owner, "config": self.config.to_dict(), "prompts": self.prompts,
                "state": self.state, "error": self.error, "created_at": self.created_at, "results": self.results,
                "config_hash": self.config.hash().hex()}


def load_inputs(client: Client, config: TrainingConfig, cache: Path, reader: Keypair | None
                ) -> tuple[Path, Prepared]:
    """The base's directory (fetched, checked) and the config's prepared dataset. The weights are not loaded:
    a preview or an estimate needs only the tokenizer."""
    base_dir = fetch_base(client, bytes.fromhex(config.base_model), cache / "bases", reader)
    sources = snapshot_sources(client, config.dataset, cache / "blobs", reader)
    return base_dir, prepare(config.dataset, sources, load_tokenizer(base_dir), config.cutoff)


def reproduce(client: Client, config: TrainingConfig, workdir: Path, reader: Keypair | None = None) -> bytes:
    """Re-run a recorded job from scratch and return its adapter's artifact hash (what `verify` compares)."""
    deterministic(1)  # as the worker trained: a matmul split over threads sums in another order
    base_dir, data = load_inputs(client, config, workdir / "cache", reader)
    base, tokenizer = load_base(base_dir)
    outcome = train(config, base, tokenizer, data.train, data.eval, workdir / "job", report=lambda point: None)
    return directory_hash(outcome.adapter_dir, PEFT_LORA)


def job_slots(device: torch.device) -> int:
    """How many jobs may train at once: one on a GPU, one per CPU core (each job is single-threaded)."""
    return 1 if device.type == "cuda" else max(1, os.cpu_count() or 1)


class FinetuneEngine:
    def __init__(self, root: Path, key: Keypair, device: torch.device, node: str | None,
                 build_index: IndexBuilder | None = None, slots: int = 1):
        self.root = Path(root) / "finetune"
        self.cache = Path(root) / "finetune-cache"
        self.root.mkdir(parents=True, exist_ok=True)
        self.key, self.device, self.node = key, device, node
        self.build_index = build_index
        self.jobs: dict[str, Job] = {}
        self.changed = threading.Condition()
        self.device_slots = threading.BoundedSemaphore(slots)
        self._tried: dict[str, tuple] = {}  # job id → (model, tokenizer) with the adapter, for the prompt box
        self._building: dict[Path, threading.Lock] = {}  # an attribution index being built → its one builder
        self._building_guard = threading.Lock()  # guards _building itself
        for path in sorted(self.root.glob("*/job.json")):
            self._reload(path)

    # --- persistence ----------------------------------------------------------------------------
    def _reload(self, path: Path) -> None:
        data = json.loads(path.read_text())
        config = TrainingConfig.from_dict(data["config"], libraries=data["config"].get("libraries"))
        job = Job(data["id"], data["owner"], config, data.get("prompts", []), data["state"], data.get("error", ""),
                  data.get("created_at", 0.0), data.get("results", {}))
        progress = path.parent / "progress.jsonl"
        if progress.exists():
            job.points = [json.loads(line) for line in progress.read_text().splitlines() if line.strip()]
        if job.state in ("queued", "running"):
            job.state, job.error = "interrupted", "the worker stopped while the job ran; resume it"
            self._save(job)
        self.jobs[job.id] = job

    def _dir(self, job: Job) -> Path:
        return self.root / job.id

    def _save(self, job: Job) -> None:
        directory = self._dir(job)
        directory.mkdir(parents=True, exist_ok=True)
        tmp = directory / "job.json.tmp"
        tmp.write_text(json.dumps(job.record(), indent=2, sort_keys=True))
        os.replace(tmp, directory / "job.json")
        with self.changed:
            self.changed.notify_all()

    def _append(self, job: Job, point: dict) -> None:
        with open(self._dir(job) / "progress.jsonl", "a") as out:
            out.write(json.dumps(point, sort_keys=True) + "\n")
        with self.changed:
            job.points.append(point)
            self.changed.notify_all()

    def _truncate(self, job: Job, step: int) -> None:
        """Forget progress after `step` (the checkpoint a resume starts from): it will be recomputed."""
        kept = [p for p in job.points if p["step"] <= step]
        (self._dir(job) / "progress.jsonl").write_text("".join(json.dumps(p, sort_keys=True) + "\n" for p in kept))
        job.points = kept

    # --- requests -------------------------------------------------------------------------------
    def _client(self) -> Client:
        if not self.node:
            raise JobError("this worker was started without --node: it cannot read base models or DataNets")
        return Client(self.node)

    def job(self, job_id: str) -> Job:
        if job_id not in self.jobs:
            raise JobError(f"no fine-tuning job {job_id!r} on this worker")
        return self.jobs[job_id]

    def check_inputs(self, spec: DatasetSpec, account: bytes) -> None:
        """Before a job is accepted or a preview shown: the spec's snapshots exist (else the node's refusal,
        not a job that fails a moment after it was reported running) and `account` may read every
        permissioned DataNet among them (`sources.check_inputs`). A worker started without a node reads
        nothing (its jobs fail saying so): nothing to check."""
        if not self.node:
            return
        with self._client() as client:
            check_inputs(client, spec, account)

    def preview(self, spec: DatasetSpec, base_model: str, cutoff: int, limit: int = 10, offset: int = 0,
                split: str = "") -> dict:
        """What the job would train on: examples after the template, token counts, provenance, and every row
        that does not map (contribution, line, reason), and every row left out as a near-duplicate of an
        earlier one (and of which). The listing - training examples then held-out ones, or
        one split ("train", "eval") - is paged: at most PREVIEW_LIMIT examples from `offset`, and `next_offset`
        (0 at the end) says where the next page starts, so no example is out of reach."""
        if split not in ("", "all", "train", "eval"):
            raise ValueError(f"split {split!r}: use train, eval (the held-out rows) or all")
        with self._client() as client:
            config = TrainingConfig(base_model=base_model, dataset=spec, cutoff=cutoff)
            _, data = load_inputs(client, config, self.cache, self.key)
        groups = [(name, group) for name, group in (("train", data.train), ("eval", data.eval))
                  if split in ("", "all", name)]
        listing = [(name, e) for name, group in groups for e in group]
        page = listing[offset:offset + min(max(limit, 1), PREVIEW_LIMIT)]
        examples = [{"rendered": e.rendered, "tokens": len(e.input_ids), "trained_tokens": e.trained_tokens,
                     "contribution": e.row.contribution_id, "contributor": encode_address(e.row.contributor),
                     "line": e.row.line, "split": name, "index": offset + i} for i, (name, e) in enumerate(page)]
        end = offset + len(page)
        return {"examples": examples, "errors": [str(e) for e in data.errors],
                "near_duplicates": [str(e) for e in data.near_duplicates], "train_examples": len(data.train),
                "eval_examples": len(data.eval), "train_tokens": data.tokens,
                "next_offset": end if end < len(listing) else 0, "listed": len(listing)}

    def estimate(self, config: TrainingConfig) -> dict:
        with self._client() as client:
            base_dir, data = load_inputs(client, config, self.cache, self.key)
        return self._estimate(config, base_dir, data)

    def _estimate(self, config: TrainingConfig, base_dir: Path, data: Prepared) -> dict:
        model_config = json.loads((base_dir / "config.json").read_text())
        mean = data.tokens / max(1, len(data.train))
        rate = self._measured_rate(config, base_dir, model_config)
        return estimate(config, model_config, len(data.train), mean, rate).to_dict()

    def _measured_rate(self, config: TrainingConfig, base_dir: Path, model_config: dict) -> float | None:
        """Training tokens/s for `config` from what this worker last measured on this base (its newest completed
        job's final progress point), scaled by the two configs' arithmetic per token (`flops_per_token`: a
        backward through fewer layers is faster), so that an estimate after the first job is this machine's,
        not the cautious FLOP figure (~15x too slow on a 2-core CPU with a matrix unit); None before any."""
        done = [job for job in self.jobs.values() if job.state == "completed"
                and job.results.get("base_dir") == str(base_dir) and job.points]
        for job in sorted(done, key=lambda j: j.created_at, reverse=True):
            rate = next((p["tokens_per_s"] for p in reversed(job.points) if p.get("tokens_per_s")), None)
            if rate:
                return rate * flops_per_token(job.config, model_config) / flops_per_token(config, model_config)
        return None

    def config_from(self, data: dict) -> TrainingConfig:
        """A job's config from a client's JSON: what it leaves out takes ModelFactory's defaults, and the base
        layers' precision this worker's device computes natively (`frozen_base`; recorded in the config)."""
        return TrainingConfig.from_dict({**data, "base_dtype": data.get("base_dtype") or native_dtype(self.device)})

    def start(self, config: TrainingConfig, owner: str, prompts: list[str]) -> Job:
        if config.libraries != library_versions():
            raise JobError(f"the config records libraries {config.libraries}, this worker has {library_versions()}")
        job_id = blake2_256(config.to_json() + f"{time.time_ns()}:{len(self.jobs)}".encode()).hex()[:16]
        job = Job(job_id, owner, config, [p for p in prompts if p.strip()][:8])
        self.jobs[job_id] = job
        self._save(job)
        threading.Thread(target=self._run, args=(job, False), name=f"finetune-{job_id}", daemon=True).start()
        return job

    def resume(self, job_id: str) -> Job:
        job = self.job(job_id)
        if job.state not in RESUMABLE:
            raise JobError(f"job {job_id} is {job.state}; only a failed, aborted or interrupted job resumes")
        job.state, job.error = "queued", ""
        job.stop.clear()
        self._save(job)
        threading.Thread(target=self._run, args=(job, True), name=f"finetune-{job_id}", daemon=True).start()
        return job

    def abort(self, job_id: str) -> Job:
        job = self.job(job_id)
        if job.state in TERMINAL:
            raise JobError(f"job {job_id} is already {job.state}")
        job.stop.set()
        return job

    def watch(self, job_id: str, since: int = 0) -> Iterator[tuple[Job, list[dict]]]:
        """The job's progress from point `since` on, as it comes; ends once the job is in a final state."""
        job = self.job(job_id)
        sent = since
        while True:
            with self.changed:
                if len(job.points) <= sent and job.state not in TERMINAL:
                    self.changed.wait(timeout=1.0)
                fresh, final = job.points[sent:], job.state in TERMINAL
            sent += len(fresh)
            yield job, fresh
            if final and sent >= len(job.points):
                return

    # --- the run --------------------------------------------------------------------------------
    def _run(self, job: Job, resume: bool) -> None:
        with self.device_slots:
            if job.stop.is_set():
                job.state, job.error = "aborted", "aborted before it started"
                self._save(job)
                return
            job.state = "running"
            self._save(job)
            try:
                self._train(job, resume)
            except Aborted as exc:
                job.state, job.error = "aborted", str(exc)
            except Exception as exc:  # noqa: BLE001 - whatever broke, the job must not stay "running"
                job.state, job.error = "failed", f"{type(exc).__name__}: {exc}"
            self._save(job)

    def _train(self, job: Job, resume: bool) -> None:
        with self._client() as client:
            base_dir, data = load_inputs(client, job.config, self.cache, self.key)
        base, tokenizer = load_base(base_dir, self.device)
        if resume:
            latest = sorted(int(p.name[5:]) for p in (self._dir(job) / "checkpoints").glob("step-*"))
            self._truncate(job, latest[-1] if latest else -1)
        job.results.update(train_examples=len(data.train), eval_examples=len(data.eval),
                           rows_refused=len(data.errors), rows_left_out=len(data.near_duplicates),
                           estimate=self._estimate(job.config, base_dir, data))
        outcome = train(job.config, base, tokenizer, data.train, data.eval, self._dir(job),
                        report=lambda point: self._append(job, point), stop=job.stop.is_set, resume=resume,
                        device=self.device)
        base_eval = next((p["base_eval_loss"] for p in job.points if "base_eval_loss" in p), None)
        job.results.update(steps=outcome.steps, train_loss=outcome.train_loss, eval_loss=outcome.eval_loss,
                           base_eval_loss=base_eval, adapter_hash=directory_hash(outcome.adapter_dir, PEFT_LORA).hex(),
                           base_dir=str(base_dir), adapter_dir=str(outcome.adapter_dir))
        self._tried.pop(job.id, None)  # a resumed job's adapter replaces the one tried before
        job.results["samples"] = self._samples(job, job.prompts)
        if outcome.eval_loss is not None:
            job.results["perplexity"] = float(torch.exp(torch.tensor(outcome.eval_loss)))
        if base_eval is not None:
            job.results["base_perplexity"] = float(torch.exp(torch.tensor(base_eval)))
        job.state = "completed"

    # --- after training -------------------------------------------------------------------------
    def _completed(self, job_id: str) -> Job:
        job = self.job(job_id)
        if job.state != "completed":
            raise JobError(f"job {job_id} is {job.state}; it must be completed first")
        return job

    def _with_adapter(self, job: Job):
        """The job's base with its adapter (kept for the last job asked: its prompt box, its publishing); what
        it returns is its own, as another job's publish may replace the kept one meanwhile."""
        tried = self._tried.get(job.id)
        if tried is None:
            from peft import PeftModel

            base, tokenizer = load_base(Path(job.results["base_dir"]), self.device)
            with building_models():
                tried = (PeftModel.from_pretrained(base, self._dir(job) / "adapter").eval(), tokenizer)
            self._tried = {job.id: tried}
        return tried

    def _samples(self, job: Job, prompts: list[str], max_new_tokens: int = 40) -> list[dict]:
        if not prompts:
            return []
        model, tokenizer = self._with_adapter(job)
        out = []
        for prompt in prompts:
            text = prompt_text(tokenizer, prompt, job.config.dataset.template)
            ids = torch.tensor([tokenizer.encode(text, add_special_tokens=False)], device=self.device)
            with torch.no_grad():
                generated = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids),
                                           max_new_tokens=max_new_tokens, do_sample=False,
                                           pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id)
            out.append({"prompt": prompt, "completion": tokenizer.decode(generated[0, ids.shape[1]:],
                                                                         skip_special_tokens=True)})
        return out

    def generate(self, job_id: str, prompts: list[str], max_new_tokens: int = 40) -> list[dict]:
        """Try the adapter: greedy completions for the user's prompts."""
        if not prompts or len(prompts) > 8 or any(not p.strip() or len(p) > 2000 for p in prompts):
            raise JobError("give 1..8 non-empty prompts of at most 2000 characters")
        return self._samples(self._completed(job_id), prompts, max(1, min(max_new_tokens, 256)))

    def evaluate(self, job_id: str) -> dict:
        job = self._completed(job_id)
        model, tokenizer = self._with_adapter(job)
        with self._client() as client:
            _, data = load_inputs(client, job.config, self.cache, self.key)
        loss = evaluate(model, data.eval, tokenizer.pad_token_id, job.config.batch_size, self.device)
        return {"eval_loss": loss, "base_eval_loss": job.results.get("base_eval_loss"),
                "eval_examples": len(data.eval)}

    def export(self, job_id: str) -> dict:
        """The adapter directory and a merged model, checked against base and base + adapter."""
        job = self._completed(job_id)
        checks = export_merged(Path(job.results["base_dir"]), self._dir(job) / "adapter", self._dir(job) / "merged")
        job.results["export"] = checks
        self._save(job)
        return {"adapter_dir": str(self._dir(job) / "adapter"), **checks}

    def attribution_index(self, job: Job, method: str, span_weight_bps: int) -> Path:
        """The adapter's attribution index over its training rows (built once per method, then kept; one
        builder at a time per index - a concurrent caller waits and takes the built one)."""
        if self.build_index is None:
            raise JobError("this worker cannot build attribution indexes, so it cannot publish adapters")
        final = self._dir(job) / f"attribution-{method.replace('+', '-and-')}-{span_weight_bps}"
        with self._building_guard:
            building = self._building.setdefault(final, threading.Lock())
        with building:  # a second publish of the job (a double click) waits for this build and reuses it
            if final.exists():
                return final
            model, tokenizer = self._with_adapter(job)
            with self._client() as client:
                _, data = load_inputs(client, job.config, self.cache, self.key)
            work = final.with_name(f".{final.name}-building")
            if work.exists():  # left by a worker that stopped mid-build
                shutil.rmtree(work)
            with self.device_slots:
                config = job.config
                self.build_index(model, tokenizer, data.train, data.eval, work, method, span_weight_bps,
                                 config.learning_rate,
                                 config.steps_for(len(data.train)) * config.batch_size * config.grad_accum)
            work.replace(final)
            return final

    def publish(self, job_id: str, split: mr.RewardSplit, prices: dict[str, str],
                method: str = "", span_weight_bps: int = 0) -> mr.RegisterModel:
        """Upload the adapter, the full training config and the adapter's attribution index (built from its
        training rows) to the node's content store and return the model record for the owner to sign: base
        model id, snapshots, the three hashes, the attribution method, held-out metrics, prices (OPEN text:
        flat per request, per input token, per output token), split."""
        job = self._completed(job_id)
        method = method or DEFAULT_METHOD
        if method not in ADAPTER_METHODS:
            raise JobError(f"attribution method {method!r} is not one of {sorted(ADAPTER_METHODS)}")
        with self._client() as client:
            try:
                check_current(client, job.config.dataset)
            except ValueError as exc:
                raise JobError(str(exc)) from exc
        weight = (span_weight_bps or DEFAULT_SPAN_WEIGHT) if method == DEFAULT_METHOD else 0
        index_dir = self.attribution_index(job, method, weight)
        with self._client() as client:
            adapter_hash, _ = upload_directory(client, self._dir(job) / "adapter", PEFT_LORA, uploader=self.key)
            index_hash, _ = upload_directory(client, index_dir, ATTRIBUTION_INDEX, uploader=self.key)
            config_hash = client.upload(job.config.to_json(), uploader=self.key).hash
            base_id = registered_base(client, job.config.base_model)
        if adapter_hash.hex() != job.results["adapter_hash"] or config_hash != job.config.hash():
            raise JobError("the stored adapter or config no longer matches what the job produced")
        results = job.results
        record = mr.RegisterModel(
            base_model=base_id,
            snapshots=[mr.SnapshotRef(datanet=d, version=v) for d, v in job.config.dataset.snapshots],
            training_config_hash=config_hash, artifact_hash=adapter_hash,
            attribution_method=ADAPTER_METHODS[method], attribution_index_hash=index_hash, span_weight_bps=weight,
            price_per_inference=encode_u128(parse_open(prices.get("flat") or "0")),
            price_per_input_token=encode_u128(parse_open(prices.get("input") or "0")),
            price_per_output_token=encode_u128(parse_open(prices.get("output") or "0")), format=mr.PEFT_LORA,
            split=split if split.ByteSize() else mr.RewardSplit(**DEFAULT_REWARD_SPLIT),
            eval=mr.EvalMetrics(eval_loss_ppm=round((results.get("eval_loss") or 0) * 1e6),
                                base_eval_loss_ppm=round((results.get("base_eval_loss") or 0) * 1e6),
                                eval_examples=results.get("eval_examples", 0),
                                train_examples=results.get("train_examples", 0)))
        with self._client() as client:  # the model card, rendered from this record, stored by hash in it
            publish_card(client, record, self.key)
        return record


def registered_base(client: Client, artifact_hex: str) -> int:
    """The on-chain id of the base model with this artifact hash."""
    for base in client.pallet_items("modelregistry", "list_base_models", mr.BaseModelsRequest(), mr.BaseModelList,
                                    "base_models"):
        if base.artifact_hash.hex() == artifact_hex:
            return base.id
    raise JobError(f"no base model with artifact {artifact_hex} is registered on the chain")
