"""The house's import rules (design.md §1), read from the source tree's own imports.

A layer imports only the layers below it, and some neighbours not at all: the runtime knows no pallet,
node, worker, studio or CLI by name; the worker and the studio reach the chain over gRPC only; the
node serves whatever pallets the chain spec loads without naming one; nothing imports the CLI.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FORBIDDEN = {
    "runtime": {"pallets", "node", "gpu_worker", "studio", "cli"},
    "pallets": {"node", "gpu_worker", "studio", "cli"},
    "node": {"pallets", "gpu_worker", "studio", "cli"},
    "gpu_worker": {"pallets", "node", "studio", "cli"},
    "studio": {"pallets", "node", "gpu_worker", "cli"},
}


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
                if module.split(".")[0] in banned:
                    bad.append(f"{path.relative_to(root)}:{line} imports {module}")
    return bad


def test_the_source_tree_keeps_the_layer_rules():
    scanned = sum(1 for layer in FORBIDDEN for _ in (ROOT / layer).rglob("*.py"))
    assert scanned > 50, "the walk found almost no source files: is ROOT the project root?"
    assert violations(ROOT) == []


@pytest.mark.parametrize(("layer", "module"), [("runtime", "pallets.token.interface"), ("gpu_worker", "node.node"),
                                               ("node", "pallets.datanet"), ("pallets", "cli.main")])
def test_a_forbidden_arrow_is_reported(tmp_path, layer, module):
    (tmp_path / layer).mkdir()
    (tmp_path / layer / "bad.py").write_text(f"import json\nfrom {module} import x\n")
    assert violations(tmp_path) == [f"{layer}/bad.py:2 imports {module}"]
