"""Audit bundles: everything the chain says about one model, in one file that anyone can check offline.

Why: a compliance officer, a regulator or a buyer should not have to run a node, nor trust one, to check
which data trained a model and under which terms. A bundle carries the records, the Merkle proofs that
tie each training contribution (with its terms) to its snapshot's root, the state proofs that tie every
record to one block's state root, and that block's finality; `verify` checks all of it with no network
against a trust anchor the verifier chooses (the chain spec, a trusted validator set, the dev authority).

Format `payable-audit/1` (what a third party needs to write their own verifier)
--------------------------------------------------------------------------------
One UTF-8 JSON object, serialized canonically: keys sorted, separators "," and ":" with no whitespace
anywhere, and one final newline. Every byte string is lowercase hex. A verifier must reject a file that
is not exactly `json.dumps(parsed, sort_keys=True, separators=(",", ":")) + "\\n"` of itself, so that no
byte can change without the check noticing.

    {"format": "payable-audit/1",
     "model": <model id>,
     "finality": <one of the two kinds below: they give block B's state root and number>,
     "state": {<entry name>: {"value": <hex>, "proof": <hex of a serialized payable.runtime.v1.StateProof>}},
     "memberships": {"<datanet>:<version>": [{"leaf": <hex>, "siblings": [<hex>, ...]}, ...]}}

Finality `dev-seal` (a dev chain: one authority, so a sealed block is final):
    {"kind": "dev-seal", "header": <hex of block B's serialized payable.runtime.v1.Header>,
     "seal": <hex of the ed25519 signature of those header bytes>}
The header's `author` must be the trusted authority's public key, and the seal its signature of the exact
header bytes (`runtime.executive.Executive.seal`); B is the header's number, the root its `state_root`.

Finality `cometbft-commit` (a CometBFT chain: the app hash of height h+1 is the state root after block h):
    {"kind": "cometbft-commit",
     "header": {CometBFT header h+1: version_block, version_app, chain_id, height, time {seconds, nanos},
                last_block_id {hash, parts_total, parts_hash}, last_commit_hash, data_hash, validators_hash,
                next_validators_hash, consensus_hash, app_hash, last_results_hash, evidence_hash,
                proposer_address},
     "round": <the commit's round>, "block_id": {hash, parts_total, parts_hash},
     "signatures": [{flag (1 absent, 2 for the block, 3 nil), validator_address, timestamp {seconds, nanos},
                     signature}, ...],
     "validators": [{"pub_key": <hex ed25519 key>, "power": <voting power>}, ...]}
`sdk.cometbft` has the arithmetic: the header's hash must be `block_id.hash`; the validators' hash its
`validators_hash`; signature i is validator i's precommit (a vote for nil is checked too; an absent one
must be empty); the validators that signed the block must hold more than two thirds of the power; and the
set must be the trusted one (the chain spec's genesis set, or `--trusted-validators`), as a set of (key,
power). B = height - 1, the root is `app_hash`, and the header's chain id must be the chain spec's. The
set is never taken from the bundle's own state: that state is what the set signs, so it would vouch for
itself.

State: each entry is one storage value proven against B's state root with
`runtime.storage.proof.verify_proof(state_root, key, value, proof)` (a 16-ary trie over blake2b-256 of
the key; see that module). The verifier derives every key itself from the entry's name, never from the
bundle: key = blake2b-128(pallet) ‖ blake2b-128(item) ‖ each id as 8 bytes big-endian. The entries are
exactly these, no more, no fewer:

    system.CurrentBlock               payable.system.v1.BlockInfo; its number must be B
    system.ChainConfig                the runtime's canonical configuration JSON (compared with a chain spec)
    modelregistry.Models/<model>      payable.modelregistry.v1.Model
    modelregistry.BaseModels/<base>   payable.modelregistry.v1.BaseModel, base = model.base_model
    datanet.Snapshots/<dn>/<version>  payable.datanet.v1.Snapshot, one per model.snapshots entry
    datanet.Contributions/<id>        payable.datanet.v1.Contribution, every id of those snapshots

Memberships: one list per snapshot the model names, leaf i being the snapshot's i-th member
(`contribution_ids[i]`): `leaf` is the deterministic encoding of its payable.datanet.v1.SnapshotLeaf
(`sdk.wire.leaf_bytes`), `siblings` its proof for `runtime.merkle.verify_merkle_proof(root, leaf, i,
count, siblings)` under the snapshot's `root`, count = the snapshot's `count`. A leaf must match its
contribution's record (id, contributor, content hash, size, terms), and the snapshot's license mix and
personal-data count must be what its leaves say.

The records are read with the verifier's own protobuf types (`Schema`), never with types the bundle
brings, so the bundle cannot redefine what a field means.
"""

from __future__ import annotations

import dataclasses
import json
import time
import typing
from dataclasses import dataclass
from typing import Any, Protocol

from google.protobuf.message import DecodeError

from payable.runtime.v1.extrinsic_pb2 import Header, StateProof
from payable.system.v1 import system_pb2
from runtime.crypto import blake2_128, blake2_256, encode_address
from runtime.crypto import verify as verify_signature
from runtime.merkle import verify_merkle_proof
from runtime.storage.items import pallet_prefix
from runtime.storage.proof import verify_proof

from . import cometbft
from .wire import leaf_bytes

FORMAT = "payable-audit/1"
TOP_KEYS = {"format", "model", "finality", "state", "memberships"}


class AuditError(Exception):
    """A bundle that does not prove what it claims; `section` says where (e.g. `state[datanet.Snapshots/1/1]`)."""

    def __init__(self, section: str, message: str):
        super().__init__(f"{section}: {message}")
        self.section = section


@dataclass(frozen=True)
class Schema:
    """The protobuf message types the records are read with: the verifier's own (the CLI passes the installed
    pallets' types; the SDK itself names no pallet's types)."""

    model: Any          # payable.modelregistry.v1.Model
    base_model: Any     # payable.modelregistry.v1.BaseModel
    snapshot: Any       # payable.datanet.v1.Snapshot
    contribution: Any   # payable.datanet.v1.Contribution
    snapshot_leaf: Any  # payable.datanet.v1.SnapshotLeaf
    snapshot_request: Any  # payable.datanet.v1.SnapshotRequest (the exporter's query)
    snapshot_with_proofs: Any  # payable.datanet.v1.SnapshotWithProofs


@dataclass(frozen=True)
class Anchor:
    """What the verifier trusts: the dev authority's public key (dev-seal bundles); the validator set, as
    (ed25519 key, power), and the chain id (cometbft-commit bundles); and optionally the chain configuration
    its chain spec gives (`system.ChainConfig`'s bytes), which the proven state must hold."""

    authority: bytes | None = None
    validators: list[tuple[bytes, int]] | None = None
    chain_id: str | None = None
    chain_config: bytes | None = None


# --- entry names and their storage keys --------------------------------------------------------------
def entry_name(pallet: str, item: str, *ids: int) -> str:
    return f"{pallet}.{item}" + "".join(f"/{i}" for i in ids)


def storage_key(pallet: str, item: str, *ids: int) -> bytes:
    """The state key of a pallet's storage item under u64 ids (identity hasher, 8 bytes big-endian)."""
    return pallet_prefix(pallet) + blake2_128(item.encode()) + b"".join(i.to_bytes(8, "big") for i in ids)


def _key_of(name: str) -> bytes:
    path, *ids = name.split("/")
    pallet, _, item = path.partition(".")
    return storage_key(pallet, item, *(int(i) for i in ids))


CURRENT_BLOCK = entry_name("system", "CurrentBlock")
CHAIN_CONFIG = entry_name("system", "ChainConfig")


def _model(model: int) -> str:
    return entry_name("modelregistry", "Models", model)


def _base(base: int) -> str:
    return entry_name("modelregistry", "BaseModels", base)


def _snapshot(datanet: int, version: int) -> str:
    return entry_name("datanet", "Snapshots", datanet, version)


def _contribution(cid: int) -> str:
    return entry_name("datanet", "Contributions", cid)


def entries_for(model_id: int, values: dict[str, bytes], schema: Schema) -> list[str]:
    """The entry names a bundle for `model_id` must hold, as far as `values` (proven or fetched) reveal them:
    the model names its base and snapshots, each snapshot its contributions."""
    names = [CURRENT_BLOCK, CHAIN_CONFIG, _model(model_id)]
    raw = values.get(_model(model_id))
    if raw is None:
        return names
    model = _decode(schema.model, raw, f"state[{_model(model_id)}]")
    names.append(_base(model.base_model))
    for ref in model.snapshots:
        names.append(_snapshot(ref.datanet, ref.version))
        snap_raw = values.get(_snapshot(ref.datanet, ref.version))
        if snap_raw is not None:
            snap = _decode(schema.snapshot, snap_raw, f"state[{_snapshot(ref.datanet, ref.version)}]")
            names += [_contribution(cid) for cid in snap.contribution_ids]
    return list(dict.fromkeys(names))  # a contribution in two snapshots is proven once


def _decode(message_type, raw: bytes, section: str):
    try:
        found = message_type.FromString(raw)
    except DecodeError as exc:
        raise AuditError(section, f"not a {message_type.DESCRIPTOR.full_name}: {exc}") from None
    if found.SerializeToString(deterministic=True) != raw:
        raise AuditError(section, f"not the canonical encoding of a {message_type.DESCRIPTOR.full_name}")
    return found


# --- export ---------------------------------------------------------------------------------------
class ChainSource(Protocol):
    """What exporting needs of a chain: proven values at one block, that block, and a DataNet query."""

    def prove(self, keys: list[bytes]) -> tuple[int, list[tuple[bytes | None, bytes]]]:
        """(block number, [(value or None, serialized StateProof)]) - every key at that one block."""

    def block(self, number: int) -> tuple[bytes, bytes]:
        """(header bytes, seal) of block `number`."""

    def query(self, pallet: str, name: str, request: bytes) -> bytes: ...


class ClientSource:
    """A node over gRPC (`sdk.client.Client`). The node proves one key per request, at its head, so a batch is
    asked for concurrently and retried until every answer comes from one block (a CometBFT testnet commits a
    block every few hundred milliseconds; a model of a few thousand contributions may need a slower chain)."""

    def __init__(self, client, attempts: int = 20, threads: int = 8):
        self.client, self.attempts, self.threads = client, attempts, threads

    def prove(self, keys: list[bytes]) -> tuple[int, list[tuple[bytes | None, bytes]]]:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(self.threads) as pool:
            for _ in range(self.attempts):
                answers = list(pool.map(self.client.raw_storage, keys))
                numbers = {a.block_number for a in answers}
                if len(numbers) == 1:
                    return numbers.pop(), [(a.value if a.exists else None,
                                            a.proof.SerializeToString(deterministic=True)) for a in answers]
        raise RuntimeError(f"the node's head moved during each of {self.attempts} attempts to read "
                           f"{len(keys)} keys at one block")

    def block(self, number: int) -> tuple[bytes, bytes]:
        found = self.client.block(number)
        return found.block.header, found.block.seal

    def query(self, pallet: str, name: str, request: bytes) -> bytes:
        return self.client.query(pallet, name, request)


def export(source: ChainSource, model_id: int, schema: Schema, *, comet_rpc: str | None = None,
           attempts: int = 8) -> bytes:
    """The bundle for `model_id` at the chain's current head, with the dev author's seal, or with `comet_rpc`
    (http://HOST:PORT of a CometBFT node of the chain) the validators' commit of the next height. It is
    checked before it is returned, with the block's own author or signers as the anchor, so an exporter never
    writes a bundle that cannot verify."""
    values: dict[str, bytes] = {}
    proofs: dict[str, bytes] = {}
    names: list[str] = []
    number = 0
    for _ in range(attempts):
        wanted = entries_for(model_id, values, schema)
        if wanted == names:
            break  # the proven values name no entry that was not proven with them
        names = wanted
        number, answers = source.prove([_key_of(n) for n in names])
        values = {n: v for n, (v, _) in zip(names, answers, strict=True) if v is not None}
        proofs = {n: p for n, (_, p) in zip(names, answers, strict=True)}
    else:
        raise RuntimeError("the model's records kept changing while they were read")
    if _model(model_id) not in values:
        raise ValueError(f"no model {model_id} on this chain")
    missing = [n for n in names if n not in values]
    if missing:
        raise RuntimeError(f"the chain holds no value for {', '.join(missing)}")
    header, seal = source.block(number)
    parsed = Header.FromString(header)
    if comet_rpc is None:
        finality: dict = {"kind": "dev-seal", "header": header.hex(), "seal": seal.hex()}
        anchor = Anchor(authority=parsed.author)
    else:
        finality, validators = _comet_finality(comet_rpc, number + 1, parsed.state_root)
        anchor = Anchor(validators=validators)
    memberships = {}
    model = schema.model.FromString(values[_model(model_id)])
    for ref in model.snapshots:
        request = schema.snapshot_request(datanet=ref.datanet, version=ref.version)
        found = schema.snapshot_with_proofs.FromString(
            source.query("datanet", "get_snapshot", request.SerializeToString(deterministic=True)))
        memberships[f"{ref.datanet}:{ref.version}"] = [
            {"leaf": leaf_bytes(p.leaf).hex(), "siblings": [s.hex() for s in p.siblings]} for p in found.proofs]
    doc = {"format": FORMAT, "model": model_id, "finality": finality,
           "state": {n: {"value": values[n].hex(), "proof": proofs[n].hex()} for n in names},
           "memberships": memberships}
    bundle = canonical(doc)
    verify(bundle, schema, anchor)
    return bundle


def _comet_finality(url: str, height: int, state_root: bytes, timeout: float = 60.0) -> tuple[dict, list]:
    """The commit of CometBFT height `height` (whose app hash is the state root after block height - 1),
    waiting for the height to be committed, and the validator set that signed it."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            signed = cometbft.rpc(url, "commit", height=str(height))["signed_header"]
            break
        except RuntimeError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    header = cometbft.header_from_rpc(signed["header"])
    if header.app_hash != state_root:
        raise RuntimeError(f"CometBFT's app hash at height {height} is not block #{height - 1}'s state root: "
                           "is the RPC a node of this chain?")
    round_, block_id, signatures = cometbft.commit_from_rpc(signed["commit"])
    validators = cometbft.validators_from_rpc(
        cometbft.rpc(url, "validators", height=str(height), per_page="100")["validators"])
    return {"kind": "cometbft-commit", "header": _to_doc(header), "round": round_, "block_id": _to_doc(block_id),
            "signatures": [_to_doc(sig) for sig in signatures],
            "validators": [{"pub_key": key.hex(), "power": power} for key, power in validators]}, validators


def _to_doc(value):
    """A CometBFT dataclass as bundle JSON: bytes as lowercase hex, nested dataclasses as objects."""
    if dataclasses.is_dataclass(value):
        return {f.name: _to_doc(getattr(value, f.name)) for f in dataclasses.fields(value)}
    return value.hex() if isinstance(value, bytes) else value


def _from_doc(kind, doc: Any, section: str):
    """The inverse of `_to_doc`, strict: exactly the fields, of exactly their types."""
    types = typing.get_type_hints(kind)
    doc = _object(doc, set(types), section)
    fields: dict[str, Any] = {}
    for name, hint in types.items():
        where = f"{section}.{name}"
        if hint is bytes:
            fields[name] = _hex(doc[name], where)
        elif hint is int:
            fields[name] = _int(doc[name], where)
        elif hint is str:
            if not isinstance(doc[name], str):
                raise AuditError(where, "expected a string")
            fields[name] = doc[name]
        else:
            fields[name] = _from_doc(hint, doc[name], where)
    return kind(**fields)


def canonical(doc: dict) -> bytes:
    return (json.dumps(doc, sort_keys=True, separators=(",", ":")) + "\n").encode()


# --- verify ---------------------------------------------------------------------------------------
def _hex(value: Any, section: str) -> bytes:
    if not isinstance(value, str):
        raise AuditError(section, "expected a hex string")
    try:
        raw = bytes.fromhex(value)
    except ValueError:
        raise AuditError(section, "not hex") from None
    if raw.hex() != value:
        raise AuditError(section, "hex must be lowercase with no spaces")
    return raw


def _int(value: Any, section: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise AuditError(section, "expected an integer")
    return value


def _object(value: Any, keys: set[str], section: str) -> dict:
    if not isinstance(value, dict):
        raise AuditError(section, "expected an object")
    if set(value) != keys:
        raise AuditError(section, f"expected exactly the fields {sorted(keys)}, found {sorted(value)}")
    return value


def _parse(bundle: bytes) -> dict:
    try:
        doc = json.loads(bundle.decode())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise AuditError("bundle", f"not a JSON document ({exc})") from None
    except RecursionError:  # a hostile file of nested brackets: no bundle nests more than a few levels
        raise AuditError("bundle", "not a bundle: JSON nested too deeply") from None
    doc = _object(doc, TOP_KEYS, "bundle")
    if doc["format"] != FORMAT:
        raise AuditError("format", f"expected {FORMAT!r}, found {doc['format']!r}")
    if canonical(doc) != bundle:
        raise AuditError("bundle", "not in canonical form (sorted keys, no whitespace, lowercase hex, one final "
                                   "newline): a byte was changed or added")
    if _int(doc["model"], "model") < 1:
        raise AuditError("model", "expected a model id")
    return doc


def _finality(doc: dict, anchor: Anchor) -> tuple[bytes, int, dict]:
    """(state root, block number, who finalized it) from the finality section, checked against the anchor."""
    finality = doc["finality"]
    kind = finality.get("kind") if isinstance(finality, dict) else None
    if kind == "dev-seal":
        return _dev_seal(_object(finality, {"kind", "header", "seal"}, "finality"), anchor)
    if kind == "cometbft-commit":
        return _comet_commit(_object(finality, {"kind", "header", "round", "block_id", "signatures", "validators"},
                                     "finality"), anchor)
    raise AuditError("finality.kind", f"expected 'dev-seal' or 'cometbft-commit', found {kind!r}")


def _dev_seal(finality: dict, anchor: Anchor) -> tuple[bytes, int, dict]:
    header_bytes = _hex(finality["header"], "finality.header")
    header = _decode(Header, header_bytes, "finality.header")
    seal = _hex(finality["seal"], "finality.seal")
    if anchor.authority is None:
        raise AuditError("finality", "a dev chain's bundle: name the dev authority to trust")
    if header.author != anchor.authority:
        raise AuditError("finality.header.author",
                         f"block #{header.number} was authored by {encode_address(header.author)}, not the trusted "
                         f"authority {encode_address(anchor.authority)}")
    if not verify_signature(header.author, header_bytes, seal):
        raise AuditError("finality.seal", f"not the authority's signature of block #{header.number}'s header: "
                                          "the header (its state root, height, ...) or the seal was changed")
    return header.state_root, header.number, {
        "kind": "dev-seal", "authority": encode_address(header.author), "block_hash": blake2_256(header_bytes).hex(),
        "timestamp_ms": header.timestamp_ms}


def _comet_commit(finality: dict, anchor: Anchor) -> tuple[bytes, int, dict]:
    header = _from_doc(cometbft.Header, finality["header"], "finality.header")
    round_ = _int(finality["round"], "finality.round")
    block_id = _from_doc(cometbft.BlockId, finality["block_id"], "finality.block_id")
    if not isinstance(finality["signatures"], list) or not isinstance(finality["validators"], list):
        raise AuditError("finality", "signatures and validators are lists")
    signatures = [_from_doc(cometbft.CommitSig, s, f"finality.signatures[{i}]")
                  for i, s in enumerate(finality["signatures"])]
    validators = [(_hex(_object(v, {"pub_key", "power"}, f"finality.validators[{i}]")["pub_key"],
                        f"finality.validators[{i}].pub_key"), _int(v["power"], f"finality.validators[{i}].power"))
                  for i, v in enumerate(finality["validators"])]
    if anchor.validators is None:
        raise AuditError("finality", "a CometBFT chain's bundle: give the chain spec or the trusted validators")
    if sorted(validators) != sorted(anchor.validators):
        raise AuditError("finality.validators", "not the trusted validator set (keys and powers)")
    if cometbft.validators_hash(validators) != header.validators_hash:
        raise AuditError("finality.validators", "their hash is not the header's validators hash")
    if anchor.chain_id is not None and header.chain_id != anchor.chain_id:
        raise AuditError("finality.header.chain_id", f"{header.chain_id!r}, not the chain spec's {anchor.chain_id!r}")
    if block_id.hash != header.hash():
        raise AuditError("finality.header", f"height {header.height}'s header does not hash to the committed block "
                                            "id: a field of the header or the block id was changed")
    try:
        signed, total, signers = cometbft.quorum(header.chain_id, header.height, round_, block_id, signatures,
                                                 validators)
    except ValueError as exc:
        raise AuditError("finality.signatures", str(exc)) from None
    return header.app_hash, header.height - 1, {
        "kind": "cometbft-commit", "chain_id": header.chain_id, "height": header.height,
        "signed_power": signed, "total_power": total,
        "signers": [cometbft.validator_address(validators[i][0]).hex() for i in signers],
        "block_hash": header.hash().hex(), "time": f"{header.time.seconds}.{header.time.nanos:09d}"}


def _state(doc: dict, model_id: int, state_root: bytes, schema: Schema) -> dict[str, bytes]:
    """Every entry's value, each proven against the state root; the set of entries is exactly the one the
    proven records name."""
    state = doc["state"]
    if not isinstance(state, dict):
        raise AuditError("state", "expected an object")
    values: dict[str, bytes] = {}
    expected: list[str] = []
    while True:
        wanted = entries_for(model_id, values, schema)
        if wanted == expected:
            break
        expected = wanted
        for name in expected:
            if name in values:
                continue
            section = f"state[{name}]"
            if name not in state:
                raise AuditError(section, "missing: the records name it but the bundle does not prove it")
            entry = _object(state[name], {"value", "proof"}, section)
            value = _hex(entry["value"], f"{section}.value")
            proof = _hex(entry["proof"], f"{section}.proof")
            if not verify_proof(state_root, _key_of(name), value, proof) or \
                    StateProof.FromString(proof).SerializeToString(deterministic=True) != proof:
                raise AuditError(section, "the value's state proof does not verify against the block's state "
                                          "root (the value, the proof or the root was changed)")
            values[name] = value
    extra = sorted(set(state) - set(expected))
    if extra:
        raise AuditError(f"state[{extra[0]}]", "an entry the model's records do not name")
    return values


def _memberships(doc: dict, model, values: dict[str, bytes], schema: Schema) -> list[dict]:
    memberships = doc["memberships"]
    refs = [f"{r.datanet}:{r.version}" for r in model.snapshots]
    if not isinstance(memberships, dict) or set(memberships) != set(refs):
        raise AuditError("memberships", f"expected exactly the model's snapshots {sorted(refs)}")
    status_name = schema.contribution.DESCRIPTOR.fields_by_name["status"].enum_type.values_by_number
    out = []
    for ref, label in zip(model.snapshots, refs, strict=True):
        snap = schema.snapshot.FromString(values[_snapshot(ref.datanet, ref.version)])
        leaves = memberships[label]
        if not isinstance(leaves, list) or len(leaves) != snap.count or snap.count != len(snap.contribution_ids):
            raise AuditError(f"memberships[{label}]", f"expected {snap.count} leaves, one per member")
        rows: list[dict] = []
        mix: dict[str, list[int]] = {}
        personal = 0
        for index, (item, cid) in enumerate(zip(leaves, snap.contribution_ids, strict=True)):
            section = f"memberships[{label}][{index}]"
            item = _object(item, {"leaf", "siblings"}, section)
            raw = _hex(item["leaf"], f"{section}.leaf")
            if not isinstance(item["siblings"], list):
                raise AuditError(f"{section}.siblings", "expected a list")
            siblings = [_hex(s, f"{section}.siblings[{i}]") for i, s in enumerate(item["siblings"])]
            if not verify_merkle_proof(snap.root, raw, index, snap.count, siblings):
                raise AuditError(section, f"the Merkle proof does not verify against snapshot {label}'s root "
                                          "(the leaf, its terms or a sibling was changed)")
            leaf = _decode(schema.snapshot_leaf, raw, f"{section}.leaf")
            record = schema.contribution.FromString(values[_contribution(cid)])
            if leaf.contribution_id != cid or \
                    (record.id, record.contributor, record.content_hash, record.size, record.terms) != \
                    (leaf.contribution_id, leaf.contributor, leaf.content_hash, leaf.size, leaf.terms):
                raise AuditError(section, f"the leaf is not contribution {cid}'s record")
            mix.setdefault(leaf.terms.license, []).append(cid)
            personal += leaf.terms.personal_data
            rows.append({"id": cid, "contributor": encode_address(leaf.contributor),
                         "content_hash": leaf.content_hash.hex(), "size": leaf.size, "license": leaf.terms.license,
                         "terms_hash": leaf.terms.terms_hash.hex(), "personal_data": leaf.terms.personal_data,
                         "tdm_opt_out": leaf.terms.tdm_opt_out, "status": status_name[record.status].name})
        recorded = {share.license: list(share.contribution_ids) for share in snap.licenses}
        if recorded != mix or snap.personal_data != personal:
            raise AuditError(f"state[{_snapshot(ref.datanet, ref.version)}]",
                             "the snapshot's license mix or personal-data count is not what its leaves say")
        out.append({"datanet": ref.datanet, "version": ref.version, "root": snap.root.hex(), "count": snap.count,
                    "total_size": snap.total_size, "licenses": {k: len(v) for k, v in sorted(mix.items())},
                    "personal_data": personal, "tdm_opt_out": sum(r["tdm_opt_out"] for r in rows),
                    "statuses": {k: sum(r["status"] == k for r in rows) for k in sorted({r["status"] for r in rows})},
                    "contributors": len({r["contributor"] for r in rows}), "contributions": rows})
    return out


def verify(bundle: bytes, schema: Schema, anchor: Anchor) -> dict:
    """Check a bundle offline; what it proved (JSON-ready), or AuditError naming the section that fails."""
    doc = _parse(bundle)
    state_root, number, finalized_by = _finality(doc, anchor)
    model_id = doc["model"]
    values = _state(doc, model_id, state_root, schema)
    block_info = _decode(system_pb2.BlockInfo, values[CURRENT_BLOCK], f"state[{CURRENT_BLOCK}]")
    if block_info.number != number:
        raise AuditError("finality", f"the finality is for block #{number}, the state is block #{block_info.number}'s")
    if anchor.chain_config is not None and values[CHAIN_CONFIG] != anchor.chain_config:
        raise AuditError(f"state[{CHAIN_CONFIG}]", "the chain's configuration is not the chain spec's")
    model = _decode(schema.model, values[_model(model_id)], f"state[{_model(model_id)}]")
    if model.id != model_id:
        raise AuditError("model", f"the bundle names model {model_id}, the record is model {model.id}")
    base = _decode(schema.base_model, values[_base(model.base_model)], f"state[{_base(model.base_model)}]")
    snapshots = _memberships(doc, model, values, schema)
    return {
        "model": {"id": model.id, "owner": encode_address(model.owner), "license": model.license,
                  "artifact_hash": model.artifact_hash.hex(), "training_config_hash": model.training_config_hash.hex(),
                  "registered_at": model.registered_at,
                  "data_licenses": list(model.data_license.licenses)},
        "base": {"id": base.id, "owner": encode_address(base.owner), "architecture": base.architecture,
                 "license": base.license, "artifact_hash": base.artifact_hash.hex()},
        "snapshots": snapshots,
        "block": {"number": number, "state_root": state_root.hex(), "finalized_by": finalized_by},
        "chain_config": "matches the chain spec" if anchor.chain_config is not None else "not checked",
        "proven_entries": len(values),
    }
