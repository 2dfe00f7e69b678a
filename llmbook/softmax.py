"""Scores into probabilities: the logistic function, softmax, cross-entropy and sampling.

Built in chapter 7, Softmax; self-attention (chapter 6) and the GPT (chapter 13) use the same
softmax, in its PyTorch form.

    logistic(x)            = 1 / (1 + e^-x)                     one number into (0, 1)
    softmax(s)_i           = e^(s_i / T) / sum_j e^(s_j / T)    many numbers into (0, 1), sum 1
    cross_entropy(s, k)    = -log softmax(s)_k                  the loss when class k is right
    sample(p, n)           = n draws of an index, index i with chance p_i

Everything works on NumPy arrays (or lists) along the last axis, one score vector at a time,
so a batch of N vectors has shape (N, V). softmax subtracts each vector's largest score before
exponentiating: the result is the same, but e^1000 never has to be computed.

>>> softmax([5.0, 1.0]).round(3).tolist()
[0.982, 0.018]
>>> float(logistic(0.0))
0.5
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike

PROBABILITY_TOLERANCE = 1e-6
"""How far from 1 the probabilities given to :func:`sample` may add up."""


def _as_scores(scores: ArrayLike, what: str = "scores") -> np.ndarray:
    """Scores as a float array of at least one dimension; NaN and +inf are refused."""
    try:
        array = np.asarray(scores, dtype=float)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{what} must be numbers, got {scores!r:.80}") from exc
    if array.ndim == 0 or array.shape[-1] == 0:
        raise ValueError(f"{what} must be a non-empty vector (or a batch of them), got {scores!r}")
    if np.isnan(array).any() or np.isposinf(array).any():
        raise ValueError(f"{what} must not contain NaN or +inf, got {scores!r:.80}")
    if np.isneginf(array).all(axis=-1).any():
        raise ValueError(f"{what}: a vector whose scores are all -inf has no softmax")
    return array


def _check_temperature(temperature: float) -> float:
    if isinstance(temperature, bool) or not isinstance(temperature, int | float):
        raise TypeError(f"temperature must be a number, got {temperature!r}")
    if not (math.isfinite(temperature) and temperature > 0):
        raise ValueError(f"temperature must be positive and finite, got {temperature!r}")
    return float(temperature)


def logistic(x: ArrayLike) -> np.ndarray:
    """1 / (1 + e^-x), elementwise: any number into (0, 1), in the same order.

    Computed as e^x / (1 + e^x) for negative x so that e^-x never overflows.

    >>> logistic([-2.0, 0.0, 2.0]).round(3).tolist()
    [0.119, 0.5, 0.881]
    """
    try:
        values = np.asarray(x, dtype=float)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"logistic needs numbers, got {x!r:.80}") from exc
    if np.isnan(values).any():
        raise ValueError(f"logistic got NaN: {x!r:.80}")
    small = np.exp(-np.abs(values))  # e^-|x| lies in (0, 1]: no overflow
    return np.where(values >= 0, 1.0 / (1.0 + small), small / (1.0 + small))


def softmax(scores: ArrayLike, temperature: float = 1.0) -> np.ndarray:
    """e^(s_i / T) / sum_j e^(s_j / T) along the last axis: positive numbers that add up to 1.

    The largest score is subtracted first (it cancels between top and bottom), so large scores
    cannot overflow. ``temperature`` T below 1 sharpens the result, above 1 flattens it.

    >>> softmax([0.0, 1.0]).round(3).tolist()
    [0.269, 0.731]
    """
    s = _as_scores(scores) / _check_temperature(temperature)
    shifted = s - s.max(axis=-1, keepdims=True)  # (..., V): the largest is now 0
    powers = np.exp(shifted)
    return powers / powers.sum(axis=-1, keepdims=True)


def log_softmax(scores: ArrayLike) -> np.ndarray:
    """log softmax(s) along the last axis, computed without taking the log of a tiny number.

    log softmax(s)_i = s_i - m - log(sum_j e^(s_j - m)), with m the largest score.
    """
    s = _as_scores(scores)
    shifted = s - s.max(axis=-1, keepdims=True)  # (..., V)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def _as_targets(targets: ArrayLike, batch_shape: tuple[int, ...], classes: int) -> np.ndarray:
    array = np.asarray(targets)
    if array.dtype.kind not in "iu":
        raise TypeError(f"targets must be whole class numbers, got {targets!r:.80}")
    if array.shape != batch_shape:
        raise ValueError(
            f"targets must have shape {batch_shape} (one class per score vector), got {array.shape}"
        )
    if ((array < 0) | (array >= classes)).any():
        raise ValueError(f"targets must be class numbers from 0 to {classes - 1}, got {targets!r}")
    return array


def cross_entropy(scores: ArrayLike, targets: ArrayLike) -> float:
    """-log(probability of the right class), averaged over the score vectors.

    ``scores`` has shape (V,) or (N, V) and holds raw scores (softmax is applied here, as in
    ``torch.nn.functional.cross_entropy``); ``targets`` holds the right class number of each
    vector: a single int, or shape (N,).

    >>> round(cross_entropy([5.0, 1.0], 0), 3)  # leaf is right, and leaf gets 0.982
    0.018
    """
    logp = log_softmax(scores)  # (..., V)
    right = _as_targets(targets, logp.shape[:-1], logp.shape[-1])  # (...)
    picked = np.take_along_axis(logp, right[..., None], axis=-1)[..., 0]  # (...)
    return float(-picked.mean())


def _as_probabilities(probs: ArrayLike) -> np.ndarray:
    try:
        p = np.asarray(probs, dtype=float)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"probabilities must be numbers, got {probs!r:.80}") from exc
    if p.ndim != 1 or p.size == 0:
        raise ValueError(f"probabilities must be one non-empty vector, got shape {p.shape}")
    if not np.isfinite(p).all() or (p < 0).any():
        raise ValueError(f"probabilities must be finite and not negative, got {probs!r:.80}")
    if abs(p.sum() - 1.0) > PROBABILITY_TOLERANCE:
        raise ValueError(f"probabilities must add up to 1, these add up to {p.sum():.6g}")
    return p


def sample(
    probs: ArrayLike, n: int = 1, seed: int | np.random.Generator | None = None
) -> np.ndarray:
    """``n`` random indices, index i drawn with probability ``probs[i]``.

    Lay the probabilities end to end on the line from 0 to 1, throw a random number at the line
    and return the piece it lands in. This is exactly what NumPy's ``Generator.choice(p=...)``
    does, so with the same seed the two give the same draws.

    >>> sample([0.5, 0.5, 0.0], n=8, seed=0).tolist()
    [1, 0, 0, 0, 1, 1, 1, 1]
    """
    p = _as_probabilities(probs)
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 0:
        raise ValueError(f"n must be a whole number of draws, 0 or more, got {n!r}")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    ends = np.cumsum(p)  # where each piece ends on the line
    ends /= ends[-1]  # make the last end exactly 1
    darts = rng.random(n)  # n numbers in [0, 1)
    return np.searchsorted(ends, darts, side="right")
