"""The shape of the package: no import cycle among llmbook's modules, and a training program
made of short modules.

The imports are read with `ast`, at every level (an import inside a function is still a
dependency), so nothing is imported to check them.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "llmbook"
MAX_TRAINING_MODULE_LINES = 500


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imported_modules(path: Path) -> set[str]:
    """The llmbook modules that `path` imports, anywhere in it.

    `from llmbook.x import y` depends on llmbook.x.y when that is a module, else on llmbook.x.
    Edges into the root package (`from llmbook import __version__`) are left out: importing
    any submodule runs llmbook/__init__.py first anyway.
    """
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                child = f"{node.module}.{alias.name}"
                found.add(child if child in MODULES else node.module)
    return {name for name in found if name in MODULES and name != "llmbook"}


GRAPH = {name: imported_modules(path) for name, path in MODULES.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of `graph` as a list of modules (the first repeated at the end), or None."""
    state: dict[str, str] = {}  # "open" while on the current path, "done" once finished
    path: list[str] = []

    def visit(name: str) -> list[str] | None:
        state[name] = "open"
        path.append(name)
        for target in sorted(graph.get(name, ())):
            if state.get(target) == "open":
                return [*path[path.index(target) :], target]
            if target not in state and (cycle := visit(target)):
                return cycle
        path.pop()
        state[name] = "done"
        return None

    for name in sorted(graph):
        if name not in state and (cycle := visit(name)):
            return cycle
    return None


def test_the_walker_sees_the_imports_it_should() -> None:
    assert {"llmbook.gpt", "llmbook.checkpoint"} <= GRAPH["llmbook.sample"]
    assert "llmbook.pretrained" in GRAPH["llmbook.training.loop"]  # imported inside a function
    assert "llmbook.training.loop" in GRAPH["llmbook.train"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_cycle_in_llmbook() -> None:
    assert find_cycle(GRAPH) is None


def test_pretrained_models_never_import_the_trainer() -> None:
    trainer = {"llmbook.train", *(m for m in MODULES if m.startswith("llmbook.training"))}
    for name in ("llmbook.pretrained", "llmbook.gpt", "llmbook.norm", "llmbook.sample"):
        assert not GRAPH[name] & trainer, name


@pytest.mark.parametrize(
    "name", [m for m in MODULES if m == "llmbook.train" or m.startswith("llmbook.training")]
)
def test_every_module_of_the_training_program_is_short(name: str) -> None:
    lines = len(MODULES[name].read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_TRAINING_MODULE_LINES, f"{name}: {lines} lines"
