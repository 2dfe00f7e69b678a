"""The house style: heatmap labels stay readable, and every figure says what it shows."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from matplotlib.figure import Figure

from llmbook.plotting import describe, figure_alt, heatmap, new_figure, record_alt_text


def label_colors(ax) -> dict[str, str]:
    return {t.get_text(): t.get_color() for t in ax.texts}


def test_sequential_heatmap_writes_dark_text_on_light_cells():
    _, ax = new_figure()
    heatmap(ax, np.array([[0.0, 1.0]]), cmap="Blues", center=None, fmt="{:.0f}")
    assert label_colors(ax) == {"0": "black", "1": "white"}


def test_diverging_heatmap_writes_white_text_on_both_ends():
    _, ax = new_figure()
    heatmap(ax, np.array([[-1.0, 0.0, 1.0]]), fmt="{:.0f}")
    assert label_colors(ax) == {"-1": "white", "0": "black", "1": "white"}


def test_heatmap_rejects_a_vector():
    _, ax = new_figure()
    with pytest.raises(ValueError, match=r"2-D matrix, got shape \(3,\)"):
        heatmap(ax, np.zeros(3))


# --- alt text: what a figure shows, in words ------------------------------------------------


def test_alt_text_is_the_figure_title_first():
    fig, axes = new_figure(ncols=2)
    axes[0].set_title("Loss")
    axes[1].set_title("Accuracy")
    assert figure_alt(fig) == "Loss; Accuracy"
    fig.suptitle("Training  the\nleaf model")
    assert figure_alt(fig) == "Training the leaf model"
    describe(fig, "Loss falls from 2.3 to 0.1 while accuracy rises")
    assert figure_alt(fig) == "Loss falls from 2.3 to 0.1 while accuracy rises"


def test_alt_text_falls_back_to_axis_labels_then_nothing():
    fig, ax = new_figure()
    assert figure_alt(fig) == ""
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    assert figure_alt(fig) == "loss against step"


def test_describe_refuses_an_empty_text():
    fig, _ = new_figure()
    with pytest.raises(ValueError, match="alt must be a non-empty string, got ' '"):
        describe(fig, " ")


def test_displayed_figure_carries_its_alt_text_in_the_output_metadata():
    interactiveshell = pytest.importorskip("IPython.core.interactiveshell")
    shell = interactiveshell.InteractiveShell.instance()
    try:
        png = shell.display_formatter.formatters["image/png"]
        png.for_type(Figure, lambda fig: b"PNG")  # what the inline backend registers
        record_alt_text()
        record_alt_text()  # a second call wraps nothing twice
        fig, ax = new_figure()
        ax.set_title("Loss while training")
        data, metadata = shell.display_formatter.format(fig)
        assert data["image/png"] == b"PNG"
        assert metadata == {"image/png": {"alt": "Loss while training"}}
        untitled, _ = new_figure()
        assert shell.display_formatter.format(untitled)[1] == {}
    finally:
        interactiveshell.InteractiveShell.clear_instance()


# --- stored chapters: every figure output carries its alt text -------------------------------
# (An explorer's output bundle has more than a PNG; llmbook.widgets gives its frames their alt.)

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_stored_figure_carries_alt_text(path):
    untold = []
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    for number, cell in enumerate(cells):
        for output in cell.get("outputs", []):
            if set(output.get("data", {})) == {"image/png", "text/plain"}:  # a plain figure
                alt = output.get("metadata", {}).get("image/png", {}).get("alt", "")
                if not alt.strip():
                    untold.append(f"cell {number}: {''.join(cell['source'])[:50]!r}")
    assert untold == [], (
        f"{path.stem}: figures with no alt text (give them a title or "
        f"llmbook.plotting.describe, then re-execute): {untold}"
    )
