"""Sphinx extension: the book's site shows each stored explorer as its interactive HTML.

An explorer's stored output holds its precomputed states under
:data:`llmbook.widgets.MIME_TYPE`. myst-nb hands every output entry to its *mime render
plugins*, which it finds through the ``myst_nb.mime_renderers`` entry point group of installed
packages. Registering the plugin when Sphinx loads this extension instead (``_config.yml``:
``sphinx: extra_extensions``) makes a plain checkout build the site without reinstalling
``llmbook``. ``nb_mime_priority_overrides`` in ``_config.yml`` makes the site pick this entry.
"""

from __future__ import annotations

import json
from typing import Any

from docutils import nodes

from llmbook.widgets import MIME_TYPE, explorer_html


class ExplorerMimeRenderer:
    """A myst-nb mime render plugin for :data:`llmbook.widgets.MIME_TYPE`."""

    mime_priority_overrides = (("html", MIME_TYPE, 0),)

    @staticmethod
    def handle_mime(renderer: Any, data: Any, inline: bool) -> list[nodes.Element] | None:
        if data.mime_type != MIME_TYPE:
            return None
        content = data.content
        payload = json.loads(content) if isinstance(content, str | bytes) else content
        return [nodes.raw(text=explorer_html(payload), format="html", classes=["output"])]


def register() -> None:
    """Add the plugin to myst-nb's list of mime render plugins (once)."""
    from myst_nb.core import render

    found = render.load_mime_renders
    if getattr(found, "llmbook_explorers", False):
        return

    def with_explorers() -> list[Any]:
        return [*found(), ExplorerMimeRenderer]

    with_explorers.llmbook_explorers = True  # type: ignore[attr-defined]
    render.load_mime_renders = with_explorers


def setup(app: Any) -> dict[str, Any]:
    register()
    return {"parallel_read_safe": True, "parallel_write_safe": True}
