"""The leaf/flower network: 4 inputs, 3 hidden neurons, 2 outputs, and its 18 weights.

Built in chapter 1, "A simple neural network"; reused when we train it (chapter 2), write it
as a matrix product (appendix A1), normalise its input (chapter 9) and apply dropout to it
(chapter 10). The weights are the ones of the article's figure.
"""

from __future__ import annotations

import numpy as np

INPUT_NAMES = ("R", "G", "B", "Vol")
"""Input order: the object's dominant colour (red, green, blue, 0-255) and its volume in ml."""

OUTPUT_NAMES = ("leaf", "flower")
"""Output order: the larger of the two scores wins."""

LEAF = np.array([32.0, 107.0, 56.0, 11.2])
SUNFLOWER = np.array([241.0, 200.0, 4.0, 59.5])

W1 = np.array(
    [
        [0.10, -0.29, -0.07, 0.46],  # top hidden neuron    (R, G, B, Vol)
        [0.12, -0.05, 0.04, 0.16],  # middle hidden neuron
        [-0.36, -0.21, -0.27, 0.18],  # bottom hidden neuron
    ]
)
"""Input -> hidden weights, shape (3, 4): row j holds the four weights into hidden neuron j."""

W2 = np.array(
    [
        [-0.17, 0.39, 0.10],  # leaf output   (top, middle, bottom)
        [0.05, -0.12, -0.04],  # flower output
    ]
)
"""Hidden -> output weights, shape (2, 3)."""


def relu(x: np.ndarray) -> np.ndarray:
    """Negative values become 0, positive values pass unchanged."""
    return np.maximum(x, 0.0)


def _as_input(x: object) -> np.ndarray:
    try:
        vector = np.asarray(x, dtype=float)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"input must be 4 numbers (R, G, B, Vol), got {x!r}") from exc
    if vector.shape[-1:] != (4,):
        raise ValueError(
            f"input must have 4 numbers (R, G, B, Vol) in its last axis, got shape {vector.shape}"
        )
    if not np.all(np.isfinite(vector)):
        raise ValueError(f"input must be finite numbers, got {x!r}")
    return vector


def forward(
    x: object,
    w1: np.ndarray = W1,
    w2: np.ndarray = W2,
    b1: np.ndarray | None = None,
    activation: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """The forward pass: hidden = W1 x (+ b1, then ReLU if asked), output = W2 hidden.

    ``x`` has shape (4,) or (N, 4) for N objects. Returns (hidden, output).

    >>> hidden, output = forward(LEAF)
    >>> hidden.round(3).tolist(), output.round(3).tolist()
    ([-26.598, 2.522, -47.094], [0.796, 0.251])
    """
    inputs = _as_input(x)
    hidden = inputs @ w1.T  # (..., 4) @ (4, 3) -> (..., 3)
    if b1 is not None:
        hidden = hidden + b1
    if activation:
        hidden = relu(hidden)
    return hidden, hidden @ w2.T  # (..., 3) @ (3, 2) -> (..., 2)


def classify(output: np.ndarray) -> str:
    """The name of the larger output score."""
    return OUTPUT_NAMES[int(np.argmax(output))]
