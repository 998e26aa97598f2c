"""Inference pallet calls. Indices are stable: a removed call's index is retired, never reused."""

from __future__ import annotations

from collections.abc import Iterator

from pallets.modelregistry import interface as registry
from pallets.token import interface as token
from payable.inference.v1 import inference_pb2 as pb
from payable.modelregistry.v1.modelregistry_pb2 import PEFT_LORA, Model
from runtime.codec import decode_u128, encode_u128, format_open
from runtime.context import Context
from runtime.crypto import blake2_256
from runtime.pallet import CallTable
from sdk.wire import MAX_TEMPERATURE_MILLI, token_price

from . import errors, weights
from . import events as ev
from .storage import ESCROW, ByBase, ByModel, Deadlines, NextRequestId, Requests, Unseeded, Workers

calls = CallTable("inference")
MAX_MODELS = 16


@calls.call(0, pb.RegisterWorker, weights.REGISTER)
def register_worker(ctx: Context, origin: bytes, args: pb.RegisterWorker) -> None:
    """Bond OPEN (through the token pallet's staking) and register as a worker for some models, and for every
    adapter of some base models (OpenLoRA: one base in memory serves all its adapters)."""
    if Workers.get(ctx, origin) is not None:
        raise errors.AlreadyRegistered("deregister first to change the bond")
    if not args.endpoint or len(args.endpoint) > 256:
        raise errors.BadInput("endpoint must be 1..256 characters")
    models, bases = list(dict.fromkeys(args.models)), list(dict.fromkeys(args.base_models))
    if not 1 <= len(models) + len(bases) <= MAX_MODELS:
        raise errors.BadInput(f"serve 1..{MAX_MODELS} distinct models and base models in all")
    for model_id in models:
        registry.model(ctx, model_id)
    for base_id in bases:
        registry.base_model(ctx, base_id)
    bond = decode_u128(args.bond, "bond")
    if bond < ctx.config.min_worker_bond:
        raise errors.BondTooSmall(f"bond {format_open(bond)} OPEN is below the minimum "
                                  f"{format_open(ctx.config.min_worker_bond)} OPEN")
    token.bond(ctx, origin, bond)
    Workers.insert(ctx, origin, pb.Worker(account=origin, endpoint=args.endpoint, models=models,
                                          device=args.device[:32], bond=encode_u128(bond),
                                          registered_at=ctx.block_number, base_models=bases))
    for model_id in models:
        ByModel.insert(ctx, model_id, origin, b"")
    for base_id in bases:
        ByBase.insert(ctx, base_id, origin, b"")
    ev.WorkerRegistered.emit(ctx, worker=origin, bond=encode_u128(bond))


@calls.call(1, pb.Deregister, weights.DEREGISTER)
def deregister_worker(ctx: Context, origin: bytes, args: pb.Deregister) -> None:
    """Stop taking requests; the bond unbonds over the token pallet's unbonding period (still slashable)."""
    found = Workers.get(ctx, origin)
    if found is None:
        raise errors.UnknownWorker("not a registered worker")
    if found.leaving_at:
        raise errors.Leaving("already deregistering")
    bond = decode_u128(found.bond)
    if bond:
        token.unbond(ctx, origin, bond)
    found.leaving_at = ctx.block_number
    Workers.insert(ctx, origin, found)
    for model_id in found.models:
        ByModel.remove(ctx, model_id, origin)
    for base_id in found.base_models:
        ByBase.remove(ctx, base_id, origin)
    ev.WorkerLeaving.emit(ctx, worker=origin, bond=found.bond)


def serving(ctx: Context, model_id: int) -> Iterator[bytes]:
    """The workers registered for a model, then - for an adapter - those serving its base model."""
    yield from (account for account, _ in ByModel.iter_prefix(ctx, model_id))
    model = registry.model(ctx, model_id)
    if model.format == PEFT_LORA:
        yield from (account for account, _ in ByBase.iter_prefix(ctx, model.base_model))


def assign(ctx: Context, model_id: int, request_id: int, exclude: tuple[bytes, ...] = ()) -> list[bytes]:
    """Deterministic assignment from on-chain data: eligible workers (not in `exclude`) ranked by
    blake2(parent hash ‖ request ‖ worker), the first `replication` taken. Every node computes the same list.
    At most `max_workers_per_model` candidates are read, those registered for the model first."""
    config = ctx.config
    seed = ctx.parent_hash + request_id.to_bytes(8, "big")
    eligible: list[bytes] = []
    for seen, account in enumerate(serving(ctx, model_id)):
        if seen == config.max_workers_per_model:
            break
        found = Workers.get(ctx, account)
        if (found is not None and account not in exclude and account not in eligible and not found.leaving_at
                and decode_u128(found.bond) >= config.min_worker_bond):
            eligible.append(account)
    return sorted(eligible, key=lambda account: blake2_256(seed + account))[:config.replication]


def _token_bounds(ctx: Context, args: pb.RequestInference, per_input: int, per_output: int) -> None:
    """A token-priced model needs the bounds its escrow is computed at; they stay within the chain's limits."""
    config = ctx.config
    if per_input and not 1 <= args.max_input_tokens <= config.max_input_tokens:
        raise errors.BadInput(f"this model charges per input token: max_input_tokens must be within "
                              f"1..{config.max_input_tokens}")
    if per_output and not 1 <= args.max_new_tokens <= config.max_new_tokens:
        raise errors.BadInput(f"this model charges per output token: max_new_tokens must be within "
                              f"1..{config.max_new_tokens}")
    if args.max_input_tokens > config.max_input_tokens or args.max_new_tokens > config.max_new_tokens:
        raise errors.BadInput(f"token bounds are at most {config.max_input_tokens} input and "
                              f"{config.max_new_tokens} new tokens")


def check_request(ctx: Context, args: pb.RequestInference) -> tuple[Model, bytes, int]:
    """Everything the chain can check of a request by itself - the model takes paid requests, the input is
    there and within the inline limit, the token bounds are within the chain's and the base's context, the
    sampling is in range, max_fee covers the price - as typed errors; returns (model, input hash, price). Run by the
    pool and again before the call's fee is taken (`hooks.validate_transaction`), so a request that is sure
    to fail is refused before anything is charged or escrowed."""
    model = registry.active_model(ctx, args.model)
    if not model.attribution_index_hash:
        raise errors.BadInput(f"model {args.model} has no attribution index yet, so its fees could not be "
                              f"attributed; it takes no paid requests until it has one")
    if args.input and args.input_hash:
        raise errors.BadInput("give the input inline or its content hash, not both")
    if args.input:
        if len(args.input) > ctx.config.max_inline_input:
            raise errors.InputTooLarge(f"inline input is {len(args.input)} bytes; at most "
                                       f"{ctx.config.max_inline_input} (put larger inputs in the content store and "
                                       f"pass their hash)")
        input_hash = blake2_256(args.input)
    elif len(args.input_hash) == 32:
        input_hash = args.input_hash
    elif args.input_hash:
        raise errors.BadInput(f"input_hash is {len(args.input_hash)} bytes; a content hash is 32")
    else:
        raise errors.NoInput("an input (inline) or a 32-byte input_hash is required")
    flat, per_input, per_output = (decode_u128(model.price_per_inference), decode_u128(model.price_per_input_token),
                                   decode_u128(model.price_per_output_token))
    _token_bounds(ctx, args, per_input, per_output)
    context = registry.base_model(ctx, model.base_model).context_length
    if context and args.max_new_tokens >= context:
        raise errors.ContextExceeded(f"max_new_tokens {args.max_new_tokens} leaves no room for a prompt: model "
                                     f"{args.model}'s base holds {context} positions (prompt and new tokens "
                                     f"together)")
    if args.sampling.temperature_milli > MAX_TEMPERATURE_MILLI or args.sampling.top_p_milli > 1000:
        raise errors.BadInput(f"sampling: temperature_milli is at most {MAX_TEMPERATURE_MILLI} and top_p_milli "
                              f"at most 1000")
    price = token_price(flat, per_input, per_output, args.max_input_tokens, args.max_new_tokens)
    if decode_u128(args.max_fee, "max_fee") < price:
        raise errors.FeeTooLow(f"max_fee is below {format_open(price)} OPEN, the model's price at the request's "
                              f"token bounds")
    return model, input_hash, price


@calls.call(2, pb.RequestInference, weights.REQUEST)
def request_inference(ctx: Context, origin: bytes, args: pb.RequestInference) -> None:
    """Pay for an inference: the model's price - its flat fee plus its token prices at the request's token
    bounds - is escrowed (held under `inference/escrow`) and workers are assigned; settlement charges the
    real counts. What `check_request` refuses never gets here: the pool and the block refuse it uncharged."""
    model, input_hash, price = check_request(ctx, args)
    request_id = NextRequestId.get(ctx, 1)
    workers = assign(ctx, args.model, request_id)
    if not workers:
        raise errors.NoWorker(f"no bonded, active worker serves model {args.model}")
    token.hold(ctx, ESCROW, origin, price)
    deadline = ctx.block_number + ctx.config.deadline_blocks
    Requests.insert(ctx, request_id, pb.Request(
        id=request_id, requester=origin, model=args.model, input_hash=input_hash, input=args.input,
        escrow=encode_u128(price), workers=workers, deadline=deadline, created_at=ctx.block_number,
        max_input_tokens=args.max_input_tokens, max_new_tokens=args.max_new_tokens, flat_fee=model.price_per_inference,
        input_token_price=model.price_per_input_token, output_token_price=model.price_per_output_token,
        sampling=args.sampling if args.sampling.temperature_milli else None))
    Deadlines.insert(ctx, deadline, request_id, b"")
    NextRequestId.put(ctx, request_id + 1)
    if Unseeded.get(ctx) is None:
        Unseeded.put(ctx, request_id)  # the next block's start gives it (and this block's later ones) its seed
    ev.InferenceRequested.emit(ctx, request=request_id, model=args.model, requester=origin,
                               escrow=encode_u128(price), workers=workers, deadline=deadline)
