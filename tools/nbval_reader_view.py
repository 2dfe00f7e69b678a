"""Strict nbval compares what a reader reads, never pixels: a pytest plugin for `make nbval`.

    pytest -p tools.nbval_reader_view --nbval ...      (the Makefile's nbval target)

nbval already skips ``image/png``, but it compares an explorer's stored site states
(:data:`llmbook.widgets.MIME_TYPE`) whole, and those hold every frame's PNG. A model trained with
one CPU's floating-point kernels (AMD, Intel with AVX-512, ...) ends a few last digits away from
the same model trained on another, so its pictures differ by a few pixels while everything a
reader reads is the same. Before nbval compares two outputs, this plugin replaces each stored
explorer by its :func:`reader_view`: the controls (names, labels, every position's readout, the
defaults), every state, each frame's alt text and any HTML frame's text, but no picture.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from typing import Any

from llmbook.widgets import MIME_TYPE

PICTURE_KEYS = ("png", "width", "height")
"""What a frame holds of its picture: its pixels and their size."""

EMBEDDED_PNG = re.compile(r"data:image/png;base64,[A-Za-z0-9+/=]+")


def reader_view(payload: Mapping[str, Any]) -> dict[str, Any]:
    """A stored explorer without its pictures: what nbval compares.

    >>> reader_view({"controls": [], "frames": [{"state": [0], "alt": "r 1", "png": "iVBO"}]})
    {'controls': [], 'frames': [{'state': [0], 'alt': 'r 1'}]}
    """
    frames = []
    for frame in payload.get("frames", []):
        kept = {k: v for k, v in frame.items() if k not in PICTURE_KEYS}
        if "html" in kept:
            kept["html"] = EMBEDDED_PNG.sub("data:image/png;base64,<PNG>", kept["html"])
        frames.append(kept)
    return {**copy.deepcopy(dict(payload)), "frames": frames}


def readable(output: Any) -> Any:
    """The output with any stored explorer replaced by its :func:`reader_view`."""
    data = output.get("data") if hasattr(output, "get") else None
    if not data or MIME_TYPE not in data:
        return output
    changed = copy.deepcopy(output)
    changed["data"][MIME_TYPE] = reader_view(data[MIME_TYPE])
    return changed


def pytest_configure(config: Any) -> None:
    """Wrap nbval's comparison so both sides are read as a reader reads them."""
    from nbval.plugin import IPyNbCell

    compare = IPyNbCell.compare_outputs
    if getattr(compare, "reads_as_reader", False):
        return

    def compare_outputs(self: Any, test: list, ref: list, skip_compare: Any = None) -> bool:
        return compare(self, [readable(o) for o in test], [readable(o) for o in ref], skip_compare)

    compare_outputs.reads_as_reader = True  # type: ignore[attr-defined]
    IPyNbCell.compare_outputs = compare_outputs
