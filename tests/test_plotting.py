"""The house style's heatmap keeps every label readable."""

from __future__ import annotations

import numpy as np
import pytest

from llmbook.plotting import heatmap, new_figure


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
