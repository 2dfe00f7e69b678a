"""llmbook.widgets: one explorer, shown live, on the site, and as one picture elsewhere.

These tests run under ipywidgets 8 (the book's environment) and ipywidgets 7.6+ (Colab's 7.7.1
with IPython 7.34 and ipykernel 6.17): they need only ipywidgets, matplotlib, numpy, Pillow and
pytest, not torch. In a second environment with Colab's versions::

    PYTHONPATH=. /path/to/colab-venv/bin/python -m pytest -p no:cacheprovider \
        tests/test_widgets.py tests/test_sphinx_explorers.py

(``test_sphinx_explorers.py`` skips itself where myst-nb is not installed; the one browser test
here skips itself where Playwright or Chromium is missing.)
"""

from __future__ import annotations

import base64
import io
import json
import re
import shutil
import time

import ipywidgets as w
import matplotlib.pyplot as plt
import numpy as np
import pytest
from PIL import Image

from llmbook.widgets import (
    FRAMES_ENV,
    LIVE_DENSITY,
    MIME_TYPE,
    NOTE,
    PALETTE_COLORS,
    SITE_DENSITY,
    WIDGET_VIEW,
    Choice,
    Slider,
    Toggle,
    as_control,
    explore,
    explorer_html,
    figure_picture,
    house_colors,
)


def draw_line(slope: float, label: str = "a", dashed: bool = False):
    fig, ax = plt.subplots(figsize=(2, 1.5), dpi=40)
    ax.plot([0, 1], [0, slope], "--" if dashed else "-", label=label)
    ax.set_title(f"{slope} {label} {dashed}")
    return fig


def frames_in(html: str) -> list[str]:
    return re.findall(r'class="lbx-frame"', html)


def visible_frames(html: str) -> list[str]:
    return re.findall(r'<(?:img|div) class="lbx-frame"[^>]*>', html.replace(" hidden", "@H"))


def shown(html: str) -> list[str]:
    return [f for f in visible_frames(html) if "@H" not in f]


def png_size(png: bytes) -> tuple[int, int]:
    return Image.open(io.BytesIO(png)).size


# ---- the site's version ---------------------------------------------------------------------


def test_site_html_holds_one_frame_per_state_and_shows_one():
    explorer = explore(draw_line, slope=Slider(0, 2, 1), label=Choice(["a", "b"]), dashed=Toggle())
    html = explorer.static_html()
    assert explorer.frame_count == 3 * 2 * 2
    assert len(frames_in(html)) == 12
    assert html.count("data:image/png;base64,") == 12
    assert len(shown(html)) == 1
    states = re.findall(r'data-state="([\d,]+)"', html)
    assert len(set(states)) == 12


def test_site_html_needs_nothing_from_the_network():
    html = explore(draw_line, slope=(0, 3)).static_html()
    assert not re.search(r"https?://|//cdn|<script[^>]*src", html)
    assert 'type="range"' in html and "oninput=" in html


def test_site_controls_match_the_control_kinds():
    html = explore(draw_line, slope=(0, 1), label=["a", "b", "c"], dashed=True).static_html()
    assert html.count('type="range"') == 1
    assert html.count("<select") == 1 and html.count("<option") == 3
    assert html.count('type="checkbox"') == 1 and " checked " in html


def test_site_select_fits_a_phone_width_page():
    long_names = ["a sentence far too long for a phone screen", "b"]
    html = explore(draw_line, slope=(0, 1), label=long_names).static_html()
    assert re.search(r'<select [^>]*style="max-width:100%"', html)


def test_site_frames_are_never_wider_than_the_page_nor_stretched():
    html = explore(draw_line, slope=(0, 1)).static_html()
    for tag in re.findall(r"<img [^>]*>", html):
        assert 'style="max-width:100%;height:auto"' in tag
        width = int(re.search(r'width="(\d+)"', tag).group(1))
        png = base64.b64decode(re.search(r"base64,([^\"]+)", tag).group(1))
        assert png_size(png)[0] == pytest.approx(SITE_DENSITY * width, abs=1)


def test_states_put_the_last_control_fastest():
    explorer = explore(draw_line, slope=Slider(0, 1, 1), label=Choice(["a", "b", "c"]))
    assert explorer.static_states()[:4] == [
        {"slope": 0, "label": "a"},
        {"slope": 0, "label": "b"},
        {"slope": 0, "label": "c"},
        {"slope": 1, "label": "a"},
    ]
    html = explorer.static_html()
    assert re.findall(r'data-state="([\d,]+)"', html)[:4] == ["0,0", "0,1", "0,2", "1,0"]


def test_the_first_frame_is_the_live_default_even_when_not_listed():
    explorer = explore(draw_line, slope=Slider(0, 4, 1, value=3, static=(0, 2, 4)))
    assert explorer.controls["slope"].static_values() == [0, 2, 3, 4]  # the start value added
    (first,) = shown(explorer.static_html())
    assert 'alt="slope 3"' in first and 'data-state="2"' in first


def test_a_number_of_static_values_spreads_them_over_the_range():
    assert Slider(0, 255, 1, value=0, static=8).static_values() == [
        0, 36, 73, 109, 146, 182, 219, 255,
    ]  # fmt: skip
    assert Slider(0, 1, 0.05, value=0.5, static=5).static_values() == [0, 0.25, 0.5, 0.75, 1.0]
    assert len(Slider(1, 4, 1, static=8).static_values()) == 4  # never more than the slider has


def test_frames_carry_alt_text_naming_their_control_values():
    html = explore(
        draw_line, slope=Slider(0, 1, 1, label="slope a"), label=["a", "b"], dashed=True
    ).static_html()
    alts = re.findall(r'alt="([^"]*)"', html)
    assert "slope a 0, label a, dashed off" in alts and "slope a 1, label b, dashed on" in alts


def test_html_strings_are_frames_too():
    explorer = explore(lambda n: f"<b>{n * n}</b>", n=(1, 3))
    html = explorer.static_html()
    assert [f"<b>{k * k}</b>" in html for k in (1, 2, 3)] == [True, True, True]
    assert re.search(r'role="img" aria-label="n 1"', html)


# ---- one at a time --------------------------------------------------------------------------


def four_sliders(**kw):
    def draw(r, g, b, v):
        return f"{r} {g} {b} {v}"

    return explore(
        draw,
        r=Slider(0, 255, 1, value=32, static=8),
        g=Slider(0, 255, 1, value=107, static=8),
        b=Slider(0, 255, 1, value=56, static=8),
        v=Slider(0, 100, 0.1, value=11.2, static=8),
        **kw,
    )


def test_one_at_a_time_adds_states_instead_of_multiplying():
    explorer = four_sliders(one_at_a_time=True)
    assert [len(c.static_values()) for c in explorer.controls.values()] == [9, 9, 9, 9]
    assert explorer.frame_count == 1 + 4 * 8 == len(explorer.static_indices())
    defaults = tuple(explorer.defaults().values())
    for state in explorer.static_indices():
        assert sum(k != d for k, d in zip(state, defaults, strict=True)) <= 1
    with pytest.raises(ValueError, match="too many states"):
        four_sliders()  # the same as a grid: 6,561 states


def test_one_at_a_time_combines_with_a_grid_of_the_others():
    explorer = explore(
        lambda kind, x, y: f"{kind} {x} {y}",
        kind=["a", "b"],
        x=Slider(0, 7, 1),
        y=Slider(0, 7, 1),
        one_at_a_time=["x", "y"],
    )
    assert explorer.frame_count == 2 * (1 + 7 + 7) == len(explorer.static_states())
    html = explorer.static_html()
    assert html.count('data-alone="1"') == 2
    assert "Here x and y move one at a time" in html
    assert "lbx-note" not in explore(draw_line, slope=(0, 1)).static_html()


def test_one_at_a_time_must_name_controls():
    with pytest.raises(ValueError, match="one_at_a_time"):
        explore(draw_line, slope=(0, 1), one_at_a_time=["slant"])


def chromium_page():
    sync_api = pytest.importorskip("playwright.sync_api")
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("no Chromium")
    return sync_api, chromium


def test_in_a_browser_moving_one_slider_puts_the_others_back(tmp_path):
    sync_api, chromium = chromium_page()
    page_file = tmp_path / "explorer.html"
    page_file.write_text(f"<html><body>{four_sliders(one_at_a_time=True).static_html()}</body>")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        page = browser.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(page_file.as_uri())
        sliders = page.locator("input[type=range]")
        visible = page.locator(".lbx-frame:not([hidden])")
        assert visible.inner_text() == "32 107 56 11.2"
        sliders.nth(0).fill("8")  # R to its last value
        assert visible.inner_text() == "255 107 56 11.2"
        assert page.locator("output").nth(0).inner_text() == "255"
        sliders.nth(3).fill("0")  # volume to its first: R goes back to its default
        assert visible.inner_text() == "32 107 56 0.0"
        assert sliders.nth(0).input_value() == "1"
        assert page.locator("output").nth(0).inner_text() == "32"
        assert visible.count() == 1 and errors == []
        browser.close()


# ---- live, in a running kernel --------------------------------------------------------------


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


def test_live_picture_is_shown_at_its_css_width_drawn_at_twice_the_density():
    image = explore(draw_line, slope=(0, 3)).widget().children[1]
    pixels = png_size(bytes(image.value))[0]
    shown_px = int(image.layout.width.removesuffix("px"))
    assert pixels == pytest.approx(LIVE_DENSITY * shown_px, abs=1)
    assert shown_px <= 1.1 * pixels  # never stretched beyond its pixels
    assert image.layout.max_width == "100%"


def test_integer_slider_is_an_int_slider():
    box = explore(draw_line, slope=(0, 3)).widget()
    assert isinstance(box.children[0].children[0], w.IntSlider)


def test_live_bundle_is_the_widget_view_plus_one_picture(monkeypatch):
    monkeypatch.delenv(FRAMES_ENV, raising=False)
    explorer = explore(draw_line, slope=(0, 1))
    data, metadata = explorer._repr_mimebundle_()
    assert data[WIDGET_VIEW] == {
        "version_major": 2,
        "version_minor": 0,
        "model_id": explorer.widget().model_id,
    }
    assert MIME_TYPE not in data  # no frames drawn for nobody
    assert data["image/png"] and NOTE in data["text/plain"]
    pixels = png_size(base64.b64decode(data["image/png"]))[0]  # the widget's first picture
    assert metadata["image/png"]["width"] == pytest.approx(pixels / LIVE_DENSITY, abs=1)


def test_a_live_display_draws_the_default_state_once(monkeypatch):
    monkeypatch.delenv(FRAMES_ENV, raising=False)
    calls = []

    def draw(slope):
        calls.append(slope)
        return draw_line(slope)

    explore(draw, slope=Slider(0, 3, 1, value=2))._repr_mimebundle_()
    assert calls == [2]


def test_live_bundle_does_not_need_the_widgets_own_repr(monkeypatch):
    """ipywidgets 7 (Colab's) widgets have no _repr_mimebundle_: the bundle must not use it."""
    monkeypatch.delenv(FRAMES_ENV, raising=False)

    def missing(*args, **kwargs):
        raise AttributeError("'VBox' object has no attribute '_repr_mimebundle_'")

    monkeypatch.setattr(w.VBox, "_repr_mimebundle_", missing, raising=False)
    data, _ = explore(draw_line, slope=(0, 1))._repr_mimebundle_()
    assert data[WIDGET_VIEW]["model_id"]


# ---- stored outputs -------------------------------------------------------------------------


def test_book_outputs_store_the_states_and_one_picture_but_no_widget(monkeypatch):
    monkeypatch.setenv(FRAMES_ENV, "1")
    explorer = explore(draw_line, slope=Slider(0, 2, 1, value=1))
    data, metadata = explorer._repr_mimebundle_()
    assert WIDGET_VIEW not in data and explorer._widget is None
    payload = data[MIME_TYPE]
    assert [f["state"] for f in payload["frames"]] == [[0], [1], [2]]
    assert payload["controls"][0]["labels"] == ["0", "1", "2"]
    assert payload["controls"][0]["default"] == 1 and payload["controls"][0]["steps_of"] == 3
    default = payload["frames"][1]  # the default state, drawn again at twice the density
    shown = metadata["image/png"]  # CSS pixels: the frame's, within the tight box's rounding
    assert shown["width"] == pytest.approx(default["width"], abs=3)
    assert shown["height"] == pytest.approx(default["height"], abs=3)
    fallback = Image.open(io.BytesIO(base64.b64decode(data["image/png"])))
    assert fallback.size == pytest.approx((2 * shown["width"], 2 * shown["height"]), abs=1)
    assert explorer_html(json.loads(json.dumps(payload))) == explorer.static_html()


def test_fallback_html_is_one_picture_and_one_line():
    data, _ = explore(draw_line, slope=(0, 5)).bundle(precompute=True)
    fallback = data["text/html"]
    assert fallback.count("<img") == 1 and fallback.count("data:image/png") == 1
    assert NOTE in fallback and "lbx-frame" not in fallback
    html_data, _ = explore(lambda n: f"<b>{n}</b>", n=(1, 3)).bundle(precompute=True)
    assert html_data["text/html"].startswith("<div><b>1</b></div>") and "image/png" not in html_data


def test_stored_outputs_are_the_same_bytes_every_run():
    first, _ = explore(draw_line, slope=(0, 2), dashed=True).bundle(precompute=True)
    again, _ = explore(draw_line, slope=(0, 2), dashed=True).bundle(precompute=True)
    assert first == again


def test_site_frames_use_a_reduced_palette():
    picture = figure_picture(draw_line(1.0), density=1.5, colors=PALETTE_COLORS)
    image = Image.open(io.BytesIO(picture.png))
    assert image.mode == "P" and len(image.getcolors()) <= PALETTE_COLORS + len(house_colors())
    assert image.size[0] == pytest.approx(1.5 * picture.width, abs=1)


def test_every_house_colour_survives_the_reduced_palette():
    """Flat areas in a house colour keep it exactly (a pink highlight must not turn red)."""
    from matplotlib.colors import to_hex

    from llmbook import plotting

    named = [*plotting.COLORS.values(), *plotting.SEQUENCE]
    fig, ax = plt.subplots(figsize=(4, 1))
    for k, color in enumerate(named):
        ax.add_patch(plt.Rectangle((k, 0), 1, 1, color=color))
    ax.imshow(np.linspace(-1, 1, 400).reshape(4, 100), cmap="RdBu_r", extent=(0, len(named), 1, 2))
    ax.set(xlim=(0, len(named)), ylim=(0, 2))
    ax.axis("off")
    picture = figure_picture(fig, density=1, colors=PALETTE_COLORS)
    image = Image.open(io.BytesIO(picture.png)).convert("RGB")
    found = {to_hex([c / 255 for c in rgb]) for _, rgb in image.getcolors(1 << 16)}
    assert {c.lower() for c in named} <= found


def test_drawing_leaves_no_open_figures():
    plt.close("all")
    explore(draw_line, slope=(0, 3)).static_html()
    assert plt.get_fignums() == []


# ---- bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (Slider(5, 1), "empty range"),
        (Slider(0, 1, 0), "step must be positive"),
        (Slider(0, 1, -0.5), "step must be positive"),
        (Slider(0, 10, 1, value=11), "outside"),
        (Slider(0, 10, 1, static=()), "non-empty"),
        (Slider(0, 10, 1, static=0), "at least 1"),
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


@pytest.mark.parametrize(
    "spec",
    [(0, 10**9), (0, 10**7), Slider(0, 1, 1e-12), Slider(0, 10**9, 1, static=10**9)],
)
def test_huge_ranges_are_refused_by_arithmetic_before_anything_is_built(spec):
    calls = []
    start = time.perf_counter()
    with pytest.raises(ValueError, match="too many states"):
        explore(lambda **kw: calls.append(kw), a=spec)
    assert time.perf_counter() - start < 0.5 and calls == []


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
    assert Slider(0, 1, 0.1).count() == 11
