"""The house's import rules (design.md §1), read from the source tree's own imports.

A layer imports only the layers below it, and some neighbours not at all: the runtime knows no pallet,
node, worker, studio or CLI by name; the SDK sits just above the runtime and imports no pallet nor any
pallet's protobuf types; the worker and the studio reach the chain over gRPC only; the node serves
whatever pallets the chain spec loads without naming one; nothing imports the CLI, and no shipped code
imports the dev tools. A production install (no `dev` extra) imports every shipped module.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PALLET_PROTOS = {f"payable.{name}" for name in
                 ("token", "datanet", "modelregistry", "inference", "attribution", "validators")}
SHIPPED = ("runtime", "sdk", "provenance", "pallets", "node", "gpu_worker", "studio", "cli")
FORBIDDEN = {
    "runtime": {"sdk", "provenance", "pallets", "node", "gpu_worker", "studio", "cli", "devtools"},
    "sdk": {"pallets", "node", "gpu_worker", "studio", "cli", "devtools", *PALLET_PROTOS},
    "provenance": {"pallets", "node", "gpu_worker", "studio", "cli", "devtools"},
    "pallets": {"node", "gpu_worker", "studio", "cli", "devtools"},
    "node": {"pallets", "gpu_worker", "studio", "cli", "devtools"},
    "gpu_worker": {"pallets", "node", "studio", "cli", "devtools"},
    "studio": {"pallets", "node", "gpu_worker", "cli", "devtools"},
    "cli": {"devtools"},
    "devtools": {"cli"},
}
DEV_ONLY = ("hypothesis", "atheris", "pytest", "grpc_tools", "playwright", "openai", "llama_cpp")


def imported_modules(tree: ast.AST) -> list[tuple[int, str]]:
    """Absolute module names a file imports (relative imports stay inside their own package)."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
    return found


def violations(root: Path) -> list[str]:
    bad = []
    for layer, banned in FORBIDDEN.items():
        for path in sorted((root / layer).rglob("*.py")):
            for line, module in imported_modules(ast.parse(path.read_text(), str(path))):
                if module.split(".")[0] in banned or ".".join(module.split(".")[:2]) in banned:
                    bad.append(f"{path.relative_to(root)}:{line} imports {module}")
    return bad


def test_the_source_tree_keeps_the_layer_rules():
    scanned = sum(1 for layer in FORBIDDEN for _ in (ROOT / layer).rglob("*.py"))
    assert scanned > 50, "the walk found almost no source files: is ROOT the project root?"
    assert violations(ROOT) == []


@pytest.mark.parametrize(("layer", "module"), [("runtime", "pallets.token.interface"), ("gpu_worker", "node.node"),
                                               ("node", "pallets.datanet"), ("pallets", "cli.main"),
                                               ("sdk", "payable.modelregistry.v1.modelregistry_pb2"),
                                               ("runtime", "sdk.client"), ("studio", "devtools.fuzz")])
def test_a_forbidden_arrow_is_reported(tmp_path, layer, module):
    (tmp_path / layer).mkdir()
    (tmp_path / layer / "bad.py").write_text(f"import json\nfrom {module} import x\n")
    assert violations(tmp_path) == [f"{layer}/bad.py:2 imports {module}"]


BLOCK_DEV_ONLY = """
import importlib, importlib.abc, pkgutil, sys
DEV_ONLY = set(sys.argv[1].split(","))

class NoDevLibraries(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in DEV_ONLY:
            raise ImportError(f"{name} is a dev-only library")
        return None

sys.meta_path.insert(0, NoDevLibraries())
count = 0
for package in sys.argv[2].split(","):
    for info in pkgutil.walk_packages(importlib.import_module(package).__path__, package + "."):
        if info.name.endswith("__main__"):
            continue
        importlib.import_module(info.name)
        count += 1
print(count)
"""


@pytest.mark.e2e
def test_every_shipped_module_imports_without_the_dev_libraries():
    """What `pip install payable[worker,studio]` gets must import: no shipped module may need hypothesis,
    atheris, pytest, protoc or the test clients (those live in devtools/ and tests/)."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", BLOCK_DEV_ONLY, ",".join(DEV_ONLY), ",".join(SHIPPED)],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert int(done.stdout.split()[-1]) > 100


ENGINES = ("gradient", "span", "lora", "finetune")


def engine_violations(root: Path) -> list[str]:
    """Imports of one worker engine by another (design.md §1: engines only compute, and what two share lives
    beside them in gpu_worker/, once)."""
    bad = []
    for engine in ENGINES:
        for path in sorted((root / "gpu_worker" / engine).rglob("*.py")):
            depth = len(path.relative_to(root / "gpu_worker").parts) - 1  # `..` from here is gpu_worker/
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                targets: list[str] = []
                if isinstance(node, ast.Import):
                    targets = [alias.name.split(".")[1] for alias in node.names
                               if alias.name.startswith("gpu_worker.") and "." in alias.name]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module \
                        and node.module.startswith("gpu_worker."):
                    targets = [node.module.split(".")[1]]
                elif isinstance(node, ast.ImportFrom) and node.level == depth + 1:
                    targets = [node.module.split(".")[0]] if node.module else [a.name for a in node.names]
                bad += [f"{path.relative_to(root)}:{node.lineno} imports {t}" for t in targets
                        if t in ENGINES and t != engine]
    return bad


def test_worker_engines_do_not_import_each_other():
    assert engine_violations(ROOT) == []


def test_an_engine_importing_another_is_reported(tmp_path):
    (tmp_path / "gpu_worker" / "lora").mkdir(parents=True)
    (tmp_path / "gpu_worker" / "lora" / "bad.py").write_text("from ..rows import x\nfrom ..span.index import y\n")
    assert engine_violations(tmp_path) == ["gpu_worker/lora/bad.py:2 imports span"]
