"""A chain message as people read it, the same for every pallet and every front end.

The chain's protobuf types say which bytes are amounts and which are accounts (the `payable.amount` and
`payable.account` field options), so a message is shown without knowing its pallet: amounts in OPEN, accounts
as addresses, other bytes (hashes, digests) as hex, enums by name. The studio's explorer and the CLI's
`--json` both print through it, so an address or an amount reads the same wherever a user meets it.
"""

from __future__ import annotations

from google.protobuf.descriptor import FieldDescriptor

from payable import options_pb2
from runtime.codec import decode_u128, format_open
from runtime.crypto import encode_address


def readable(message, amount_unit: str = "") -> dict:
    """A message's set fields: amounts as OPEN decimals (followed by `amount_unit`, e.g. " OPEN"), accounts as
    addresses, other bytes as hex, enums by name, nested messages likewise."""
    out = {}
    for field, value in message.ListFields():
        options = field.GetOptions()
        values = list(value) if field.is_repeated else [value]
        shown: list
        if field.type == FieldDescriptor.TYPE_MESSAGE:
            shown = [readable(v, amount_unit) for v in values]
        elif options.Extensions[options_pb2.amount]:
            shown = [f"{format_open(decode_u128(v))}{amount_unit}" for v in values]
        elif options.Extensions[options_pb2.account]:
            shown = [encode_address(v) if len(v) == 32 else v.hex() for v in values]
        elif field.type == FieldDescriptor.TYPE_BYTES:
            shown = [v.hex() for v in values]
        elif field.type == FieldDescriptor.TYPE_ENUM:
            shown = [field.enum_type.values_by_number[v].name for v in values]
        else:
            shown = values
        out[field.name] = shown if field.is_repeated else shown[0]
    return out
