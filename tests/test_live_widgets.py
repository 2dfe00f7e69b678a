"""The live explorer in a running kernel: moving a control calls `draw` with the new value.

Runs under ipywidgets 8 (the main environment, `make unit`) and under ipywidgets 7.7.1 (the
Colab-like environment, `make colab-test`).
"""

from __future__ import annotations

from collections.abc import Iterator

import ipywidgets as w
import matplotlib.pyplot as plt
import pytest

from llmbook.widgets import Choice, Slider, Toggle, explore


def all_widgets(widget: w.Widget) -> Iterator[w.Widget]:
    yield widget
    for child in getattr(widget, "children", ()):
        yield from all_widgets(child)


@pytest.fixture
def recorded() -> tuple[list[dict], object]:
    calls: list[dict] = []

    def draw(slope: float, label: str = "a", dashed: bool = False):
        calls.append({"slope": slope, "label": label, "dashed": dashed})
        fig, ax = plt.subplots(figsize=(2, 1.5), dpi=40)
        ax.plot([0, 1], [0, slope], "--" if dashed else "-", label=label)
        return fig

    explorer = explore(draw, slope=Slider(0, 2, 1), label=Choice(["a", "b"]), dashed=Toggle())
    return calls, explorer


def control(box: w.Widget, kind: type) -> w.Widget:
    found = [x for x in all_widgets(box) if isinstance(x, kind)]
    assert len(found) == 1, f"want one {kind.__name__} in the explorer, found {len(found)}"
    return found[0]


def picture(box: w.Widget) -> bytes:
    return bytes(control(box, w.Image).value)


def test_building_the_widget_draws_the_initial_state_once(recorded):
    calls, explorer = recorded
    explorer.widget()
    assert calls == [{"slope": 0, "label": "a", "dashed": False}]


def test_moving_each_control_calls_draw_with_its_value(recorded):
    calls, explorer = recorded
    box = explorer.widget()
    first = picture(box)
    control(box, w.IntSlider).value = 2
    assert calls[-1] == {"slope": 2, "label": "a", "dashed": False}
    assert picture(box) != first, "the picture is redrawn"
    control(box, w.Dropdown).value = "b"
    assert calls[-1] == {"slope": 2, "label": "b", "dashed": False}
    control(box, w.Checkbox).value = True
    assert calls[-1] == {"slope": 2, "label": "b", "dashed": True}
    assert len(calls) == 4  # the initial state, then one call per move


def test_display_names_the_live_widget_by_its_model_id(recorded, monkeypatch):
    monkeypatch.delenv("LLMBOOK_EXPLORER_FRAMES", raising=False)  # a reader's kernel
    _, explorer = recorded
    data = explorer._repr_mimebundle_()
    data = data[0] if isinstance(data, tuple) else data
    view = data["application/vnd.jupyter.widget-view+json"]
    assert view["model_id"] == explorer.widget().model_id
    assert "image/png" in data or "text/html" in data
