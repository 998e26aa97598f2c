"""Everything the studio shows of the chain, decoded from the runtime metadata alone.

Calls, events and their fields are read with the protobuf types the chain describes about itself, so a
pallet added later shows up on every page (explorer, signing dialog) without an edit here. Amounts are shown
in OPEN, accounts as addresses, other bytes as hex - the same for every pallet.
"""

from __future__ import annotations

import json

from payable.runtime.v1.extrinsic_pb2 import EventRecord, Extrinsic, ExtrinsicBody
from runtime.chainspec import RuntimeParams
from runtime.codec import decode_u128, format_open
from runtime.crypto import blake2_256, encode_address
from runtime.extrinsic import assemble_signed
from runtime.metadata import message_class_lookup
from runtime.weights import Weight
from sdk.readable import readable

OPEN = " OPEN"  # amounts shown with their unit on the studio's pages
HELD = {("datanet", "create_datanet"): "creation_deposit"}  # (pallet, call) -> the config entry it holds
PHASES = {EventRecord.INITIALIZATION: "block start", EventRecord.APPLY_EXTRINSIC: "extrinsic",
          EventRecord.FINALIZATION: "block end"}


class Decoder:
    """Calls, extrinsics and events of one chain, by its metadata (fetched once: a runtime upgrade means a
    restarted studio)."""

    def __init__(self, metadata):
        self.lookup = message_class_lookup(metadata)
        self.calls = {(p.name, c.index): (c.name, c.args_type) for p in metadata.pallets for c in p.calls}
        self.events = {(p.name, e.name): e.data_type for p in metadata.pallets for e in p.events}
        self.weights = {(p.name, c.index): Weight(c.weight.ref_time_ns, c.weight.reads, c.weight.writes)
                        for p in metadata.pallets for c in p.calls}
        self.params = RuntimeParams.from_dict(json.loads(metadata.runtime_json)) if metadata.runtime_json else None
        self.configs = {p.name: json.loads(p.config_json) for p in metadata.pallets if p.config_json}

    def held(self, pallet: str, call: str) -> int | None:
        """What the call holds from its signer by the chain's configuration (returned later, unlike the fee),
        in base units; None for a call that holds nothing so configured."""
        key = HELD.get((pallet, call))
        found = self.configs.get(pallet, {}).get(key) if key else None
        return int(found) if found is not None else None

    def fee(self, body_bytes: bytes) -> int | None:
        """The fee, in base units, the chain takes for this body once signed (tip included), by the executive's
        own rule (`FeeConfig.fee`) on the chain's parameters, the call's declared weight and the signed
        extrinsic's length (a signature is always 64 bytes); None from a node whose metadata does not say."""
        body = ExtrinsicBody.FromString(body_bytes)
        declared = self.weights.get((body.call.pallet, body.call.call_index))
        if self.params is None or declared is None:
            return None
        weight = self.params.block.base_extrinsic_ns + self.params.db_weights.total_ns(declared)
        length = len(assemble_signed(body_bytes, bytes(64)))
        return self.params.fees.fee(length, weight, decode_u128(body.tip))

    def call(self, call) -> dict:
        """{pallet, name, args}; an unknown call is named by its index, undecoded."""
        found = self.calls.get((call.pallet, call.call_index))
        if found is None:
            return {"pallet": call.pallet, "name": f"#{call.call_index}", "args": {"raw": call.args.hex()}}
        name, args_type = found
        args = readable(self.lookup(args_type).FromString(call.args), OPEN)
        return {"pallet": call.pallet, "name": name, "args": args}

    def call_message(self, call):
        """The call's arguments as their protobuf message (for code that reads fields, not people)."""
        _, args_type = self.calls[(call.pallet, call.call_index)]
        return self.lookup(args_type).FromString(call.args)

    def extrinsic(self, raw: bytes) -> dict:
        """{hash, kind, call, and for signed ones signer, nonce, tip, valid_until}."""
        extrinsic = Extrinsic.FromString(raw)
        out = {"hash": blake2_256(raw).hex(), "size": len(raw)}
        if extrinsic.WhichOneof("kind") == "inherent":
            return out | {"kind": "inherent", "call": self.call(extrinsic.inherent)}
        body = ExtrinsicBody.FromString(extrinsic.signed.body)
        return out | {"kind": "signed", "signer": encode_address(body.signer), "nonce": body.nonce,
                      "tip": f"{format_open(decode_u128(body.tip))} OPEN", "valid_until": body.valid_until,
                      "call": self.call(body.call)}

    def event(self, record: EventRecord) -> dict:
        data_type = self.events.get((record.pallet, record.name))
        data = readable(self.lookup(data_type).FromString(record.data), OPEN) if data_type else \
            {"raw": record.data.hex()}
        return {"pallet": record.pallet, "name": record.name, "phase": PHASES.get(record.phase, "?"),
                "extrinsic_index": record.extrinsic_index if record.phase == EventRecord.APPLY_EXTRINSIC else None,
                "data": data}


def outcome(events: list[dict]) -> dict:
    """An extrinsic's result and fee, from its system events."""
    for event in events:
        if event["pallet"] == "system" and event["name"] in ("ExtrinsicSuccess", "ExtrinsicFailed"):
            data = event["data"]
            failed = event["name"] == "ExtrinsicFailed"
            return {"success": not failed, "fee": data.get("fee", "0 OPEN"),
                    "error": f"{data.get('pallet', '')}.{data.get('error', '')}: {data.get('message', '')}"
                    if failed else ""}
    return {"success": True, "fee": "0 OPEN", "error": ""}  # inherents pay no fee and emit no outcome
