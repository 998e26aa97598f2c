"""Audit bundles (issue 30 §4): a model's records, its training contributions with their terms and Merkle
proofs, the state proofs of all of them against one block and that block's seal, in one file that verifies
with no node; a bundle with anything changed fails and names the section."""

from __future__ import annotations

import json
import random

import pytest

from cli.audit import schema
from payable.datanet.v1 import datanet_pb2 as dn
from payable.modelregistry.v1 import modelregistry_pb2 as mr
from payable.runtime.v1.extrinsic_pb2 import Header, StateProof
from runtime.chainspec import dev_spec
from runtime.codec import ONE_OPEN, encode_u128
from runtime.crypto import Keypair, encode_address
from runtime.runtime import Runtime
from sdk.audit import Anchor, AuditError, canonical, export, verify

H = [bytes([i]) * 32 for i in range(1, 40)]
TERMS = bytes([0xEE]) * 32
ALICE = Keypair.from_uri("//Alice")


class ExecutiveSource:
    """An in-process chain as an export source: proofs at its head, its blocks, its queries."""

    def __init__(self, executive):
        self.ex = executive

    def prove(self, keys):
        db = self.ex.db
        return self.ex.head.number, [(db.state_value(k), db.prove(k).SerializeToString(deterministic=True))
                                     for k in keys]

    def block(self, number):
        block = self.ex.db.require_block(number)
        return block.header, block.seal

    def query(self, pallet, name, request):
        return self.ex.query(pallet, name, request)


def _ok(chain, signer, pallet, call, args):
    outcome = chain.block(chain.sign(signer, pallet, call, args)).outcomes[0]
    assert outcome.ok, outcome.error


@pytest.fixture(scope="module")
def world():
    """Two DataNets (one allowing personal data), five contributions with mixed terms, one snapshot each, a
    base model and a model trained on both snapshots; then the bundle of that model."""
    from conftest import DevChain

    from runtime.executive import Executive

    executive = Executive.open(dev_spec())
    c = DevChain(executive)
    for license_, accepted, personal in (("CC-BY-4.0", ["CC0-1.0", "custom"], False), ("CC0-1.0", [], True)):
        _ok(c, c.alice, "datanet", "create_datanet", dn.CreateDataNet(
            name="audit", domain="text", license=license_, contribution_deposit=encode_u128(ONE_OPEN),
            accepted_formats=["jsonl"], accepted_licenses=accepted, personal_data_allowed=personal))
    plan = [(1, c.bob, None), (1, c.charlie, dn.ContributionTerms(license="CC0-1.0")),
            (1, c.dave, dn.ContributionTerms(license="custom", terms_hash=TERMS)),
            (2, c.bob, dn.ContributionTerms(license="CC0-1.0", personal_data=True)), (2, c.charlie, None)]
    for cid, (net, who, terms) in enumerate(plan, start=1):
        args = dn.Contribute(datanet=net, content_hash=H[cid], size=100 + cid, format="jsonl")
        if terms is not None:
            args.terms.CopyFrom(terms)
        _ok(c, who, "datanet", "contribute", args)
        _ok(c, c.alice, "datanet", "approve", dn.Decide(contribution=cid))
    for net in (1, 2):
        _ok(c, c.alice, "datanet", "publish_snapshot", dn.PublishSnapshot(datanet=net))
    _ok(c, c.dave, "modelregistry", "register_base_model", mr.RegisterBaseModel(
        artifact_hash=H[30], architecture="llama", format=mr.HF_DIRECTORY, license="Apache-2.0"))
    _ok(c, c.dave, "modelregistry", "register_model", mr.RegisterModel(
        base_model=1, snapshots=[mr.SnapshotRef(datanet=1, version=1), mr.SnapshotRef(datanet=2, version=1)],
        training_config_hash=H[31], artifact_hash=H[32], attribution_index_hash=H[33],
        price_per_inference=encode_u128(ONE_OPEN),
        split=mr.RewardSplit(contributors=7000, model_owner=2000, protocol=500, worker=500), license="custom"))
    bundle = export(ExecutiveSource(executive), 1, schema())
    yield c, bundle, (executive.head, c.timestamp)  # the block the bundle is of, and its time
    executive.close()


def _anchor(spec=None) -> Anchor:
    return Anchor(authority=ALICE.public, chain_config=Runtime(spec or dev_spec()).config_json.encode())


def _failure(bundle: bytes) -> AuditError:
    with pytest.raises(AuditError) as failed:
        verify(bundle, schema(), _anchor())
    return failed.value


def _edit(bundle: bytes, change) -> bytes:
    """The bundle with `change(doc)` applied and written canonically again (so the check that fails is the one
    about the changed field, not the canonical form)."""
    doc = json.loads(bundle)
    change(doc)
    return canonical(doc)


def _flip(hex_text: str, at: int = -1) -> str:
    raw = bytearray(bytes.fromhex(hex_text))
    raw[at] ^= 0x01
    return raw.hex()


def _header(edit, signer: Keypair | None = None):
    """A change to the header; with `signer`, sealed again by it (the authority itself, or another key that
    claims to be the author), so that what remains to catch the change is the state and the anchor."""
    def change(doc):
        header = Header.FromString(bytes.fromhex(doc["finality"]["header"]))
        edit(header)
        if signer is not None:
            header.author = signer.public
        raw = header.SerializeToString(deterministic=True)
        doc["finality"]["header"] = raw.hex()
        if signer is not None:
            doc["finality"]["seal"] = signer.sign(raw).hex()
    return change


def test_the_bundle_verifies_offline_and_says_what_it_proved(world):
    c, bundle, (head, timestamp) = world
    proved = verify(bundle, schema(), _anchor())
    assert proved["block"]["number"] == head.number and proved["block"]["state_root"] == head.state_root.hex()
    assert proved["block"]["finalized_by"] == {"kind": "dev-seal", "authority": ALICE.address,
                                               "block_hash": head.hash.hex(), "timestamp_ms": timestamp}
    assert proved["chain_config"] == "matches the chain spec"
    assert proved["model"]["id"] == 1 and proved["model"]["owner"] == c.dave.address
    assert proved["model"]["license"] == "custom"
    assert (proved["base"]["id"], proved["base"]["architecture"], proved["base"]["license"]) == \
        (1, "llama", "Apache-2.0")
    first, second = proved["snapshots"]
    assert (first["datanet"], first["version"], first["count"], first["contributors"]) == (1, 1, 3, 3)
    assert first["licenses"] == {"CC-BY-4.0": 1, "CC0-1.0": 1, "custom": 1} and first["personal_data"] == 0
    assert first["total_size"] == 101 + 102 + 103
    assert [(r["id"], r["license"], r["terms_hash"], r["status"]) for r in first["contributions"]] == \
        [(1, "CC-BY-4.0", "", "APPROVED"), (2, "CC0-1.0", "", "APPROVED"), (3, "custom", TERMS.hex(), "APPROVED")]
    assert first["statuses"] == {"APPROVED": 3}
    assert second["licenses"] == {"CC0-1.0": 2} and second["personal_data"] == 1
    assert second["contributions"][0]["contributor"] == encode_address(c.bob.public)
    # system.CurrentBlock, system.ChainConfig, the model, its base, two snapshots, five contributions
    assert proved["proven_entries"] == 11


def test_a_withdrawn_or_taken_down_contribution_still_proves_and_shows_as_such(world):
    """Withdrawal (issue 30 §2) keeps a contribution's leaf and record, so a later bundle still proves the
    model's training data, and says which of it has been withdrawn or taken down since."""
    c, _, _ = world
    _ok(c, c.charlie, "datanet", "withdraw", dn.ContributionRef(contribution=5))
    _ok(c, c.alice, "datanet", "take_down", dn.TakeDown(contribution=1, reason=dn.TAKEDOWN_COPYRIGHT))
    proved = verify(export(ExecutiveSource(c.ex), 1, schema()), schema(), _anchor())
    first, second = proved["snapshots"]
    assert first["statuses"] == {"APPROVED": 2, "TAKEN_DOWN": 1} and second["statuses"] == {"APPROVED": 1,
                                                                                          "WITHDRAWN": 1}
    assert [r["status"] for r in first["contributions"]] == ["TAKEN_DOWN", "APPROVED", "APPROVED"]
    assert first["licenses"] == {"CC-BY-4.0": 1, "CC0-1.0": 1, "custom": 1}  # what it was trained on, unchanged


def test_the_anchor_decides_whom_to_believe(world):
    _, bundle, _ = world
    with pytest.raises(AuditError) as failed:
        verify(bundle, schema(), Anchor(authority=Keypair.from_uri("//Bob").public))
    assert failed.value.section == "finality.header.author"
    with pytest.raises(AuditError) as failed:
        verify(bundle, schema(), Anchor(validators=[(ALICE.public, 10)]))  # a CometBFT anchor for a dev bundle
    assert failed.value.section == "finality" and "dev authority" in str(failed.value)
    other = dev_spec(endowment="5 OPEN")  # same pallets, other genesis: config unchanged, still the same chain config
    assert verify(bundle, schema(), _anchor(other))["chain_config"] == "matches the chain spec"
    shorter = dev_spec().to_dict()
    shorter["config"]["token"]["unbonding_period"] = 11
    from runtime.chainspec import ChainSpec

    with pytest.raises(AuditError) as failed:
        verify(bundle, schema(), _anchor(ChainSpec.from_dict(shorter)))
    assert failed.value.section == "state[system.ChainConfig]"


def _state_proof_node(doc):
    entry = doc["state"]["datanet.Contributions/2"]
    proof = StateProof.FromString(bytes.fromhex(entry["proof"]))
    proof.levels[0] = bytes.fromhex(_flip(proof.levels[0].hex()))  # a sibling hash in the top level
    entry["proof"] = proof.SerializeToString(deterministic=True).hex()


def _leaf_terms(doc):
    leaf = dn.SnapshotLeaf.FromString(bytes.fromhex(doc["memberships"]["1:1"][1]["leaf"]))
    leaf.terms.license = "CC-BY-4.0"  # contribution 2 claimed under the DataNet's license instead of CC0-1.0
    doc["memberships"]["1:1"][1]["leaf"] = leaf.SerializeToString(deterministic=True).hex()


def _record_terms(doc):
    entry = doc["state"]["datanet.Contributions/4"]
    record = dn.Contribution.FromString(bytes.fromhex(entry["value"]))
    record.terms.personal_data = False
    entry["value"] = record.SerializeToString(deterministic=True).hex()


TAMPERS = {
    "model record": (lambda d: d["state"]["modelregistry.Models/1"].update(
        value=_flip(d["state"]["modelregistry.Models/1"]["value"])), "state[modelregistry.Models/1]"),
    "base record": (lambda d: d["state"]["modelregistry.BaseModels/1"].update(
        value=_flip(d["state"]["modelregistry.BaseModels/1"]["value"], 5)), "state[modelregistry.BaseModels/1]"),
    "snapshot root": (lambda d: d["state"]["datanet.Snapshots/2/1"].update(
        value=_flip(d["state"]["datanet.Snapshots/2/1"]["value"], 6)), "state[datanet.Snapshots/2/1]"),
    "a leaf's terms": (_leaf_terms, "memberships[1:1][1]"),
    "a contribution record's terms": (_record_terms, "state[datanet.Contributions/4]"),
    "a Merkle proof node": (lambda d: d["memberships"]["2:1"][0].update(
        siblings=[_flip(d["memberships"]["2:1"][0]["siblings"][0])]), "memberships[2:1][0]"),
    "a state proof node": (_state_proof_node, "state[datanet.Contributions/2]"),
    "a contribution left out": (lambda d: d["state"].pop("datanet.Contributions/5"),
                                "state[datanet.Contributions/5]"),
    "an entry added": (lambda d: d["state"].setdefault("datanet.Contributions/9",
                                                       d["state"]["datanet.Contributions/1"]),
                       "state[datanet.Contributions/9]"),
    "a leaf left out": (lambda d: d["memberships"]["1:1"].pop(), "memberships[1:1]"),
    "the state root": (_header(lambda h: setattr(h, "state_root", H[9])), "finality.seal"),
    "the state root, resealed by the authority": (_header(lambda h: setattr(h, "state_root", H[9]), ALICE),
                                                  "state[system.CurrentBlock]"),
    "the block height": (_header(lambda h: setattr(h, "number", h.number + 1)), "finality.seal"),
    "the block height, resealed by the authority": (_header(lambda h: setattr(h, "number", h.number + 1), ALICE),
                                                    "finality"),
    "the seal": (lambda d: d["finality"].update(seal=_flip(d["finality"]["seal"])), "finality.seal"),
    "a seal by another key": (_header(lambda h: None, Keypair.from_uri("//Bob")), "finality.header.author"),
    "the finality kind": (lambda d: d["finality"].update(kind="proof-of-work"), "finality.kind"),
    "the model id": (lambda d: d.__setitem__("model", 2), "state[modelregistry.Models/2]"),
    "the format": (lambda d: d.__setitem__("format", "payable-audit/2"), "format"),
}


@pytest.mark.parametrize("what", list(TAMPERS))
def test_a_changed_field_fails_and_names_its_section(world, what):
    _, bundle, _ = world
    change, section = TAMPERS[what]
    failed = _failure(_edit(bundle, change))
    assert failed.section == section, str(failed)


def test_one_byte_changed_anywhere_fails(world):
    """Any byte, anywhere in the file, changed to any other: never verifies (sampled positions, all sections)."""
    _, bundle, _ = world
    rng = random.Random(30)
    sections = set()
    for at in rng.sample(range(len(bundle)), 300):
        changed = bytearray(bundle)
        changed[at] = rng.choice([b for b in b'0123456789abcdef{}[]":,. \nxA' if b != bundle[at]])
        sections.add(_failure(bytes(changed)).section.split("[")[0].split(".")[0])
    assert {"bundle", "state", "memberships", "finality"} <= sections


@pytest.mark.e2e
def test_export_and_verify_through_the_cli_against_a_real_dev_node(tmp_path, start_node):
    """`payable audit export` from a running dev node, `payable audit verify --dev` with no node (it is stopped
    first), and a tampered copy refused with the section named."""
    import subprocess
    import sys

    node = start_node("node", "--dev", "--instant-seal")
    with node.client() as client:
        alice, bob, dave = (Keypair.from_uri(u) for u in ("//Alice", "//Bob", "//Dave"))
        for call, who, fields in [
            ("create_datanet", alice, dict(name="cli", domain="text", license="CC-BY-4.0", contribution_deposit="1",
                                           accepted_formats=["jsonl"], accepted_licenses=["CC0-1.0"])),
            ("contribute", bob, dict(datanet=1, content_hash=H[1], size=10, format="jsonl")),
            ("contribute", dave, dict(datanet=1, content_hash=H[2], size=20, format="jsonl",
                                      terms={"license": "CC0-1.0"})),
            ("approve", alice, dict(contribution=1)), ("approve", alice, dict(contribution=2)),
            ("publish_snapshot", alice, dict(datanet=1))]:
            assert client.submit_call(who, "datanet", call, **fields).success
        assert client.submit_call(dave, "modelregistry", "register_base_model", artifact_hash=H[30],
                                  architecture="llama", format="HF_DIRECTORY", license="Apache-2.0").success
        assert client.submit_call(dave, "modelregistry", "register_model", base_model=1,
                                  snapshots=[{"datanet": 1, "version": 1}], training_config_hash=H[31],
                                  artifact_hash=H[32], attribution_index_hash=H[33], price_per_inference="1",
                                  split={"contributors": 7000, "model_owner": 2000, "protocol": 500,
                                         "worker": 500}).success

    def cli(*args):
        return subprocess.run([sys.executable, "-m", "cli", *args], capture_output=True, text=True, timeout=300)

    out = tmp_path / "model-1.audit.json"
    done = cli("audit", "export", "1", "--node", node.target, "--output", str(out), "--json")
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout)["bytes"] == out.stat().st_size
    assert node.stop() == 0
    done = cli("audit", "verify", str(out), "--dev", "--json")
    assert done.returncode == 0, done.stderr[-3000:]
    proved = json.loads(done.stdout)
    assert proved["model"]["owner"] == dave.address and proved["snapshots"][0]["licenses"] == \
        {"CC-BY-4.0": 1, "CC0-1.0": 1}
    assert proved["block"]["finalized_by"]["authority"] == alice.address
    shown = cli("audit", "verify", str(out), "--dev")
    assert shown.returncode == 0 and "snapshot 1:1" in shown.stdout and "CC0-1.0 ×1" in shown.stdout
    doc = json.loads(out.read_bytes())
    doc["memberships"]["1:1"][1]["siblings"][0] = _flip(doc["memberships"]["1:1"][1]["siblings"][0])
    (tmp_path / "tampered.json").write_bytes(canonical(doc))
    done = cli("audit", "verify", str(tmp_path / "tampered.json"), "--dev")
    assert done.returncode == 1 and "NOT VERIFIED: memberships[1:1][1]" in done.stderr


def test_the_cometbft_arithmetic_matches_cometbfts_own_test_vectors():
    """types/block_test.go TestHeaderHash and types/vote_test.go TestVoteSignBytesTestVectors (case 1) of
    CometBFT v0.38: the header hash and a precommit's sign-bytes, byte for byte."""
    import calendar
    import hashlib

    from sdk import cometbft as cmt

    def sha(text: str) -> bytes:
        return hashlib.sha256(text.encode()).digest()

    header = cmt.Header(1, 2, "chainId", 3, cmt.Time(calendar.timegm((2019, 10, 13, 16, 14, 44)), 0),
                        cmt.BlockId(bytes(32), 6, bytes(32)), sha("last_commit_hash"), sha("data_hash"),
                        sha("validators_hash"), sha("next_validators_hash"), sha("consensus_hash"), sha("app_hash"),
                        sha("last_results_hash"), sha("evidence_hash"), sha("proposer_address")[:20])
    assert header.hash().hex().upper() == "F740121F553B5418C3EFBD343C2DBFE9E007BB67B0D020A0741374BAB65242A4"
    assert cmt.precommit_sign_bytes("", 1, 1, None, cmt.ZERO_TIME) == bytes([
        0x21, 0x08, 0x02, 0x11, 1, 0, 0, 0, 0, 0, 0, 0, 0x19, 1, 0, 0, 0, 0, 0, 0, 0,
        0x2A, 0x0B, 0x08, 0x80, 0x92, 0xB8, 0xC3, 0x98, 0xFE, 0xFF, 0xFF, 0xFF, 0x01])
    assert cmt.rfc3339("2026-12-05T12:00:01.000000042Z") == cmt.Time(calendar.timegm((2026, 12, 5, 12, 0, 1)), 42)


def test_a_commit_counts_only_verified_votes_for_the_block_and_needs_more_than_two_thirds():
    from sdk import cometbft as cmt

    keys = [Keypair.from_uri(f"//validator-{i}") for i in range(4)]
    validators = [(k.public, 10) for k in keys]
    block = cmt.BlockId(bytes([7]) * 32, 1, bytes([8]) * 32)
    stamp = cmt.Time(1_800_000_000, 5)

    def vote(i: int, flag: int = cmt.FLAG_COMMIT) -> cmt.CommitSig:
        message = cmt.precommit_sign_bytes("chain", 9, 0, block if flag == cmt.FLAG_COMMIT else None, stamp)
        return cmt.CommitSig(flag, cmt.validator_address(keys[i].public), stamp, keys[i].sign(message))

    nothing = cmt.CommitSig(cmt.FLAG_ABSENT, b"", cmt.ZERO_TIME, b"")
    assert cmt.tally("chain", 9, 0, block, [vote(0), vote(1), vote(2, cmt.FLAG_NIL), nothing], validators) == \
        (20, 40, [0, 1])
    assert cmt.tally("chain", 9, 0, block, [vote(0), vote(1), vote(2), nothing], validators)[0] == 30
    for bad, says in [([vote(0), vote(1), vote(2, cmt.FLAG_NIL), vote(2)], "signature 3 names validator"),
                      ([vote(0), vote(1), cmt.CommitSig(cmt.FLAG_ABSENT, b"", stamp, b""), nothing],
                       "signature 2 is marked absent"),
                      ([vote(1), vote(1), nothing, nothing], "signature 0 names validator")]:
        with pytest.raises(ValueError, match=says):
            cmt.tally("chain", 9, 0, block, bad, validators)
    with pytest.raises(ValueError, match="signature 0 is not validator"):
        cmt.tally("other-chain", 9, 0, block, [vote(0), nothing, nothing, nothing], validators)


def test_the_formats_storage_keys_are_the_pallets_own():
    """The SDK derives keys from names (it imports no pallet); they must stay the keys the pallets declare."""
    from pallets.datanet.storage import Contributions, Snapshots
    from pallets.modelregistry.storage import BaseModels, Models
    from runtime import system
    from sdk.audit import storage_key

    assert storage_key("modelregistry", "Models", 7) == Models.storage_key(7)
    assert storage_key("modelregistry", "BaseModels", 2) == BaseModels.storage_key(2)
    assert storage_key("datanet", "Snapshots", 3, 4) == Snapshots.storage_key(3, 4)
    assert storage_key("datanet", "Contributions", 9) == Contributions.storage_key(9)
    assert storage_key("system", "CurrentBlock") == system.CurrentBlock.prefix
    assert storage_key("system", "ChainConfig") == system.ChainConfig.prefix


def test_the_cli_trusts_no_dev_authority_for_a_chain_of_validators(world, tmp_path):
    """`payable audit verify --trusted-validators` (or a chain spec that elects validators) checks a commit of
    validators only: the well-known dev key (//Alice) sealing a bundle must not pass for that chain's state."""
    import base64
    from types import SimpleNamespace

    from cli.audit import anchor_from

    _, bundle, _ = world
    listed = tmp_path / "validators.json"
    listed.write_text(json.dumps({"validators": [{"address": "AB", "voting_power": "10", "pub_key": {
        "type": "tendermint/PubKeyEd25519", "value": base64.b64encode(Keypair.from_uri("//V").public).decode()}}]}))
    anchor = anchor_from(SimpleNamespace(dev=False, chain=None, trusted_validators=str(listed), authority="//Alice"))
    assert anchor.authority is None and anchor.validators
    with pytest.raises(AuditError) as failed:
        verify(bundle, schema(), anchor)  # the world's bundle is sealed by //Alice
    assert failed.value.section == "finality" and "dev authority" in str(failed.value)
    dev = anchor_from(SimpleNamespace(dev=True, chain=None, trusted_validators=None, authority="//Alice"))
    assert verify(bundle, schema(), dev)["block"]["finalized_by"]["kind"] == "dev-seal"


def test_a_hostile_file_is_refused_with_a_reason_not_a_traceback():
    """Not JSON, not UTF-8, or brackets nested beyond any parser's depth: each an AuditError naming the bundle."""
    for hostile in (b"not json", b"\xff\xfe", b"[" * 100_000):
        with pytest.raises(AuditError) as failed:
            verify(hostile, schema(), Anchor(authority=ALICE.public))
        assert failed.value.section == "bundle"
