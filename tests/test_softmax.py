"""llmbook.softmax against torch and numpy, and the article's numbers."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from llmbook.softmax import cross_entropy, log_softmax, logistic, sample, softmax


def test_article_softmax_values() -> None:
    assert softmax([5.0, 1.0]).round(3).tolist() == [0.982, 0.018]
    assert softmax([0.0, 1.0]).round(3).tolist() == [0.269, 0.731]
    leaf_scores = [0.79558, 0.25096]  # the chapter-1 outputs for the leaf
    assert softmax(leaf_scores).round(3).tolist() == [0.633, 0.367]


def test_logistic_of_zero_is_one_half_and_order_is_kept() -> None:
    assert logistic(0.0) == 0.5
    x = np.linspace(-30, 30, 601)
    y = logistic(x)
    assert (np.diff(y) > 0).all() and (y > 0).all() and (y < 1).all()


def test_logistic_equals_torch_sigmoid_even_for_huge_inputs() -> None:
    x = np.array([-1000.0, -50.0, -3.0, -0.5, 0.0, 0.5, 3.0, 50.0, 1000.0])
    np.testing.assert_allclose(logistic(x), torch.sigmoid(torch.from_numpy(x)).numpy(), rtol=1e-12)
    assert np.isfinite(logistic(x)).all()


def test_two_class_softmax_is_logistic_of_the_difference() -> None:
    rng = np.random.default_rng(0)
    pairs = rng.normal(scale=5, size=(100, 2))
    np.testing.assert_allclose(softmax(pairs)[:, 0], logistic(pairs[:, 0] - pairs[:, 1]))


@pytest.mark.parametrize("temperature", [0.25, 1.0, 3.0])
def test_softmax_equals_torch_softmax(temperature: float) -> None:
    g = torch.Generator().manual_seed(0)
    scores = torch.randn(4, 5, 28, generator=g, dtype=torch.float64) * 4
    expected = torch.softmax(scores / temperature, dim=-1).numpy()
    ours = softmax(scores.numpy(), temperature=temperature)
    np.testing.assert_allclose(ours, expected, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(ours.sum(axis=-1), 1.0)


def test_softmax_survives_scores_that_overflow_exp() -> None:
    with np.errstate(over="ignore", invalid="ignore"):
        naive = np.exp([1000.0, 999.0]) / np.exp([1000.0, 999.0]).sum()
    assert np.isnan(naive).all()
    np.testing.assert_allclose(softmax([1000.0, 999.0]), softmax([1.0, 0.0]))


def test_softmax_ignores_a_shift_and_minus_inf_gets_zero() -> None:
    s = np.array([2.0, -1.0, 0.5])
    np.testing.assert_allclose(softmax(s + 123.0), softmax(s))
    assert softmax([0.0, -np.inf, 0.0]).tolist() == [0.5, 0.0, 0.5]


def test_temperature_sharpens_and_flattens() -> None:
    s = [2.1, 2.0, 0.0]
    cold, warm, hot = softmax(s, 0.05), softmax(s), softmax(s, 100.0)
    assert cold[0] > warm[0] > hot[0]
    assert cold[0] > 0.85 and np.allclose(hot, 1 / 3, atol=0.01)


def test_log_softmax_equals_torch() -> None:
    g = torch.Generator().manual_seed(1)
    scores = torch.randn(6, 10, generator=g, dtype=torch.float64) * 30
    np.testing.assert_allclose(
        log_softmax(scores.numpy()), F.log_softmax(scores, dim=-1).numpy(), rtol=1e-12
    )


def test_cross_entropy_equals_torch_cross_entropy() -> None:
    g = torch.Generator().manual_seed(2)
    scores = torch.randn(16, 28, generator=g, dtype=torch.float64) * 3
    targets = torch.randint(0, 28, (16,), generator=g)
    expected = F.cross_entropy(scores, targets).item()
    assert cross_entropy(scores.numpy(), targets.numpy()) == pytest.approx(expected, rel=1e-12)


def test_cross_entropy_is_minus_log_of_the_right_probability() -> None:
    assert cross_entropy([5.0, 1.0], 0) == pytest.approx(-np.log(softmax([5.0, 1.0])[0]))
    assert cross_entropy([0.0, 1.0], 0) == pytest.approx(1.3133, abs=1e-4)
    assert cross_entropy([0.0, 1000.0], 0) == pytest.approx(1000.0)  # finite, not inf


def test_sample_equals_numpy_choice_with_the_same_seed() -> None:
    p = softmax(np.random.default_rng(1).normal(size=28))
    ours = sample(p, 5000, seed=7)
    theirs = np.random.default_rng(7).choice(28, size=5000, p=p)
    assert np.array_equal(ours, theirs)


def test_sample_frequencies_follow_the_probabilities() -> None:
    p = np.array([0.5, 0.3, 0.2, 0.0])
    counts = np.bincount(sample(p, 100_000, seed=0), minlength=4) / 100_000
    np.testing.assert_allclose(counts, p, atol=0.005)  # about 3 standard errors
    assert counts[3] == 0  # a zero probability is never drawn


def test_sample_matches_torch_multinomial_in_distribution() -> None:
    p = softmax([2.1, 2.0, 0.5, -1.0])
    ours = np.bincount(sample(p, 50_000, seed=0), minlength=4) / 50_000
    g = torch.Generator().manual_seed(0)
    draws = torch.multinomial(torch.from_numpy(p), 50_000, replacement=True, generator=g)
    theirs = np.bincount(draws.numpy(), minlength=4) / 50_000
    np.testing.assert_allclose(ours, theirs, atol=0.01)


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda: softmax([]), ValueError),
        (lambda: softmax(3.0), ValueError),
        (lambda: softmax([1.0, np.nan]), ValueError),
        (lambda: softmax([1.0, np.inf]), ValueError),
        (lambda: softmax([-np.inf, -np.inf]), ValueError),
        (lambda: softmax(["a", "b"]), TypeError),
        (lambda: softmax([1.0, 2.0], temperature=0), ValueError),
        (lambda: softmax([1.0, 2.0], temperature="hot"), TypeError),
        (lambda: logistic([np.nan]), ValueError),
        (lambda: cross_entropy([1.0, 2.0], 2), ValueError),
        (lambda: cross_entropy([1.0, 2.0], 0.5), TypeError),
        (lambda: cross_entropy([[1.0, 2.0]], [0, 1]), ValueError),
        (lambda: sample([0.5, 0.6]), ValueError),
        (lambda: sample([1.5, -0.5]), ValueError),
        (lambda: sample([[0.5, 0.5]]), ValueError),
        (lambda: sample([0.5, 0.5], n=-1), ValueError),
    ],
)
def test_bad_input_is_refused(call, error) -> None:
    with pytest.raises(error):
        call()
