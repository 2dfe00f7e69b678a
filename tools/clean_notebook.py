"""Tidy a freshly executed notebook before it is committed.

Drops the saved ipywidgets state and every stored widget view (a viewer that opens the
notebook without a kernel would show "model not found"; each explorer's output carries a
picture for those viewers and its precomputed states for the site instead) and the per-cell
execution timestamps, so that re-running an unchanged notebook gives an unchanged file.

It also turns the book's way of marking an output that truly varies, a comment line
``# NBVAL_IGNORE_OUTPUT: <why>`` that readers see, into the cell tag ``nbval-ignore-output``
that nbval obeys (nbval's own comment marker must stand alone on its line, with no reason).
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat

IGNORE_COMMENT = "# NBVAL_IGNORE_OUTPUT:"
IGNORE_TAG = "nbval-ignore-output"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def sync_ignore_tag(cell: nbformat.NotebookNode) -> None:
    """Tag a code cell `nbval-ignore-output` exactly when its source says why its output varies."""
    if cell.cell_type != "code":
        return
    wanted = any(line.strip().startswith(IGNORE_COMMENT) for line in cell.source.splitlines())
    tags = [t for t in cell.metadata.get("tags", []) if t != IGNORE_TAG]
    tags += [IGNORE_TAG] if wanted else []
    if tags:
        cell.metadata["tags"] = tags
    else:
        cell.metadata.pop("tags", None)


def drop_widget_views(cell: nbformat.NotebookNode) -> None:
    """Remove stored widget views (nbval does not compare them, so it still sees every output)."""
    for output in cell.get("outputs", []):
        output.get("data", {}).pop(WIDGET_VIEW, None)
        output.get("metadata", {}).pop(WIDGET_VIEW, None)


def clean(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
        drop_widget_views(cell)
        sync_ignore_tag(cell)
    nbformat.write(nb, path)


if __name__ == "__main__":
    for arg in sys.argv[1:]:
        clean(Path(arg))
