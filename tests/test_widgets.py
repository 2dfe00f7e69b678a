"""llmbook.widgets: one call gives a live ipywidgets view and a self-contained static version."""

from __future__ import annotations

import re

import ipywidgets as w
import matplotlib.pyplot as plt
import pytest

from llmbook.widgets import Choice, Slider, Toggle, as_control, explore


def draw_line(slope: float, label: str = "a", dashed: bool = False):
    fig, ax = plt.subplots(figsize=(2, 1.5), dpi=40)
    ax.plot([0, 1], [0, slope], "--" if dashed else "-", label=label)
    return fig


def frames_in(html: str) -> list[str]:
    return re.findall(r'class="lbx-frame"', html)


def test_static_html_holds_one_frame_per_state():
    explorer = explore(
        draw_line,
        slope=Slider(0, 2, 1),
        label=Choice(["a", "b"]),
        dashed=Toggle(),
    )
    html = explorer.static_html()
    assert explorer.frame_count == 3 * 2 * 2
    assert len(frames_in(html)) == 12
    assert html.count("data:image/png;base64,") == 12
    assert len(re.findall(r"<img [^>]*hidden", html)) == 11  # exactly one frame visible


def test_static_html_needs_nothing_from_the_network():
    html = explore(draw_line, slope=(0, 3)).static_html()
    assert not re.search(r"https?://|//cdn|<script[^>]*src", html)
    assert 'type="range"' in html and "oninput=" in html


def test_static_controls_match_the_control_kinds():
    html = explore(draw_line, slope=(0, 1), label=["a", "b", "c"], dashed=True).static_html()
    assert html.count('type="range"') == 1
    assert html.count("<select") == 1 and html.count("<option") == 3
    assert html.count('type="checkbox"') == 1 and " checked " in html


def test_static_select_fits_a_phone_width_page():
    long_names = ["a sentence far too long for a phone screen", "b"]
    html = explore(draw_line, slope=(0, 1), label=long_names).static_html()
    assert re.search(r'<select [^>]*style="max-width:100%"', html)


def test_strides_put_the_last_control_fastest():
    explorer = explore(draw_line, slope=Slider(0, 1, 1), label=Choice(["a", "b", "c"]))
    states = explorer.static_states()
    assert states[:4] == [
        {"slope": 0, "label": "a"},
        {"slope": 0, "label": "b"},
        {"slope": 0, "label": "c"},
        {"slope": 1, "label": "a"},
    ]
    html = explorer.static_html()
    assert re.findall(r'data-stride="(\d+)"', html) == ["3", "1"]


def test_initial_frame_is_the_controls_start_value():
    explorer = explore(draw_line, slope=Slider(0, 4, 1, value=3, static=(0, 2, 4)))
    html = explorer.static_html()
    frame = r'<img class="lbx-frame" data-index="(\d+)" alt="([^"]*)"[^>]*style="[^"]*">'
    visible = re.search(frame, html)
    assert visible is not None
    assert visible.group(1) == "1" and visible.group(2) == "slope=2"  # nearest static value to 3


def test_html_strings_are_frames_too():
    html = explore(lambda n: f"<b>{n * n}</b>", n=(1, 3)).static_html()
    assert [f"<b>{k * k}</b>" in html for k in (1, 2, 3)] == [True, True, True]


def test_live_widget_has_the_right_controls_and_draws():
    calls = []

    def draw(slope, label, dashed):
        calls.append((slope, label, dashed))
        return draw_line(slope, label, dashed)

    explorer = explore(draw, slope=Slider(0, 2, 0.5, value=1.0), label=["a", "b"], dashed=False)
    box = explorer.widget()
    controls, image, _ = box.children
    kinds = [type(c) for c in controls.children]
    assert kinds == [w.FloatSlider, w.Dropdown, w.Checkbox]
    assert calls == [(1.0, "a", False)]
    assert bytes(image.value).startswith(b"\x89PNG")
    controls.children[0].value = 2.0  # moving a control redraws
    assert calls[-1] == (2.0, "a", False)
    controls.children[2].value = True
    assert calls[-1] == (2.0, "a", True)


def test_integer_slider_is_an_int_slider():
    box = explore(draw_line, slope=(0, 3)).widget()
    assert isinstance(box.children[0].children[0], w.IntSlider)


def test_mimebundle_carries_both_worlds():
    bundle = explore(draw_line, slope=(0, 1))._repr_mimebundle_()
    assert bundle["text/plain"] == "explore(slope): 2 precomputed frames"
    assert "llmbook-explore" in bundle["text/html"]
    assert "application/vnd.jupyter.widget-view+json" in bundle


def test_drawing_leaves_no_open_figures():
    plt.close("all")
    explore(draw_line, slope=(0, 3)).static_html()
    assert plt.get_fignums() == []


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (Slider(5, 1), "empty range"),
        (Slider(0, 1, 0), "step must be positive"),
        (Slider(0, 1, -0.5), "step must be positive"),
        (Slider(0, 10, 1, value=11), "outside"),
        (Slider(0, 10, 1, static=()), "non-empty"),
        (Slider(0, 10, 1, static=(3, 12)), "outside"),
        (Slider(0, float("inf")), "finite"),
        (Choice([]), "non-empty"),
        (Choice(["a"], value="b"), "not one of the options"),
    ],
)
def test_bad_controls_raise_value_error_naming_the_problem(spec, message):
    with pytest.raises(ValueError, match=message):
        explore(draw_line, slope=spec)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (Slider(0, 1, "a"), "step must be a number, got 'a'"),
        (Slider("0", 1), "start must be a number"),
        (Toggle("yes"), "True or False"),
        ("steep", "cannot make a control"),
        ((1, 2, 3, 4), "cannot make a control"),
    ],
)
def test_non_numeric_controls_raise_type_error(spec, message):
    with pytest.raises(TypeError, match=message):
        explore(draw_line, slope=spec)


def test_too_many_states_is_refused_with_a_hint():
    with pytest.raises(ValueError, match=r"slope \(256\) = 256 frames, more than max_frames=64"):
        explore(draw_line, slope=Slider(0, 255, 1))
    explorer = explore(draw_line, slope=Slider(0, 255, 1, static=(0, 128, 255)))
    assert explorer.frame_count == 3


def test_explore_needs_a_callable_and_a_control():
    with pytest.raises(TypeError, match="callable"):
        explore("not a function", slope=(0, 1))
    with pytest.raises(ValueError, match="at least one control"):
        explore(draw_line)
    with pytest.raises(ValueError, match="max_frames"):
        explore(draw_line, max_frames=0, slope=(0, 1))


def test_draw_must_return_a_figure_or_html():
    with pytest.raises(TypeError, match="must return a matplotlib Figure"):
        explore(lambda n: 42, n=(0, 1)).static_html()


def test_shorthands_follow_interact():
    assert as_control("n", (1, 5)).static_values() == [1, 2, 3, 4, 5]
    assert as_control("x", (0.0, 1.0, 0.25)).static_values() == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert as_control("c", ["u", "v"]).static_values() == ["u", "v"]
    assert as_control("c", {"first": 1, "second": 2}).static_values() == [1, 2]
    assert isinstance(as_control("t", True), Toggle)


def test_float_steps_do_not_drift():
    assert Slider(0, 1, 0.1).validated("x").live_values()[-1] == 1.0
    assert len(Slider(0, 1, 0.1).validated("x").live_values()) == 11
