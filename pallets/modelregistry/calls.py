"""Model registry calls. Indices are stable: a removed call's index is retired, never reused."""

from __future__ import annotations

from pallets.datanet import interface as datanet
from pallets.datanet.errors import DataNetError
from payable.datanet.v1 import datanet_pb2 as dn
from payable.datanet.v1 import licenses
from payable.modelregistry.v1 import modelregistry_pb2 as pb
from runtime.codec import check_account_id, decode_u128
from runtime.context import Context
from runtime.crypto import encode_address
from runtime.pallet import CallTable

from . import errors, weights
from . import events as ev
from .interface import base_model, model
from .storage import BaseModels, ByArtifact, ByDataNet, ByOwner, Models, NextBaseModelId, NextModelId

calls = CallTable("modelregistry")
BPS = 10_000


def _hash(value: bytes, field: str, optional: bool = False) -> bytes:
    if optional and not value:
        return b""
    if len(value) != 32:
        raise errors.BadInput(f"{field} must be a 32-byte hash, got {len(value)} bytes")
    return value


def _text(value: str, field: str, limit: int) -> str:
    if not value.strip() or len(value) > limit:
        raise errors.BadInput(f"{field} must be 1..{limit} characters")
    return value


MAX_DECLARED_SOURCES = 32  # a base's declared training sources (its publisher's list, e.g. its model card's)


def _source(source: pb.BaseModelSource) -> pb.BaseModelSource:
    """A base's origin: empty; a converted base's source file (name and sha256) with short texts beside; and/or
    the training data its publisher declares."""
    if source == pb.BaseModelSource():
        return source
    if source.file_name or source.file_sha256 or not source.training_sources:
        _hash(source.file_sha256, "source.file_sha256")
        _text(source.file_name, "source.file_name", 256)
    for field in ("package", "version", "quantization", "converter", "sources_declared_in"):
        if len(getattr(source, field)) > 256:
            raise errors.BadInput(f"source.{field} must be at most 256 characters")
    if len(source.training_sources) > MAX_DECLARED_SOURCES:
        raise errors.BadInput(f"source.training_sources: at most {MAX_DECLARED_SOURCES} declared sources")
    for name in source.training_sources:
        _text(name, "source.training_sources[]", 256)
    return source


def _owned(ctx: Context, model_id: int, who: bytes) -> pb.Model:
    found = model(ctx, model_id)
    if found.owner != who:
        raise errors.NotOwner(f"only the owner of model {model_id} may do this")
    return found


def _format(value: int) -> None:
    if value not in pb.ArtifactFormat.values():
        raise errors.BadInput(f"unknown artifact format {value}")


def _prices(flat: bytes, per_input_token: bytes, per_output_token: bytes) -> None:
    """A flat fee per request, a price per input token and one per output token; at least one is charged."""
    prices = [decode_u128(flat, "price_per_inference"), decode_u128(per_input_token, "price_per_input_token"),
              decode_u128(per_output_token, "price_per_output_token")]
    if not any(prices):
        raise errors.BadInput("a model must charge something: a flat price per inference, per input token or "
                              "per output token")


@calls.call(0, pb.RegisterBaseModel, weights.REGISTER_BASE)
def register_base_model(ctx: Context, origin: bytes, args: pb.RegisterBaseModel) -> None:
    """Register a base model: its artifact hash, architecture, format and license (and, for a language
    model, its context in positions: requests that could not fit it are refused when made; for weights
    converted from another format, where they came from)."""
    _format(args.format)
    if args.format == pb.PEFT_LORA:
        raise errors.BadInput("a base model cannot be an adapter (format PEFT_LORA); register the adapter as a model")
    new_id = NextBaseModelId.get(ctx, 1)
    BaseModels.insert(ctx, new_id, pb.BaseModel(
        id=new_id, owner=origin, artifact_hash=_hash(args.artifact_hash, "artifact_hash"),
        architecture=_text(args.architecture, "architecture", 128), format=args.format,
        license=_text(args.license, "license", 64), registered_at=ctx.block_number, size_bytes=args.size_bytes,
        parameters=args.parameters, context_length=args.context_length, source=_source(args.source)))
    NextBaseModelId.put(ctx, new_id + 1)
    ev.BaseModelRegistered.emit(ctx, base_model=new_id, owner=origin, artifact_hash=args.artifact_hash)


@calls.call(1, pb.RegisterModel, weights.REGISTER)
def register_model(ctx: Context, origin: bytes, args: pb.RegisterModel) -> None:
    """Register a fine-tuned model or adapter with its training provenance, license, prices and reward split."""
    base = base_model(ctx, args.base_model)
    config = ctx.config
    refs = [(s.datanet, s.version) for s in args.snapshots]
    if not 1 <= len(refs) <= config.max_snapshots or len(set(refs)) != len(refs):
        raise errors.BadInput(f"cite 1..{config.max_snapshots} distinct snapshots")
    snapshots = []
    for net, version in refs:
        if version == 0:
            raise errors.UnknownSnapshot(f"DataNet {net}: cite an explicit snapshot version (1, 2, ...)")
        try:
            snapshots.append(datanet.snapshot(ctx, net, version))
        except DataNetError as exc:
            raise errors.UnknownSnapshot(f"DataNet {net} version {version}: {exc.message}") from exc
        if not datanet.may_train(ctx, net, origin):
            raise errors.AccessRequired(f"DataNet {net} is permissioned and the caller holds no access grant; "
                                        f"request access (datanet.request_access) and wait for a grant")
    split = args.split
    parts = (split.contributors, split.model_owner, split.protocol, split.worker)
    if sum(parts) != BPS:
        raise errors.BadSplit(f"the split sums to {sum(parts)} basis points, not {BPS}")
    if split.contributors < config.min_contributors_bps:
        raise errors.BadSplit(f"contributors get {split.contributors} bps; the chain minimum is "
                              f"{config.min_contributors_bps}")
    allows = data_license(snapshots)
    model_license = _model_license(args.license, allows, base.license, snapshots)
    _method(args)
    _prices(args.price_per_inference, args.price_per_input_token, args.price_per_output_token)
    _format(args.format)
    artifact = _hash(args.artifact_hash, "artifact_hash")
    first = ByArtifact.get(ctx, artifact)
    if first is not None and (holder := Models.get(ctx, first).owner) != origin:
        raise errors.ArtifactTaken(f"model {first} (owner {encode_address(holder)}) already has artifact "
                                   f"{artifact.hex()[:16]}…: only its owner may register it again")
    new_id = NextModelId.get(ctx, 1)
    Models.insert(ctx, new_id, pb.Model(
        id=new_id, owner=origin, base_model=args.base_model, snapshots=args.snapshots,
        training_config_hash=_hash(args.training_config_hash, "training_config_hash"),
        artifact_hash=artifact, attribution_method=args.attribution_method,
        attribution_index_hash=_hash(args.attribution_index_hash, "attribution_index_hash", optional=True),
        price_per_inference=args.price_per_inference, price_per_input_token=args.price_per_input_token,
        price_per_output_token=args.price_per_output_token, split=split,
        registered_at=ctx.block_number, format=args.format, eval=args.eval, span_weight_bps=args.span_weight_bps,
        license=model_license, data_license=allows, card_hash=_hash(args.card_hash, "card_hash", optional=True)))
    NextModelId.put(ctx, new_id + 1)
    for net in sorted({net for net, _ in refs}):
        ByDataNet.insert(ctx, net, new_id, b"")
    ByOwner.insert(ctx, origin, new_id, b"")
    if first is None:
        ByArtifact.insert(ctx, artifact, new_id)
    ev.ModelRegistered.emit(ctx, model=new_id, owner=origin)


def data_license(snapshots: list[dn.Snapshot]) -> pb.DataLicense:
    """What the cited snapshots' contributions allow the model's license to be (`payable.datanet.v1.licenses`)."""
    names = sorted({share.license for snap in snapshots for share in snap.licenses})
    allows = licenses.allowed(names)
    return pb.DataLicense(licenses=names, any=allows is None, allowed=sorted(allows or ()))


MAX_NAMED = 20  # contribution ids a refusal names per snapshot and license (then how many in all)


def _blocking(snapshots: list[dn.Snapshot], model_license: str | None) -> str:
    """The contributions that forbid `model_license` (None: that restrict the model's license at all), by
    snapshot and license, with what their license allows."""
    found = []
    for snap in snapshots:
        for share in snap.licenses:
            allows = licenses.model_licenses(share.license)
            if allows is None or (model_license is not None and not licenses.blocks(share.license, model_license)):
                continue
            count = len(share.contribution_ids)
            ids = ", ".join(str(cid) for cid in share.contribution_ids[:MAX_NAMED])
            named = (f"contribution {ids} is" if count == 1 else
                     f"contributions {ids}{f' ({count} in all)' if count > MAX_NAMED else ''} are")
            found.append(f"DataNet {snap.datanet} v{snap.version} {named} {share.license}, "
                         f"which allows {' or '.join(sorted(allows))}")
    return "; ".join(found)


def _model_license(declared: str, data: pb.DataLicense, base_license: str, snapshots: list[dn.Snapshot]) -> str:
    """The model's license: the declared one, refused unless its training data allows it (the refusal names the
    contributions that block it). Undeclared, it is the base model's license when the data allows any, else the
    allowed license the data itself carries (its terms carry over to the model), else the only one allowed;
    data that allows none, or leaves a choice, needs a declaration."""
    if not declared:
        default = licenses.default_model_license(list(data.licenses), data.any, list(data.allowed), base_license)
        if default is not None:
            return default
        allowed = " or ".join(data.allowed) if data.allowed else "no license at all"
        raise errors.LicenseNotAllowed(f"declare the model's license: its training data allows {allowed} "
                                       f"({_blocking(snapshots, None)})")
    license_ = licenses.canonical(declared)
    if license_ != licenses.OTHER and not licenses.is_license_id(license_):
        raise errors.BadInput(f"license {declared!r} is not an SPDX identifier, {licenses.CUSTOM!r} "
                              f"or {licenses.OTHER!r}")
    if not data.any and license_ not in data.allowed:
        raise errors.LicenseNotAllowed(f"model license {license_!r} is not allowed by its training data: "
                                       f"{_blocking(snapshots, license_)}")
    return license_


LORA_METHODS = (pb.SPAN, pb.LORA_GRADIENT, pb.SPAN_AND_LORA_GRADIENT)


def _method(args: pb.RegisterModel) -> None:
    """The attribution method suits the artifact: the LoRA-gradient methods need an adapter (their gradients
    are taken over its parameters), and only the combined method carries a span weight."""
    method = args.attribution_method
    if method not in pb.AttributionMethod.values():
        raise errors.BadInput(f"unknown attribution method {method}")
    if args.format == pb.PEFT_LORA and method not in LORA_METHODS:
        raise errors.BadInput("an adapter is attributed by SPAN, LORA_GRADIENT or SPAN_AND_LORA_GRADIENT")
    if args.format != pb.PEFT_LORA and method in (pb.LORA_GRADIENT, pb.SPAN_AND_LORA_GRADIENT):
        raise errors.BadInput("LoRA-gradient attribution needs a PEFT_LORA adapter")
    if method == pb.SPAN_AND_LORA_GRADIENT and not 1 <= args.span_weight_bps < BPS:
        raise errors.BadInput(f"SPAN_AND_LORA_GRADIENT needs span_weight_bps within 1..{BPS - 1}")
    if method != pb.SPAN_AND_LORA_GRADIENT and args.span_weight_bps:
        raise errors.BadInput("span_weight_bps applies to SPAN_AND_LORA_GRADIENT only")


@calls.call(2, pb.UpdatePrice, weights.UPDATE_PRICE)
def update_price(ctx: Context, origin: bytes, args: pb.UpdatePrice) -> None:
    """Owner: change the model's prices (requests already made keep theirs)."""
    found = _owned(ctx, args.model, origin)
    _prices(args.price_per_inference, args.price_per_input_token, args.price_per_output_token)
    found.price_per_inference = args.price_per_inference
    found.price_per_input_token, found.price_per_output_token = args.price_per_input_token, args.price_per_output_token
    Models.insert(ctx, found.id, found)
    ev.PriceUpdated.emit(ctx, model=found.id, price_per_inference=args.price_per_inference,
                         price_per_input_token=args.price_per_input_token,
                         price_per_output_token=args.price_per_output_token)


@calls.call(3, pb.ModelRef, weights.DEPRECATE)
def deprecate(ctx: Context, origin: bytes, args: pb.ModelRef) -> None:
    """Owner: stop the model taking new inference requests (its record and provenance stay)."""
    found = _owned(ctx, args.model, origin)
    if found.deprecated:
        raise errors.Deprecated(f"model {found.id} is already deprecated")
    found.deprecated = True
    Models.insert(ctx, found.id, found)
    ev.ModelDeprecated.emit(ctx, model=found.id, owner=origin)


@calls.call(4, pb.TransferOwnership, weights.TRANSFER)
def transfer_ownership(ctx: Context, origin: bytes, args: pb.TransferOwnership) -> None:
    """Owner: hand the model (and its share of future fees) to another account."""
    found = _owned(ctx, args.model, origin)
    new_owner = check_account_id(args.new_owner, "new_owner")
    found.owner = new_owner
    Models.insert(ctx, found.id, found)
    ByOwner.remove(ctx, origin, found.id)
    ByOwner.insert(ctx, new_owner, found.id, b"")
    ev.OwnershipTransferred.emit(ctx, model=found.id, **{"from": origin, "to": new_owner})
