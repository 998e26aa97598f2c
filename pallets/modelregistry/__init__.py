"""The model registry pallet.

Overview
    Base models, and the fine-tuned models and LoRA adapters built on them, with their training
    provenance: the exact DataNet snapshot versions they were trained on, the training config hash,
    the artifact hash, and the attribution index hash that workers must use. Each model carries its
    prices and a reward split (basis points for contributors, model owner, protocol and worker).

Terminology
    base model: a registered foundation artifact. model: a fine-tuned model or adapter over one.
    provenance: base model → snapshots → contributions, each contribution provable by Merkle proof.

Invariants (checked by `try_state`)
    Every model cites an existing base model and existing snapshots; its split sums to 10,000 with the
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
                query_service=modelregistry_pb2.DESCRIPTOR.services_by_name["ModelRegistryQuery"])
