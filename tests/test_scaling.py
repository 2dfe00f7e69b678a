"""llmbook.scaling: the best split of a compute budget, and chapter 16's budget explorer."""

from __future__ import annotations

import base64
import json
import math
from pathlib import Path

import ipywidgets as w
import matplotlib.pyplot as plt
import numpy as np
import pytest

from llmbook.scaling import (
    CHINCHILLA,
    FLOPS_PER_PARAMETER_TOKEN,
    ScalingLaw,
    budget_explorer,
    plot_budget,
)
from llmbook.widgets import MIME_TYPE, NOTE, WIDGET_VIEW

ROOT = Path(__file__).resolve().parent.parent
CHAPTER = ROOT / "notebooks" / "16_generation_and_scale.ipynb"
BUDGET_LABEL = "budget C = 10^"
RATIO_LABEL = "tokens per parameter = 10^"


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


# ---- the law ----------------------------------------------------------------------------


def test_chinchilla_constants_are_the_published_ones():
    law = CHINCHILLA
    assert (law.E, law.A, law.B, law.alpha, law.beta) == (1.69, 406.4, 410.7, 0.34, 0.28)
    assert law.loss(1e9, 2e10) == pytest.approx(1.69 + 406.4 / 1e9**0.34 + 410.7 / 2e10**0.28)


@pytest.mark.parametrize("budget", [1e15, 1e18, 1e21, 5.76e23, 1e25])
def test_best_split_spends_the_budget_and_beats_every_other_split(budget):
    N, D = CHINCHILLA.best_split(budget)
    assert math.isclose(FLOPS_PER_PARAMETER_TOKEN * N * D, budget, rel_tol=1e-12)
    sizes = np.geomspace(N / 1e3, N * 1e3, 200_001)  # brute force: every model size
    losses = CHINCHILLA.loss(sizes, budget / (FLOPS_PER_PARAMETER_TOKEN * sizes))
    assert sizes[np.argmin(losses)] == pytest.approx(N, rel=1e-3)
    assert CHINCHILLA.loss(N, D) <= losses.min() + 1e-12


def test_split_spends_the_budget_at_the_asked_ratio():
    N, D = CHINCHILLA.split(1e22, 20)
    assert math.isclose(D / N, 20) and math.isclose(6 * N * D, 1e22)


def test_equal_exponents_give_one_ratio_for_every_budget():
    law = ScalingLaw(E=1.69, A=406.4, B=410.7, alpha=0.3, beta=0.3)
    ratios = [(lambda n, d: d / n)(*law.best_split(c)) for c in (1e18, 1e21, 1e24)]
    assert ratios == pytest.approx([(410.7 / 406.4) ** (1 / 0.3)] * 3)  # chapter 16, exercise 2


def test_the_numbers_chapter_16_quotes_for_the_explorer():
    law = CHINCHILLA
    N1, D1 = law.split(1e22, 1)
    N3, D3 = law.split(1e22, 10**3.5)
    best_N, best_D = law.best_split(1e22)
    assert round(N1 / 1e9) == 41 and round(law.loss(N1, D1), 3) == 2.229
    assert (round(N3 / 1e9, 2), round(D3 / 1e12, 1), round(law.loss(N3, D3), 3)) == (
        0.73,
        2.3,
        2.227,
    )
    assert round(law.loss(best_N, best_D), 3) == 2.139 and round(best_D / best_N) == 63
    ratios = {p: (lambda n, d: d / n)(*law.best_split(10.0**p)) for p in (18, 25)}
    assert (round(ratios[18]), round(ratios[25])) == (26, 122)
    best_loss = [law.loss(*law.best_split(10.0**p)) for p in range(18, 26)]
    assert (round(best_loss[0], 3), round(best_loss[-1], 3)) == (3.535, 1.845)
    assert (np.diff(best_loss) < 0).all() and (np.diff(best_loss, 2) > 0).all()


@pytest.mark.parametrize(
    ("call", "named"),
    [
        (lambda: ScalingLaw(E=1.69, A=-1, B=410.7, alpha=0.34, beta=0.28), "ScalingLaw.A"),
        (lambda: ScalingLaw(E=1.69, A=406.4, B=410.7, alpha=0.0, beta=0.28), "ScalingLaw.alpha"),
        (lambda: CHINCHILLA.best_split(0), "budget"),
        (lambda: CHINCHILLA.best_split(float("nan")), "budget"),
        (lambda: CHINCHILLA.split(1e20, -3), "tokens_per_parameter"),
        (lambda: CHINCHILLA.loss(0, 1e9), "N and D"),
    ],
)
def test_bad_input_is_a_value_error_naming_it(call, named):
    with pytest.raises(ValueError, match=named):
        call()


def test_a_budget_that_is_not_a_number_is_a_type_error():
    with pytest.raises(TypeError, match="budget must be a positive number, got '1e20'"):
        CHINCHILLA.best_split("1e20")


# ---- the explorer ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def payload() -> dict:
    return budget_explorer().payload()


def frame_at(payload: dict, state: list[int]) -> dict:
    return next(f for f in payload["frames"] if f["state"] == state)


def test_explorer_payload_has_both_sliders_and_a_frame_per_state(payload):
    budget, ratio = payload["controls"]
    assert (budget["label"], budget["kind"], ratio["label"], ratio["kind"]) == (
        BUDGET_LABEL,
        "range",
        RATIO_LABEL,
        "range",
    )
    assert budget["labels"] == [f"{x:.1f}" for x in np.arange(18, 25.01, 0.5)]
    assert ratio["labels"] == [f"{x:.2f}" for x in np.arange(0, 3.51, 0.25)]
    assert budget["labels"][budget["default"]] == "22.0"
    assert ratio["labels"][ratio["default"]] == "1.25"
    assert len(payload["frames"]) == 15 + 14  # one at a time: the states add up
    assert all(f["png"] for f in payload["frames"])


def test_moving_each_explorer_control_changes_the_picture(payload):
    default = [payload["controls"][0]["default"], payload["controls"][1]["default"]]
    start = frame_at(payload, default)["png"]
    for k in range(2):
        moved = list(default)
        moved[k] = 0
        assert frame_at(payload, moved)["png"] != start, payload["controls"][k]["label"]


def test_explorer_frames_stay_small(payload):
    total = sum(len(f["png"]) for f in payload["frames"])
    assert total < 700_000, f"{total} bytes of base64 frames"


def test_live_explorer_redraws_when_either_slider_moves():
    box = budget_explorer().widget()
    sliders = [x for x in _all(box) if isinstance(x, w.FloatSlider)]
    image = next(x for x in _all(box) if isinstance(x, w.Image))
    assert [s.description for s in sliders] == [BUDGET_LABEL, RATIO_LABEL]
    assert [s.value for s in sliders] == [22.0, 1.25]
    for slider, value in zip(sliders, (25.0, 3.0), strict=True):
        before = bytes(image.value)
        slider.value = value
        assert bytes(image.value) != before


def _all(widget):
    yield widget
    for child in getattr(widget, "children", ()):
        yield from _all(child)


def test_fallback_is_one_picture_and_the_note():
    data, metadata = budget_explorer().bundle(precompute=False)
    assert WIDGET_VIEW in data and MIME_TYPE not in data
    assert base64.b64decode(data["image/png"]).startswith(b"\x89PNG")
    assert NOTE in data["text/html"] and data["text/html"].count("<img") == 1
    assert metadata["image/png"]["width"] > 0


def test_plot_budget_titles_the_chosen_and_the_best_split():
    fig = plot_budget(22.0, 0.0)
    title = fig.axes[0].get_title()
    assert title == "C = 1e22: 1 tokens/parameter, L = 2.229; best 63, L = 2.139"


# ---- the stored chapter -------------------------------------------------------------------


def test_chapter_16_stores_the_budget_explorer_with_every_state():
    nb = json.loads(CHAPTER.read_text(encoding="utf-8"))
    stored = [
        o["data"][MIME_TYPE]
        for c in nb["cells"]
        if c["cell_type"] == "code"
        for o in c["outputs"]
        if MIME_TYPE in o.get("data", {})
        and o["data"][MIME_TYPE]["controls"][0]["label"] == BUDGET_LABEL
    ]
    assert len(stored) == 1
    assert [c["label"] for c in stored[0]["controls"]] == [BUDGET_LABEL, RATIO_LABEL]
    assert len(stored[0]["frames"]) == 29
