"""No module of the gateway imports another module's private (``_``-prefixed) names: what modules share
is public, in a module of its own (as adapters/database/ shares rows.py, statements.py and
repository.py between its repositories), so a private name can change with its module alone."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
PACKAGES = ("domain", "application", "adapters", "entrypoints", "emulators")


def private_imports() -> list[str]:
    found = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
                if not isinstance(node, ast.ImportFrom) or node.level or node.module is None:
                    continue
                if node.module.split(".")[0] not in PACKAGES:
                    continue
                private = [alias.name for alias in node.names if alias.name.startswith("_")]
                if private:
                    found.append(f"{path.relative_to(ROOT)}: {', '.join(private)} from {node.module}")
    return found


def test_no_module_imports_another_modules_private_names() -> None:
    assert private_imports() == []
