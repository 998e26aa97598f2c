"""Canonical protobuf: the only bytes a message may arrive as, and what its declared fields may hold.

An extrinsic's hash is the hash of its bytes, so whatever a relay could change without breaking a
signature - the envelope around a signed body (`Extrinsic`, `SignedExtrinsic`), an inherent's call,
blocks and headers - is accepted only in the one encoding this chain writes (`decode_canonical`):
protobuf's deterministic serialization - fields in number order, minimal varints, no default-valued
scalars, no unknown fields, no repeats of a singular field. Anything else (a relay padding a
transaction with an unknown field, a varint with redundant continuation bytes) would give the same
call a second hash, and is refused.

Bytes a signature covers (a signed extrinsic's `ExtrinsicBody` and its call's arguments) are the
signer's to choose: nobody can change them without breaking the signature, so any valid protobuf
encoding is accepted as sent (`decode_signed`) - protobufjs writing `nonce: 0` explicitly, fields out
of order, a repeated singular field (protobuf's rule: the last one wins, for every conformant
decoder), a varint with redundant bytes. What stays refused there: bytes that are not a message of the
type at all, and fields this chain does not know. An unknown field is refused rather than skipped
because the signer meant something by it (a newer client's field, say a fee cap) that this chain would
silently not do.

`check_declared` is what can be checked of a message without state: fields declared
`[(payable.amount) = true]` hold a canonical u128 (at most 16 bytes, no leading zero byte), fields
declared `[(payable.account) = true]` hold a 32-byte account id when set.
"""

from __future__ import annotations

import functools
from typing import TypeVar

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import DecodeError, Message

from payable import options_pb2

from .codec import ACCOUNT_ID_LEN, CodecError, decode_u128

M = TypeVar("M", bound=Message)


class NonCanonical(ValueError):
    """The bytes are not the one encoding the chain accepts for this message; the message says why."""


def _parsed(message_type: type[M], data: bytes, what: str) -> tuple[M, M]:
    """(the message as parsed, a copy without the fields its type does not declare, at any depth)."""
    try:
        message = message_type.FromString(data)
    except DecodeError as exc:
        raise NonCanonical(f"{what} is not a {message_type.DESCRIPTOR.name} message ({exc})") from exc
    known = message_type()
    known.CopyFrom(message)
    known.DiscardUnknownFields()  # recursively: unknown fields re-serialize verbatim, so compare without them
    return message, known


def decode_canonical(message_type: type[M], data: bytes, what: str) -> M:
    """Parse `data` as `message_type`, refusing anything but its canonical encoding."""
    message, known = _parsed(message_type, data, what)
    if known.SerializeToString(deterministic=True) != data:
        reason = ("it carries fields this chain does not know" if known.ByteSize() != message.ByteSize()
                  else "its bytes are not the canonical encoding (field order, varint length, repeated or "
                       "default-valued fields)")
        raise NonCanonical(f"{what}: {reason}; encode it deterministically, as the SDK does")
    return message


def decode_signed(message_type: type[M], data: bytes, what: str) -> M:
    """Parse signed bytes as `message_type` in whatever valid encoding the signer chose; refuses bytes that
    do not parse and fields the type does not declare (at any depth)."""
    message, known = _parsed(message_type, data, what)
    if known.ByteSize() != message.ByteSize():
        raise NonCanonical(f"{what} carries fields this chain does not know (a field a newer client sets would "
                           f"not be honoured here); leave them out")
    return message


def check_declared(message: Message, path: str = "") -> None:
    """Amount and account fields (by their declared options) hold values they can ever hold, recursively; a
    call's or a query's own account fields are set (an unset one is not "nobody": a transfer to no account
    would fail in its block, fee charged), but for those declared `any_account` (a filter's "any")."""
    amounts, accounts, nested = _declared_fields(message.DESCRIPTOR)
    for name in amounts:
        for item in _values(message, name):
            decode_u128(item, f"{path}{name}")
    for name in accounts:
        required = not path and name in _required_accounts(message.DESCRIPTOR)
        for item in [getattr(message, name)] if required else _values(message, name):
            if len(item) != ACCOUNT_ID_LEN:
                raise CodecError(f"{path}{name}: account ids are {ACCOUNT_ID_LEN} bytes, got {len(item)}"
                                 + (" (it is unset)" if not item else ""))
    for name, repeated in nested:
        if repeated:
            for i, item in enumerate(getattr(message, name)):
                check_declared(item, f"{path}{name}[{i}].")
        elif message.HasField(name):
            check_declared(getattr(message, name), f"{path}{name}.")


def _values(message: Message, name: str) -> list[bytes]:
    """A bytes field's set values: all of a repeated field, a singular one only when set (non-empty)."""
    value = getattr(message, name)
    if isinstance(value, bytes):
        return [value] if value else []
    return list(value)


@functools.cache
def _required_accounts(descriptor) -> frozenset[str]:
    """A message's singular account fields that must be set when it is a call's arguments or a query's request."""
    return frozenset(field.name for field in descriptor.fields
                     if field.type == FieldDescriptor.TYPE_BYTES and not field.is_repeated
                     and field.GetOptions().Extensions[options_pb2.account]
                     and not field.GetOptions().Extensions[options_pb2.any_account])


@functools.cache
def _declared_fields(descriptor) -> tuple[tuple[str, ...], tuple[str, ...], tuple[tuple[str, bool], ...]]:
    """(amount fields, account fields, message fields with whether repeated): worked out once per type, since
    reading field options is far slower than the check itself."""
    amounts, accounts, nested = [], [], []
    for field in descriptor.fields:
        if field.type == FieldDescriptor.TYPE_MESSAGE:
            nested.append((field.name, field.is_repeated))
        elif field.type == FieldDescriptor.TYPE_BYTES:
            options = field.GetOptions()
            if options.Extensions[options_pb2.amount]:
                amounts.append(field.name)
            elif options.Extensions[options_pb2.account]:
                accounts.append(field.name)
    return tuple(amounts), tuple(accounts), tuple(nested)
