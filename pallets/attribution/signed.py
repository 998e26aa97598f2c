"""What a worker's signed result and its signed refusal are checked for alike, before what each one says:
the worker is bonded and not leaving, the envelope and its body decode canonically, the body names the
submitting worker and carries its signature (over the body's bytes as the kind signs them: a result over
its bytes, a refusal under its own domain prefix), and it names this request, its input and its model."""

from __future__ import annotations

from collections.abc import Callable

from pallets.inference import interface as inference
from runtime.canonical import NonCanonical, decode_canonical
from runtime.context import Context
from runtime.crypto import verify
from sdk.wire import request_id_bytes

from . import errors


def opened(ctx: Context, origin: bytes, signed_bytes: bytes, envelope, body_type, field: str,
           signed_message: Callable[[bytes], bytes], labels: tuple[str, str, str]):
    """The signed body, once the worker, the encoding and the signature check out. `labels`: the envelope's
    and the body's names in decoding errors, and the kind's name in the signature error."""
    if inference.worker(ctx, origin).leaving_at:
        raise errors.NotBonded("the worker is deregistering")
    envelope_label, body_label, kind = labels
    try:
        signed = decode_canonical(envelope, signed_bytes, envelope_label)
        body = decode_canonical(body_type, getattr(signed, field), body_label)
    except NonCanonical as exc:
        raise errors.Malformed(str(exc)) from exc
    if body.worker != origin or not verify(origin, signed_message(getattr(signed, field)), signed.signature):
        raise errors.BadSignature(f"the {kind} must be signed by the submitting worker")
    return body


def same_request(kind: str, request, model, body, **more: tuple) -> None:
    """The body names this request, its input and its model (and whatever else `more` pairs: got, wanted)."""
    checks = {"request": (body.request_id, request_id_bytes(request.id)),
              "input": (body.input_hash, request.input_hash), "model": (body.model_hash, model.artifact_hash),
              **more}
    for what, (got, want) in checks.items():
        if got != want:
            raise errors.Mismatch(f"the {kind}'s {what} does not match request {request.id}")
