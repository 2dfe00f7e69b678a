"""Tidy a freshly executed notebook before it is committed.

Drops the saved ipywidgets state (the site shows each widget's static HTML instead, and the
state would only repeat the frames) and the per-cell execution timestamps, so that re-running
an unchanged notebook gives an unchanged file.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat


def clean(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
    nbformat.write(nb, path)


if __name__ == "__main__":
    for arg in sys.argv[1:]:
        clean(Path(arg))
