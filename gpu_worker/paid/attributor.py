"""PEFT slot juggling: the model an adapter's LoRA-gradient query runs through.

Per served base, one PEFT model with one slot per adapter *configuration* (rank, alpha, targets), into
which the queried adapter's factors are copied from OpenLoRA's cache: PEFT's own switch between many
loaded adapters walks every module (~40 ms with 64 adapters), a copy of the factors takes microseconds.
The base layers are held in the precision the adapter's index was computed in (`frozen_base`), so a
base has one model per precision its indexes name. One query at a time (the slots are shared), hence
the lock.
"""

from __future__ import annotations

import threading

import torch

from ..adapter_index import Credit
from ..device import building_models
from ..finetune.trainer import load_base
from ..frozen_base import arrange
from ..lora.cache import AdapterCache
from ..peft_layers import lora_modules
from ..rows import Example
from .models import Served


class Attributor:
    def __init__(self, cache: AdapterCache, device):
        self.cache, self.device = cache, device
        # (base hash, base layers' precision) → PeftModel with a slot per adapter config
        self._models: dict[tuple[bytes, str], object] = {}
        self._in_slot: dict[tuple[bytes, str, str], bytes] = {}  # (base, precision, slot) → adapter in it
        self._lock = threading.Lock()

    def load(self, served: Served) -> None:
        """Give the adapter's configuration a slot in its base's PEFT model now (when the adapter becomes
        servable), not on its first query."""
        if served.index.features is not None:
            with self._lock:
                served.index.prepare(self._slot(served)[0])  # laid out as it is: its decoder arranged

    def credit(self, served: Served, query: Example, output: list[int]) -> Credit:
        """The adapter index's credit for one generation (`query`: prompt and output, the output labelled)."""
        index = served.index
        with self._lock:
            peft_model, name = self._slot(served) if index.features is not None else (None, "default")
            return index.credit(peft_model, served.tokenizer, query, output, name)

    def _slot(self, served: Served) -> tuple[object, str]:
        # peft pulls in transformers' generation stack (and torch._dynamo): seconds at import, so it is
        # imported when a worker first attributes an adapter, not when any worker starts
        from peft import PeftModel

        slot, key = served.slot, (served.base, served.index.base_dtype)
        model = self._models.get(key)
        if model is None:
            base, _ = load_base(served.base_dir, self.device)
            with building_models():
                model = PeftModel.from_pretrained(base, served.adapter_dir, adapter_name=slot).eval()
            self._models[key] = arrange(model, served.index.base_dtype)
        elif slot not in model.peft_config:
            with building_models():
                model.load_adapter(served.adapter_dir, adapter_name=slot)
            arrange(model, served.index.base_dtype)  # the layers this configuration targets anew
        if model.active_adapter != slot:
            model.set_adapter(slot)
        if self._in_slot.get((*key, slot)) != served.adapter:
            factors = self.cache.get(served.adapter).factors
            with torch.no_grad():
                for name, layer in lora_modules(model, slot):
                    a, b = factors[name.removeprefix("base_model.model.")]
                    layer.lora_A[slot].weight.copy_(a)
                    layer.lora_B[slot].weight.copy_(b)
            self._in_slot[(*key, slot)] = served.adapter
        return model, slot
