"""The pallets' weights.py files are what bench/weights.py writes, never edited by hand."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from runtime.weights import Weight

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def generator():
    spec = importlib.util.spec_from_file_location("bench_weights", ROOT / "bench" / "weights.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_every_pallet_with_weights_is_generated(generator):
    assert sorted(generator.WORST_CASE) == sorted(p.parent.name for p in (ROOT / "pallets").glob("*/weights.py"))


@pytest.mark.parametrize("pallet", ["token", "datanet", "modelregistry", "inference", "attribution", "validators"])
def test_weights_file_is_what_the_generator_renders(generator, pallet):
    path = ROOT / "pallets" / pallet / "weights.py"
    text = path.read_text()
    record = generator.read_record(text)
    assert generator.render(pallet, record) == text, (
        f"{path} is not what bench/weights.py renders for its values: regenerate it with "
        "`python bench/weights.py --runs 3 --write`, or change WORST_CASE/NOTES there, not the file")
    module = importlib.import_module(f"pallets.{pallet}.weights")
    for name, measured in record["MEASURED_P90_NS"].items():
        weight = getattr(module, name)
        assert isinstance(weight, Weight)
        assert weight.ref_time_ns >= measured, f"{pallet}.{name} declares less time than was measured"
    # every call declares one of the file's weights, and every weight is some call's
    assert set(generator.weight_names(pallet).values()) == set(record["REF_TIME_NS"])


def test_derive_applies_the_margin_and_the_worst_case_bounds(generator):
    rows = [{"pallet": "token", "name": "transfer", "call": "token.transfer",
             "measured": {"at_bound_ns": 40_100, "max_reads": 3, "max_writes": 3}},
            {"pallet": "token", "name": "transfer_keep_alive", "call": "token.transfer_keep_alive",
             "measured": {"at_bound_ns": 50_000, "max_reads": 2, "max_writes": 3}}]
    for name in ("bond", "unbond", "withdraw_unbonded"):
        rows.append({"pallet": "token", "name": name, "call": f"token.{name}",
                     "measured": {"at_bound_ns": 10_000, "max_reads": 1, "max_writes": 1}})
    record = generator.derive("token", rows, machine="m", command="c", runs=1, margin=1.3)
    assert record["REF_TIME_NS"]["TRANSFER"] == 55_000  # 1.3 x 40.1 µs = 52.13 µs, rounded up to 5 µs
    assert record["REF_TIME_NS"]["TRANSFER_KEEP_ALIVE"] == 65_000
    assert generator.read_record(generator.render("token", record))["REF_TIME_NS"] == record["REF_TIME_NS"]
    rows[0]["measured"]["max_reads"] = 4  # more than the declared worst case: refused
    with pytest.raises(SystemExit, match="above WORST_CASE"):
        generator.derive("token", rows, machine="m", command="c", runs=1, margin=1.3)
