"""The house style: heatmap labels stay readable, and every figure says what it shows."""

from __future__ import annotations

import json
import re
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.colors import to_hex
from matplotlib.figure import Figure

from llmbook.plotting import (
    COLORS,
    NEGATIVE,
    POSITIVE,
    SIGN_CMAP,
    STYLE,
    describe,
    draw_network,
    figure_alt,
    heatmap,
    new_figure,
    record_alt_text,
    sign_color,
)


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


# --- one colour key: blue positive, red negative, defined once ------------------------------

ROOT = Path(__file__).resolve().parent.parent
DIVERGING_NAMES = re.compile(
    r"""["'](RdBu|RdBu_r|bwr|bwr_r|coolwarm|coolwarm_r|seismic|seismic_r|PiYG|PRGn|BrBG|PuOr|"""
    r"""RdGy|RdYlBu|RdYlGn|Spectral)["']"""
)
SIGN_HEXES = re.compile(f"{POSITIVE}|{NEGATIVE}", re.IGNORECASE)
NOT_YET_ON_THE_KEY: dict[str, str] = {}


def test_sign_colours_and_colour_map_are_defined_once():
    assert COLORS["positive"] == COLORS["weight_pos"] == POSITIVE
    assert COLORS["negative"] == COLORS["weight_neg"] == NEGATIVE
    assert to_hex(SIGN_CMAP(1.0)) == POSITIVE and to_hex(SIGN_CMAP(0.0)) == NEGATIVE
    assert to_hex(SIGN_CMAP(0.5)) == "#ffffff"
    assert plt.get_cmap(STYLE["image.cmap"]) is not None
    assert to_hex(plt.get_cmap(STYLE["image.cmap"])(1.0)) == POSITIVE


def test_network_diagram_draws_positive_weights_blue_and_negative_red():
    _, ax = new_figure()
    draw_network(ax, [np.array([[0.5, -0.5]])], show_weights=False)
    assert [to_hex(line.get_color()) for line in ax.lines] == [POSITIVE, NEGATIVE]
    assert sign_color(0.5) == POSITIVE and sign_color(-0.5) == NEGATIVE


def test_heatmap_colours_positive_cells_blue_and_negative_red():
    _, ax = new_figure()
    heatmap(ax, np.array([[-2.0, 0.0, 2.0]]), annotate=False)
    image = ax.images[0]
    cells = [to_hex(image.cmap(image.norm(v))) for v in (-2.0, 0.0, 2.0)]
    assert cells == [NEGATIVE, "#ffffff", POSITIVE]


def code_sources() -> list[tuple[str, str]]:
    """(name, source) of every figure-drawing llmbook module but plotting.py, and every
    notebook code cell."""
    modules = [
        (path.name, path.read_text(encoding="utf-8"))
        for path in sorted((ROOT / "llmbook").glob("*.py"))
        if path.name != "plotting.py"
    ]
    sources = [(name, text) for name, text in modules if "matplotlib" in text]
    for path in NOTEBOOKS:
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        for number, cell in enumerate(cells):
            if cell["cell_type"] == "code":
                sources.append((f"{path.stem} cell {number}", "".join(cell["source"])))
    return sources


@pytest.mark.parametrize(
    "name",
    sorted({name.split(" cell ")[0] for name, _ in code_sources()}),
)
def test_no_figure_hard_codes_its_sign_colours(name):
    if name in NOT_YET_ON_THE_KEY:
        pytest.xfail(NOT_YET_ON_THE_KEY[name])
    found = [
        f"{where}: {match.group()}"
        for where, source in code_sources()
        if where.split(" cell ")[0] == name
        for pattern in (DIVERGING_NAMES, SIGN_HEXES)
        for match in pattern.finditer(source)
    ]
    assert found == [], (
        f"{name} picks its own colours for signs; use llmbook.plotting.SIGN_CMAP, "
        f"COLORS['positive'] / COLORS['negative'] or sign_color: {found}"
    )
