"""Canonical protobuf: the only bytes a message may arrive as, and what its declared fields may hold.

A signature covers exact bytes and an extrinsic's hash is the hash of its bytes, so a message is
accepted only in the one encoding this chain writes: protobuf's deterministic serialization - fields
in number order, minimal varints, no default-valued scalars, no unknown fields, no repeats of a
singular field. Anything else (a relay padding a transaction with an unknown field, a varint with
redundant continuation bytes) would give the same call a second hash, and is refused.

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


def decode_canonical(message_type: type[M], data: bytes, what: str) -> M:
    """Parse `data` as `message_type`, refusing anything but its canonical encoding."""
    try:
        message = message_type.FromString(data)
    except DecodeError as exc:
        raise NonCanonical(f"{what} is not a {message_type.DESCRIPTOR.name} message ({exc})") from exc
    known = message_type()
    known.CopyFrom(message)
    known.DiscardUnknownFields()  # recursively: unknown fields re-serialize verbatim, so compare without them
    if known.SerializeToString(deterministic=True) != data:
        reason = ("it carries fields this chain does not know" if known.ByteSize() != message.ByteSize()
                  else "its bytes are not the canonical encoding (field order, varint length, repeated or "
                       "default-valued fields)")
        raise NonCanonical(f"{what}: {reason}; encode it deterministically, as the SDK does")
    return message


def check_declared(message: Message, path: str = "") -> None:
    """Amount and account fields (by their declared options) hold values they can ever hold, recursively."""
    amounts, accounts, nested = _declared_fields(message.DESCRIPTOR)
    for name in amounts:
        for item in _values(message, name):
            decode_u128(item, f"{path}{name}")
    for name in accounts:
        for item in _values(message, name):
            if len(item) != ACCOUNT_ID_LEN:
                raise CodecError(f"{path}{name}: account ids are {ACCOUNT_ID_LEN} bytes, got {len(item)}")
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
