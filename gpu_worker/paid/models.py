"""Artifact fetch and cache: what serving one adapter model needs, fetched once and kept.

For a `PEFT_LORA` model record: the base directory and the adapter fetched from the node's content
store by the hashes on chain (every file checked against its manifest: a copy whose bytes differ is
fetched again, an artifact that does not match its hash is refused), the attribution index likewise
(and refused unless it is for the method the chain records), and the training config, whose template
renders the prompt. The base is then served by OpenLoRA, the adapter registered in its cache, and the
adapter's configuration given its slot in the attributor - once per adapter, one preparation at a time.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import structlog

from payable.modelregistry.v1 import modelregistry_pb2 as mr
from payable.modelregistry.v1.methods import ADAPTER_METHOD_NAMES
from runtime.crypto import Keypair, blake2_256
from sdk.artifacts import ATTRIBUTION_INDEX, HF_MODEL, PEFT_LORA, fetch_directory
from sdk.client import Client

from ..adapter_index import AdapterIndex
from ..errors import ArtifactError
from ..finetune.config import TrainingConfig
from ..finetune.trainer import load_tokenizer
from ..lora.adapters import CONFIG, WEIGHTS, adapter_hash
from ..lora.engine import LoRAEngine

log = structlog.get_logger("payable.worker.paid")


@dataclass
class Served:
    """What serving one adapter model needs, ready."""

    base: bytes          # the base's artifact hash (its batcher's key)
    adapter: bytes       # the adapter's content hash in the OpenLoRA cache
    tokenizer: object
    template: str
    index: AdapterIndex
    base_dir: Path
    adapter_dir: Path
    slot: str = ""       # its configuration's slot in the attributor (see `attributor.Attributor`)

    def __post_init__(self) -> None:
        if not self.slot:
            self.slot = "slot-" + blake2_256((self.adapter_dir / CONFIG).read_bytes()).hex()[:16]


class ServedModels:
    """Adapter models made servable, by artifact hash, under `root` (bases/, adapters/, indexes/)."""

    def __init__(self, root: Path, key: Keypair, lora: LoRAEngine, on_ready: Callable[[Served], None]):
        """`key` reads permissioned artifacts; `on_ready` is called with each model once it is servable."""
        self.root, self.key, self.lora, self.on_ready = Path(root), key, lora, on_ready
        self.root.mkdir(parents=True, exist_ok=True)
        self._served: dict[bytes, Served] = {}
        self._tokenizers: dict[bytes, object] = {}  # base hash → its tokenizer
        self._lock = threading.Lock()

    def get(self, client: Client, model: mr.Model) -> Served:
        with self._lock:
            found = self._served.get(model.artifact_hash)
            if found is not None:
                return found
            base = client.pallet_query("modelregistry", "get_base_model",
                                       mr.BaseModelRequest(base_model=model.base_model), mr.BaseModel)
            base_dir = self.root / "bases" / base.artifact_hash.hex()
            adapter_dir = self.root / "adapters" / model.artifact_hash.hex()
            index_dir = self.root / "indexes" / model.attribution_index_hash.hex()
            try:
                fetch_directory(client, base.artifact_hash, base_dir, kind=HF_MODEL, reader=self.key)
                fetch_directory(client, model.artifact_hash, adapter_dir, kind=PEFT_LORA, reader=self.key)
                fetch_directory(client, model.attribution_index_hash, index_dir, kind=ATTRIBUTION_INDEX,
                                reader=self.key)
                config = TrainingConfig.from_json(client.download(model.training_config_hash, reader=self.key))
                index = AdapterIndex(index_dir)  # the registered bytes, yet perhaps no index: the owner's fault
            except (ValueError, KeyError, OSError) as exc:
                raise ArtifactError(f"model {model.id}: {exc}") from exc
            want = ADAPTER_METHOD_NAMES.get(model.attribution_method)
            if index.method != want or (want == "span+lora-gradient"
                                        and index.meta["span_weight_bps"] != model.span_weight_bps):
                raise ArtifactError(f"model {model.id}: its index is for {index.method}, the chain records {want}")
            self.lora.serve_base(base.artifact_hash, base_dir)
            lora_hash = adapter_hash((adapter_dir / CONFIG).read_bytes(), (adapter_dir / WEIGHTS).read_bytes())
            self.lora.cache.register(adapter_dir, lora_hash)
            if base.artifact_hash not in self._tokenizers:  # one per base, shared by its adapters
                self._tokenizers[base.artifact_hash] = load_tokenizer(base_dir)
            found = Served(base.artifact_hash, lora_hash, self._tokenizers[base.artifact_hash],
                           config.dataset.template, index, base_dir, adapter_dir)
            self.on_ready(found)
            self._served[model.artifact_hash] = found
            log.info("adapter_ready", model=model.id, adapter=model.artifact_hash.hex()[:16],
                     base=base.artifact_hash.hex()[:16], method=index.method)
            return found
