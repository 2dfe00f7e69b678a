"""The explorers as the notebooks store them: states for the site, one picture for everyone else.

Stored outputs are made by `make outputs`, which sets LLMBOOK_EXPLORER_FRAMES=1 so that every
explorer stores its precomputed states. A notebook executed without it fails here: re-run it
with `make outputs` (or that command's environment).
"""

from __future__ import annotations

import base64
import html
import io
import json
import sys
from pathlib import Path

import pytest
from PIL import Image

from llmbook.widgets import MIME_TYPE, NOTE, WIDGET_VIEW

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
from toc_notebooks import toc_notebooks  # noqa: E402

NOTEBOOKS = toc_notebooks(ROOT / "_toc.yml")
MIN_STEPS = 8


def outputs(path: Path) -> list[dict]:
    nb = json.loads((ROOT / path).read_text(encoding="utf-8"))
    return [o for c in nb["cells"] if c["cell_type"] == "code" for o in c.get("outputs", [])]


def explorer_outputs(path: Path) -> list[dict]:
    return [o for o in outputs(path) if NOTE in "".join(o.get("data", {}).get("text/plain", ""))]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=str)
def test_no_widget_views_and_no_stacked_frames_are_stored(path):
    for output in outputs(path):
        data = output.get("data", {})
        assert WIDGET_VIEW not in data, "a stored widget view: run tools/clean_notebook.py"
        assert "lbx-frame" not in "".join(data.get("text/html", "")), (
            "an explorer stored as many frames in text/html: re-run with `make outputs`"
        )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=str)
def test_every_explorer_stores_its_states_and_one_picture(path):
    found = explorer_outputs(path)
    assert found, f"{path}: no explorer output stored"
    for output in found:
        data = output["data"]
        assert MIME_TYPE in data, "no precomputed states: re-run with `make outputs`"
        fallback = "".join(data["text/html"])
        assert NOTE in fallback and fallback.count("<img") <= 1
        frames = data[MIME_TYPE]["frames"]
        if "png" in frames[0]:
            png = base64.b64decode(data["image/png"])
            picture = Image.open(io.BytesIO(png))
            assert picture.format == "PNG"
            shown = output["metadata"]["image/png"]["width"]  # CSS pixels
            assert abs(picture.size[0] - 2 * shown) <= 2, "drawn at twice the density it shows"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=str)
def test_every_slider_has_at_least_8_static_steps(path):
    for output in explorer_outputs(path):
        for control in output["data"].get(MIME_TYPE, {"controls": []})["controls"]:
            if control["kind"] == "range":
                wanted = min(MIN_STEPS, control["steps_of"])
                assert len(control["labels"]) >= wanted, (
                    f"{control['label']!r} steps through {control['labels']} on the site; "
                    f"give it static={MIN_STEPS}"
                )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=str)
def test_the_fallback_picture_is_the_state_the_site_opens_on(path):
    """The site opens on the default state; viewers that run nothing show that state too,
    drawn again at twice the density (so the two pictures' bytes differ, not their state)."""
    for output in explorer_outputs(path):
        payload = output["data"].get(MIME_TYPE)
        if payload is None or "png" not in payload["frames"][0]:
            continue
        default = [c["default"] for c in payload["controls"]]
        (first,) = [f for f in payload["frames"] if f["state"] == default]
        fallback = "".join(output["data"]["text/html"])
        assert f'alt="{html.escape(first["alt"])}"' in fallback
        shown = output["metadata"]["image/png"]
        assert abs(shown["width"] - first["width"]) <= 3  # the tight box rounds per density
        assert abs(shown["height"] - first["height"]) <= 3
