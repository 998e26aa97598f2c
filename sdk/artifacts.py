"""Directory artifacts in the node's content store: a Hugging Face model or a PEFT adapter, by manifest.

A model is a directory of files (config, safetensors shards, tokenizer), some larger than one blob may
be. Each file is cut into parts of at most `PART` bytes, each part stored as its own blob; a
`payable.content.v1.Manifest` lists every file (sorted path, size, whole-file hash, parts) and is
itself stored as a blob. Its content hash is the artifact hash the chain records, so anyone holding
that hash can fetch the directory and check every byte: the manifest against the hash, each part
against the manifest, each file against its whole-file hash.

It lives in `runtime/` because every side needs it: the CLI registers a base model, the worker
fetches one, a verifier re-checks an adapter.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Callable, Container
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from payable.content.v1 import content_pb2 as pb
from runtime.crypto import blake2_256

PART = 64 << 20
HF_MODEL, PEFT_LORA = "hf-model", "peft-lora"
ATTRIBUTION_INDEX = "attribution-index"  # an adapter's index over its training rows (gpu_worker/adapter_index.py)
Progress = Callable[[int, int], None]


class ArtifactError(ValueError):
    """A directory artifact is malformed, incomplete, or does not match its hash; the message says which."""


@dataclass(frozen=True)
class Part:
    path: Path
    offset: int
    size: int
    hash: bytes


def _safe(relative: str) -> PurePosixPath:
    """A manifest path that stays inside the destination (no absolute paths, no '..')."""
    path = PurePosixPath(relative)
    if not relative or path.is_absolute() or ".." in path.parts or "\\" in relative:
        raise ArtifactError(f"manifest path {relative!r} would leave the artifact's directory")
    return path


def build_manifest(directory: str | Path, kind: str, part: int = PART) -> tuple[pb.Manifest, list[Part]]:
    """The manifest of every regular file under `directory` (hidden files skipped), and its parts."""
    root = Path(directory)
    if not root.is_dir():
        raise ArtifactError(f"{root} is not a directory")
    files = sorted(p for p in root.rglob("*") if p.is_file() and not any(s.startswith(".") for s in
                                                                          p.relative_to(root).parts))
    if not files:
        raise ArtifactError(f"{root} holds no files")
    manifest, parts = pb.Manifest(kind=kind), []
    for path in files:
        whole = hashlib.blake2b(digest_size=32)
        entry = manifest.files.add(path=path.relative_to(root).as_posix(), size=path.stat().st_size)
        with open(path, "rb") as src:
            offset = 0
            while data := src.read(part):
                whole.update(data)
                digest = blake2_256(data)
                entry.chunks.add(hash=digest, size=len(data))
                parts.append(Part(path, offset, len(data), digest))
                offset += len(data)
        entry.hash = whole.digest()
    return manifest, parts


def manifest_bytes(manifest: pb.Manifest) -> bytes:
    return manifest.SerializeToString(deterministic=True)


def manifest_hash(manifest: pb.Manifest) -> bytes:
    """The artifact hash: blake2b-256 of the manifest's canonical bytes (= its content-store address)."""
    return blake2_256(manifest_bytes(manifest))


def total_size(manifest: pb.Manifest) -> int:
    return sum(f.size for f in manifest.files)


def upload_directory(client, directory: str | Path, kind: str, progress: Progress | None = None,
                     part: int = PART, *, uploader) -> tuple[bytes, pb.Manifest]:
    """Store every part, then the manifest, in the node's content store, signed by `uploader` (a Keypair);
    returns (artifact hash, manifest). The manifest goes last, so an artifact hash never names parts the
    store does not hold yet."""
    manifest, parts = build_manifest(directory, kind, part)
    total, sent = total_size(manifest), 0
    for piece in parts:
        with open(piece.path, "rb") as src:
            src.seek(piece.offset)
            data = src.read(piece.size)
        client.upload(data, expected=piece.hash, uploader=uploader)
        sent += piece.size
        if progress:
            progress(sent, total)
    stored = client.upload(manifest_bytes(manifest), uploader=uploader)
    return stored.hash, manifest


def read_manifest(client, artifact_hash: bytes, reader=None) -> pb.Manifest:
    try:
        manifest = pb.Manifest.FromString(client.download(artifact_hash, reader=reader))
    except Exception as exc:  # a missing blob and undecodable bytes are the same refusal (re-raised, chained)
        raise ArtifactError(f"artifact {artifact_hash.hex()} has no readable manifest: {exc}") from exc
    if manifest_hash(manifest) != artifact_hash:
        raise ArtifactError(f"artifact {artifact_hash.hex()}: the manifest does not re-encode to its hash")
    for entry in manifest.files:
        _safe(entry.path)
        if sum(c.size for c in entry.chunks) != entry.size:
            raise ArtifactError(f"artifact {artifact_hash.hex()}: {entry.path}'s parts do not add up to its size")
    return manifest


def fetch_directory(client, artifact_hash: bytes, destination: str | Path, *, kind: str | None = None,
                    reader=None, progress: Progress | None = None,
                    only: Container[str] | None = None) -> pb.Manifest:
    """Download an artifact into `destination` (created; files already there with the right hash are kept),
    checking every part and file - or only the files whose paths are in `only` (a base's tokenizer without its
    weights). Each file lands by atomic rename, so a cut download leaves no half file."""
    manifest = read_manifest(client, artifact_hash, reader)
    if kind is not None and manifest.kind != kind:
        raise ArtifactError(f"artifact {artifact_hash.hex()} is a {manifest.kind!r}, not a {kind!r}")
    root = Path(destination)
    entries = [e for e in manifest.files if only is None or e.path in only]
    total, done = sum(e.size for e in entries), 0
    for entry in entries:
        target = root / _safe(entry.path)
        if target.exists() and target.stat().st_size == entry.size and _file_hash(target) == entry.hash:
            done += entry.size
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        # one part file per process and thread: two jobs fetching the same base at once each write their own
        tmp = target.with_name(f".{target.name}.part-{os.getpid()}-{threading.get_ident()}")
        whole = hashlib.blake2b(digest_size=32)
        try:
            with open(tmp, "wb") as out:
                for chunk in entry.chunks:
                    data = client.download(chunk.hash, reader=reader)
                    whole.update(data)
                    out.write(data)
                    done += len(data)
                    if progress:
                        progress(done, total)
            if whole.digest() != entry.hash:
                raise ArtifactError(f"artifact {artifact_hash.hex()}: {entry.path} does not match its hash")
            os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)
    return manifest


def _file_hash(path: Path) -> bytes:
    digest = hashlib.blake2b(digest_size=32)
    with open(path, "rb") as src:
        while data := src.read(1 << 20):
            digest.update(data)
    return digest.digest()


def directory_hash(directory: str | Path, kind: str) -> bytes:
    """The artifact hash a directory would have once uploaded (to check a local copy against the chain)."""
    return manifest_hash(build_manifest(directory, kind)[0])
