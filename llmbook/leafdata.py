"""A synthetic leaf/flower data set and plain gradient descent for the 4-3-2 network.

Built in chapter 2, "How are these models trained?".

The data set: objects described as in chapter 1 by (R, G, B, volume in ml). Leaves are greenish
and small; flowers are yellow or red and larger. The two groups overlap a little (an autumn leaf
can be reddish, a bud small), so no rule is perfect. Everything is drawn from a seeded random
generator, so the same seed always gives the same objects.

The network: chapter 1's 4 -> 3 -> 2 network (no activation, as in the article) with a bias on
every neuron. Its gradient is written out by hand with the chain rule; ``tests/test_leafdata.py``
checks it against ``torch.autograd``.
"""

from __future__ import annotations

import numpy as np

LEAF, FLOWER = 0, 1
"""Class labels: index of the output that should win."""

FEATURE_SCALE = np.array([255.0, 255.0, 255.0, 100.0])
"""Divide (R, G, B, volume) by this to bring every input into roughly 0 ... 1."""

# (low, high) of the uniform distribution of each feature: R, G, B, volume in ml
_LEAF_RANGES = [(10, 150), (80, 210), (10, 100), (1, 30)]
_FLOWER_RANGES = [(130, 255), (10, 230), (0, 60), (12, 80)]

Params = dict[str, np.ndarray]


def make_dataset(n: int = 200, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` objects, half leaves and half flowers, in random order.

    Returns ``x`` of shape (n, 4), raw (R, G, B, volume), and ``labels`` of shape (n,) with
    0 for a leaf and 1 for a flower. Same ``n`` and ``seed``, same objects.

    >>> x, labels = make_dataset(4, seed=0)
    >>> x.shape, labels.tolist()
    ((4, 4), [0, 0, 1, 1])
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 2:
        raise ValueError(f"n must be an integer of at least 2 objects, got {n!r}")
    rng = np.random.default_rng(seed)
    n_leaf = n // 2
    labels = np.array([LEAF] * n_leaf + [FLOWER] * (n - n_leaf))
    low = np.array([_LEAF_RANGES, _FLOWER_RANGES], dtype=float)[labels, :, 0]  # (n, 4)
    high = np.array([_LEAF_RANGES, _FLOWER_RANGES], dtype=float)[labels, :, 1]  # (n, 4)
    x = rng.uniform(low, high).round(1)
    x[:, :3] = x[:, :3].round()  # colours are whole numbers
    order = rng.permutation(n)
    return x[order], labels[order]


def scale(x: np.ndarray) -> np.ndarray:
    """Raw (R, G, B, volume) -> inputs of similar size (divide by :data:`FEATURE_SCALE`)."""
    return np.asarray(x, dtype=float) / FEATURE_SCALE


def targets(labels: np.ndarray) -> np.ndarray:
    """Labels (n,) -> wanted outputs (n, 2): (1, 0) for a leaf, (0, 1) for a flower."""
    return np.eye(2)[np.asarray(labels)]


def split(
    x: np.ndarray, labels: np.ndarray, test_fraction: float = 0.25, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Random train/test split: (x_train, labels_train, x_test, labels_test)."""
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be between 0 and 1, got {test_fraction!r}")
    n = len(labels)
    order = np.random.default_rng(seed).permutation(n)
    n_test = max(1, round(n * test_fraction))
    test, train = order[:n_test], order[n_test:]
    return x[train], labels[train], x[test], labels[test]


def init_params(seed: int = 0, hidden: int = 3, size: float = 0.5) -> Params:
    """Random starting weights (normal, standard deviation ``size``) and zero biases."""
    rng = np.random.default_rng(seed)
    return {
        "W1": rng.normal(0.0, size, (hidden, 4)),
        "b1": np.zeros(hidden),
        "W2": rng.normal(0.0, size, (2, hidden)),
        "b2": np.zeros(2),
    }


def forward(params: Params, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(N, 4) inputs -> hidden (N, 3) and outputs (N, 2), as in chapter 1 plus biases."""
    h = x @ params["W1"].T + params["b1"]  # (N, 4) @ (4, 3) -> (N, 3)
    return h, h @ params["W2"].T + params["b2"]  # (N, 3) @ (3, 2) -> (N, 2)


LOSSES = ("l1", "squared")


def _check_kind(kind: str) -> str:
    if kind not in LOSSES:
        raise ValueError(f"loss must be one of {LOSSES}, got {kind!r}")
    return kind


def loss(outputs: np.ndarray, wanted: np.ndarray, kind: str = "squared") -> float:
    """Average over the objects of the per-object loss.

    ``"l1"`` is the article's: the sum of the absolute differences, |0.8 - 0.6| + |0.2 - 0.4|
    = 0.4. ``"squared"`` sums the squared differences instead, which is smoother near the
    target.
    """
    diff = np.atleast_2d(outputs) - np.atleast_2d(wanted)  # (N, 2)
    per_object = np.abs(diff) if _check_kind(kind) == "l1" else diff**2
    return float(per_object.sum(axis=1).mean())


def gradients(params: Params, x: np.ndarray, wanted: np.ndarray, kind: str = "squared") -> Params:
    """d loss / d every parameter, by the chain rule, for the average loss over the N objects."""
    h, y = forward(params, x)
    n = len(x)
    diff = y - wanted  # (N, 2)
    dy = (np.sign(diff) if _check_kind(kind) == "l1" else 2 * diff) / n  # d loss / d outputs
    dh = dy @ params["W2"]  # (N, 2) @ (2, 3) -> (N, 3): back through the second layer
    return {"W2": dy.T @ h, "b2": dy.sum(axis=0), "W1": dh.T @ x, "b1": dh.sum(axis=0)}


def accuracy(params: Params, x: np.ndarray, labels: np.ndarray) -> float:
    """The fraction of objects whose larger output is the right one."""
    _, y = forward(params, x)
    return float((y.argmax(axis=1) == np.asarray(labels)).mean())


def train(
    x: np.ndarray,
    labels: np.ndarray,
    epochs: int = 100,
    lr: float = 0.1,
    seed: int = 0,
    kind: str = "squared",
    batch_size: int | None = None,
    params: Params | None = None,
) -> tuple[Params, list[float]]:
    """Gradient descent: start from random weights, step every weight against its gradient.

    ``x`` are scaled inputs (N, 4), ``labels`` (N,). One epoch is one pass over all objects: one
    step on the average loss of all of them (``batch_size=None``), or one step per shuffled
    batch. Returns the final parameters and the average loss over the data after every epoch
    (the first entry is before any step). Stops early, returning what it has, if the loss
    blows up (above 1e6 or not a number): the sign of a learning rate that is too large.
    """
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 0:
        raise ValueError(f"epochs must be a whole number >= 0, got {epochs!r}")
    if not lr > 0:
        raise ValueError(f"lr must be a positive number, got {lr!r}")
    rng = np.random.default_rng(seed)
    p = {k: v.copy() for k, v in (params or init_params(seed)).items()}
    wanted = targets(labels)
    size = len(x) if batch_size is None else batch_size
    history = [loss(forward(p, x)[1], wanted, kind)]
    with np.errstate(over="ignore", invalid="ignore"):  # a diverging run is stopped below
        for _ in range(epochs):
            order = rng.permutation(len(x)) if batch_size else np.arange(len(x))
            for start in range(0, len(x), size):
                batch = order[start : start + size]
                grads = gradients(p, x[batch], wanted[batch], kind)
                for name in p:
                    p[name] -= lr * grads[name]
            history.append(loss(forward(p, x)[1], wanted, kind))
            if not history[-1] < 1e6:
                break
    return p, history
