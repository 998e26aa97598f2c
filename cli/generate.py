"""`payable generate`: pay for a generation with a language model or adapter, read its tokens as they are
made, straight from the assigned worker, and show what was charged and who was paid; or, with `--base`, ask a
base model on this machine, unpaid.

Before anything is signed the prompt is counted as the worker will count it (`studio.prompt_tokens`: the
adapter's template, the base's tokenizer): one that cannot fit the base's context with its new tokens is
refused here (exit 2, the numbers named). The request escrows the model's price at the token bounds; the
worker's endpoint comes from its on-chain record; the stream is read with a signature over the request id
(`sdk.wire.stream_read_message`), so nobody but the requester can read it; settlement charges the real token
counts and refunds the rest. The wait for settlement follows the chain (`studio.generation.wait_outcome`): the
request's deadline block, not a fixed number of seconds, decides when it is over, and the answer's text is
always reported, settled or not.

A base model has no paid path: a paid request names a registered model, whose record carries the DataNet
snapshots its fee is split over, and a base has no contributors to pay. `payable generate --base BASE_ID` is
the honest way to ask one: it fetches the base by its on-chain hash from the node's content store (every byte
checked, cached by hash), runs it here with transformers, and says that nothing was paid or attributed.
"""

from __future__ import annotations

import sys

from runtime.codec import decode_u128, format_open
from studio import prompt_tokens
from studio.generation import pay, quote, settlement_dict, stream_tokens, wait_outcome

from .common import client, client_command, download_bar, emit, keypair_from

UNPAID = "unpaid: run on this machine from the base model's weights; nothing escrowed, nobody paid, no attribution"


def cmd_generate(args) -> int:
    if args.base is not None:
        if args.model is not None:
            raise ValueError("give a model id to pay for, or --base BASE_ID for an unpaid local answer; not both")
        return _local(args)
    if args.model is None:
        raise ValueError("name the model to pay for (an adapter's id), or ask a base model unpaid on this machine "
                         "with --base BASE_ID (ids: payable model bases)")
    if not args.sender:
        raise ValueError("a paid generation is signed by the requester: --from //Name, a hex seed or a key file")
    return _paid(args)


def _paid(args) -> int:
    import grpc

    from sdk.client import ClientError

    signer = keypair_from(args.sender)
    with client(args) as node:
        quoted = quote(node, args.model, args.prompt, max_new_tokens=args.max_new_tokens,
                       max_input_tokens=args.max_input_tokens, temperature=args.temperature, top_p=args.top_p)
        # a prompt the worker would refuse (counted with the base's tokenizer) stops here: exit 2, nothing signed
        prompt_tokens.check(node, quoted.model, args.prompt, max_new_tokens=args.max_new_tokens,
                            max_input_tokens=quoted.args.max_input_tokens)
        request_id = pay(node, signer, quoted)
        text: list[str] = []
        problems: dict[str, str] = {}
        try:
            for event in stream_tokens(node, signer, request_id):
                if event.HasField("token"):
                    text.append(event.token.text)
                    if not args.json:
                        print(event.token.text, end="", flush=True)
                elif event.end.error:
                    problems["worker_error"] = event.end.error
        except grpc.RpcError as exc:
            problems["stream_error"] = f"{exc.code().name}: {exc.details()}"
        if not args.json:
            print()
        for problem in problems.values():
            print(f"the answer was cut short: {problem} (unless another worker's result settles it, the request "
                  f"expires at its deadline and the escrow is refunded)", file=sys.stderr)
        base = {"request": request_id, "model": args.model, "paid": True, "text": "".join(text), **problems}
        try:
            request, settlement = wait_outcome(node, request_id, stall=args.stall)
        except ClientError as exc:
            emit(args, {**base, "status": "unsettled", "settlement_error": str(exc)},
                 [("request", str(request_id)), ("status", f"not settled: {exc}")])
            return 1
    if settlement is None:
        refunded = format_open(decode_u128(request.escrow))
        emit(args, {**base, "status": "expired", "deadline": request.deadline, "refunded": refunded},
             [("request", str(request_id)), ("status", f"expired at block #{request.deadline}: escrow refunded "
                                                       f"({refunded} OPEN)")])
        return 1
    settled = settlement_dict(settlement)
    if settlement.refused:
        emit(args, {**base, "status": "refused", **settled},
             [("request", str(request_id)), ("status", f"refused: {settled['refused']}"),
              ("charged", f"{settled['fee']} OPEN"), ("refunded", f"{settled['refund']} OPEN")])
        return 1
    emit(args, {**base, "status": "settled", "input_tokens": settlement.input_tokens,
                "output_tokens": settlement.output_tokens, **settled},
         [("request", str(request_id)), ("tokens", f"{settlement.input_tokens} in, {settlement.output_tokens} out"),
          ("charged", f"{settled['fee']} OPEN"), ("refunded", f"{settled['refund']} OPEN"),
          ("settled", f"block #{settlement.settled_at}")]
         + [(f"  {p['role']}", f"{p['account']}  {p['amount']} OPEN"
             + (f"  (DataNet {p['datanet']} contribution {p['contribution']})" if p["contribution"] else ""))
            for p in settled["payments"]])
    return 0


def _local(args) -> int:
    """Fetch the base by its on-chain hash (cached, every byte checked) and generate here with transformers."""
    from pathlib import Path

    import torch

    from gpu_worker.finetune.dataset import prompt_text
    from gpu_worker.finetune.trainer import load_base
    from payable.modelregistry.v1 import modelregistry_pb2 as mr
    from sdk.artifacts import HF_MODEL, fetch_directory

    from .model_import import default_cache_dir

    with client(args) as node:
        base = node.pallet_query("modelregistry", "get_base_model", mr.BaseModelRequest(base_model=args.base),
                                 mr.BaseModel)
        if base.format != mr.HF_DIRECTORY:
            raise ValueError(f"base model {args.base} is a {mr.ArtifactFormat.Name(base.format)} artifact "
                             f"({base.architecture}): only Hugging Face language-model bases run here")
        directory = Path(args.cache_dir or default_cache_dir().parent / "bases") / base.artifact_hash.hex()
        fetch_directory(node, base.artifact_hash, directory, kind=HF_MODEL,
                        progress=None if args.json else download_bar)
    if not args.json:
        print(f"base model {args.base} ({base.architecture}), local and unpaid:", file=sys.stderr)
    model, tokenizer = load_base(directory)
    rendered = prompt_text(tokenizer, args.prompt, args.template)
    ids = tokenizer(rendered, return_tensors="pt", add_special_tokens=False).input_ids
    context = getattr(model.config, "max_position_embeddings", 0) or 0
    room = context - ids.shape[1] if context else args.max_new_tokens
    if room < 1:
        raise ValueError(f"the prompt is {ids.shape[1]} tokens after the {args.template} template: the base's "
                         f"context is {context} positions")
    sampling = {"do_sample": True, "temperature": args.temperature, "top_p": args.top_p} if args.temperature else {
        "do_sample": False}
    streamer = None
    if not args.json:
        from transformers import TextStreamer

        streamer = TextStreamer(tokenizer, skip_prompt=True, skip_special_tokens=True)
    torch.manual_seed(args.seed)
    with torch.no_grad():
        out = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=min(args.max_new_tokens, room),
                             pad_token_id=tokenizer.pad_token_id, streamer=streamer, **sampling)
    new = out[0, ids.shape[1]:]
    text = tokenizer.decode(new, skip_special_tokens=True)
    if not args.json:
        print(f"\n({UNPAID})", file=sys.stderr)
    emit(args, {"base_model": args.base, "artifact_hash": base.artifact_hash.hex(), "paid": False,
                "status": "local", "note": UNPAID, "text": text, "template": args.template,
                "input_tokens": int(ids.shape[1]), "output_tokens": int(new.shape[0])},
         [("base model", f"{args.base} (local)"), ("tokens", f"{ids.shape[1]} in, {new.shape[0]} out")])
    return 0


def register(sub) -> None:
    parser = client_command(sub, "generate", "pay for a generation, stream it from the worker, show the settlement; "
                            "or ask a base model here, unpaid (--base)", cmd_generate)
    parser.add_argument("model", type=int, nargs="?", help="the model id to pay for (an adapter, or a language "
                                                           "model); omitted with --base")
    parser.add_argument("prompt", help="the text to continue; the adapter's training template is applied")
    parser.add_argument("--from", dest="sender", help="the requester's signing key (//Name, hex seed or key file); "
                                                      "a paid generation needs it")
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--max-input-tokens", type=int, default=0,
                        help="the prompt's token bound (default: its bytes + 64 for the template)")
    parser.add_argument("--temperature", type=float, default=0.0, help="0: greedy")
    parser.add_argument("--top-p", type=float, default=1.0)
    parser.add_argument("--stall", type=float, default=60.0,
                        help="the wait for settlement follows the request's deadline block; give up only if the "
                             "chain makes no block for this many seconds")
    local = parser.add_argument_group("unpaid, on this machine (a base model has no paid path: no contributors)")
    local.add_argument("--base", type=int, metavar="BASE_ID",
                       help="ask this base model (ids: payable model bases): fetched by its on-chain hash, run "
                            "here with transformers; nothing is paid or attributed")
    local.add_argument("--template", default="chat", help="--base: chat (the tokenizer's), alpaca, qa or plain")
    local.add_argument("--seed", type=int, default=0, help="--base with --temperature: the sampling seed")
    local.add_argument("--cache-dir", help="--base: fetched bases by hash (default ~/.cache/payable/bases, or "
                                           "$PAYABLE_CACHE/bases)")
