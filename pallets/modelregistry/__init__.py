"""The model registry pallet.

Overview
    Base models, and the fine-tuned models and LoRA adapters built on them, with their training
    provenance: the exact DataNet snapshot versions they were trained on, the training config hash,
    the artifact hash, and the attribution index hash that workers must use. Each model carries its
    prices and a reward split (basis points for contributors, model owner, protocol and worker), and
    its license beside what its training data allows: the combination of its snapshots' contributions'
    licenses (`payable.datanet.v1.licenses`). A registration whose license the data does not allow is
    refused, naming the contributions that block it; one that declares none gets the base model's
    license when the data allows any, else the allowed license the data itself carries (e.g. CC-BY-NC-4.0
    data: CC-BY-NC-4.0), else the only one allowed.

Terminology
    base model: a registered foundation artifact. model: a fine-tuned model or adapter over one.
    provenance: base model → snapshots → contributions, each contribution provable by Merkle proof.
    trained on withdrawn data: a model whose snapshots hold contributions withdrawn or taken down since
    (`get_withdrawn`, also in `get_provenance`): derived from the contributions' status when asked, never
    written into the model's record, so the record and its snapshots stay exactly as registered.

Invariants (checked by `try_state`)
    Every model cites an existing base model and existing snapshots, and its license is one its data
    allows (checked when registered: snapshots never change); its split sums to 10,000 with the
    contributors' share at least the chain minimum; the owner and DataNet indexes match the records.
    A deprecated model's record is kept unchanged (provenance is never rewritten).

Public interface: `pallets.modelregistry.interface` (model, base_model, active_model).
"""

from payable.modelregistry.v1 import modelregistry_pb2
from runtime.pallet import Pallet

from . import hooks
from .calls import calls
from .config import ModelRegistryConfig
from .errors import ModelRegistryError
from .events import events
from .queries import queries
from .storage import storage

pallet = Pallet("modelregistry", doc=__doc__, calls=calls, storage=storage, events=events,
                errors=ModelRegistryError, queries=queries, config=ModelRegistryConfig, hooks=hooks,
                proto_files=(modelregistry_pb2.DESCRIPTOR,),
                query_service=modelregistry_pb2.DESCRIPTOR.services_by_name["ModelRegistryQuery"],
                requires=("datanet",))
