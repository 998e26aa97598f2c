"""The runtime: the pallets a chain spec names, loaded as pluggy plugins, and what they declare.

Pallets are found through the `payable.pallets` entry-point group, so a separately installed package
adds a pallet with no edit here: install it, name it in the chain spec.
"""

from __future__ import annotations

import json
from importlib.metadata import entry_points

import pluggy
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.message import DecodeError

from payable.runtime.v1 import extrinsic_pb2, metadata_pb2

from . import hookspecs
from .chainspec import ChainSpec
from .errors import ChainSpecError, Invalid, InvalidTransaction
from .pallet import CallDef, Pallet, config_from_dict, config_to_json

ENTRY_POINT_GROUP = "payable.pallets"


def available_pallets() -> dict[str, object]:
    """Installed pallets by name (entry points, not yet imported)."""
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def load_pallet(name: str) -> Pallet:
    found = available_pallets()
    if name not in found:
        raise ChainSpecError(f"no installed pallet named {name!r}; installed: {sorted(found)} "
                             f"(a pallet package registers itself in the {ENTRY_POINT_GROUP!r} entry-point group)")
    pallet = found[name].load()
    if not isinstance(pallet, Pallet) or pallet.name != name:
        raise ChainSpecError(f"entry point {name!r} must point to a runtime.pallet.Pallet named {name!r}")
    return pallet


class Runtime:
    def __init__(self, spec: ChainSpec, pallets: dict[str, Pallet] | None = None):
        """Load the spec's pallets (from entry points unless given) and check their configuration."""
        self.spec = spec
        self.params = spec.runtime
        self.pm = pluggy.PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self.pallets: dict[str, Pallet] = {}
        for name in spec.pallets:
            pallet = pallets[name] if pallets and name in pallets else load_pallet(name)
            self.pallets[name] = pallet
            self.pm.register(pallet, name=name)
            for extra in pallet.extra_plugins:
                self.pm.register(extra, name=f"{name}.{type(extra).__name__}")
        unknown = sorted((set(spec.config) | set(spec.genesis)) - set(self.pallets))
        if unknown:
            raise ChainSpecError(f"config/genesis given for pallets not in the chain: {unknown}")
        try:
            self.configs = {name: config_from_dict(p.config_type, spec.config.get(name, {}), name)
                            for name, p in self.pallets.items()}
        except (TypeError, ValueError) as exc:
            raise ChainSpecError(str(exc)) from exc
        self.prefixes = {name: p.prefix for name, p in self.pallets.items()}
        self._owners = {p.prefix: name for name, p in self.pallets.items()}
        self.config_json = json.dumps(
            {"runtime": self.params.to_dict(),
             "pallets": {n: json.loads(config_to_json(c)) for n, c in self.configs.items()}}, sort_keys=True)
        self.pm.hook.payable_integrity_test(config=self.configs)

    def owner_of(self, key: bytes) -> str | None:
        return self._owners.get(key[:16])

    def resolve_call(self, call: extrinsic_pb2.Call) -> tuple[CallDef, object]:
        """The call's declaration and decoded arguments, or InvalidTransaction saying what is wrong."""
        pallet = self.pallets.get(call.pallet)
        if pallet is None:
            raise InvalidTransaction(Invalid.UNKNOWN_PALLET, f"no pallet {call.pallet!r} in this chain")
        definition = pallet.calls.by_index.get(call.call_index)
        if definition is None:
            raise InvalidTransaction(Invalid.UNKNOWN_CALL, f"pallet {call.pallet!r} has no call {call.call_index}")
        try:
            args = definition.args_type.FromString(call.args)
        except DecodeError as exc:
            raise InvalidTransaction(Invalid.BAD_CALL_ARGS,
                                     f"{call.pallet}.{definition.name}: arguments do not decode as "
                                     f"{definition.args_type.DESCRIPTOR.full_name} ({exc})") from exc
        return definition, args

    def call_by_name(self, pallet: str, name: str) -> CallDef:
        if pallet not in self.pallets:
            raise KeyError(f"no pallet {pallet!r}; pallets: {sorted(self.pallets)}")
        for definition in self.pallets[pallet].calls.by_index.values():
            if definition.name == name:
                return definition
        raise KeyError(f"pallet {pallet!r} has no call {name!r}; calls: "
                       f"{sorted(d.name for d in self.pallets[pallet].calls.by_index.values())}")

    def metadata(self) -> metadata_pb2.RuntimeMetadata:
        """Everything a generic client needs: pallets, calls with types and indices, storage, events, errors."""
        meta = metadata_pb2.RuntimeMetadata(chain_name=self.spec.name, chain_id=self.spec.id)
        files: dict[str, object] = {}
        for name, pallet in self.pallets.items():
            pm = meta.pallets.add(name=name, doc=pallet.doc or "", prefix=pallet.prefix,
                                  config_json=config_to_json(self.configs[name]))
            for c in sorted(pallet.calls.by_index.values(), key=lambda d: d.index):
                pm.calls.add(index=c.index, name=c.name, args_type=c.args_type.DESCRIPTOR.full_name,
                             weight=c.weight.to_proto(), inherent=c.inherent, doc=c.doc)
            for item in pallet.storage.items:
                pm.storage.add(name=item.name, kind=item.kind, hasher=item.hasher_names,
                               value_type=item.value.type_name, prefix=item.prefix, doc=item.doc)
            for e in sorted(pallet.events.by_code.values(), key=lambda d: d.code):
                pm.events.add(code=e.code, name=e.name, data_type=e.data_type.DESCRIPTOR.full_name, doc=e.doc)
            for err in pallet.errors.declared():
                pm.errors.add(code=err.code, name=err.__name__, doc=(err.__doc__ or "").strip())
            for q in pallet.queries.by_name.values():
                pm.queries.add(name=q.name, request_type=q.request_type.DESCRIPTOR.full_name,
                               response_type=q.response_type.DESCRIPTOR.full_name, doc=q.doc)
            for file in pallet.proto_files:
                _collect_files(file, files)
        for file in files.values():
            proto = descriptor_pb2.FileDescriptorProto()
            file.CopyToProto(proto)
            meta.types.file.append(proto)
        return meta


def _collect_files(file, out: dict) -> None:
    """A file descriptor and its imports, dependencies first (the order a descriptor pool needs)."""
    for dep in file.dependencies:
        _collect_files(dep, out)
    out.setdefault(file.name, file)


def message_class_lookup(metadata: metadata_pb2.RuntimeMetadata):
    """full protobuf name -> message class, built from the metadata alone (as a generic client does)."""
    pool = descriptor_pool.DescriptorPool()
    for file in metadata.types.file:
        pool.Add(file)
    return lambda name: message_factory.GetMessageClass(pool.FindMessageTypeByName(name))
