"""tools/new_chapter.py: the scaffold's set-up cell, and refreshing it in existing chapters."""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
from new_chapter import (  # noqa: E402
    SETUP_TAGS,
    colab_cell_source,
    refresh_set_up_cell,
    scaffold,
)


def test_scaffold_starts_with_the_hidden_set_up_cell(tmp_path):
    nb = scaffold(tmp_path / "16_new.ipynb", "A new idea")
    first = nb.cells[0]
    assert first.cell_type == "code" and first.source == colab_cell_source()
    assert first.metadata["tags"] == list(SETUP_TAGS)
    assert "versions" in first.metadata["nbval_ignore_reason"]


def test_refresh_touches_only_the_first_code_cell(tmp_path):
    old = nbformat.v4.new_code_cell(
        "# old set-up\nimport llmbook", metadata={"tags": ["hide-input"]}
    )
    other = nbformat.v4.new_code_cell("x = 1", metadata={"tags": ["hide-input"]})
    text = nbformat.v4.new_markdown_cell("# Title")
    path = tmp_path / "chapter.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[text, old, other]), path)
    assert refresh_set_up_cell(path) is True
    nb = nbformat.read(path, as_version=4)
    assert nb.cells[1].source == colab_cell_source()
    assert nb.cells[1].metadata["tags"] == list(SETUP_TAGS)
    assert (nb.cells[0].source, nb.cells[2].source) == ("# Title", "x = 1")
    assert nb.cells[2].metadata["tags"] == ["hide-input"]
    assert refresh_set_up_cell(path) is False, "a second refresh changes nothing"
