"""The import-layer contract (docs/architecture.md "Layers").

Imports flow one way: ``schema`` at the bottom, then the golden and cost models, then the
layers that use them (workloads, the simulator, the RTL), then analysis, then the command
line.  A module may import its own layer or any layer below it, never one above, and
the siblings of one layer do not import each other.  Lazy imports inside functions count:
they are imports all the same.

The source folders install as subpackages of ``specaccel`` through ``package-dir``
(pyproject.toml), so the contract is checked on the source tree with :mod:`ast` rather
than on the installed package.
"""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: Lowest first.  Packages within one tuple are siblings: neither may import the other.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("specaccel.schema", "specaccel"),       # the root package holds only __version__
    ("specaccel.models.golden", "specaccel.models.cost"),
    ("specaccel.models",),                    # theory and sequoia: golden and cost below
    ("specaccel.workloads", "specaccel.sim", "specaccel.hdl"),
    ("specaccel.analysis",),
    ("specaccel.cli",),
)


def _package_dirs() -> dict[str, Path]:
    conf = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return {pkg: ROOT / d for pkg, d in conf["tool"]["setuptools"]["package-dir"].items()}


def _module_name(path: Path, dirs: dict[str, Path]) -> str:
    best = max((p for p, d in dirs.items() if path.is_relative_to(d)),
               key=lambda p: len(dirs[p].parts))
    rel = path.relative_to(dirs[best]).with_suffix("")
    parts = [] if rel.name == "__init__" else list(rel.parts)
    if rel.name == "__init__":
        parts = list(rel.parts[:-1])
    return ".".join([best, *parts])


def _layer_of(module: str) -> tuple[int, str]:
    """(layer index, the package of the layer) of the longest matching package."""
    best: tuple[int, str] | None = None
    for i, layer in enumerate(LAYERS):
        for pkg in layer:
            if (module == pkg or module.startswith(pkg + ".")) and (
                    best is None or len(pkg) > len(best[1])):
                best = (i, pkg)
    assert best is not None, module
    return best


def _imports(path: Path, module: str) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(), filename=str(path))
    out: list[tuple[int, str]] = []
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            out.append((node.lineno, name))
    return [(line, name) for line, name in out if name.split(".")[0] == "specaccel"]


def violations() -> list[str]:
    dirs = _package_dirs()
    found: list[str] = []
    seen: set[Path] = set()
    for d in dirs.values():
        for path in sorted(d.rglob("*.py")):
            if path in seen:
                continue
            seen.add(path)
            module = _module_name(path, dirs)
            mine, my_pkg = _layer_of(module)
            for line, name in _imports(path, module):
                theirs, their_pkg = _layer_of(name)
                if their_pkg == "specaccel" and name == "specaccel":
                    continue
                if theirs > mine or (theirs == mine and their_pkg != my_pkg):
                    found.append(f"{path.relative_to(ROOT)}:{line}: {module} imports {name}")
    return found


def test_imports_flow_down_the_layers() -> None:
    assert violations() == []


@pytest.mark.parametrize("module, imported, allowed", [
    ("specaccel.schema.trace", "specaccel.models.golden", False),
    ("specaccel.models.golden.tree_verify", "specaccel.schema.trace", True),
    ("specaccel.models.cost.area", "specaccel.models.golden", False),
    ("specaccel.sim.replay", "specaccel.hdl.units", False),
    ("specaccel.analysis.report", "specaccel.cli.output", False),
    ("specaccel.cli.run_cmd", "specaccel.analysis.plots", True),
])
def test_the_rule_itself(module: str, imported: str, allowed: bool) -> None:
    (mine, mp), (theirs, tp) = _layer_of(module), _layer_of(imported)
    assert (theirs < mine or (theirs == mine and tp == mp)) is allowed
