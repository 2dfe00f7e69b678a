"""Tidy a freshly executed notebook before it is committed.

Drops the saved ipywidgets state and every stored widget view (a viewer that opens the
notebook without a kernel would show "model not found"; each explorer's output carries a
picture for those viewers and its precomputed states for the site instead) and the per-cell
execution timestamps, so that re-running an unchanged notebook gives an unchanged file.

An output that truly varies (trained weights, CPU kinds) is marked in the cell's metadata, never
in its visible source: the tag ``nbval-ignore-output`` (which nbval obeys) together with the key
``nbval_ignore_reason`` saying why. This script refuses a notebook where one comes without the
other, or where a visible ``NBVAL`` marker is left in a cell's source.

It also refuses an explorer output without its precomputed states: the notebook was executed
without ``LLMBOOK_EXPLORER_FRAMES=1`` (``make outputs`` sets it), and the site would show only
the explorer's fallback picture.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat

from llmbook.widgets import MIME_TYPE, NOTE

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


def explorer_problems(cell: nbformat.NotebookNode) -> list[str]:
    """An explorer output must hold the states the site shows."""
    stateless = [
        o
        for o in cell.get("outputs", [])
        if NOTE in "".join(o.get("data", {}).get("text/plain", ""))
        and MIME_TYPE not in o.get("data", {})
    ]
    if not stateless:
        return []
    return [
        "shows an explorer without its precomputed states; execute the notebook with "
        "LLMBOOK_EXPLORER_FRAMES=1 in the environment (as `make outputs` does)"
    ]


def clean(path: Path) -> list[str]:
    """Tidy the notebook in place; return the marker problems found (cell number: problem)."""
    nb = nbformat.read(path, as_version=4)
    nb.metadata.pop("widgets", None)
    found = []
    for number, cell in enumerate(nb.cells, start=1):
        cell.metadata.pop("execution", None)
        drop_widget_views(cell)
        problems = marker_problems(cell) + explorer_problems(cell)
        found += [f"{path} cell {number} {p}" for p in problems]
    nbformat.write(nb, path)
    return found


if __name__ == "__main__":
    problems = [p for arg in sys.argv[1:] for p in clean(Path(arg))]
    print("\n".join(problems), file=sys.stderr)
    sys.exit(1 if problems else 0)
