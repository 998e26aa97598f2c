"""Runtime metadata: the self-description a chain serves so that generic clients need no generated code.

`build_metadata` writes it from the pallets' declarations; `message_class_lookup` is how a client (the
SDK, the fuzz harness, the studio) turns the type names in it back into protobuf message classes. This
module needs nothing but protobuf, so a client can import it without loading the state machine.
"""

from __future__ import annotations

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.descriptor import FileDescriptor

from payable.runtime.v1 import metadata_pb2


def build_metadata(spec, pallets: dict, config_json: dict[str, str], runtime_json: str
                   ) -> metadata_pb2.RuntimeMetadata:
    """Pallets (in chain-spec order) with their calls, storage, events, errors, queries and protobuf types, and
    the runtime's parameters (`runtime_json`: fees, block limits, storage weights - a call's fee follows)."""
    meta = metadata_pb2.RuntimeMetadata(chain_name=spec.name, chain_id=spec.id, runtime_json=runtime_json)
    files: dict[str, FileDescriptor] = {}
    for name, pallet in pallets.items():
        pm = meta.pallets.add(name=name, doc=pallet.doc or "", prefix=pallet.prefix, config_json=config_json[name])
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


def _collect_files(file: FileDescriptor, out: dict[str, FileDescriptor]) -> None:
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
