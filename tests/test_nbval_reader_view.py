"""Strict nbval compares what a reader reads: labels, states, alt texts and numbers, not pixels.

A model trained on another CPU's floating-point kernels draws pictures a few pixels away from the
stored ones; `make nbval` must still pass there, and must still fail when anything a reader reads
changes. The plugin that makes it so is tools/nbval_reader_view.py.
"""

from __future__ import annotations

import base64
import copy
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from PIL import Image

from llmbook.widgets import MIME_TYPE

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
from nbval_reader_view import readable, reader_view  # noqa: E402
from toc_notebooks import toc_notebooks  # noqa: E402

NOTEBOOKS = toc_notebooks(ROOT / "_toc.yml")


def nbval_flags() -> list[str]:
    """The Makefile's NBVAL_FLAGS, so this test runs nbval exactly as `make nbval` does."""
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    found = re.search(r"^NBVAL_FLAGS := (.*?)(?<!\\)$", makefile, flags=re.M | re.S)
    assert found, "the Makefile defines NBVAL_FLAGS"
    return found[1].replace("\\\n", " ").replace('""', "").split()


def stored_explorers(path: Path) -> list[dict]:
    nb = json.loads((ROOT / path).read_text(encoding="utf-8"))
    outs = [o for c in nb["cells"] if c["cell_type"] == "code" for o in c.get("outputs", [])]
    return [o["data"][MIME_TYPE] for o in outs if MIME_TYPE in o.get("data", {})]


def repainted(png_base64: str) -> str:
    """The same picture with one pixel changed, as another CPU's model might draw it."""
    image = Image.open(io.BytesIO(base64.b64decode(png_base64))).convert("RGB")
    r, g, b = image.getpixel((0, 0))
    image.putpixel((0, 0), ((r + 1) % 256, g, b))
    out = io.BytesIO()
    image.save(out, format="png")
    return base64.b64encode(out.getvalue()).decode("ascii")


def with_other_pictures(payload: dict) -> dict:
    changed = copy.deepcopy(payload)
    for frame in changed["frames"]:
        if "png" in frame:
            frame["png"] = repainted(frame["png"])
            frame["width"] += 1
    return changed


EXPLORERS = [(p, k) for p in NOTEBOOKS for k in range(len(stored_explorers(p)))]


def test_every_chapter_with_explorers_is_covered():
    assert len(EXPLORERS) >= 20


@pytest.mark.parametrize(("path", "index"), EXPLORERS, ids=str)
def test_other_pictures_compare_equal_but_other_words_do_not(path, index):
    payload = stored_explorers(path)[index]
    assert reader_view(with_other_pictures(payload)) == reader_view(payload)

    relabelled = copy.deepcopy(payload)
    relabelled["controls"][0]["labels"][0] += "!"
    assert reader_view(relabelled) != reader_view(payload)

    moved = copy.deepcopy(payload)
    moved["frames"][0]["alt"] += " (other)"
    assert reader_view(moved) != reader_view(payload)

    restated = copy.deepcopy(payload)
    restated["controls"][0]["default"] += 1
    assert reader_view(restated) != reader_view(payload)


def test_html_frames_keep_their_numbers_but_not_their_embedded_pictures():
    frame = {
        "state": [0],
        "alt": "x",
        "html": '<p>loss 1.23</p><img src="data:image/png;base64,AAA">',
    }
    other = {**frame, "html": frame["html"].replace("AAA", "BBB")}
    assert reader_view({"controls": [], "frames": [frame]}) == reader_view(
        {"controls": [], "frames": [other]}
    )
    changed = {**frame, "html": frame["html"].replace("1.23", "1.24")}
    assert reader_view({"controls": [], "frames": [frame]}) != reader_view(
        {"controls": [], "frames": [changed]}
    )


def test_outputs_without_explorers_pass_through_unchanged():
    output = {"output_type": "stream", "name": "stdout", "text": "loss 1.23\n"}
    assert readable(output) is output


# --- nbval itself, as `make nbval` runs it --------------------------------------------------

DRAW = """\
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
from llmbook.widgets import Slider, explore

def draw(r):
    fig, ax = plt.subplots(figsize=(2, 1.5))
    ax.bar([0, 1], [r, 2 - r])
    return fig
"""
SHOW = 'explore(draw, r=Slider(0, 2, 0.5, value=1, label="share"))'
EXPLORER_CELL = f"{DRAW}\n{SHOW}\n"


def notebook_with(payload_change) -> nbformat.NotebookNode:
    """One explorer cell, its output stored as `make outputs` stores it, then changed."""
    namespace: dict = {}
    exec(DRAW, namespace)
    explorer = eval(SHOW, namespace)
    data, metadata = explorer.bundle(precompute=True)
    data = copy.deepcopy(data)
    data[MIME_TYPE] = payload_change(data[MIME_TYPE])
    cell = nbformat.v4.new_code_cell(EXPLORER_CELL, execution_count=1)
    cell.outputs = [
        nbformat.v4.new_output("execute_result", data=data, metadata=metadata, execution_count=1)
    ]
    nb = nbformat.v4.new_notebook(cells=[cell])
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    return nb


def run_nbval(tmp_path: Path, nb: nbformat.NotebookNode) -> subprocess.CompletedProcess:
    path = tmp_path / "explorer.ipynb"
    nbformat.write(nb, path)
    env = {"LLMBOOK_EXPLORER_FRAMES": "1", "MPLBACKEND": "Agg", "PYTHONHASHSEED": "0"}
    return subprocess.run(
        [sys.executable, "-m", "pytest", *nbval_flags(), str(path)],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_make_nbval_passes_with_other_pictures_and_fails_with_other_labels(tmp_path):
    passed = run_nbval(tmp_path, notebook_with(with_other_pictures))
    assert passed.returncode == 0, passed.stdout[-2000:]

    def relabel(payload: dict) -> dict:
        changed = copy.deepcopy(payload)
        changed["controls"][0]["labels"][1] = "0.6"  # the readout of the second position
        return changed

    failed = run_nbval(tmp_path, notebook_with(relabel))
    assert failed.returncode == 1, failed.stdout[-2000:]
    assert "Cell outputs differ" in failed.stdout or "mismatch" in failed.stdout.lower()
