"""Contribution licenses: what one may be, and which model licenses a set of them allows.

Written by hand beside the generated module: the DataNet pallet checks a contribution's license with it, the
model registry decides what a model's training data allows with it, and a client can explain either the same
way. The rule is deliberately small and explicit - a table, not a license parser:

- PERMISSIVE data licenses allow a model under any license (their attribution duty is met by the chain's
  provenance, which names every contribution and contributor).
- CONSTRAINING data licenses allow only the model licenses listed for them: share-alike ones their own
  license, non-commercial ones a non-commercial license.
- Anything else - "custom" terms (known by their hash only), an SPDX id this table does not list, an SPDX
  expression - allows only itself or "other" (the model's terms are stated elsewhere, as Hugging Face spells
  it): the chain cannot read those terms, so the model's owner must take them on as they are.

Data under several licenses allows what every one of them allows (the intersection).
"""

from __future__ import annotations

import re

CUSTOM = "custom"  # a contribution's own terms, named by the blake2b-256 hash of their text
OTHER = "other"    # a model's license stated elsewhere (a model card), for data whose terms the table cannot read

# An SPDX license identifier's shape (SPDX spec, Annex A: idstring = 1*(ALPHA / DIGIT / "-" / ".") with an
# optional "+" for "or later"; LicenseRef-... ids fit it too), at most 64 characters.
SPDX_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.-]{0,62}\+?$")

PERMISSIVE = frozenset({
    "CC0-1.0", "PDDL-1.0", "Unlicense", "CC-BY-3.0", "CC-BY-4.0", "ODC-By-1.0", "CDLA-Permissive-1.0",
    "CDLA-Permissive-2.0", "MIT", "ISC", "BSD-2-Clause", "BSD-3-Clause", "Apache-2.0", "PSF-2.0",
})
CONSTRAINING: dict[str, frozenset[str]] = {
    "CC-BY-SA-4.0": frozenset({"CC-BY-SA-4.0"}),
    "ODbL-1.0": frozenset({"ODbL-1.0"}),
    "CDLA-Sharing-1.0": frozenset({"CDLA-Sharing-1.0"}),
    "CC-BY-NC-4.0": frozenset({"CC-BY-NC-4.0", "CC-BY-NC-SA-4.0"}),
    "CC-BY-NC-SA-4.0": frozenset({"CC-BY-NC-SA-4.0"}),
}
_CANONICAL = {name.lower(): name for name in (*PERMISSIVE, *CONSTRAINING)}


def canonical(license_id: str) -> str:
    """A listed SPDX id in its canonical spelling (SPDX ids match case-insensitively); others unchanged."""
    return _CANONICAL.get(license_id.lower(), license_id)


def is_license_id(value: str) -> bool:
    """Is `value` something a contribution may declare: one SPDX-shaped identifier, or "custom"?"""
    return value == CUSTOM or bool(SPDX_ID.match(value))


def model_licenses(data_license: str) -> frozenset[str] | None:
    """The model licenses one data license allows; None: any."""
    if data_license in PERMISSIVE:
        return None
    return CONSTRAINING.get(data_license, frozenset({data_license, OTHER}))


def allowed(data_licenses: list[str]) -> frozenset[str] | None:
    """The model licenses every one of `data_licenses` allows (None: any; empty: none)."""
    result: frozenset[str] | None = None
    for data_license in data_licenses:
        allows = model_licenses(data_license)
        if allows is not None:
            result = allows if result is None else result & allows
    return result


def blocks(data_license: str, model_license: str) -> bool:
    """Does data under `data_license` forbid a model under `model_license`?"""
    allows = model_licenses(data_license)
    return allows is not None and model_license not in allows


def default_model_license(data_licenses: list[str], any_license: bool, allowed_licenses: list[str],
                          base_license: str) -> str | None:
    """The license of a model that declares none (the model registry's rule, here so that a client writing
    the model card before registering says what the chain will record): the base model's when the data
    allows any, else the allowed license the data itself carries (its terms carry over), else the only one
    allowed; None when the data allows none or leaves a choice (the owner must declare one)."""
    if any_license:
        return base_license
    carried = [name for name in allowed_licenses if name in data_licenses] or list(allowed_licenses)
    return carried[0] if len(carried) == 1 else None
