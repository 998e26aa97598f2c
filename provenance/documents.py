"""A model's model card and EU AI Act training-content summary, gathered from the chain's records.

The worker's publish flow, the CLI and the studio (which may not import each other) gather the same facts here
and render them with the one writer, `sdk.model_documents` (which, being the SDK, reads no pallet's types).
`client` is anything with the SDK client's `pallet_query`, `download` and `upload`.

The card is a function of records that never change once the model is registered - the model record (less
its id, owner and block, unknown before registration), its base, its snapshots (root, license mix, sizes) and
its training config - so the publish flow renders it from the record it is about to sign, uploads it and
puts its hash in that record (`card_hash`); `stored_card` renders it again from the registered record and
checks it against that hash. What changes later (a withdrawal) is shown beside the card, never inside it.
"""

from __future__ import annotations

import json
from pathlib import Path

from payable.datanet.v1 import datanet_pb2 as dn
from payable.datanet.v1 import licenses
from payable.modelregistry.v1 import modelregistry_pb2 as mr
from payable.modelregistry.v1.withdrawn import withdrawn_json, withdrawn_text
from runtime.crypto import encode_address
from sdk.client import ClientError
from sdk.model_documents import SUMMARY_FORMAT, TEMPLATE, CardFacts, DatasetRef, model_card, text_size_range

HYPERPARAMETERS = ("rank", "alpha", "target_modules", "top_layers", "learning_rate", "epochs", "max_steps", "cutoff",
                   "seed")


class CardMismatch(ValueError):
    """The card stored under a model's `card_hash` is not the card its records render."""


def data_allows(any_license: bool, allowed: list[str], data_licenses: list[str]) -> str:
    """What a model's training data allows its license to be, in words (`DataLicense`)."""
    allows = "any license" if any_license else " or ".join(allowed) or "no license"
    return f"{allows} (data under {', '.join(data_licenses) or 'no recorded license'})"


def license_mix(snapshot: dn.Snapshot) -> str:
    """A snapshot's members by license, e.g. "CC-BY-4.0 ×3, MIT ×1"."""
    return ", ".join(f"{share.license} ×{len(share.contribution_ids)}" for share in snapshot.licenses)


def base_provenance(base: mr.BaseModel, base_id: int) -> tuple[str, dict]:
    """How a card names the base (its source file, else its id on chain), and where the base came from."""
    source = base.source
    name = Path(source.file_name).stem if source.file_name else f"payable-base-model-{base_id}"
    return name, {"base model id on chain": base_id, "base source package":
                  f"{source.package}=={source.version}" if source.package else "",
                  "base source file sha256": source.file_sha256.hex()}


def hyperparameters(config: dict) -> dict:
    """The training config's settings a card lists."""
    return {k: config[k] for k in HYPERPARAMETERS if k in config}


def snapshots(client, refs) -> list[tuple[dn.Snapshot, str]]:
    """Each cited snapshot with its DataNet's name."""
    found = []
    for ref in refs:
        snap = client.pallet_query("datanet", "get_snapshot",
                                   dn.SnapshotRequest(datanet=ref.datanet, version=ref.version), dn.SnapshotWithProofs)
        found.append((snap.snapshot, datanet_name(client, ref.datanet)))
    return found


def datanet_name(client, datanet: int) -> str:
    found = client.pallet_query("datanet", "get_datanet", dn.DataNetRequest(datanet=datanet), dn.DataNetInfo)
    return found.datanet.name


def dataset_ref(snap: dn.Snapshot, name: str) -> DatasetRef:
    """A cited snapshot as a card lists it: its DataNet's name, its license mix, its root."""
    return DatasetRef(snap.datanet, snap.version, name, license_mix(snap), snap.root.hex())


def record_card_facts(client, record: mr.Model | mr.RegisterModel) -> CardFacts:
    """The card's facts from a model record (registered, or about to be signed) and what the chain holds of
    its base, snapshots and training config."""
    base = client.pallet_query("modelregistry", "get_base_model", mr.BaseModelRequest(base_model=record.base_model),
                               mr.BaseModel)
    cited = snapshots(client, record.snapshots)
    names = sorted({share.license for snap, _ in cited for share in snap.licenses})
    allowed = licenses.allowed(names)
    license_ = licenses.canonical(record.license) if record.license else (licenses.default_model_license(
        names, allowed is None, sorted(allowed or ()), base.license) or "")
    config = _training_config(client, record.training_config_hash)
    name, provenance = base_provenance(base, record.base_model)
    metrics = record.eval
    trained = bool(metrics.eval_examples or metrics.train_examples)
    return CardFacts(
        title=f"Payable adapter {record.artifact_hash.hex()[:16]}", license=license_, base_model=name,
        base_artifact=base.artifact_hash.hex(),
        datasets=[dataset_ref(snap, dname) for snap, dname in cited],
        eval_loss=metrics.eval_loss_ppm / 1e6 if trained else None,
        base_eval_loss=metrics.base_eval_loss_ppm / 1e6 if trained else None,
        eval_examples=metrics.eval_examples, train_examples=metrics.train_examples,
        adapter_hash=record.artifact_hash.hex(), training_config_hash=record.training_config_hash.hex(),
        hyperparameters=hyperparameters(config), provenance=provenance,
        data_allows=data_allows(allowed is None, sorted(allowed or ()), names))


def _training_config(client, digest: bytes) -> dict:
    """The training config the record names, when the content store holds it (a model registered by hand may
    name one it never uploaded: its card then lists no hyperparameters)."""
    try:
        raw = client.download(digest)
    except ClientError as exc:
        if "NOT_FOUND" in str(exc):
            return {}
        raise
    try:
        config = json.loads(raw) if raw else {}
    except ValueError:
        return {}
    return config if isinstance(config, dict) else {}


def publish_card(client, record: mr.RegisterModel, uploader) -> bytes:
    """Render the card of a record about to be signed, upload it (signed by `uploader`, a Keypair), set and
    return its hash (`card_hash`)."""
    record.card_hash = client.upload(model_card(record_card_facts(client, record)).encode(), uploader=uploader).hash
    return record.card_hash


def stored_card(client, model: mr.Model) -> tuple[str, bool]:
    """A registered model's card and whether its record holds the card's hash (False: none was published, and
    this is the card its records render). A stored card that is not what the records render is refused."""
    card = model_card(record_card_facts(client, model))
    if not model.card_hash:
        return card, False
    stored = client.download(model.card_hash).decode()
    if stored != card:
        raise CardMismatch(f"model {model.id}: the card stored under {model.card_hash.hex()} is not the card its "
                           "chain records render")
    return stored, True


def training_summary(client, model_id: int) -> dict:
    """The EU AI Act training-content summary (the Commission's July 2025 template, three sections) as JSON,
    from the chain: provider, model and versions, sizes; the snapshots as sources with their license mixes,
    personal-data flags and contributor counts, and the base's declared sources; opt-outs and withdrawals."""
    prov = client.pallet_query("modelregistry", "get_provenance", mr.ModelRequest(model=model_id), mr.Provenance)
    model, base = prov.model, prov.base_model
    names = {net: datanet_name(client, net) for net in {ref.datanet for ref in model.snapshots}}
    sources, leaves = [], {}
    for entry in prov.snapshots:
        snap = entry.snapshot
        members = [proof.leaf for proof in entry.contributions]
        leaves.update({leaf.contribution_id: leaf for leaf in members})
        sources.append({"datanet": snap.datanet, "version": snap.version, "name": names[snap.datanet],
                        "root": snap.root.hex(), "published_at": snap.published_at, "contributions": snap.count,
                        "contributors": len({leaf.contributor for leaf in members}), "bytes": snap.total_size,
                        "license_mix": [{"license": share.license, "count": len(share.contribution_ids)}
                                        for share in snap.licenses],
                        "personal_data": snap.personal_data})
    total = sum(leaf.size for leaf in leaves.values())
    opted_out = sum(leaf.terms.tdm_opt_out for leaf in leaves.values())
    personal = sum(leaf.terms.personal_data for leaf in leaves.values())
    withdrawn = withdrawn_json(prov.withdrawn)
    source = base.source
    return {
        "format": SUMMARY_FORMAT, "template": TEMPLATE,
        "at_block": client.chain_info().best_number,
        "1_general_information": {
            "provider": {"account": encode_address(model.owner)},
            "model": {"id": model.id, "name": f"Payable model {model.id}", "registered_at": model.registered_at,
                      "adapter_hash": model.artifact_hash.hex(), "format": mr.ArtifactFormat.Name(model.format),
                      "license": model.license, "card_hash": model.card_hash.hex(),
                      "training_config_hash": model.training_config_hash.hex()},
            "base_model": {"id": base.id, "architecture": base.architecture, "parameters": base.parameters,
                           "license": base.license, "artifact_hash": base.artifact_hash.hex(),
                           "registered_at": base.registered_at,
                           "source": {"file_name": source.file_name, "file_sha256": source.file_sha256.hex(),
                                      "package": source.package, "version": source.version}},
            "modalities": {"input": ["text"], "output": ["text"]},
            "training_data_size": {
                "range": text_size_range(total), "bytes": total, "contributions": len(leaves),
                "measured_as": "bytes of the training contributions as the snapshots record them; the chain "
                               "records no token counts, and a byte-level BPE token covers at least one byte, "
                               "so the bytes bound the tokens from above"}},
        "2_list_of_data_sources": {
            "datanets": sources,
            "base_model_declared_sources": {"sources": list(source.training_sources),
                                            "declared_in": source.sources_declared_in,
                                            "package": f"{source.package}=={source.version}" if source.package
                                            else ""}},
        "3_data_processing": {
            "tdm_opt_outs": f"Text-and-data-mining opt-outs: a contribution that reserves its TDM rights is refused "
                            f"at submission (TdmOptedOut), so none enters a snapshot; {opted_out} of the "
                            f"{len(leaves)} training contributions carry one.",
            "withdrawals": "Withdrawals and takedowns: new snapshots leave them out and every node stops serving "
                           "their bytes; this model was trained on withdrawn data: " + withdrawn_text(prov.withdrawn)
                           + ".",
            "personal_data": f"Personal data: {personal} of the {len(leaves)} training contributions declare "
                             "personal data (each DataNet states whether it accepts any).",
            "licenses": f"Licenses: the model is under {model.license or 'no recorded license'}; its data allows "
                        + data_allows(model.data_license.any, list(model.data_license.allowed),
                                      list(model.data_license.licenses)) + ".",
            "withdrawn_data": withdrawn, "opted_out_contributions": opted_out,
            "personal_data_contributions": personal}}
