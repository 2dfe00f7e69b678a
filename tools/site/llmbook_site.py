"""Sphinx extension for the book's site: phone-ready CSS, clean pages, alt text for every figure.

Loaded by `_config.yml` (`sphinx.local_extensions`). It

* serves `static/llmbook.css` (long inline code wraps, wide outputs scroll inside their own box);
* drops a second copy of an inline script from a page (sphinx-thebe's configuration script is
  registered twice, and the second `const THEBE_JS_URL` is a JavaScript error on every page);
* sets the default colour mode to "auto" (the theme logs an empty one as an error);
* gives each notebook figure the alt text stored with its PNG output (output metadata
  `{"image/png": {"alt": ...}}`, written by `llmbook.plotting.record_alt_text`), instead of the
  file name that Sphinx uses when an image has none.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from pathlib import Path
from typing import Any

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.config import Config

STATIC = Path(__file__).resolve().parent / "static"
IMAGE_TYPES = ("image/png", "image/jpeg", "image/gif")


def serve_css(app: Sphinx, config: Config) -> None:
    config.html_static_path.append(str(STATIC))
    app.add_css_file("llmbook.css")
    config.html_context.setdefault("default_mode", "auto")  # the theme logs an empty one


def output_alts(notebook: dict[str, Any]) -> dict[str, str]:
    """Alt texts of a notebook's image outputs, keyed by the SHA-256 of the image bytes.

    myst-nb names each image file after that hash, so the key finds the image on the page.
    """
    alts: dict[str, str] = {}
    for cell in notebook.get("cells", []):
        for output in cell.get("outputs", []):
            for mime in IMAGE_TYPES:
                content = output.get("data", {}).get(mime)
                alt = output.get("metadata", {}).get(mime, {}).get("alt", "")
                if not content or not isinstance(alt, str) or not alt.strip():
                    continue
                if isinstance(content, list):
                    content = "".join(content)
                try:
                    data = base64.b64decode(content)
                except (binascii.Error, ValueError):
                    continue
                alts[hashlib.sha256(data).hexdigest()] = " ".join(alt.split())
    return alts


def add_alt_text(app: Sphinx, doctree: nodes.document) -> None:
    source = Path(app.env.doc2path(app.env.docname))
    if source.suffix != ".ipynb":
        return
    alts = output_alts(json.loads(source.read_text(encoding="utf-8")))
    for image in doctree.findall(nodes.image):
        if image.get("alt"):
            continue
        alt = alts.get(Path(image["uri"]).stem)
        if alt:
            image["alt"] = alt


def drop_repeated_scripts(
    app: Sphinx, pagename: str, templatename: str, context: dict[str, Any], doctree: Any
) -> None:
    """Keep the first of several identical script tags (same source, same inline body)."""
    scripts = context.get("script_files")
    if not scripts:
        return
    seen: set[tuple[str, str]] = set()
    kept = []
    for script in scripts:
        attributes = getattr(script, "attributes", {})
        key = (getattr(script, "filename", None) or "", json.dumps(attributes, sort_keys=True))
        if key in seen:
            continue
        seen.add(key)
        kept.append(script)
    scripts[:] = kept


def setup(app: Sphinx) -> dict[str, Any]:
    app.connect("config-inited", serve_css)
    app.connect("doctree-read", add_alt_text)
    app.connect("html-page-context", drop_repeated_scripts)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
