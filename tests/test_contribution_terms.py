"""Terms on every contribution (issue 30 §1), on an in-process dev chain: a contribution declares its license,
personal data and TDM opt-out; a DataNet refuses what it does not accept and says which rule and what it
accepts; snapshot leaves carry the terms, so a membership proof proves them; a model's record states what
its training data allows, and a publish whose license the data does not allow is refused naming the
contributions that block it."""

from __future__ import annotations

import re

import pytest

from pallets.token import interface as token
from payable.datanet.v1 import datanet_pb2 as dn
from payable.datanet.v1 import licenses
from payable.modelregistry.v1 import modelregistry_pb2 as mr
from runtime.codec import ONE_OPEN, encode_u128
from sdk.wire import verify_membership

H = [bytes([i]) * 32 for i in range(1, 40)]
TERMS = bytes([0xEE]) * 32  # the hash of a custom terms text


def _create(chain, **fields):
    fields = {"name": "terms", "domain": "text", "license": "CC-BY-4.0", "contribution_deposit": encode_u128(ONE_OPEN),
              "accepted_formats": ["jsonl"], **fields}
    assert chain.run(chain.alice, "datanet", "create_datanet", dn.CreateDataNet(**fields)) is None


def _contribute(chain, who, datanet, content, terms=None):
    args = dn.Contribute(datanet=datanet, content_hash=content, size=10, format="jsonl")
    if terms is not None:
        args.terms.CopyFrom(terms)
    return chain.run(who, "datanet", "contribute", args)


def _query(chain, call, request, response):
    return response.FromString(chain.ex.query("datanet", call, request.SerializeToString()))


def _contribution(chain, cid) -> dn.Contribution:
    found = _query(chain, "list_contributions", dn.ContributionsRequest(start_after=cid - 1, limit=1),
                   dn.ContributionList).contributions
    assert found and found[0].id == cid
    return found[0]


def test_contributions_outside_the_datanets_terms_are_refused_with_the_rule_and_hold_nothing(chain):
    c = chain
    _create(c, accepted_licenses=["cc0-1.0", "custom"])  # a listed id is stored in its canonical spelling
    info = _query(c, "get_datanet", dn.DataNetRequest(datanet=1), dn.DataNetInfo)
    assert list(info.metadata.accepted_licenses) == ["CC0-1.0", "custom"]
    assert not info.metadata.personal_data_allowed
    reserved = token.account(c.ex.read_context(), c.bob.public).reserved

    refused = _contribute(c, c.bob, 1, H[0], dn.ContributionTerms(license="CC-BY-NC-4.0"))
    assert refused == ("LicenseNotAccepted", "the contribution's license 'CC-BY-NC-4.0' is not one DataNet 1 "
                                             "accepts: CC-BY-4.0, CC0-1.0, custom")
    refused = _contribute(c, c.bob, 1, H[0], dn.ContributionTerms(personal_data=True))
    assert refused[0] == "PersonalDataNotAllowed" and "does not allow personal data" in refused[1]
    refused = _contribute(c, c.bob, 1, H[0], dn.ContributionTerms(license="CC0-1.0", tdm_opt_out=True))
    assert refused[0] == "TdmOptedOut" and "text-and-data-mining" in refused[1]
    assert _contribute(c, c.bob, 1, H[0], dn.ContributionTerms(license="custom"))[0] == "BadInput"  # no terms hash
    assert _contribute(c, c.bob, 1, H[0], dn.ContributionTerms(license="CC0-1.0", terms_hash=TERMS))[0] == "BadInput"
    assert _contribute(c, c.bob, 1, H[0], dn.ContributionTerms(license="not a license!"))[0] == "BadInput"
    assert token.account(c.ex.read_context(), c.bob.public).reserved == reserved  # refusals hold no deposit

    assert _contribute(c, c.bob, 1, H[0]) is None  # no terms: the defaults
    assert _contribute(c, c.charlie, 1, H[1], dn.ContributionTerms(license="cc0-1.0")) is None
    assert _contribute(c, c.dave, 1, H[2], dn.ContributionTerms(license="custom", terms_hash=TERMS)) is None
    assert [_contribution(c, i).terms for i in (1, 2, 3)] == [
        dn.ContributionTerms(license="CC-BY-4.0"), dn.ContributionTerms(license="CC0-1.0"),
        dn.ContributionTerms(license="custom", terms_hash=TERMS)]

    # the owner's metadata update decides the terms of later contributions
    assert c.run(c.alice, "datanet", "update_metadata", dn.UpdateMetadata(
        datanet=1, license="CC-BY-4.0", accepted_formats=["jsonl"], personal_data_allowed=True)) is None
    assert _contribute(c, c.bob, 1, H[3], dn.ContributionTerms(personal_data=True)) is None
    assert _contribute(c, c.bob, 1, H[4], dn.ContributionTerms(license="CC0-1.0"))[0] == "LicenseNotAccepted"
    assert _contribution(c, 4).terms == dn.ContributionTerms(license="CC-BY-4.0", personal_data=True)
    from runtime.errors import InvalidTransaction  # a repeated accepted license: refused at the door, no fee

    with pytest.raises(InvalidTransaction, match="datanet.BadInput: accepted_licenses must list at most 32 distinct"):
        c.ex.validate_transaction(c.sign(c.alice, "datanet", "create_datanet", dn.CreateDataNet(
            name="x", domain="x", license="MIT", contribution_deposit=encode_u128(ONE_OPEN), accepted_formats=["csv"],
            accepted_licenses=["MIT", "MIT"])))
    c.ex.try_state()


def test_snapshot_leaves_carry_the_terms_so_a_proof_proves_them(chain):
    c = chain
    _create(c, accepted_licenses=["CC-BY-SA-4.0", "custom"], personal_data_allowed=True)
    assert _contribute(c, c.bob, 1, H[0], dn.ContributionTerms(personal_data=True)) is None
    assert _contribute(c, c.charlie, 1, H[1], dn.ContributionTerms(license="CC-BY-SA-4.0")) is None
    assert _contribute(c, c.dave, 1, H[2], dn.ContributionTerms(license="custom", terms_hash=TERMS)) is None
    assert _contribute(c, c.dave, 1, H[3]) is None
    for cid in (1, 2, 3, 4):
        assert c.run(c.alice, "datanet", "approve", dn.Decide(contribution=cid)) is None
    assert c.run(c.alice, "datanet", "publish_snapshot", dn.PublishSnapshot(datanet=1)) is None
    snap = _query(c, "get_snapshot", dn.SnapshotRequest(datanet=1), dn.SnapshotWithProofs)
    assert [(s.license, list(s.contribution_ids)) for s in snap.snapshot.licenses] == [
        ("CC-BY-4.0", [1, 4]), ("CC-BY-SA-4.0", [2]), ("custom", [3])]
    assert snap.snapshot.personal_data == 1
    for proof in snap.proofs:
        assert proof.leaf.terms == _contribution(c, proof.leaf.contribution_id).terms
        assert verify_membership(snap.snapshot.root, proof)
    # a leaf whose terms were changed in any way no longer proves membership
    for change in (lambda t: setattr(t, "personal_data", False), lambda t: setattr(t, "license", "CC0-1.0"),
                   lambda t: setattr(t, "tdm_opt_out", True), lambda t: setattr(t, "terms_hash", b"")):
        for index in (0, 2):
            forged = dn.MembershipProof()
            forged.CopyFrom(snap.proofs[index])
            change(forged.leaf.terms)
            if forged.leaf.terms != snap.proofs[index].leaf.terms:
                assert not verify_membership(snap.snapshot.root, forged)
    single = _query(c, "get_membership", dn.ProofRequest(datanet=1, version=1, contribution=3), dn.MembershipProof)
    assert single.leaf.terms.license == "custom" and single.leaf.terms.terms_hash == TERMS
    assert verify_membership(snap.snapshot.root, single)
    c.ex.try_state()


@pytest.fixture
def mixed(chain):
    """Three DataNets with one snapshot each: 1 permissive (CC-BY-4.0 and CC0-1.0), 2 share-alike and
    non-commercial contributions, 3 custom terms; and a base model (Apache-2.0)."""
    c = chain
    _create(c, accepted_licenses=["CC0-1.0"])
    _create(c, license="CC-BY-SA-4.0", accepted_licenses=["CC-BY-NC-4.0"])
    _create(c, license="custom", accepted_licenses=[])
    plan = [(1, c.bob, None), (1, c.charlie, dn.ContributionTerms(license="CC0-1.0")),
            (2, c.bob, None), (2, c.charlie, dn.ContributionTerms(license="CC-BY-NC-4.0")), (2, c.dave, None),
            (3, c.bob, dn.ContributionTerms(license="custom", terms_hash=TERMS))]
    for cid, (net, who, terms) in enumerate(plan, start=1):
        assert _contribute(c, who, net, H[cid], terms) is None
        assert c.run(c.alice, "datanet", "approve", dn.Decide(contribution=cid)) is None
    for net in (1, 2, 3):
        assert c.run(c.alice, "datanet", "publish_snapshot", dn.PublishSnapshot(datanet=net)) is None
    assert c.run(c.dave, "modelregistry", "register_base_model", mr.RegisterBaseModel(
        artifact_hash=H[30], architecture="llama", format=mr.HF_DIRECTORY, license="Apache-2.0")) is None
    return c


def _register(chain, nets, artifact, license_=""):
    return chain.run(chain.dave, "modelregistry", "register_model", mr.RegisterModel(
        base_model=1, snapshots=[mr.SnapshotRef(datanet=n, version=1) for n in nets], training_config_hash=H[31],
        artifact_hash=artifact, attribution_index_hash=H[32], price_per_inference=encode_u128(ONE_OPEN),
        split=mr.RewardSplit(contributors=7000, model_owner=2000, protocol=500, worker=500), license=license_))


def _model(chain, model_id) -> mr.Model:
    return mr.Model.FromString(chain.ex.query("modelregistry", "get_model",
                                              mr.ModelRequest(model=model_id).SerializeToString()))


def test_a_models_license_must_be_one_its_training_data_allows(mixed):
    c = mixed
    # permissive data: any license; undeclared, the base model's
    assert _register(c, [1], H[20]) is None
    assert _model(c, 1).license == "Apache-2.0"
    assert _model(c, 1).data_license == mr.DataLicense(licenses=["CC-BY-4.0", "CC0-1.0"], any=True)
    assert _register(c, [1], H[21], "mit") is None and _model(c, 2).license == "MIT"

    # share-alike and non-commercial data together allow no license: both groups are named
    refused = _register(c, [1, 2], H[22])
    assert refused == ("LicenseNotAllowed",
                       "declare the model's license: its training data allows no license at all (DataNet 2 v1 "
                       "contribution 4 is CC-BY-NC-4.0, which allows CC-BY-NC-4.0 or CC-BY-NC-SA-4.0; DataNet 2 v1 "
                       "contributions 3, 5 are CC-BY-SA-4.0, which allows CC-BY-SA-4.0)")
    refused = _register(c, [2], H[22], "CC-BY-NC-4.0")
    assert refused == ("LicenseNotAllowed",
                       "model license 'CC-BY-NC-4.0' is not allowed by its training data: DataNet 2 v1 "
                       "contributions 3, 5 are CC-BY-SA-4.0, which allows CC-BY-SA-4.0")
    refused = _register(c, [1, 2], H[22], "CC-BY-SA-4.0")
    assert refused[0] == "LicenseNotAllowed" and "contribution 4 is CC-BY-NC-4.0" in refused[1]
    assert "contributions 3, 5" not in refused[1]  # only what blocks the declared license is named

    # custom terms allow only "custom" or "other"
    refused = _register(c, [1, 3], H[23], "Apache-2.0")
    assert refused == ("LicenseNotAllowed", "model license 'Apache-2.0' is not allowed by its training data: "
                                            "DataNet 3 v1 contribution 6 is custom, which allows custom or other")
    assert _register(c, [1, 3], H[23], "other") is None
    assert _model(c, 3).license == "other"
    assert _model(c, 3).data_license == mr.DataLicense(licenses=["CC-BY-4.0", "CC0-1.0", "custom"],
                                                       allowed=["custom", "other"])
    assert _register(c, [3], H[24], "not a license!")[0] == "BadInput"
    assert _register(c, [1, 3], H[24]) is None  # undeclared: the allowed license the data carries
    assert _model(c, 4).license == "custom"

    # data that allows exactly one license: undeclared, the model gets it
    _create(c, license="CC-BY-NC-SA-4.0")
    assert _contribute(c, c.bob, 4, H[7]) is None
    assert c.run(c.alice, "datanet", "approve", dn.Decide(contribution=7)) is None
    assert c.run(c.alice, "datanet", "publish_snapshot", dn.PublishSnapshot(datanet=4)) is None
    assert _register(c, [1, 4], H[25]) is None
    assert _model(c, 5).license == "CC-BY-NC-SA-4.0"
    assert _model(c, 5).data_license == mr.DataLicense(licenses=["CC-BY-4.0", "CC-BY-NC-SA-4.0", "CC0-1.0"],
                                                       allowed=["CC-BY-NC-SA-4.0"])
    c.ex.try_state()


def test_a_refusal_names_at_most_twenty_contributions_per_license_and_counts_the_rest(chain):
    c = chain
    _create(c, license="CC-BY-SA-4.0")
    for cid in range(1, 23):
        assert _contribute(c, (c.bob, c.charlie)[cid % 2], 1, bytes([cid]) * 31 + b"\x01") is None
        assert c.run(c.alice, "datanet", "approve", dn.Decide(contribution=cid)) is None
    assert c.run(c.alice, "datanet", "publish_snapshot", dn.PublishSnapshot(datanet=1)) is None
    assert c.run(c.dave, "modelregistry", "register_base_model", mr.RegisterBaseModel(
        artifact_hash=H[30], architecture="llama", format=mr.HF_DIRECTORY, license="Apache-2.0")) is None
    refused = _register(c, [1], H[20], "MIT")
    named = ", ".join(str(i) for i in range(1, 21))
    assert refused == ("LicenseNotAllowed", f"model license 'MIT' is not allowed by its training data: DataNet 1 v1 "
                                            f"contributions {named} (22 in all) are CC-BY-SA-4.0, which allows "
                                            f"CC-BY-SA-4.0")


def test_the_compatibility_rule_is_the_documented_table():
    assert licenses.allowed(["CC0-1.0", "MIT"]) is None
    assert licenses.allowed(["CC-BY-4.0", "CC-BY-NC-4.0"]) == {"CC-BY-NC-4.0", "CC-BY-NC-SA-4.0"}
    assert licenses.allowed(["CC-BY-NC-4.0", "CC-BY-NC-SA-4.0"]) == {"CC-BY-NC-SA-4.0"}
    assert licenses.allowed(["CC-BY-SA-4.0", "ODbL-1.0"]) == frozenset()
    assert licenses.allowed(["LicenseRef-acme"]) == {"LicenseRef-acme", "other"}  # unlisted: itself or other
    assert licenses.blocks("custom", "MIT") and not licenses.blocks("custom", "other")
    assert not licenses.blocks("Apache-2.0", "CC-BY-NC-4.0")
    assert licenses.is_license_id("GPL-3.0+") and licenses.is_license_id("custom")
    assert not licenses.is_license_id("MIT OR Apache-2.0") and not licenses.is_license_id("")


@pytest.mark.e2e
def test_terms_through_the_cli_and_the_studios_curation_page(tmp_path, start_node):
    """In a real dev node: `payable datanet` creates a DataNet with accepted terms, refuses a contribution
    outside them with the reason, lists the pending contributions' terms for the curator (and the studio's
    curation page shows them); `payable model register` is refused naming the contribution that blocks its
    license, and `payable model provenance` shows the terms its verified proofs carry."""
    import json
    import subprocess
    import sys

    node = start_node("node", "--dev", "--instant-seal")
    node.client().close()  # serving

    def cli(*args, ok=True):
        done = subprocess.run([sys.executable, "-m", "cli", *args, "--node", node.target, "--json"],
                              capture_output=True, text=True, timeout=300)
        assert (done.returncode == 0) == ok, done.stderr[-3000:]
        return json.loads(done.stdout) if ok else done.stdout + done.stderr

    cli("datanet", "create", "--name", "terms", "--domain", "text", "--license", "CC-BY-4.0", "--deposit", "1",
        "--formats", "jsonl", "--accept-license", "CC-BY-NC-4.0", "--accept-license", "custom", "--from", "//Alice")
    for name in ("a", "b", "c", "terms"):
        (tmp_path / name).write_text(f'{{"prompt": "{name}?", "response": "{name}."}}')
    refused = cli("datanet", "contribute", "1", str(tmp_path / "a"), "--format", "jsonl", "--personal-data",
                  "--from", "//Bob", ok=False)
    assert "PersonalDataNotAllowed" in refused and "does not allow personal data" in refused
    refused = cli("datanet", "contribute", "1", str(tmp_path / "a"), "--format", "jsonl", "--license", "MIT",
                  "--from", "//Bob", ok=False)
    assert "LicenseNotAccepted" in refused and "accepts: CC-BY-4.0, CC-BY-NC-4.0, custom" in refused
    cli("datanet", "contribute", "1", str(tmp_path / "a"), "--format", "jsonl", "--from", "//Bob")
    cli("datanet", "contribute", "1", str(tmp_path / "b"), "--format", "jsonl", "--license", "CC-BY-NC-4.0",
        "--from", "//Charlie")
    cli("datanet", "contribute", "1", str(tmp_path / "c"), "--format", "jsonl", "--terms", str(tmp_path / "terms"),
        "--from", "//Dave")
    cli("datanet", "approve", "1", "--from", "//Alice")
    shown = cli("datanet", "show", "1", "--pending")
    assert shown["accepted_licenses"] == ["CC-BY-4.0", "CC-BY-NC-4.0", "custom"]
    assert not shown["personal_data_allowed"]
    from runtime.crypto import blake2_256

    assert [(r["id"], r["license"], r["terms_hash"], r["personal_data"], r["tdm_opt_out"])
            for r in shown["contributions"]] == [
        (2, "CC-BY-NC-4.0", "", False, False), (3, "custom", blake2_256((tmp_path / "terms").read_bytes()).hex(),
                                                False, False)]

    from fastapi.testclient import TestClient

    from studio.app import create_app

    with TestClient(create_app(node.target, "127.0.0.1:1"), base_url="http://127.0.0.1:8080") as studio:
        page = studio.get("/datanets/1", headers={"Accept": "text/html"}).text
    assert "Accepts contributions licensed CC-BY-4.0, CC-BY-NC-4.0, custom" in page
    rows = {int(m[0]): m[1] for m in re.findall(r'<tr data-contribution="(\d+)">(.*?)</tr>', page, re.S)}
    assert [re.search(r'class="license">([^ <]+)', rows[i]).group(1) for i in (1, 2, 3)] == \
        ["CC-BY-4.0", "CC-BY-NC-4.0", "custom"]
    assert all('class="personal-data">no<' in rows[i] and 'class="tdm-opt-out">no<' in rows[i] for i in (1, 2, 3))

    cli("datanet", "approve", "2", "--from", "//Alice")
    cli("datanet", "snapshot", "1", "--from", "//Alice")
    cli("tx", "modelregistry", "register_base_model", "--arg", f"artifact_hash={'ab' * 32}",
        "--arg", "architecture=llama", "--arg", "license=Apache-2.0", "--from", "//Dave")
    register = ["model", "register", "--base-model", "1", "--snapshot", "1:1", "--artifact-hash", "cd" * 32,
                "--training-config-hash", "ef" * 32, "--index-hash", "01" * 32, "--price", "1", "--from", "//Dave"]
    refused = cli(*register, "--license", "MIT", ok=False)
    assert "LicenseNotAllowed" in refused and \
        "DataNet 1 v1 contribution 2 is CC-BY-NC-4.0, which allows CC-BY-NC-4.0 or CC-BY-NC-SA-4.0" in refused
    model = cli(*register)["model"]  # undeclared: the allowed license its data carries
    shown = cli("model", "show", str(model))
    assert shown["license"] == "CC-BY-NC-4.0"
    assert shown["data_license"] == {"licenses": ["CC-BY-4.0", "CC-BY-NC-4.0"],
                                     "allowed": ["CC-BY-NC-4.0", "CC-BY-NC-SA-4.0"]}
    provenance = cli("model", "provenance", str(model))
    assert provenance["all_proofs_verified"] and provenance["license"] == "CC-BY-NC-4.0"
    assert [(r["contribution"], r["license"]) for r in provenance["contributions"]] == \
        [(1, "CC-BY-4.0"), (2, "CC-BY-NC-4.0")]
