"""The package's layers, read from the import graph: what pyproject.toml's import-linter contract declares is
checked here too, so that the test suite itself fails on a violation (no extra tool needed)."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest
import tomllib

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "vidcolor"


def layers() -> list[list[str]]:
    """The layers, highest first, each a list of independent siblings ("a | b")."""
    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    declared = next(c for c in contracts if c["type"] == "layers")["layers"]
    return [[part.strip() for part in layer.split("|")] for layer in declared]


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _resolve(node: ast.ImportFrom, here: str, is_package: bool) -> list[str]:
    if node.level == 0:
        base = node.module or ""
    else:
        parts = here.split(".") if is_package else here.split(".")[:-1]
        parts = parts[: len(parts) - (node.level - 1)]
        base = ".".join(parts + ([node.module] if node.module else []))
    return [base] + [f"{base}.{alias.name}" for alias in node.names]


def imports(path: Path, top_level_only: bool) -> set[str]:
    """The vidcolor modules (or names in them) that `path` imports; `top_level_only`: only those run when the
    module is imported (not inside functions, not under `if TYPE_CHECKING`)."""
    tree = ast.parse(path.read_text())
    here, is_package = module_name(path), path.name == "__init__.py"
    found: set[str] = set()

    def visit(nodes: list[ast.stmt]) -> None:
        for node in nodes:
            if isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                found.update(_resolve(node, here, is_package))
            elif top_level_only and isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                continue
            elif top_level_only and isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                continue
            for field in ("body", "orelse", "finalbody", "handlers"):
                inner = getattr(node, field, None)
                if isinstance(inner, list):
                    visit([n for n in inner if isinstance(n, (ast.stmt, ast.excepthandler))])

    visit(tree.body)
    return {name for name in found if name == "vidcolor" or name.startswith("vidcolor.")}


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _known(name: str) -> str | None:
    """The module a dotted import name refers to (a name inside a module counts as that module)."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def graph(top_level_only: bool) -> dict[str, set[str]]:
    return {m: {t for n in imports(p, top_level_only) if (t := _known(n)) and t != m} for m, p in MODULES.items()}


def layer_of(module: str) -> tuple[int, str] | None:
    """(layer index, highest first; the sibling) of a module, None for the package's own __init__ and __main__."""
    top = module.split(".")[1] if "." in module else None
    for index, siblings in enumerate(layers()):
        if top in siblings:
            return index, top
    return None


def test_every_part_of_the_package_is_in_a_layer():
    tops = {m.split(".")[1] for m in MODULES if "." in m} - {"__main__"}
    declared = {s for layer in layers() for s in layer}
    assert tops == declared


def test_no_part_imports_one_above_it_or_a_sibling_declared_independent():
    wrong = []
    for importer, imported in ((a, b) for a, bs in graph(top_level_only=False).items() for b in bs):
        low, high = layer_of(importer), layer_of(imported)
        if low is None or high is None or low[1] == high[1]:
            continue
        if high[0] < low[0] or (high[0] == low[0]):
            wrong.append(f"{importer} imports {imported}")
    assert not wrong, "layer rules broken:\n" + "\n".join(wrong)


def test_nothing_but_the_command_line_imports_it():
    importers = {a for a, bs in graph(top_level_only=False).items() for b in bs
                 if b.startswith("vidcolor.cli") and not a.startswith("vidcolor.cli")}
    assert importers <= {"vidcolor.__main__"}


def test_no_import_cycle_at_module_level():
    edges = graph(top_level_only=True)
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(module: str) -> list[str] | None:
        state[module], cycle = 1, None
        path.append(module)
        for nxt in sorted(edges[module]):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[module] = 2
        return None

    for module in sorted(edges):
        if module not in state and (cycle := visit(module)):
            pytest.fail("import cycle: " + " -> ".join(cycle))


def test_importing_the_package_or_its_command_line_loads_neither_torch_nor_pyav():
    import subprocess
    import sys

    code = "import sys, vidcolor, vidcolor.cli; print(sorted({'torch', 'av', 'cv2'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "[]"
