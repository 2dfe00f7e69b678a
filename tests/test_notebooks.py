"""Every chapter follows the book's skeleton and stores the outputs CI verified."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import nbformat
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
from clean_notebook import marker_problems  # noqa: E402
from new_chapter import SETUP_TAGS, colab_cell_source, package_version, repository_url  # noqa: E402
from toc_notebooks import toc_files, toc_notebooks  # noqa: E402

NOTEBOOKS = toc_notebooks(ROOT / "_toc.yml")


def load(path: Path) -> dict:
    return json.loads((ROOT / path).read_text(encoding="utf-8"))


def markdown(nb: dict) -> str:
    return "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")


def code_cells(nb: dict) -> list[dict]:
    return [c for c in nb["cells"] if c["cell_type"] == "code"]


def test_every_notebook_is_in_the_table_of_contents():
    on_disk = sorted(p.relative_to(ROOT) for p in (ROOT / "notebooks").glob("*.ipynb"))
    assert on_disk == sorted(NOTEBOOKS)
    assert NOTEBOOKS, "no chapter listed in _toc.yml"


def test_toc_lists_chapters_in_file_order():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    chapters = [f for f in toc_files(toc) if f.startswith("notebooks/")]
    assert chapters == sorted(chapters)  # 01 ... 15, then the appendix A1


def test_repository_url_is_a_github_url():
    assert repository_url(ROOT).startswith("https://github.com/")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=str)
def test_first_cell_is_the_colab_set_up_cell(path):
    first = code_cells(load(path))[0]
    assert "".join(first["source"]) == colab_cell_source(ROOT), (
        "run `python tools/new_chapter.py --refresh-set-up notebooks/*.ipynb`"
    )
    assert first["metadata"]["tags"][-3:] == list(SETUP_TAGS)
    assert first["metadata"]["nbval_ignore_reason"]


def test_set_up_cell_installs_this_release():
    source = colab_cell_source(ROOT)
    version = package_version(ROOT)
    assert f'LLMBOOK = "{version}"' in source
    assert f'"git+{repository_url(ROOT)}@v" + LLMBOOK' in source
    assert "-U" not in source and "--upgrade" not in source, "never upgrade a reader's packages"
    llmbook = pytest.importorskip("llmbook")
    assert llmbook.__version__ == version, "llmbook/__init__.py and pyproject.toml disagree"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=str)
def test_chapter_has_the_skeleton(path):
    text = markdown(load(path))
    assert text.lstrip().startswith("# "), "a chapter starts with its title"
    for part in (
        "Learning goals",
        "## Summary",
        "## Exercises",
        "{exercise}",
        "{solution}",
        ":class: dropdown",
    ):
        assert part in text, f"{path} has no {part!r}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=str)
def test_chapter_has_a_widget(path):
    sources = "".join("".join(c["source"]) for c in code_cells(load(path)))
    assert "explore(" in sources, f"{path} has no llmbook.widgets.explore widget"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=str)
def test_outputs_are_stored_from_one_top_to_bottom_run(path):
    cells = code_cells(load(path))
    assert [c["execution_count"] for c in cells] == list(range(1, len(cells) + 1)), (
        "run `make outputs` to store the outputs"
    )
    errors = [o for c in cells for o in c["outputs"] if o["output_type"] == "error"]
    assert errors == []


@pytest.mark.parametrize("path", NOTEBOOKS, ids=str)
def test_stored_outputs_carry_no_machine_paths_or_widget_state(path):
    text = (ROOT / path).read_text(encoding="utf-8")
    for marker in ("/work/", "/home/", "/Users/", "/root/", "site-packages"):
        assert marker not in text, f"{path} stores a local path ({marker})"
    assert "widgets" not in load(path)["metadata"], "run tools/clean_notebook.py (make outputs)"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=str)
def test_ignored_outputs_say_why_out_of_the_readers_sight(path):
    """An ignored output has the tag nbval obeys and a reason in metadata; no marker is shown."""
    cells = [nbformat.from_dict(cell) for cell in load(path)["cells"]]
    problems = [p for cell in cells for p in marker_problems(cell)]
    assert problems == [], f"{path}: {problems}"
