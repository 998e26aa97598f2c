"""A LLaMA-family GGUF file (llama.cpp's format, often quantized) turned into a Hugging Face directory that
ModelFactory trains on and OpenLoRA serves: float32 safetensors, the tokenizer with its chat template, a
config, and `payable_source.json` saying where it came from.

Why convert rather than serve the GGUF: every engine here (PEFT fine-tuning, per-example gradients,
OpenLoRA's batched adapters) works on torch modules in a Hugging Face layout, and the chain identifies a
base by the hash of such a directory. transformers' GGUF loader (on the `gguf` package) dequantizes the
weights; this module checks the file before that (a truncated file or another architecture is refused
with the reason, not a reshape error from deep inside the loader) and after (a tensor the loader skipped -
it skips what it does not know, silently - refuses the file), writes the result into a temporary folder,
re-loads it to check it, and only then renames it into the cache - so a cache entry, named by the GGUF's
sha256, is either whole or absent, and a second import of the same file converts nothing, unless a file of
the entry changed since (each file's sha256 is recorded in it).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass, replace
from importlib import metadata
from pathlib import Path

# general.architecture values whose GGUF tensors transformers maps onto LlamaForCausalLM
SUPPORTED_ARCHITECTURES = ("llama",)
SOURCE_FILE = "payable_source.json"
FILES_FILE = "payable_files.json"  # every other file's sha256, as converted: a cache hit is checked against it
GGUF_MAGIC = b"GGUF"
CONVERTER_LIBRARIES = ("transformers", "gguf", "torch", "safetensors", "tokenizers")


class GGUFError(ValueError):
    """A GGUF file that cannot be imported; the message says what is wrong with it."""


@dataclass(frozen=True)
class GGUFInfo:
    """What the file's header says, checked against the file's size."""

    sha256: str
    size_bytes: int
    architecture: str
    name: str
    license: str
    quantization: str  # general.file_type as llama.cpp names it, e.g. MOSTLY_Q4_1
    tensors: int
    context_length: int


@dataclass(frozen=True)
class ModelSource:
    """Where a converted base came from: recorded on chain with the base model and in the directory."""

    file_name: str
    file_sha256: str
    quantization: str
    converter: str  # the conversion's library versions, "transformers 5.25.0, gguf 0.19.0, ..."
    package: str = ""  # the PyPI distribution that shipped the file, when it came from one
    version: str = ""


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as src:
        for chunk in iter(lambda: src.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _field(reader, key: str, default=None):
    field = reader.fields.get(key)
    return default if field is None else field.contents()


def inspect_gguf(path: Path, expected_sha256: str | None = None) -> GGUFInfo:
    """Check a GGUF file before anything is converted: its hash (when one is expected), that it parses,
    that its tensors' data lies inside the file (a truncated download does not), and its architecture."""
    import gguf

    path = Path(path)
    if expected_sha256 is not None:
        expected_sha256 = expected_sha256.strip().lower()
        if len(expected_sha256) != 64 or any(c not in "0123456789abcdef" for c in expected_sha256):
            raise GGUFError(f"the expected sha256 {expected_sha256!r} is not 64 hexadecimal digits")
    if path.is_dir():
        raise GGUFError(f"{path} is a directory: give the GGUF file itself")
    if not path.is_file():
        raise GGUFError(f"{path}: no such file")
    with open(path, "rb") as src:
        if src.read(4) != GGUF_MAGIC:
            raise GGUFError(f"{path} is not a GGUF file (it does not start with the GGUF magic bytes)")
    digest = sha256_file(path)
    if expected_sha256 is not None and digest != expected_sha256:
        raise GGUFError(f"{path}: sha256 is {digest}, expected {expected_sha256} "
                        f"(a different or corrupted file); nothing was imported")
    size = path.stat().st_size
    try:
        reader = gguf.GGUFReader(path)
    except (ValueError, IndexError, OSError) as exc:
        raise GGUFError(f"{path} is truncated or corrupt: its header does not parse ({exc})") from exc
    end = max((t.data_offset + t.n_bytes for t in reader.tensors), default=0)
    if not reader.tensors or end > size:
        raise GGUFError(f"{path} is truncated: its tensors need {end:,} bytes, the file has {size:,}")
    architecture = str(_field(reader, "general.architecture", ""))
    if architecture not in SUPPORTED_ARCHITECTURES:
        raise GGUFError(f"{path}: architecture {architecture or 'unnamed'!r} is not supported "
                        f"(supported: {', '.join(SUPPORTED_ARCHITECTURES)}: LLaMA-family models)")
    file_type = _field(reader, "general.file_type")
    try:
        quantization = gguf.LlamaFileType(int(file_type)).name if file_type is not None else "unknown"
    except ValueError:
        quantization = f"file_type {file_type}"
    return GGUFInfo(sha256=digest, size_bytes=size, architecture=architecture,
                    name=str(_field(reader, "general.name", "")), license=str(_field(reader, "general.license", "")),
                    quantization=quantization, tensors=len(reader.tensors),
                    context_length=int(_field(reader, f"{architecture}.context_length", 0) or 0))


def converter_versions() -> str:
    return ", ".join(f"{name} {metadata.version(name)}" for name in CONVERTER_LIBRARIES)


def convert_gguf(path: Path, cache_root: Path, *, expected_sha256: str | None = None, package: str = "",
                 version: str = "", info: GGUFInfo | None = None) -> tuple[Path, GGUFInfo, ModelSource, bool]:
    """(directory, header, source, converted now?): the Hugging Face directory of a GGUF file, from the
    cache when this file (by sha256) was converted before; otherwise checked, converted, verified and moved
    into the cache in one rename. `info`: `inspect_gguf`'s answer for the file, when the caller has it (a
    large file is hashed once)."""
    info = info or inspect_gguf(path, expected_sha256)
    target = Path(cache_root) / info.sha256
    if (target / SOURCE_FILE).is_file() and _intact(target):
        return target, info, _cached_source(target, Path(path).name, package, version), False
    if target.exists():
        shutil.rmtree(target)  # not whole, or changed since it was converted: convert again
    source = ModelSource(file_name=Path(path).name, file_sha256=info.sha256, quantization=info.quantization,
                         converter=converter_versions(), package=package, version=version)
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{info.sha256[:12]}-", dir=target.parent))
    try:
        # the directory records what the file is, not how this import found it: one GGUF, one directory
        # (and one base artifact hash) whether it came from a path or a wheel; the chain records the package
        _write_directory(Path(path), scratch, replace(source, package="", version=""))
        (scratch / FILES_FILE).write_text(json.dumps(_file_digests(scratch), indent=2, sort_keys=True) + "\n")
        os.replace(scratch, target)
    except OSError:
        shutil.rmtree(scratch, ignore_errors=True)
        if not (target / SOURCE_FILE).is_file():
            raise
        # another process converted the same file meanwhile and moved it in first: its directory is as good
        return target, info, _cached_source(target, Path(path).name, package, version), False
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    return target, info, source, True


def _file_digests(directory: Path) -> dict[str, str]:
    """Each file's sha256 by its path in `directory` (but the record of them)."""
    return {path.relative_to(directory).as_posix(): sha256_file(path) for path in sorted(directory.rglob("*"))
            if path.is_file() and path.name != FILES_FILE}


def _intact(target: Path) -> bool:
    """Whether a cached conversion holds exactly the files it was converted into: one edited, added or lost
    since (a disk error, a hand edit) would otherwise be registered under the GGUF's name and hash."""
    try:
        recorded = json.loads((target / FILES_FILE).read_text())
    except (OSError, ValueError):
        return False
    return recorded == _file_digests(target)


def _cached_source(target: Path, file_name: str, package: str, version: str) -> ModelSource:
    """A cached conversion's source, naming the file and the package this import came from (the directory
    names the file it was converted from and no package: the same bytes may come under another name, from a
    path or a wheel)."""
    source = ModelSource(**json.loads((target / SOURCE_FILE).read_text()))
    return replace(source, file_name=file_name, package=package, version=version)


def _write_directory(path: Path, out: Path, source: ModelSource) -> None:
    """Dequantize to float32 and write safetensors, tokenizer and config; then load what was written and
    check it computes what the loaded GGUF computes, so a bad conversion never reaches the cache."""
    import torch
    from safetensors.torch import save_file
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder, name = str(path.parent), path.name
    try:
        tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
        model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
    except (ValueError, KeyError, RuntimeError) as exc:
        raise GGUFError(f"{path}: transformers could not read it as a LLaMA model ({exc})") from exc
    left_out = _unread_tensors(path, model)
    if left_out:
        raise GGUFError(f"{path}: its tensors {', '.join(left_out[:6])}{' ...' if len(left_out) > 6 else ''} have "
                        "no place in the LLaMA model transformers reads (Llama 3.1's RoPE frequencies, attention "
                        "biases?): converted without them it would compute something else, so it is refused")
    tied = {"lm_head.weight"} if model.config.tie_word_embeddings else set()
    weights = {key: value.detach().contiguous() for key, value in model.state_dict().items() if key not in tied}
    save_file(weights, str(out / "model.safetensors"), metadata={"format": "pt"})
    config = model.config.to_dict()
    for key in ("quantization_config", "_name_or_path", "transformers_version"):
        config.pop(key, None)
    config["architectures"] = [type(model).__name__]
    (out / "config.json").write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
    tokenizer.save_pretrained(str(out))
    (out / SOURCE_FILE).write_text(json.dumps(asdict(source), indent=2, sort_keys=True) + "\n")
    reloaded = AutoModelForCausalLM.from_pretrained(str(out), dtype=torch.float32)
    probe = torch.tensor([tokenizer.encode("The capital of France is")])
    with torch.no_grad():
        if not torch.equal(model(probe).logits, reloaded(probe).logits):
            raise GGUFError(f"{path}: the converted directory does not compute what the GGUF does")


def _unread_tensors(path: Path, model) -> list[str]:
    """The file's tensors that none of `model`'s weights came from (gguf's own name map, llama.cpp's names):
    transformers' loader skips what it does not know, silently."""
    import gguf

    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH.LLAMA, model.config.num_hidden_layers)
    read = set()
    for key in model.state_dict():
        module, _, kind = key.rpartition(".")
        found = names.get_name(module)
        if found is not None:
            read.add(f"{found}.{kind}")
    return sorted(tensor.name for tensor in gguf.GGUFReader(path).tensors if tensor.name not in read)
