"""One step of gradient descent on a single example: the weights, the gradient, the step, the loss.

Built in chapter 2, "How are these models trained?", before the training loop: the chapter-1
network (18 weights, no biases) takes one step on the article's leaf with the article's L1 loss
and targets (0.8, 0.2). A step moves every weight against its gradient by the learning rate
times the gradient; too large a learning rate overshoots, and the loss after the step is higher
than before it.

>>> before, after = step_on_leaf(0.000001)
>>> round(before.loss, 4), round(after.loss, 4)
(0.0554, 0.0498)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from llmbook import leafdata, network

TARGET = np.array([0.8, 0.2])
"""The article's targets for the leaf: 0.8 for "leaf", 0.2 for "flower"."""


@dataclass(frozen=True)
class State:
    """The network at one moment: its two weight matrices, its outputs for the leaf, its loss."""

    W1: np.ndarray  # (3, 4)
    W2: np.ndarray  # (2, 3)
    outputs: np.ndarray  # (2,): the leaf and flower scores
    loss: float


def check_learning_rate(lr: object) -> float:
    """``lr`` as a float; a clear error unless it is a finite number >= 0."""
    if isinstance(lr, bool) or not isinstance(lr, (int, float, np.floating, np.integer)):
        raise TypeError(f"the learning rate must be a number, got {lr!r}")
    if not math.isfinite(lr) or lr < 0:
        raise ValueError(f"the learning rate must be a finite number >= 0, got {lr!r}")
    return float(lr)


def state(w1: np.ndarray, w2: np.ndarray, x: np.ndarray = network.LEAF) -> State:
    """The outputs and the L1 loss of the network with weights ``w1``, ``w2`` on ``x``."""
    _, outputs = network.forward(x, w1, w2)
    return State(w1, w2, outputs, leafdata.loss(outputs, TARGET, "l1"))


def gradients(
    w1: np.ndarray, w2: np.ndarray, x: np.ndarray = network.LEAF
) -> dict[str, np.ndarray]:
    """d(L1 loss)/d each of the 18 weights for one example: ``{"W1": (3, 4), "W2": (2, 3)}``."""
    params = {"W1": w1, "b1": np.zeros(len(w1)), "W2": w2, "b2": np.zeros(len(w2))}
    grads = leafdata.gradients(params, x[None, :], TARGET[None, :], kind="l1")
    return {"W1": grads["W1"], "W2": grads["W2"]}


def step_on_leaf(
    lr: float, w1: np.ndarray = network.W1, w2: np.ndarray = network.W2
) -> tuple[State, State]:
    """The network before and after one gradient-descent step with learning rate ``lr``.

    Every weight moves at once: ``w <- w - lr * dL/dw``.
    """
    lr = check_learning_rate(lr)
    grads = gradients(w1, w2)
    return state(w1, w2), state(w1 - lr * grads["W1"], w2 - lr * grads["W2"])


def loss_after_step(lrs: np.ndarray) -> np.ndarray:
    """The leaf's loss after one step, for each learning rate in ``lrs`` (the explorer's curve)."""
    return np.array([step_on_leaf(lr)[1].loss for lr in np.asarray(lrs, dtype=float)])
