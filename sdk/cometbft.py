"""CometBFT v0.38's light-client arithmetic, written from its specification so that a verifier needs neither
the CometBFT binary nor its protobuf modules: a header's hash, a validator set's hash, a precommit's
sign-bytes, and the tally that makes a commit final (more than two thirds of the set's voting power).

Why here: an audit bundle of a CometBFT chain proves its state root by the app hash in a header that the
validators committed; checking that offline is exactly this arithmetic (types/block.go `Header.Hash`,
types/validator_set.go `Hash`, types/vote.go `VoteSignBytes`, types/canonical.go, crypto/merkle).

Encodings (protobuf, proto3 rules: a zero scalar is omitted; gogoproto non-nullable messages always are
written, even empty):
- a header's hash is the RFC 6962 Merkle root (SHA-256, leaf 0x00 ‖ data, inner 0x01 ‖ left ‖ right,
  split at the largest power of two below n) of 14 leaves: version (Consensus{block=1, app=2}), chain id
  (StringValue), height (Int64Value), time (Timestamp{seconds=1, nanos=2}), last block id (BlockID{hash=1,
  part_set_header=2 {total=1, hash=2}}), then last commit, data, validators, next validators, consensus,
  app, last results and evidence hashes and the proposer address (each a BytesValue; empty: no bytes);
- a validator set's hash is the same Merkle root over SimpleValidator{pub_key=1 {ed25519=1},
  voting_power=2} in the set's order;
- a precommit signs the varint-length-prefixed CanonicalVote{type=1 (2: precommit), height=2 and round=3
  (sfixed64), block_id=4 (CanonicalBlockID{hash=1, part_set_header=2}; absent for a nil vote),
  timestamp=5 (always written), chain_id=6}.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from runtime.crypto import verify as verify_signature

from .wire import uvarint

PRECOMMIT = 2
# CommitSig.block_id_flag: no vote received; a vote for the committed block; a vote for nil
FLAG_ABSENT, FLAG_COMMIT, FLAG_NIL = 1, 2, 3


def _varint(n: int) -> bytes:
    """An int64 as protobuf writes it: a negative one in two's complement, 10 bytes."""
    return uvarint(n + (1 << 64) if n < 0 else n)


def _tag(field: int, wire: int) -> bytes:
    return _varint(field << 3 | wire)


def _uint(field: int, n: int) -> bytes:
    return _tag(field, 0) + _varint(n) if n else b""


def _sfixed64(field: int, n: int) -> bytes:
    return _tag(field, 1) + n.to_bytes(8, "little", signed=True) if n else b""


def _bytes(field: int, data: bytes, *, always: bool = False) -> bytes:
    return _tag(field, 2) + _varint(len(data)) + data if data or always else b""


@dataclass(frozen=True)
class BlockId:
    hash: bytes
    parts_total: int
    parts_hash: bytes

    def encode(self) -> bytes:
        """BlockID and CanonicalBlockID share this layout (their part set header is never omitted)."""
        return _bytes(1, self.hash) + _bytes(2, _uint(1, self.parts_total) + _bytes(2, self.parts_hash), always=True)


@dataclass(frozen=True)
class Time:
    seconds: int
    nanos: int

    def encode(self) -> bytes:
        return _uint(1, self.seconds) + _uint(2, self.nanos)


ZERO_TIME = Time(-62135596800, 0)  # Go's zero time (0001-01-01T00:00:00Z): an absent vote's timestamp


@dataclass(frozen=True)
class Header:
    version_block: int
    version_app: int
    chain_id: str
    height: int
    time: Time
    last_block_id: BlockId
    last_commit_hash: bytes
    data_hash: bytes
    validators_hash: bytes
    next_validators_hash: bytes
    consensus_hash: bytes
    app_hash: bytes
    last_results_hash: bytes
    evidence_hash: bytes
    proposer_address: bytes

    def hash(self) -> bytes:
        hashes = (self.last_commit_hash, self.data_hash, self.validators_hash, self.next_validators_hash,
                  self.consensus_hash, self.app_hash, self.last_results_hash, self.evidence_hash,
                  self.proposer_address)
        return merkle_root([_uint(1, self.version_block) + _uint(2, self.version_app),
                            _bytes(1, self.chain_id.encode()), _uint(1, self.height), self.time.encode(),
                            self.last_block_id.encode(), *(_bytes(1, h) for h in hashes)])


def merkle_root(items: list[bytes]) -> bytes:
    """RFC 6962's Merkle tree hash, as crypto/merkle computes it."""
    if not items:
        return hashlib.sha256(b"").digest()
    if len(items) == 1:
        return hashlib.sha256(b"\x00" + items[0]).digest()
    split = 1 << (len(items) - 1).bit_length() - 1
    return hashlib.sha256(b"\x01" + merkle_root(items[:split]) + merkle_root(items[split:])).digest()


def validator_address(public_key: bytes) -> bytes:
    """An ed25519 validator's address: the first 20 bytes of SHA-256 of its public key."""
    return hashlib.sha256(public_key).digest()[:20]


def in_set_order(validators: list[tuple[bytes, int]]) -> list[tuple[bytes, int]]:
    """(ed25519 key, power) pairs in a CometBFT validator set's own order - voting power descending, then
    address ascending (types/validator_set.go `ValidatorsByVotingPower`) - the order its hash and a commit's
    signatures follow, for a set known only as a set (e.g. the one a chain's state elects)."""
    return sorted(validators, key=lambda v: (-v[1], validator_address(v[0])))


def validators_hash(validators: list[tuple[bytes, int]]) -> bytes:
    """The hash of a set of (ed25519 public key, voting power), in the set's order."""
    return merkle_root([_bytes(1, _bytes(1, key)) + _uint(2, power) for key, power in validators])


def precommit_sign_bytes(chain_id: str, height: int, round_: int, block_id: BlockId | None, timestamp: Time) -> bytes:
    body = (_uint(1, PRECOMMIT) + _sfixed64(2, height) + _sfixed64(3, round_)
            + (_bytes(4, block_id.encode(), always=True) if block_id is not None else b"")
            + _bytes(5, timestamp.encode(), always=True) + _bytes(6, chain_id.encode()))
    return _varint(len(body)) + body


@dataclass(frozen=True)
class CommitSig:
    flag: int
    validator_address: bytes
    timestamp: Time
    signature: bytes


def tally(chain_id: str, height: int, round_: int, block_id: BlockId, signatures: list[CommitSig],
          validators: list[tuple[bytes, int]]) -> tuple[int, int, list[int]]:
    """(voting power that signed `block_id`, total power, indices of those signers). Signature i is validator
    i's. Every signature present is checked - a vote for nil too, though it counts for nothing - and an absent
    one must carry nothing, so no byte of a commit goes unchecked; ValueError names the first that fails."""
    if len(signatures) != len(validators):
        raise ValueError(f"{len(signatures)} signatures for a set of {len(validators)} validators")
    signed, signers = 0, []
    for index, (sig, (key, power)) in enumerate(zip(signatures, validators, strict=True)):
        if sig.flag == FLAG_ABSENT:
            if sig.validator_address or sig.signature or sig.timestamp != ZERO_TIME:
                raise ValueError(f"signature {index} is marked absent but carries an address, a time or a signature")
            continue
        if sig.flag not in (FLAG_COMMIT, FLAG_NIL):
            raise ValueError(f"signature {index} has the unknown block id flag {sig.flag}")
        if sig.validator_address != validator_address(key):
            raise ValueError(f"signature {index} names validator {sig.validator_address.hex()}, "
                             f"the set's validator {index} is {validator_address(key).hex()}")
        voted = block_id if sig.flag == FLAG_COMMIT else None
        if not verify_signature(key, precommit_sign_bytes(chain_id, height, round_, voted, sig.timestamp),
                                sig.signature):
            raise ValueError(f"signature {index} is not validator {validator_address(key).hex()}'s precommit")
        if sig.flag == FLAG_COMMIT:
            signed += power
            signers.append(index)
    return signed, sum(power for _, power in validators), signers


def quorum(chain_id: str, height: int, round_: int, block_id: BlockId, signatures: list[CommitSig],
           validators: list[tuple[bytes, int]]) -> tuple[int, int, list[int]]:
    """`tally` of a commit that finalizes `block_id`: more than two thirds of the set's power signed it, as
    CometBFT requires; ValueError names the signature that fails, or the power short of it."""
    signed, total, signers = tally(chain_id, height, round_, block_id, signatures, validators)
    if 3 * signed <= 2 * total:
        raise ValueError(f"validators with {signed} of {total} voting power signed, not more than two thirds")
    return signed, total, signers


# --- CometBFT's JSON-RPC, as the exporter reads it ----------------------------------------------------


def rfc3339(text: str) -> Time:
    """CometBFT's RFC 3339 UTC time with up to nanoseconds, exactly (a float would lose the nanoseconds)."""
    import calendar
    import datetime

    if not text.endswith("Z"):
        raise ValueError(f"expected a UTC time ending in Z, got {text!r}")
    whole, _, fraction = text[:-1].partition(".")
    parsed = datetime.datetime.strptime(whole, "%Y-%m-%dT%H:%M:%S")
    return Time(calendar.timegm(parsed.timetuple()), int(fraction.ljust(9, "0")[:9]) if fraction else 0)


def rpc(url: str, method: str, timeout: float = 10.0, **params: str) -> dict:
    """The `result` of a CometBFT JSON-RPC GET (`url` is http://HOST:PORT); RuntimeError with its message."""
    import json
    import urllib.error
    import urllib.parse
    import urllib.request

    query = urllib.parse.urlencode(params)
    try:
        with urllib.request.urlopen(f"{url.rstrip('/')}/{method}?{query}", timeout=timeout) as reply:
            answer = json.loads(reply.read())
    except urllib.error.HTTPError as exc:  # CometBFT answers an RPC error with status 500 and the error as JSON
        answer = json.loads(exc.read() or b"{}")
        answer.setdefault("error", {"message": str(exc)})
    if "error" in answer:
        raise RuntimeError(f"CometBFT {method}: {answer['error'].get('message', '')} {answer['error'].get('data', '')}")
    return answer["result"]


def _block_id(doc: dict) -> BlockId:
    return BlockId(bytes.fromhex(doc["hash"]), int(doc["parts"]["total"]), bytes.fromhex(doc["parts"]["hash"]))


def header_from_rpc(doc: dict) -> Header:
    """A header as `/commit` writes it (hex upper-case, numbers as strings)."""
    hashes = {name: bytes.fromhex(doc[name]) for name in (
        "last_commit_hash", "data_hash", "validators_hash", "next_validators_hash", "consensus_hash", "app_hash",
        "last_results_hash", "evidence_hash", "proposer_address")}
    return Header(version_block=int(doc["version"]["block"]), version_app=int(doc["version"].get("app", 0)),
                  chain_id=doc["chain_id"], height=int(doc["height"]), time=rfc3339(doc["time"]),
                  last_block_id=_block_id(doc["last_block_id"]), **hashes)


def commit_from_rpc(doc: dict) -> tuple[int, BlockId, list[CommitSig]]:
    """(round, block id, signatures) of a commit as `/commit` writes it (signatures in base64)."""
    import base64

    sigs = [CommitSig(int(s["block_id_flag"]), bytes.fromhex(s["validator_address"] or ""), rfc3339(s["timestamp"]),
                      base64.b64decode(s["signature"] or "")) for s in doc["signatures"]]
    return int(doc["round"]), _block_id(doc["block_id"]), sigs


def validators_from_rpc(docs: list[dict]) -> list[tuple[bytes, int]]:
    """(ed25519 public key, voting power) in the set's order, from `/validators` (or a file of its output)."""
    import base64

    out = []
    for v in docs:
        if v["pub_key"]["type"] != "tendermint/PubKeyEd25519":
            raise ValueError(f"validator {v.get('address')}: only ed25519 keys are supported")
        out.append((base64.b64decode(v["pub_key"]["value"]), int(v["voting_power"])))
    return out
