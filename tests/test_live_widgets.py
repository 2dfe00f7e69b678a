"""The live explorer in a running kernel: moving a control calls `draw` with the new value.

Runs under ipywidgets 8 (the main environment, `make unit`) and under ipywidgets 7.7.1 (the
Colab-like environment, `make colab-test`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

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


# --- readouts: neighbouring positions never read the same -----------------------------------


def book_sliders() -> list[tuple[str, Slider]]:
    """Every Slider(...) the chapters build with literal arguments, as (chapter, slider)."""
    import ast
    import json
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    found = []
    for path in sorted((root / "notebooks").glob("*.ipynb")):  # (no yaml in the Colab venv)
        nb = json.loads((root / path).read_text(encoding="utf-8"))
        for cell in nb["cells"]:
            if cell["cell_type"] != "code":
                continue
            code = "".join(cell["source"])
            lines = [ln for ln in code.splitlines() if not ln.lstrip().startswith(("%", "!"))]
            for node in ast.walk(ast.parse("\n".join(lines))):
                if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "Slider":
                    keywords = [k for k in node.keywords if k.arg in ("value", "step")]
                    try:
                        args = [ast.literal_eval(a) for a in node.args]
                        kwargs = {k.arg: ast.literal_eval(k.value) for k in keywords}
                    except ValueError:
                        continue  # built from a variable: covered by the rule, not listed
                    found.append((path.stem, Slider(*args, **kwargs)))
    return found


BOOK_SLIDERS = book_sliders()


def test_the_book_has_sliders_to_check():
    assert len(BOOK_SLIDERS) >= 15


@pytest.mark.parametrize(("chapter", "slider"), BOOK_SLIDERS, ids=lambda x: str(x)[:40])
def test_every_live_readout_tells_neighbouring_steps_apart(chapter, slider):
    few_states = replace(slider, static=2)  # the site's states do not change the live slider
    control = explore(lambda **_: "<p></p>", s=few_states).widget().children[0].children[0]
    values = slider.live_values()
    if isinstance(control, w.FloatSlider):
        readouts = [format(v, control.readout_format) for v in values]
    else:
        readouts = [str(v) for v in values]
    assert len(set(readouts)) == len(values), f"{chapter}: {readouts}"
    assert readouts == [slider.readout(v) for v in values], "live and site read the same"


def test_a_half_hundredth_step_reads_three_decimals():
    slider = Slider(0, 0.05, 0.005, value=0.01)
    assert [slider.readout(v) for v in slider.live_values()[:4]] == [
        "0.000",
        "0.005",
        "0.010",
        "0.015",
    ]
