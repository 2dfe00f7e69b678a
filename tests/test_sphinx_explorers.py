"""llmbook.sphinx_explorers: the site turns a stored explorer into its interactive HTML."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import matplotlib.pyplot as plt
import nbformat
import pytest

render = pytest.importorskip("myst_nb.core.render")

from llmbook import sphinx_explorers  # noqa: E402
from llmbook.widgets import MIME_TYPE, WIDGET_VIEW, explore, explorer_html  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
from clean_notebook import clean  # noqa: E402


def draw(n):
    fig, ax = plt.subplots(figsize=(2, 1), dpi=40)
    ax.plot([0, n])
    return fig


def test_the_plugin_renders_the_stored_states_as_the_site_html():
    payload = explore(draw, n=(0, 2)).payload()
    for content in (payload, json.dumps(payload)):  # a dict, or text
        data = render.MimeData(MIME_TYPE, content)
        (node,) = sphinx_explorers.ExplorerMimeRenderer.handle_mime(None, data, False)
        assert node.astext() == explorer_html(payload)
        assert node["format"] == "html"
    other = render.MimeData("text/html", "<b>x</b>")
    assert sphinx_explorers.ExplorerMimeRenderer.handle_mime(None, other, False) is None


def test_the_extension_registers_the_plugin_once_and_the_site_prefers_it():
    sphinx_explorers.register()
    sphinx_explorers.register()
    plugins = render.load_mime_renders()
    assert plugins.count(sphinx_explorers.ExplorerMimeRenderer) == 1
    config = [("html", MIME_TYPE, 0), ("html", WIDGET_VIEW, None)]  # as in _config.yml
    priority = render.get_mime_priority("html", config)
    assert priority[0] == MIME_TYPE and WIDGET_VIEW not in priority


def test_cleaning_a_notebook_drops_widget_views_and_keeps_the_picture(tmp_path):
    data, metadata = explore(draw, n=(0, 2)).bundle(precompute=False)
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("explore(draw, n=(0, 2))", execution_count=1)
    cell.outputs = [
        nbformat.v4.new_output("execute_result", data=data, metadata=metadata, execution_count=1)
    ]
    nb.cells = [cell]
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {}}
    path = tmp_path / "x.ipynb"
    nbformat.write(nb, path)
    clean(path)
    (output,) = nbformat.read(path, as_version=4).cells[0].outputs
    assert WIDGET_VIEW not in output.data and "widgets" not in nbformat.read(path, 4).metadata
    assert output.data["image/png"] == data["image/png"]
