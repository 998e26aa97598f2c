"""Building, signing and decoding extrinsics.

The signature covers the serialized `ExtrinsicBody` exactly as transmitted; the node verifies those
same bytes and never re-encodes them, so two encoders that disagree on field order can never make a
valid signature invalid (or the other way round). The body may therefore arrive in any valid protobuf
encoding its signer's library wrote (protobufjs writes `nonce: 0` explicitly; the SDK writes the
deterministic encoding); the envelope around it (`Extrinsic`, `SignedExtrinsic`) is what a relay could
change without breaking the signature, so it must be canonical, and an extrinsic has exactly one hash.
"""

from __future__ import annotations

from dataclasses import dataclass

from payable.runtime.v1.extrinsic_pb2 import Call, Extrinsic, ExtrinsicBody, SignedExtrinsic

from .canonical import NonCanonical, decode_canonical, decode_signed
from .codec import CodecError, decode_u128, encode_u128
from .crypto import Keypair, blake2_256
from .errors import Invalid, InvalidTransaction


@dataclass(frozen=True)
class Validity:
    """What the pool needs to know about a valid extrinsic."""

    hash: bytes
    signer: bytes
    nonce: int
    account_nonce: int  # the signer's next nonce now: nonce > account_nonce means it must wait
    priority: int       # the tip
    length: int
    fee: int            # base + length + weight fee, tip included: what inclusion withdraws
    valid_until: int
    spendable: int | None = None  # the signer's free balance now (None: no pallet of the chain holds balances)


def make_call(pallet: str, call_index: int, args) -> Call:
    return Call(pallet=pallet, call_index=call_index, args=args.SerializeToString(deterministic=True))


def extrinsic_body(signer: bytes, call: Call, *, nonce: int, genesis_hash: bytes, tip: int = 0,
                   valid_until: int = 0) -> bytes:
    """The exact bytes a signer signs (a browser wallet signs these without the server ever holding its key)."""
    return ExtrinsicBody(signer=signer, nonce=nonce, tip=encode_u128(tip), valid_until=valid_until,
                         genesis_hash=genesis_hash, call=call).SerializeToString(deterministic=True)


def assemble_signed(body: bytes, signature: bytes) -> bytes:
    """The `Extrinsic` to submit, from body bytes and the signer's ed25519 signature over exactly them."""
    return Extrinsic(signed=SignedExtrinsic(body=body, signature=signature)).SerializeToString(deterministic=True)


def sign_extrinsic(keypair: Keypair, call: Call, *, nonce: int, genesis_hash: bytes, tip: int = 0,
                   valid_until: int = 0) -> bytes:
    """Serialized, signed `Extrinsic` ready to submit."""
    body = extrinsic_body(keypair.public, call, nonce=nonce, genesis_hash=genesis_hash, tip=tip,
                          valid_until=valid_until)
    return assemble_signed(body, keypair.sign(body))


def inherent_extrinsic(call: Call) -> bytes:
    return Extrinsic(inherent=call).SerializeToString(deterministic=True)


def extrinsic_hash(raw: bytes) -> bytes:
    return blake2_256(raw)


@dataclass(frozen=True)
class Decoded:
    """An extrinsic as decoded (signature not yet checked)."""

    raw: bytes
    inherent: bool
    call: Call
    signer: bytes = b""
    nonce: int = 0
    tip: int = 0
    valid_until: int = 0
    genesis_hash: bytes = b""
    body: bytes = b""
    signature: bytes = b""


def decode_extrinsic(raw: bytes) -> Decoded:
    """Decode an extrinsic: the envelope only in its canonical encoding (so its hash is the only hash), the
    signed body in any valid encoding without unknown fields (the signer chose those bytes)."""
    try:
        ext = decode_canonical(Extrinsic, raw, "the extrinsic")
    except NonCanonical as exc:
        raise InvalidTransaction(Invalid.BAD_ENCODING, str(exc)) from exc
    kind = ext.WhichOneof("kind")
    if kind == "inherent":
        return Decoded(raw=raw, inherent=True, call=ext.inherent)
    if kind != "signed":
        raise InvalidTransaction(Invalid.BAD_ENCODING, "extrinsic is neither signed nor an inherent")
    try:
        body = decode_signed(ExtrinsicBody, ext.signed.body, "the signed body")
    except NonCanonical as exc:
        raise InvalidTransaction(Invalid.BAD_ENCODING, str(exc)) from exc
    if len(body.signer) != 32:
        raise InvalidTransaction(Invalid.BAD_ENCODING, f"signer must be a 32-byte public key, got {len(body.signer)}")
    if len(ext.signed.signature) != 64:
        raise InvalidTransaction(Invalid.BAD_SIGNATURE, "signature must be 64 bytes")
    try:
        tip = decode_u128(body.tip, "tip")
    except CodecError as exc:
        raise InvalidTransaction(Invalid.BAD_ENCODING, str(exc)) from exc
    if not body.HasField("call"):
        raise InvalidTransaction(Invalid.BAD_ENCODING, "extrinsic carries no call")
    return Decoded(raw=raw, inherent=False, call=body.call, signer=body.signer, nonce=body.nonce, tip=tip,
                   valid_until=body.valid_until, genesis_hash=body.genesis_hash, body=ext.signed.body,
                   signature=ext.signed.signature)
