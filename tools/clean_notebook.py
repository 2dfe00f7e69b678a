"""Tidy a freshly executed notebook before it is committed.

Drops the saved ipywidgets state and every stored widget view (a viewer that opens the
notebook without a kernel would show "model not found"; each explorer's output carries a
picture for those viewers and its precomputed states for the site instead) and the per-cell
execution timestamps, so that re-running an unchanged notebook gives an unchanged file.

An output that truly varies (trained weights, CPU kinds) is marked in the cell's metadata, never
in its visible source: the tag ``nbval-ignore-output`` (which nbval obeys) together with the key
``nbval_ignore_reason`` saying why. This script refuses a notebook where one comes without the
other, or where a visible ``NBVAL`` marker is left in a cell's source.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat

IGNORE_TAG = "nbval-ignore-output"
REASON_KEY = "nbval_ignore_reason"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def marker_problems(cell: nbformat.NotebookNode) -> list[str]:
    """What is wrong with a code cell's ignore marker: tag and reason go together, out of sight."""
    if cell.cell_type != "code":
        return []
    tagged = IGNORE_TAG in cell.metadata.get("tags", [])
    reason = str(cell.metadata.get(REASON_KEY, "")).strip()
    problems = []
    if "NBVAL" in cell.source:
        problems.append("shows a test marker in its source; use the tag and metadata instead")
    if tagged and len(reason) <= 10:
        problems.append(f"is tagged {IGNORE_TAG!r} but its metadata {REASON_KEY!r} says no reason")
    if reason and not tagged:
        problems.append(f"has a {REASON_KEY!r} but no {IGNORE_TAG!r} tag")
    return problems


def drop_widget_views(cell: nbformat.NotebookNode) -> None:
    """Remove stored widget views (nbval does not compare them, so it still sees every output)."""
    for output in cell.get("outputs", []):
        output.get("data", {}).pop(WIDGET_VIEW, None)
        output.get("metadata", {}).pop(WIDGET_VIEW, None)


def clean(path: Path) -> list[str]:
    """Tidy the notebook in place; return the marker problems found (cell number: problem)."""
    nb = nbformat.read(path, as_version=4)
    nb.metadata.pop("widgets", None)
    found = []
    for number, cell in enumerate(nb.cells, start=1):
        cell.metadata.pop("execution", None)
        drop_widget_views(cell)
        found += [f"{path} cell {number} {p}" for p in marker_problems(cell)]
    nbformat.write(nb, path)
    return found


if __name__ == "__main__":
    problems = [p for arg in sys.argv[1:] for p in clean(Path(arg))]
    print("\n".join(problems), file=sys.stderr)
    sys.exit(1 if problems else 0)
