"""ModelFactory's defaults, mapping keys and splits are declared once (`sdk.modelfactory`) and read by the
worker, the studio and the CLI: the studio's form offers exactly the mapping keys the worker accepts (and
the worker reads every one of them from a row), and the defaults each side shows are the worker's."""

from __future__ import annotations

import json
import re

import pytest

from gpu_worker.finetune.dataset import DatasetSpec, Source, SpecError, parse_source
from sdk import modelfactory

# names a row's fields commonly have: a key the worker starts accepting must be offered by the studio too
CANDIDATES = ("prompt", "response", "input", "system", "text", "messages", "instruction", "output", "question",
              "answer", "context", "history", "label", "chosen", "rejected")


def worker_accepts(key: str) -> bool:
    try:
        DatasetSpec(snapshots=((1, 1),), mapping={key: "field"})
    except SpecError:
        return False
    return True


def studio_offers() -> set[str]:
    """The mapping keys in the studio's ModelFactory form as it renders, checked to reach the config too."""
    from starlette.requests import Request

    from studio.app import studio_templates
    from studio.routes import modelfactory as routes

    request = Request({"type": "http", "method": "GET", "path": "/factory", "headers": [], "query_string": b""})
    html = studio_templates().get_template("factory.html").render(
        request=request, chain=None, bases=[], datanets=[], jobs=[], defaults=routes.HYPER_DEFAULTS,
        mapping_fields=routes.mapping_fields(), eval_per_mille=modelfactory.DEFAULT_EVAL_PER_MILLE,
        max_eval_per_mille=modelfactory.MAX_EVAL_PER_MILLE)
    offered = set(re.findall(r'name="map_(\w+)"', html))
    form = {f"map_{key}": f" {key}-field " for key in offered}
    assert routes.dataset_spec(form)["mapping"] == {key: f"{key}-field" for key in offered}
    return offered


def test_the_studio_offers_exactly_the_mapping_keys_the_worker_accepts():
    offered = studio_offers()
    accepted = {key for key in {*CANDIDATES, *offered, *modelfactory.MAPPING_KEYS} if worker_accepts(key)}
    assert offered == accepted, (f"the studio offers {sorted(offered - accepted)} that the worker refuses; the "
                                 f"worker accepts {sorted(accepted - offered)} that the studio does not offer")
    assert accepted == set(modelfactory.MAPPING_KEYS)


@pytest.mark.parametrize("key", list(modelfactory.MAPPING_KEYS))
def test_the_worker_reads_every_declared_mapping_key_from_a_row(key):
    """An accepted key that the row mapping then ignored would be a key offered for nothing."""
    row = {"prompt": "P", "response": "R", "mapped": "VALUE",
           "chat": [{"role": "user", "content": "VALUE"}, {"role": "assistant", "content": "A"}]}
    spec = DatasetSpec(snapshots=((1, 1),), mapping={key: "chat" if key == "messages" else "mapped"})
    rows, problems = parse_source(spec, Source(1, b"\1" * 32, b"\2" * 32, "jsonl", json.dumps(row).encode()))
    assert problems == [] and len(rows) == 1
    assert "VALUE" in (rows[0].text or "") + "".join(text for _, text in rows[0].messages)


def test_every_side_shows_the_workers_defaults():
    pytest.importorskip("peft")
    from cli.finetune import HYPER
    from gpu_worker.finetune.config import TrainingConfig
    from studio.routes.modelfactory import HYPER_DEFAULTS

    config = TrainingConfig(base_model="00" * 32, dataset=DatasetSpec(snapshots=((1, 1),)), libraries={})
    assert HYPER_DEFAULTS == {key: getattr(config, key) for key in modelfactory.FORM_HYPERPARAMETERS}
    assert set(HYPER) == set(TrainingConfig.__dataclass_fields__) - {"base_model", "dataset", "libraries",
                                                                      "target_modules"}
    for key, kind in HYPER.items():
        assert isinstance(getattr(config, key), kind), key
    spec = DatasetSpec.from_dict({"snapshots": [[1, 1]]})
    assert (spec.format, spec.template, spec.eval_per_mille, spec.split_seed) == (
        modelfactory.DEFAULT_FORMAT, modelfactory.DEFAULT_TEMPLATE, modelfactory.DEFAULT_EVAL_PER_MILLE,
        modelfactory.DEFAULT_SPLIT_SEED)
    assert modelfactory.reward_split_text() == "7000,2000,500,500"
    assert sum(modelfactory.DEFAULT_REWARD_SPLIT.values()) == 10_000
