"""One gradient-descent step on the leaf (chapter 2): the numbers it quotes, and its explorer."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from llmbook import gradient_step, network
from llmbook.widgets import MIME_TYPE

ROOT = Path(__file__).resolve().parent.parent
CHAPTER = ROOT / "notebooks" / "02_how_models_are_trained.ipynb"


def test_gradients_of_the_18_weights_match_autograd():
    w1 = torch.tensor(network.W1, requires_grad=True)
    w2 = torch.tensor(network.W2, requires_grad=True)
    out = w2 @ (w1 @ torch.tensor(network.LEAF))
    (out - torch.tensor(gradient_step.TARGET)).abs().sum().backward()
    grads = gradient_step.gradients(network.W1, network.W2)
    assert np.allclose(grads["W1"], w1.grad.numpy()) and np.allclose(grads["W2"], w2.grad.numpy())
    assert round(grads["W1"][0, 0], 6) == 7.04  # the chapter's chain-rule example


def test_one_step_of_one_millionth_lowers_the_leaf_loss():
    before, after = gradient_step.step_on_leaf(0.000001)
    assert round(before.loss, 4) == 0.0554 and round(after.loss, 4) == 0.0498
    assert round(after.W1[0, 0], 8) == 0.09999296  # 0.10 - 0.000001 x 7.04
    assert after.outputs.round(4).tolist() == [0.8027, 0.2471]


def test_a_step_of_zero_changes_nothing():
    before, after = gradient_step.step_on_leaf(0)
    assert np.array_equal(before.W1, after.W1) and after.loss == before.loss


def test_too_large_a_learning_rate_overshoots():
    start = gradient_step.step_on_leaf(0)[0].loss
    losses = gradient_step.loss_after_step(np.array([0.25, 1, 5, 10, 20]) * 1e-6)
    assert losses.round(4).tolist() == [0.0526, 0.0498, 0.0606, 0.0742, 0.1651]
    assert (losses[:2] < start).all() and (losses[2:] > start).all()
    assert np.all(np.diff(losses[1:]) > 0)  # past the best step, longer steps are worse


@pytest.mark.parametrize(
    ("lr", "error", "message"),
    [
        (-0.1, ValueError, r"finite number >= 0, got -0.1"),
        (float("nan"), ValueError, r"finite number >= 0, got nan"),
        ("0.1", TypeError, r"must be a number, got '0.1'"),
        (True, TypeError, r"must be a number, got True"),
    ],
)
def test_a_bad_learning_rate_is_refused_by_name(lr, error, message):
    with pytest.raises(error, match=message):
        gradient_step.step_on_leaf(lr)


def cell(cell_id: str) -> dict:
    cells = json.loads(CHAPTER.read_text(encoding="utf-8"))["cells"]
    (found,) = [c for c in cells if c.get("id") == cell_id]
    return found


def test_chapter_2_stores_the_step_explorer_with_one_frame_per_learning_rate():
    (output,) = [o for o in cell("02-step-explorer")["outputs"] if MIME_TYPE in o.get("data", {})]
    payload = output["data"][MIME_TYPE]
    (control,) = payload["controls"]
    assert control["label"] == "learning rate (millionths)"
    frames = payload["frames"]
    assert len(frames) == 8 and len({f["png"] for f in frames}) == 8  # every frame differs


def test_chapter_2_asserts_what_its_text_says_the_explorer_shows():
    text = " ".join("".join(cell("02-step-md")["source"]).split())
    for quoted in (
        "to 0.0526",
        "0.0499 and 0.0498",
        "0.0488 at 0.6",
        "0.0606 at 5, 0.0742 at 10 and 0.1651 at 20",
    ):
        assert quoted in text
    check = "".join(cell("02-step-check")["source"])
    assert "{0.25: 0.0526, 0.5: 0.0499, 1: 0.0498, 5: 0.0606, 10: 0.0742, 20: 0.1651}" in check
    assert "round(STEP_CURVE[lowest], 4) == 0.0488" in check
    assert cell("02-step-check")["metadata"]["tags"] == ["remove-cell"]
    printed = "".join(cell("02-one-step")["outputs"][0]["text"])
    assert "loss: 0.0554 -> 0.0498" in printed and "(0.7958, 0.2512) -> (0.8027, 0.2471)" in printed
