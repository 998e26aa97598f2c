"""Payable Studio's server: FastAPI, server-rendered Jinja pages with htmx swaps, a small JSON API for the
page's script. It is a client like any other - the node and the worker over gRPC - and holds no keys.

Pages: the explorer (blocks live, block, extrinsic, account with balances proven in the browser, search),
the playground (pay, stream, whose data spoke, where the fee went), earnings (contributor, model, DataNet),
DataNets (list, create, upload with progress, curate, snapshots, access), ModelFactory (base and
snapshots, mapping with a live preview, hyper-parameters with defaults and the estimate, jobs with a
live loss chart that survives reloads, evaluation, a prompt box, export, publish), Models (what the
chain records), Keys (dev accounts on a dev chain, or an imported key, held in the browser only); with a
gateway key, the OpenAI-compatible /v1 routes too.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import grpc
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from google.protobuf import json_format

from payable.datanet.v1 import datanet_pb2 as dn
from payable.modelregistry.v1 import modelregistry_pb2 as mr
from payable.worker.v1 import worker_pb2 as wp
from payable.worker.v1 import worker_pb2_grpc
from runtime.crypto import decode_address, encode_address
from sdk.client import Client, ClientError
from sdk.grpcserver import MESSAGE_OPTIONS

from . import wallet
from .earnings import earnings_router
from .explorer import explorer_router
from .gateway import Gateway, gateway_router
from .playground import playground_router

HERE = Path(__file__).parent
VENDOR = {"htmx.min.js": HERE / "node_modules/htmx.org/dist/htmx.min.js",
          "nacl-fast.min.js": HERE / "node_modules/tweetnacl/nacl-fast.min.js",
          "blake2b.js": HERE / "node_modules/blakejs/blake2b.js"}
BLAKE_UTIL = HERE / "node_modules/blakejs/util.js"
HYPER_DEFAULTS = {"rank": 8, "alpha": 16, "dropout": 0.0, "learning_rate": 2e-3, "epochs": 3, "max_steps": 0,
                  "batch_size": 4, "grad_accum": 1, "cutoff": 256, "seed": 42, "checkpoint_every": 10,
                  "eval_every": 10}
INTEGERS = ("rank", "alpha", "epochs", "max_steps", "batch_size", "grad_accum", "cutoff", "seed",
            "checkpoint_every", "eval_every")


def missing_assets() -> list[str]:
    return [str(path) for path in VENDOR.values() if not path.exists()]


def _all_datanets(client: Client) -> list[dn.DataNetInfo]:
    return list(client.pallet_items("datanet", "list_datanets", dn.ListDataNetsRequest(), dn.DataNetList, "datanets"))


def _all_base_models(client: Client) -> list[mr.BaseModel]:
    return list(client.pallet_items("modelregistry", "list_base_models", mr.BaseModelsRequest(), mr.BaseModelList,
                                    "base_models"))


def is_address(text: str) -> bool:
    """An account's text form (base58 with checksum), for linking decoded fields to their account page."""
    try:
        return not all(c in "0123456789abcdef" for c in text) and len(decode_address(text)) == 32
    except ValueError:
        return False


def blake2b_script() -> str:
    """blakejs (CommonJS: blake2b.js requiring util.js) wrapped for a plain <script> as `window.blakejs`."""
    modules = {"./util": BLAKE_UTIL.read_text(), "blake2b": VENDOR["blake2b.js"].read_text()}
    parts = [f"defs[{name!r}] = function (module, exports, require) {{\n{source}\n}};"
             for name, source in modules.items()]
    return ("(function () {\nconst defs = {}, cache = {};\n" + "\n".join(parts) +
            "\nfunction require(name) {\n  if (!cache[name]) { const module = { exports: {} }; cache[name] = module;"
            " defs[name](module, module.exports, require); }\n  return cache[name].exports;\n}\n"
            "window.blakejs = require('blake2b');\n})();\n")


def create_app(node: str, worker: str, gateway_key=None, spend_cap: int | None = None) -> FastAPI:
    """The studio; with `gateway_key` (a Keypair) it also serves the OpenAI-compatible /v1 routes, paying
    with that key (at most `spend_cap` per call)."""
    if missing := missing_assets():
        raise RuntimeError(f"Studio's front-end packages are not installed ({', '.join(missing)}): run "
                           f"`npm ci --prefix studio` (make does it)")
    client = Client(node, timeout=600)
    channel = grpc.insecure_channel(worker, options=MESSAGE_OPTIONS)
    jobs = worker_pb2_grpc.FinetuneStub(channel)
    app = FastAPI(title="Payable Studio", docs_url=None, redoc_url=None)
    app.state.client, app.state.channel = client, channel
    templates = Jinja2Templates(directory=HERE / "templates")
    templates.env.filters["address"] = lambda b: encode_address(b) if b else ""
    templates.env.tests["address"] = is_address
    templates.env.filters["short"] = lambda b: (b.hex() if isinstance(b, bytes) else str(b))[:16] + "…"
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    def worker_call(method, request, timeout: float = 600):
        try:
            return method(request, timeout=timeout)
        except grpc.RpcError as exc:
            status = 404 if exc.code() == grpc.StatusCode.NOT_FOUND else 400
            raise HTTPException(status, f"worker: {exc.details()}") from exc

    def page(request: Request, name: str, **context) -> HTMLResponse:
        info = client.chain_info()
        return templates.TemplateResponse(request, name, {"chain": info, **context})

    app.include_router(explorer_router(client, page))
    app.include_router(playground_router(client, page))
    app.include_router(earnings_router(client, page))
    if gateway_key is not None:
        app.include_router(gateway_router(Gateway(client, gateway_key, spend_cap)))

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException):
        """A page answers with a page that says what went wrong and what to do; the API with JSON."""
        if request.url.path.startswith(("/api/", "/v1/")) or "text/html" not in request.headers.get("accept", ""):
            return JSONResponse({"detail": exc.detail}, status_code=exc.status_code)
        return templates.TemplateResponse(request, "error.html", {"chain": None, "status": exc.status_code,
                                                                  "detail": exc.detail}, status_code=exc.status_code)

    @app.exception_handler(ClientError)
    async def client_error(request: Request, exc: ClientError):
        return JSONResponse({"detail": str(exc)}, status_code=400)

    @app.exception_handler(wallet.WalletError)
    async def wallet_error(request: Request, exc: wallet.WalletError):
        return JSONResponse({"detail": str(exc)}, status_code=400)

    # --- assets and keys ------------------------------------------------------------------------
    @app.get("/vendor/{name}")
    def vendor(name: str):
        from fastapi.responses import FileResponse

        if name not in VENDOR:
            raise HTTPException(404, f"no vendored asset {name}")
        if name == "blake2b.js":
            return Response(blake2b_script(), media_type="text/javascript")
        return FileResponse(VENDOR[name], media_type="text/javascript")

    @app.get("/api/chain")
    def chain():
        info = client.chain_info()
        return {"name": info.chain_name, "id": info.chain_id, "best": info.best_number,
                "genesis": info.genesis_hash.hex(), "dev_accounts": wallet.dev_accounts(client)}

    @app.post("/api/prepare")
    def prepare_call(body: dict):
        for key in ("signer", "pallet", "call"):
            if not isinstance(body.get(key), str):
                raise HTTPException(400, f"{key} is required")
        prepared = wallet.prepare(client, body["signer"], body["pallet"], body["call"], body.get("fields") or {})
        return {"body": prepared.body.hex(), "summary": prepared.summary}

    @app.post("/api/submit")
    def submit(body: dict):
        try:
            raw, signature = bytes.fromhex(body["body"]), bytes.fromhex(body["signature"])
        except (KeyError, TypeError, ValueError) as exc:
            raise HTTPException(400, "body and signature must be hex") from exc
        return wallet.submit(client, raw, signature)

    @app.post("/api/upload")
    async def upload(request: Request):
        """Stream the browser's file to a temporary file, then to the node's content store."""
        with tempfile.NamedTemporaryFile(prefix="studio-upload-") as tmp:
            size = 0
            async for chunk in request.stream():
                tmp.write(chunk)
                size += len(chunk)
            tmp.flush()
            if size == 0:
                raise HTTPException(400, "the file is empty")
            stored = client.upload(tmp.name)
        return {"hash": stored.hash.hex(), "size": stored.size, "already_stored": stored.already_stored}

    # --- pages ----------------------------------------------------------------------------------
    @app.get("/")
    def home():
        return RedirectResponse("/explorer")

    @app.get("/keys", response_class=HTMLResponse)
    def keys(request: Request):
        return page(request, "keys.html", dev=wallet.dev_accounts(client))

    @app.get("/datanets", response_class=HTMLResponse)
    def datanets(request: Request):
        nets = _all_datanets(client)
        return page(request, "datanets.html", datanets=nets)

    @app.get("/datanets/{datanet_id}", response_class=HTMLResponse)
    def datanet(request: Request, datanet_id: int):
        info = client.pallet_query("datanet", "get_datanet", dn.DataNetRequest(datanet=datanet_id), dn.DataNetInfo)
        contributions = client.pallet_query("datanet", "list_contributions",
                                            dn.ContributionsRequest(datanet=datanet_id, limit=100),
                                            dn.ContributionList).contributions
        snapshots = [client.pallet_query("datanet", "get_snapshot", dn.SnapshotRequest(datanet=datanet_id, version=v),
                                         dn.SnapshotWithProofs).snapshot
                     for v in range(info.datanet.snapshot_count, 0, -1)]
        access = client.pallet_query("datanet", "list_access", dn.DataNetRequest(datanet=datanet_id), dn.AccessList)
        return page(request, "datanet.html", info=info, contributions=contributions, snapshots=snapshots,
                    access=access, status_name=dn.Status.Name,
                    access_name=lambda s: dn.AccessState.Name(s)[7:].lower())

    @app.get("/models", response_class=HTMLResponse)
    def models(request: Request):
        found = list(client.pallet_items("modelregistry", "list_models", mr.ModelsRequest(), mr.ModelList,
                                         "models"))
        bases = _all_base_models(client)
        return page(request, "models.html", models=found, bases=bases, format_name=mr.ArtifactFormat.Name)

    @app.get("/factory", response_class=HTMLResponse)
    def factory(request: Request):
        bases = _all_base_models(client)
        nets = _all_datanets(client)
        listed = worker_call(jobs.ListJobs, wp.JobRef()).jobs
        return page(request, "factory.html", bases=bases, datanets=nets, jobs=listed, defaults=HYPER_DEFAULTS)

    @app.get("/factory/jobs/{job_id}", response_class=HTMLResponse)
    def job_page(request: Request, job_id: str):
        job = worker_call(jobs.Status, wp.JobRef(job=job_id))
        return page(request, "job.html", job=job, config=json.dumps(json.loads(job.config_json), indent=2))

    # --- ModelFactory ---------------------------------------------------------------------------
    def base_hash(base_model: int) -> str:
        return client.pallet_query("modelregistry", "get_base_model", mr.BaseModelRequest(base_model=base_model),
                                   mr.BaseModel).artifact_hash.hex()

    def dataset_spec(form: dict) -> dict:
        snapshots = [[int(p) for p in ref.split(":")] for ref in form.get("snapshots", [])]
        mapping = {k: form[f"map_{k}"].strip() for k in ("prompt", "response", "text", "messages", "system")
                   if form.get(f"map_{k}", "").strip()}
        return {"snapshots": snapshots, "format": form.get("format", "auto"), "mapping": mapping,
                "template": form.get("template", "chat"), "eval_per_mille": int(form.get("eval_per_mille") or 100),
                "split_seed": 0}

    async def read_form(request: Request) -> dict:
        form = await request.form()
        data = {k: v for k, v in form.items() if k != "snapshots"}
        data["snapshots"] = form.getlist("snapshots")
        return data

    def training_config(form: dict) -> dict:
        if not form.get("base_model"):
            raise HTTPException(400, "pick a base model")
        config = {"base_model": base_hash(int(form["base_model"])), "dataset": dataset_spec(form)}
        for key, default in HYPER_DEFAULTS.items():
            raw = str(form.get(key, "")).strip()
            try:
                config[key] = (int(raw) if key in INTEGERS else float(raw)) if raw else default
            except ValueError as exc:
                raise HTTPException(400, f"{key}: {raw!r} is not a number") from exc
        return config

    def partial(request: Request, template: str, name: str, compute) -> HTMLResponse:
        """An htmx fragment: `compute()`'s answer as `name`, or the problem in words (never a blank swap)."""
        try:
            return templates.TemplateResponse(request, template, {name: compute(), "problem": None})
        except (grpc.RpcError, ValueError, HTTPException) as exc:
            problem = exc.details() if isinstance(exc, grpc.RpcError) else getattr(exc, "detail", str(exc))
            return templates.TemplateResponse(request, template, {name: None, "problem": problem})

    @app.post("/factory/preview", response_class=HTMLResponse)
    async def preview(request: Request):
        form = await read_form(request)

        def compute():
            if not form["snapshots"]:
                raise ValueError("pick at least one snapshot")
            config = training_config(form)
            return jobs.Preview(wp.DatasetPreviewRequest(dataset_spec_json=json.dumps(config["dataset"]),
                                                         base_model=config["base_model"], cutoff=config["cutoff"],
                                                         limit=8), timeout=600)

        return partial(request, "_preview.html", "preview", compute)

    @app.post("/factory/estimate", response_class=HTMLResponse)
    async def estimate(request: Request):
        form = await read_form(request)
        return partial(request, "_estimate.html", "estimate", lambda: jobs.Estimate(
            wp.JobConfigRequest(config_json=json.dumps(training_config(form))), timeout=600))

    @app.post("/api/jobs")
    async def start_job(request: Request):
        form = await read_form(request)
        prompts = [p.strip() for p in form.get("prompts", "").splitlines() if p.strip()]
        job = worker_call(jobs.Start, wp.StartJobRequest(config_json=json.dumps(training_config(form)),
                                                         owner=form.get("owner", ""), prompts=prompts))
        return {"job": job.id}

    def job_dict(job: wp.JobInfo) -> dict:
        return {"id": job.id, "state": job.state, "error": job.error, "step": job.step,
                "total_steps": job.total_steps, "results": json.loads(job.results_json or "{}")}

    @app.get("/api/jobs/{job_id}")
    def job_progress(job_id: str, since: int = 0):
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

    @app.post("/api/jobs/{job_id}/{action}")
    def job_action(job_id: str, action: str, body: dict | None = None):
        ref = wp.JobRef(job=job_id)
        if action in ("abort", "resume"):
            return job_dict(worker_call(jobs.Abort if action == "abort" else jobs.Resume, ref))
        if action == "try":
            prompts = [p for p in (body or {}).get("prompts", []) if isinstance(p, str) and p.strip()]
            found = worker_call(jobs.Try, wp.TryRequest(job=job_id, prompts=prompts, max_new_tokens=40))
            return {"samples": [{"prompt": s.prompt, "completion": s.completion} for s in found.samples]}
        if action == "export":
            return json_format.MessageToDict(worker_call(jobs.Export, ref), preserving_proto_field_name=True)
        if action == "publish":
            return publish(job_id, body or {})
        raise HTTPException(404, f"no job action {action!r}")

    def publish(job_id: str, body: dict) -> dict:
        """Adapter and config to the content store (by the worker); the register_model body for the browser."""
        split = [int(x) for x in str(body.get("split") or "7000,2000,500,500").split(",")]
        if len(split) != 4:
            raise HTTPException(400, "split is contributors,owner,protocol,worker basis points")
        published = worker_call(jobs.PublishArtifacts, wp.PublishRequest(
            job=job_id, price_per_inference=str(body.get("price") or "0"),
            price_per_input_token=str(body.get("price_per_input_token") or "0"),
            price_per_output_token=str(body.get("price_per_output_token") or "0"),
            split=mr.RewardSplit(**dict(zip(("contributors", "model_owner", "protocol", "worker"), split,
                                            strict=True)))))
        prepared = wallet.prepare(client, str(body.get("signer", "")), "modelregistry", "register_model",
                                  args=published.register_model)
        return {"body": prepared.body.hex(), "summary": prepared.summary}

    @app.on_event("shutdown")
    def close() -> None:
        channel.close()
        client.close()

    return app
