"""Encodings that both sides of the wire must compute identically: the chain's pallets that check a
result, and the worker, the CLI and any client that produces or verifies one.

They live here, below every pallet, so that a worker or a client never imports a pallet to learn how a
request id is spelled or what a snapshot leaf hashes to; they import no pallet's protobuf types either
(an attribution method's name is `payable.modelregistry.v1.methods`, beside the enum it maps to).
"""

from __future__ import annotations

from collections.abc import Sequence

from runtime.crypto import blake2_256
from runtime.merkle import verify_merkle_proof

# The hottest sampling a paid request may ask for, in thousandths (`Sampling.temperature_milli`): the inference
# pallet refuses more, and clients refuse it first in their own units (the studio's quote, the gateway).
MAX_TEMPERATURE_MILLI = 2000


def request_id_bytes(request_id: int) -> bytes:
    """How a signed attribution result names its inference request (exactly this, in `request_id`)."""
    return request_id.to_bytes(8, "big")


def token_price(flat: int, per_input: int, per_output: int, input_tokens: int, output_tokens: int) -> int:
    """A request's price: the flat fee plus both token prices. At the request's token bounds it is what the
    request escrows (and what a client offers as max_fee); at the signed counts, what settlement charges."""
    return flat + per_input * input_tokens + per_output * output_tokens


def leaf_bytes(leaf) -> bytes:
    """A DataNet snapshot leaf (`payable.datanet.v1.SnapshotLeaf`) exactly as hashed into the snapshot's
    Merkle tree, and as a verifier re-hashes it: its canonical protobuf encoding."""
    return leaf.SerializeToString(deterministic=True)


def verify_membership(root: bytes, proof) -> bool:
    """Does a `payable.datanet.v1.MembershipProof` prove its leaf under the snapshot root `root`?"""
    return verify_merkle_proof(root, leaf_bytes(proof.leaf), proof.index, proof.count, list(proof.siblings))


TAIL_PAGE = 32  # contributions in one page of a result's tail (attribution.PayTail): every page but the last is full
TAIL_DOMAIN = b"payable/tail-page/v1"


def tail_page_hash(leaves, following: bytes) -> bytes:
    """The commitment to a page of a tail and every page after it: blake2-256 of TAIL_DOMAIN, each leaf
    (contribution id, 8 bytes big-endian; contributor, 32 bytes; share in ppb, 8 bytes big-endian) and the
    commitment to the pages that follow (`following`, empty after the last). Paying a page only needs its own
    leaves and the next commitment: pages are paid in order, each opening what the previous one named."""
    body = b"".join(leaf.contribution_id.to_bytes(8, "big") + bytes(leaf.contributor)
                    + leaf.score_ppb.to_bytes(8, "big") for leaf in leaves)
    return blake2_256(TAIL_DOMAIN + body + following)


def tail_pages(leaves: Sequence) -> list[tuple[Sequence, bytes]]:
    """A tail's pages in payment order: (its leaves, the commitment to the pages after it); `leaves` already
    in the committed order (by contribution id). The first page's own commitment is the tail's root."""
    pages = [leaves[start:start + TAIL_PAGE] for start in range(0, len(leaves), TAIL_PAGE)]
    following, out = b"", []
    for page in reversed(pages):
        out.append((page, following))
        following = tail_page_hash(page, following)
    return out[::-1]


def tail_root(leaves: Sequence) -> bytes:
    """What a result commits its tail to (empty for no tail): the first page's commitment (`tail_page_hash`)."""
    pages = tail_pages(leaves)
    return tail_page_hash(*pages[0]) if pages else b""


CONTENT_READ_DOMAIN = b"payable/content-read/v1"
CONTENT_READ_MAX_SKEW_S = 300


def content_read_message(genesis_hash: bytes, content_hash: bytes, reader: bytes, issued_at: int) -> bytes:
    """What a reader signs to download a restricted blob (`payable.content.v1.BlobRequest`): bound to one
    chain, one blob, one reader and a time, so a captured signature is useless elsewhere and soon stale."""
    return CONTENT_READ_DOMAIN + genesis_hash + content_hash + reader + issued_at.to_bytes(8, "big")


CONTENT_UPLOAD_DOMAIN = b"payable/content-upload/v1"


def content_upload_message(genesis_hash: bytes, content_hash: bytes, uploader: bytes, issued_at: int) -> bytes:
    """What an account signs to store a blob on a node (`payable.content.v1.UploadChunk`): bound to one chain,
    the blob's hash (so to its bytes), the uploader and a time."""
    return CONTENT_UPLOAD_DOMAIN + genesis_hash + content_hash + uploader + issued_at.to_bytes(8, "big")


STREAM_READ_DOMAIN = b"payable/stream-read/v1"


def stream_read_message(genesis_hash: bytes, request_id: int, requester: bytes, issued_at: int) -> bytes:
    """What a requester signs to read its paid generation's token stream from an assigned worker
    (`payable.worker.v1.PaidStreamRequest`): bound to one chain, one request and a time, like a content read
    (at most CONTENT_READ_MAX_SKEW_S from the worker's clock)."""
    return STREAM_READ_DOMAIN + genesis_hash + request_id_bytes(request_id) + requester + issued_at.to_bytes(8, "big")


FINETUNE_DOMAIN = b"payable/finetune/v1"
FINETUNE_ACTIONS = ("start", "abort", "resume", "publish", "preview", "try", "evaluate", "export")


def finetune_message(action: str, subject: bytes, owner: bytes, issued_at: int) -> bytes:
    """What a fine-tuning job's owner signs to start (`start_subject`: the config and its prompts), abort, resume,
    evaluate, export or publish it (`subject`: the job id), try it (`try_subject`: the job id and what it is
    asked) on a worker (`payable.worker.v1.JobAuth`), or
    a reader to preview a dataset of permissioned DataNets (`subject`: the spec JSON's blake2-256): bound to
    the action, the job or config, the owner and a time (at most CONTENT_READ_MAX_SKEW_S from the worker's
    clock)."""
    if action not in FINETUNE_ACTIONS:
        raise ValueError(f"no fine-tuning action {action!r}")
    return FINETUNE_DOMAIN + action.encode() + b"\0" + subject + b"\0" + owner + issued_at.to_bytes(8, "big")


def _prompts_bytes(prompts: Sequence[str]) -> bytes:
    """Prompts as a signature covers them: each its UTF-8 bytes after their length, 8 bytes big-endian."""
    return b"".join(len(raw).to_bytes(8, "big") + raw for raw in (p.encode() for p in prompts))


def start_subject(config_json: str, prompts: Sequence[str]) -> bytes:
    """What a "start" signature covers: the config JSON's blake2-256, then that of the prompts the job samples
    as it trains (`_prompts_bytes`; their answers are in the job's public results) - so a captured signature
    cannot start the job elsewhere sampling other prompts, on data only its owner may read."""
    return blake2_256(config_json.encode()) + blake2_256(_prompts_bytes(prompts))


def try_subject(job: str, prompts: Sequence[str], max_new_tokens: int) -> bytes:
    """What a "try" signature covers: the job id, then the blake2-256 of its prompts (`_prompts_bytes`) and
    the token bound asked (4 bytes big-endian, 0: the worker's default) - so a captured signature cannot be
    replayed with other prompts to read what an unpublished adapter answers."""
    return job.encode() + b"\0" + blake2_256(_prompts_bytes(prompts) + max_new_tokens.to_bytes(4, "big"))


def uvarint(value: int) -> bytes:
    """`value` as a protobuf unsigned varint (7 bits a byte, low first): ABCI's frame lengths and the fields of
    CometBFT's canonical sign-bytes (`sdk.cometbft`) are written with it."""
    if value < 0:
        raise ValueError("an unsigned varint is never negative")
    out = bytearray()
    while True:
        low = value & 0x7F
        value >>= 7
        if not value:
            out.append(low)
            return bytes(out)
        out.append(low | 0x80)
