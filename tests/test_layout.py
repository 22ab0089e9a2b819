"""The package layout: every import inside poseclf goes one way, from a stage to earlier ones.

Each module's imports are read with ``ast`` (imports inside functions too), so the test needs no
import of poseclf and runs in well under a second.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "poseclf"

#: The stages in the order the data flows: a stage may import the ones before it, never one
#: after it. ``pictures`` comes right after ``pose`` because every later stage draws.
STAGES = ("pose", "pictures", "classify", "tables", "video")
#: Top-level modules every stage may import.
BASE = ("poseclf.errors", "poseclf.files", "poseclf._version")
#: Top-level modules that belong to a stage: shipped.py finds model files by name for classify
#: (it stays at the top, beside the models/ and datasets/ folders of a source checkout).
TOP_LEVEL_STAGE = {"poseclf.shipped": "classify"}
#: Above the library: nothing in a stage imports them.
TOP = ("poseclf", "poseclf.__main__", "poseclf.demo", "poseclf.cli")


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def rank(module: str) -> int:
    """0 for the base modules, 1.. for the stages in order, above them the CLI and the rest."""
    if module in BASE:
        return 0
    if module in TOP_LEVEL_STAGE:
        return 1 + STAGES.index(TOP_LEVEL_STAGE[module])
    parts = module.split(".")
    if len(parts) >= 2 and parts[1] in STAGES:
        return 1 + STAGES.index(parts[1])
    if module in TOP or module.startswith("poseclf.cli."):
        return 1 + len(STAGES)
    raise AssertionError(f"{module} is in no stage: add it to a sub-package (or to {__name__})")


def imported(path: Path) -> list[tuple[int, str]]:
    """``(line, module)`` of every poseclf module ``path`` imports (``from .x import y`` names
    module ``x``, or ``x.y`` when that is a module)."""
    name = module_name(path)
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.startswith("poseclf")]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target == "poseclf" or target.startswith("poseclf."):
                for alias in node.names:
                    sub = f"{target}.{alias.name}"
                    is_module = (PACKAGE.parent / (sub.replace(".", "/") + ".py")).is_file() or \
                        (PACKAGE.parent / sub.replace(".", "/") / "__init__.py").is_file()
                    found.append((node.lineno, sub if is_module else target))
    return found


MODULES = sorted(PACKAGE.rglob("*.py"))


def test_every_module_is_in_a_stage():
    assert len(MODULES) > 40
    for path in MODULES:
        rank(module_name(path))  # raises for a module of no stage


@pytest.mark.parametrize("path", MODULES, ids=lambda p: module_name(p))
def test_imports_go_to_earlier_stages_only(path):
    name = module_name(path)
    later = [f"{path.relative_to(PACKAGE.parent)}:{line}: {name} imports {target}"
             for line, target in imported(path) if rank(target) > rank(name)]
    assert not later, "\n".join(later)


@pytest.mark.parametrize("stage", STAGES)
def test_stage_init_imports_nothing(stage):
    """Importing one stage does not import the others (a fast ``poseclf --help`` needs it)."""
    init = PACKAGE / stage / "__init__.py"
    tree = ast.parse(init.read_text())
    assert ast.get_docstring(tree), f"{init} needs its docstring (what it holds, what it imports)"
    assert all(isinstance(node, ast.Expr) for node in tree.body), f"{init} must only document"


def test_no_import_circle():
    """No circle among the modules, counting the imports inside functions."""
    graph = {module_name(p): {t for _, t in imported(p)} for p in MODULES}
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for target in sorted(graph.get(module, ())):
            if target.startswith(module + ".") or module.startswith(target + "."):
                continue  # a package and its own modules
            if state.get(target) == 1:
                cycle = path[path.index(target):] + [target]
                raise AssertionError("import circle: " + " -> ".join(cycle))
            if target not in state:
                visit(target, path + [target])
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
