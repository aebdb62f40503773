"""Nothing imports upward: every module's imports of this package follow the layer order.

docs/ARCHITECTURE.md draws the layers; this test is the part of it that cannot drift. A layer
may import its own package and anything of a lower rank. ``report`` formats what the engine
measured and ``mock`` is a tool beside the client (it borrows the HTTP parsers and the dialects'
shapes): only ``cli`` uses them, so they rank just under it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import sai3bench

#: Higher imports lower, never the reverse. Equal ranks are independent peers.
RANK = {
    "__main__": 10,
    "cli": 9,
    "mock": 8,
    "scale": 8,
    "engine": 7,
    "backends": 6,
    "report": 8,
    "plan": 5,
    "signers": 4,
    "http": 4,
    "config": 3,
    "datagen": 2,
    "metrics": 2,
    "errors": 1,
    "outcome": 0,
    "payload": 0,
    "__init__": 0,
}
ROOT = Path(sai3bench.__file__).parent


def _layer(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return parts[0]


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, imported top-level package) for each ``sai3bench.X`` import in the module."""
    found = []
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        names = []
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        found += [(node.lineno, n.split(".")[1]) for n in names if n.startswith("sai3bench.")]
    return found


def test_every_module_has_a_rank() -> None:
    assert {_layer(p) for p in ROOT.rglob("*.py")} <= set(RANK)


def test_nothing_imports_upward() -> None:
    upward = []
    for path in sorted(ROOT.rglob("*.py")):
        here = _layer(path)
        for line, there in _imports(path):
            if there != here and RANK[there] >= RANK[here]:
                upward.append(f"{path.relative_to(ROOT)}:{line} ({here}) imports {there}")
    assert upward == []
