"""Chain specs: a JSON document naming the chain, its pallets, runtime parameters and genesis state.

```json
{"name": "Payable Dev", "id": "payable-dev", "pallets": ["system", "token"],
 "runtime": {"fees": {...}, "block": {...}, "db_weights": {...}, "state_root_window": 256},
 "config": {"token": {"existential_deposit": "10000000000000000"}},
 "genesis": {"system": {"timestamp_ms": 0}, "token": {"balances": [["<address>", "1000 OPEN"]]}}}
```
Unknown keys are errors, never silently ignored: a typo in a fee parameter must not start a chain.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .crypto import Keypair
from .errors import ChainSpecError
from .weights import BlockLimits, DbWeights, FeeConfig

DEV_ACCOUNTS = ("//Alice", "//Bob", "//Charlie", "//Dave", "//Eve", "//Ferdie")
TOP_KEYS = {"name", "id", "pallets", "runtime", "config", "genesis"}
RUNTIME_KEYS = {"fees": FeeConfig, "block": BlockLimits, "db_weights": DbWeights}


def _dataclass_from(kind: type, values: dict, where: str):
    known = {f.name for f in dataclasses.fields(kind)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ChainSpecError(f"{where}: unknown keys {unknown}; known: {sorted(known)}")
    try:
        return kind(**{k: integer(v, f"{where}.{k}") for k, v in values.items()})
    except (TypeError, ValueError) as exc:
        raise ChainSpecError(f"{where}: {exc}") from exc


def integer(value: Any, where: str) -> int:
    """A whole number as JSON gives one (or its digits as text; 1e16 where a float holds it exactly): 1.7 is
    not truncated to 1, true is not 1."""
    if isinstance(value, float) and value.is_integer() and abs(value) <= 2 ** 53:
        return int(value)
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ChainSpecError(f"{where}: {value!r} is not a whole number")
    try:
        return int(value)
    except ValueError as exc:
        raise ChainSpecError(f"{where}: {value!r} is not a whole number") from exc


def _section(doc: dict, key: str) -> dict:
    value = doc.get(key, {})
    if not isinstance(value, dict):
        raise ChainSpecError(f"{key} is a JSON object (by pallet name), not {type(value).__name__}")
    return dict(value)


@dataclass(frozen=True)
class RuntimeParams:
    fees: FeeConfig = field(default_factory=FeeConfig)
    block: BlockLimits = field(default_factory=BlockLimits)
    db_weights: DbWeights = field(default_factory=DbWeights)
    state_root_window: int = 256  # how many past blocks' state roots are kept

    @classmethod
    def from_dict(cls, values: dict) -> RuntimeParams:
        unknown = sorted(set(values) - set(RUNTIME_KEYS) - {"state_root_window"})
        if unknown:
            raise ChainSpecError(f"runtime: unknown keys {unknown}")
        parts = {k: _dataclass_from(kind, values.get(k, {}), f"runtime.{k}") for k, kind in RUNTIME_KEYS.items()}
        window = integer(values.get("state_root_window", 256), "runtime.state_root_window")
        if window < 1:
            raise ChainSpecError("runtime.state_root_window must be at least 1")
        return cls(state_root_window=window, **parts)

    def to_dict(self) -> dict:
        return {"fees": dataclasses.asdict(self.fees), "block": dataclasses.asdict(self.block),
                "db_weights": dataclasses.asdict(self.db_weights), "state_root_window": self.state_root_window}


@dataclass(frozen=True)
class ChainSpec:
    name: str
    id: str
    pallets: tuple[str, ...]
    runtime: RuntimeParams = field(default_factory=RuntimeParams)
    config: dict[str, dict] = field(default_factory=dict)
    genesis: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, doc: dict) -> ChainSpec:
        if not isinstance(doc, dict):
            raise ChainSpecError("a chain spec is a JSON object")
        unknown = sorted(set(doc) - TOP_KEYS)
        if unknown:
            raise ChainSpecError(f"unknown top-level keys {unknown}; known: {sorted(TOP_KEYS)}")
        for key in ("name", "id", "pallets"):
            if key not in doc:
                raise ChainSpecError(f"chain spec is missing {key!r}")
        pallets = list(doc["pallets"])
        if not all(isinstance(p, str) and p for p in pallets) or len(set(pallets)) != len(pallets):
            raise ChainSpecError(f"pallets must be distinct names, got {pallets}")
        if "system" in pallets:
            pallets.remove("system")
        return cls(name=str(doc["name"]), id=str(doc["id"]), pallets=("system", *pallets),
                   runtime=RuntimeParams.from_dict(_section(doc, "runtime")),
                   config=_section(doc, "config"), genesis=_section(doc, "genesis"))

    @classmethod
    def load(cls, path: str | Path) -> ChainSpec:
        try:
            return cls.from_dict(json.loads(Path(path).read_text()))
        except json.JSONDecodeError as exc:
            raise ChainSpecError(f"{path}: not valid JSON ({exc})") from exc

    def to_dict(self) -> dict:
        return {"name": self.name, "id": self.id, "pallets": list(self.pallets), "runtime": self.runtime.to_dict(),
                "config": self.config, "genesis": self.genesis}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)


DEV_PALLETS = ("token", "datanet", "modelregistry", "inference", "attribution", "validators")


def dev_spec(extra_pallets: tuple[str, ...] = (), endowment: str = "1000000 OPEN") -> ChainSpec:
    """The development chain: Payable's pallets, well-known dev accounts funded from genesis."""
    balances = [[Keypair.from_uri(uri).address, endowment] for uri in DEV_ACCOUNTS]
    return ChainSpec.from_dict({
        "name": "Payable Dev", "id": "payable-dev", "pallets": [*DEV_PALLETS, *extra_pallets],
        "config": {"token": {"unbonding_period": 10}},
        "genesis": {"system": {"timestamp_ms": 1_700_000_000_000}, "token": {"balances": balances}},
    })
