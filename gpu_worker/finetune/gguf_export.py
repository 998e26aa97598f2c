"""A fine-tuned adapter as a GGUF LoRA, for llama.cpp and Ollama users, with its model card beside it.

Why: ModelFactory's adapters are PEFT directories (what the chain hashes, what OpenLoRA serves), but many
people run models with llama.cpp or Ollama, which take a LoRA only as a GGUF file over a GGUF base
(`llama-cli -m base.gguf --lora adapter.gguf`; Ollama's Modelfile `ADAPTER`). So `payable finetune export
--format gguf` writes one.

How: the conversion is llama.cpp's own `convert_lora_to_gguf.py` (tensor names, the q/k row permutation of
rotary layouts, the adapter's GGUF keys), never a copy of it in this repository. Its source comes from the
pinned `llama-cpp-python` sdist on PyPI, which vendors llama.cpp: `install()` (run once by `make`) downloads
that sdist with pip, checks its sha256, and extracts only the converter scripts, their `conversion/` package
and `gguf-py/` into a tool folder inside the virtual environment (`<venv>/share/llama.cpp/<version>-<hash>`;
`$PAYABLE_LLAMA_CPP_TOOLS` overrides). A finished folder is marked complete and is never fetched again.
The converter runs in a subprocess of this Python, on its own `gguf-py`, with the base's config.json
(`--base`); it reads no weights of the base and nothing from the network.

Before converting, the adapter's config is checked for what llama.cpp cannot express (DoRA, per-module
alpha, modules saved whole, biases): those are refused with the reason, not converted into a file that
would silently compute something else. llama.cpp scales every LoRA by alpha / rank; an rsLoRA adapter
(alpha / sqrt(rank)) is written with the alpha that gives the same scale. The converter sees a staged copy
of the adapter (the PEFT directory itself stays byte for byte as the chain hashed it) with the model card
as README.md, whose metadata llama.cpp copies into the file's `general.*` keys. The written file is read
back and checked: an adapter of type lora with two factors for every adapted module.

The model card (README.md with the YAML metadata Hugging Face shows: license, base_model, datasets - the
DataNet snapshots -, library_name: peft, the held-out loss under model-index) goes into the output folder
with every export; the caller renders it with the one card writer, `sdk.model_documents.model_card`.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from ..gguf_import import sha256_file

LLAMA_CPP_PYTHON = "0.3.36"
SDIST = f"llama_cpp_python-{LLAMA_CPP_PYTHON}.tar.gz"
SDIST_SHA256 = "832db0699007f1be95a7e41ef12e88926b02ba836461e36a36372db2760c1a2e"
VENDORED = f"llama_cpp_python-{LLAMA_CPP_PYTHON}/vendor/llama.cpp/"
# what the converters need from the vendored tree (paths relative to vendor/llama.cpp/)
TOOL_PARTS = ("convert_lora_to_gguf.py", "convert_hf_to_gguf.py", "conversion/", "gguf-py/gguf/", "LICENSE")
COMPLETE = ".complete"
OUTTYPES = ("f32", "f16", "bf16", "q8_0")
SETUP_HINT = "run `make test` (or `.venv/bin/python -m gpu_worker.finetune.gguf_export install`)"


class GGUFExportError(ValueError):
    """An adapter that cannot be written as a GGUF LoRA, or a missing converter; the message says why."""


# --- the converter: llama.cpp's scripts from the pinned sdist ---------------------------------------------
def tool_dir() -> Path:
    """Where the converter scripts live: $PAYABLE_LLAMA_CPP_TOOLS, else inside this virtual environment."""
    default = Path(sys.prefix) / "share" / "llama.cpp" / f"{LLAMA_CPP_PYTHON}-{SDIST_SHA256[:12]}"
    return Path(os.environ.get("PAYABLE_LLAMA_CPP_TOOLS", default))


def converter(script: str = "convert_lora_to_gguf.py") -> Path:
    """The path of one of llama.cpp's converters, or GGUFExportError saying how to install them."""
    root = tool_dir()
    if not (root / COMPLETE).is_file() or not (root / script).is_file():
        raise GGUFExportError(f"llama.cpp's {script} is not installed at {root}: {SETUP_HINT}")
    return root / script


def _download_sdist(into: Path) -> Path:
    done = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
                           f"llama-cpp-python=={LLAMA_CPP_PYTHON}", "-d", str(into)],
                          capture_output=True, text=True, timeout=1800)
    if done.returncode != 0:
        raise GGUFExportError(f"pip could not download llama-cpp-python=={LLAMA_CPP_PYTHON}: "
                              f"{done.stderr.strip()[-500:]}")
    return into / SDIST


def install(sdist: Path | None = None) -> Path:
    """Put llama.cpp's converters into the tool folder (once): from `sdist` if given, else downloaded with pip.
    The sdist must have the pinned sha256; the folder appears whole (renamed into place) or not at all."""
    root = tool_dir()
    if (root / COMPLETE).is_file():
        return root
    root.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="llama-cpp-sdist-", dir=root.parent) as tmp:
        archive = Path(sdist) if sdist else _download_sdist(Path(tmp))
        got = sha256_file(archive)
        if got != SDIST_SHA256:
            raise GGUFExportError(f"{archive} has sha256 {got}, not the pinned {SDIST_SHA256}: refusing it")
        staging = Path(tmp) / "tools"
        with tarfile.open(archive, "r:gz") as tar:
            for member in tar.getmembers():
                relative = member.name[len(VENDORED):] if member.name.startswith(VENDORED) else ""
                if (member.isfile() and relative and ".." not in Path(relative).parts
                        and any(relative == p or (p.endswith("/") and relative.startswith(p)) for p in TOOL_PARTS)):
                    member.name = relative
                    tar.extract(member, staging, filter="data")
        missing = [p for p in TOOL_PARTS if not (staging / p).exists()]
        if missing:
            raise GGUFExportError(f"{archive} lacks {missing} under {VENDORED}")
        (staging / COMPLETE).write_text(f"{SDIST} sha256 {SDIST_SHA256}\n")
        if root.exists():
            shutil.rmtree(root)  # an incomplete earlier attempt
        staging.replace(root)
    return root


def _run(script: str, args: list[str]) -> None:
    done = subprocess.run([sys.executable, str(converter(script)), *args], capture_output=True, text=True,
                          timeout=3600, env={**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"})
    if done.returncode != 0:
        raise GGUFExportError(f"llama.cpp's {script} failed: {done.stderr.strip()[-1500:]}")


def convert_base(base_dir: Path, out_file: Path, outtype: str = "f32") -> Path:
    """A Hugging Face base directory as a GGUF model (llama.cpp's convert_hf_to_gguf.py), e.g. to run an
    exported adapter over exactly the weights it was trained on."""
    out_file.parent.mkdir(parents=True, exist_ok=True)
    _run("convert_hf_to_gguf.py", [str(base_dir), "--outfile", str(out_file), "--outtype", outtype])
    return out_file


# --- the adapter ----------------------------------------------------------------------------------------
def gguf_adapter_config(adapter_dir: Path) -> dict:
    """The adapter's PEFT config as llama.cpp will apply it (alpha / rank), or GGUFExportError if it cannot."""
    path = Path(adapter_dir) / "adapter_config.json"
    if not path.is_file() or not (Path(adapter_dir) / "adapter_model.safetensors").is_file():
        raise GGUFExportError(f"{adapter_dir} is not a PEFT adapter directory "
                              f"(adapter_config.json and adapter_model.safetensors)")
    config = json.loads(path.read_text())
    refusals = [
        (config.get("peft_type") != "LORA", f"it is a {config.get('peft_type')} adapter, not LoRA"),
        (bool(config.get("use_dora")), "it is DoRA (llama.cpp applies plain LoRA only)"),
        (bool(config.get("alpha_pattern")), "it sets alpha per module (a GGUF LoRA has one alpha)"),
        (bool(config.get("modules_to_save")), "it saves whole modules besides the LoRA factors"),
        (config.get("bias", "none") != "none" or bool(config.get("lora_bias")), "it trains biases"),
    ]
    for refused, why in refusals:
        if refused:
            raise GGUFExportError(f"{adapter_dir}: cannot be written as a GGUF LoRA: {why}")
    if config.get("use_rslora"):
        if config.get("rank_pattern"):
            raise GGUFExportError(f"{adapter_dir}: an rsLoRA adapter with ranks per module has no single alpha "
                                  "that llama.cpp's alpha / rank reproduces")
        # PEFT scales by alpha / sqrt(r); llama.cpp by alpha / r: the same scale needs alpha * sqrt(r)
        config = {**config, "lora_alpha": float(config["lora_alpha"]) * math.sqrt(config["r"]), "use_rslora": False}
    return config


def export_gguf(base_dir: Path, adapter_dir: Path, out_dir: Path, card: str, *, outtype: str = "f32",
                name: str = "adapter") -> dict:
    """Write `<out_dir>/<name>-<outtype>.gguf` and the model card `<out_dir>/README.md`; returns what was
    written and checked. `base_dir` is the base's Hugging Face directory (only its config is read)."""
    if outtype not in OUTTYPES:
        raise GGUFExportError(f"outtype {outtype!r}: choose one of {', '.join(OUTTYPES)}")
    config = gguf_adapter_config(adapter_dir)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"{name}-{outtype}.gguf"
    with tempfile.TemporaryDirectory(prefix="payable-gguf-", dir=out_dir) as tmp:
        stage = Path(tmp) / "adapter"
        stage.mkdir()
        shutil.copyfile(Path(adapter_dir) / "adapter_model.safetensors", stage / "adapter_model.safetensors")
        # the base is given as --base: the config must not send the converter looking for it on a hub
        (stage / "adapter_config.json").write_text(json.dumps({**config, "base_model_name_or_path": None}))
        (stage / "README.md").write_text(card)
        written = Path(tmp) / target.name
        _run("convert_lora_to_gguf.py", ["--base", str(base_dir), "--outfile", str(written), "--outtype", outtype,
                                         str(stage)])
        checks = check_gguf_lora(written, adapter_dir, float(config["lora_alpha"]))
        written.replace(target)
    readme = out_dir / "README.md"
    readme.write_text(card)
    return {"gguf": str(target), "model_card": str(readme), "outtype": outtype, "size_bytes": target.stat().st_size,
            "sha256": sha256_file(target), **checks}


def check_gguf_lora(path: Path, adapter_dir: Path, alpha: float) -> dict:
    """Read the written file back: a LoRA adapter, with the alpha given, two factors per adapted module."""
    import gguf
    from safetensors import safe_open

    reader = gguf.GGUFReader(path)

    def value(key: str):
        found = reader.fields.get(key)
        return None if found is None else found.contents()

    if value("general.type") != "adapter" or value("adapter.type") != "lora":
        raise GGUFExportError(f"{path} is not a LoRA adapter GGUF (general.type {value('general.type')!r})")
    if not math.isclose(float(value("adapter.lora.alpha")), alpha, rel_tol=1e-6):
        raise GGUFExportError(f"{path} has alpha {value('adapter.lora.alpha')}, the adapter {alpha}")
    with safe_open(str(Path(adapter_dir) / "adapter_model.safetensors"), "pt") as tensors:
        modules = {k.rsplit(".lora_", 1)[0] for k in tensors.keys() if ".lora_A." in k}
    names = [t.name for t in reader.tensors]
    pairs = {n[: -len(".lora_a")] for n in names if n.endswith(".lora_a")}
    if len(pairs) != len(modules) or len(names) != 2 * len(modules):
        raise GGUFExportError(f"{path} holds {len(names)} tensors for {len(modules)} adapted modules "
                              f"(expected two each)")
    return {"adapted_modules": len(modules), "alpha": alpha, "architecture": value("general.architecture")}


def main(argv: list[str] | None = None) -> int:
    """`python -m gpu_worker.finetune.gguf_export install [--sdist FILE]`: the set-up step `make` runs."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m gpu_worker.finetune.gguf_export")
    parser.add_argument("action", choices=("install", "where"))
    parser.add_argument("--sdist", type=Path, help=f"a local {SDIST} (else pip downloads it)")
    args = parser.parse_args(argv)
    path = install(args.sdist) if args.action == "install" else converter().parent
    sys.stdout.write(f"{path}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
