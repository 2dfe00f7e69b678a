"""Chapters in a Colab-like environment: Colab's ipywidgets 7.7.1, IPython 7.34 and ipykernel 6.17.

Runs only in .venv-colab (`make colab-test`, marker `colab`). Each chapter is executed top to
bottom the way a reader runs it in Colab (no precomputed frames): no cell may fail or write an
error, and every live explorer's output must name a widget whose model the kernel really sent,
since a view without its model is what a front end shows as "Error displaying widget".
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
COLAB_VERSIONS = {"ipywidgets": "7.7.1", "IPython": "7.34.0", "ipykernel": "6.17.1"}
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
# Chapters 1 and 12 hold every control type the explorers use (slider, choice, toggle).
CHAPTERS = ["01_simple_neural_network", "12_positional_encoding"]

pytestmark = pytest.mark.colab


def test_this_is_the_colab_like_environment():
    import importlib

    found = {name: importlib.import_module(name).__version__ for name in COLAB_VERSIONS}
    assert found == COLAB_VERSIONS, "run these tests with .venv-colab (make colab-test)"


def test_colab_versions_satisfy_llmbooks_bounds_so_pip_upgrades_nothing():
    """The set-up cell's `pip install` (no -U) then adds llmbook alone to Colab's packages."""
    from importlib import metadata

    import tomllib
    from packaging.requirements import Requirement

    with (ROOT / "pyproject.toml").open("rb") as file:
        dependencies = tomllib.load(file)["project"]["dependencies"]
    unmet = {}
    for line in dependencies:
        requirement = Requirement(line)
        installed = metadata.version(requirement.name)
        if not requirement.specifier.contains(installed, prereleases=True):
            unmet[requirement.name] = f"{installed} (llmbook needs {requirement.specifier})"
    assert unmet == {}


def explorer_controls(path: Path) -> set[str]:
    sources = "".join(
        "".join(c["source"]) for c in json.loads(path.read_text(encoding="utf-8"))["cells"]
    )
    return {kind for kind in ("Slider(", "Choice(", "Toggle(") if kind in sources}


def test_chapters_cover_every_control_type():
    covered = set().union(*(explorer_controls(ROOT / f"notebooks/{c}.ipynb") for c in CHAPTERS))
    every = set().union(*(explorer_controls(p) for p in (ROOT / "notebooks").glob("*.ipynb")))
    assert covered == every, f"add a chapter using {every - covered} to CHAPTERS"


@pytest.fixture(scope="module", params=CHAPTERS)
def executed(request: pytest.FixtureRequest):
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(ROOT / f"notebooks/{request.param}.ipynb", as_version=4)
    env = {k: v for k, v in os.environ.items() if k != "LLMBOOK_EXPLORER_FRAMES"}  # a reader's
    env |= {"PYTHONHASHSEED": "0", "MPLBACKEND": "module://matplotlib_inline.backend_inline"}
    client = NotebookClient(
        nb, timeout=600, kernel_name="python3", allow_errors=True, store_widget_state=True,
        resources={"metadata": {"path": str(ROOT / "notebooks")}},
    )  # fmt: skip
    client.execute(env=env)
    return request.param, nb


def test_chapter_runs_without_error_output(executed):
    name, nb = executed
    problems = []
    for k, cell in enumerate(nb.cells):
        for output in cell.get("outputs", []):
            if output["output_type"] == "error":
                problems.append(f"cell {k}: {output['ename']}: {output['evalue']}")
            elif output.get("name") == "stderr" and re.search(r"Error|Traceback", output["text"]):
                problems.append(f"cell {k} stderr: {output['text'][:300]}")
            text = json.dumps(output.get("data", {}))
            if "Error displaying widget" in text:
                problems.append(f"cell {k}: Error displaying widget")
    assert problems == [], f"{name}: {problems}"


def test_set_up_cell_reports_colab_versions(executed):
    _, nb = executed
    first = next(c for c in nb.cells if c.cell_type == "code")
    printed = "".join(o.get("text", "") for o in first.outputs if o["output_type"] == "stream")
    assert "ipywidgets  7.7.1" in printed and "numpy       2.1.3" in printed, printed


def test_every_explorer_shows_a_live_widget_the_kernel_sent(executed):
    name, nb = executed
    state = nb.metadata.get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    explorer_cells = [c for c in nb.cells if c.cell_type == "code" and "explore(" in c.source]
    assert explorer_cells, f"{name} has no explorer"
    for cell in explorer_cells:
        views = [o["data"][WIDGET_VIEW] for o in cell.outputs if WIDGET_VIEW in o.get("data", {})]
        assert views, f"{name}: an explorer shows no live widget: {cell.source[:80]!r}"
        for view in views:
            assert view["model_id"] in state, f"{name}: widget {view['model_id']} was never sent"
