"""The permutation test as an explorer: shuffle the words, watch the output of attention.

Built in chapter 12, Positional encoding.

One attention head, the last token asking (as in chapters 6 and 12). Without positions, shuffling
the earlier tokens only reorders the weights: every token keeps its weight, and the last token's
output stays exactly the same. Add a position vector to every token (the vector belongs to the
place, not to the word) and the output changes with the order::

    permutation_explorer(tokens, X, Wq, Wk, Wv, {"no positions": None, "sine code": codes})

Each frame is a little HTML: the tokens in the chosen order with the weight the last token gives
each, the last token's output next to the output for the original order, and the largest change.
"""

from __future__ import annotations

import html
import itertools
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np
from matplotlib.colors import to_rgb

from llmbook.plotting import COLORS, sign_color

if TYPE_CHECKING:
    from llmbook.widgets import Explorer

SAME = 1e-9
"""A largest change below this counts as "the same output" (rounding only)."""


def last_token_attention(
    X: np.ndarray, Wq: np.ndarray, Wk: np.ndarray, Wv: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The last token's weights (T,) and output (C,): its query against every key, scaled."""
    q = Wq @ X[-1]  # (C,)
    K, V = X @ Wk.T, X @ Wv.T  # (T, C) each: one key and one value per token
    scores = K @ q / np.sqrt(len(q))  # (T,)
    u = np.exp(scores - scores.max())
    u = u / u.sum()  # softmax: positive, adds up to 1
    return u, u @ V  # (T,), (C,)


def orders(n_tokens: int) -> list[tuple[int, ...]]:
    """Every order of the first n_tokens - 1 tokens, the last token kept last."""
    return [(*p, n_tokens - 1) for p in itertools.permutations(range(n_tokens - 1))]


def _check_inputs(
    tokens: Sequence[str],
    X: np.ndarray,
    weights: Sequence[np.ndarray],
    codes: Mapping[str, np.ndarray | None],
) -> None:
    T = len(tokens)
    if T < 2 or X.ndim != 2 or X.shape[0] != T:
        raise ValueError(
            f"X must have one row per token: {T} tokens (at least 2), got X of shape {X.shape}"
        )
    C = X.shape[1]
    for name, W in zip(("Wq", "Wk", "Wv"), weights, strict=True):
        if W.ndim != 2 or W.shape[1] != C:
            raise ValueError(f"{name} must have shape (d, {C}) to read X, got {W.shape}")
    if not codes:
        raise ValueError("codes must name at least one choice, e.g. {'no positions': None}")
    for name, code in codes.items():
        if code is not None and np.shape(code) != X.shape:
            raise ValueError(
                f"codes[{name!r}] must have the shape of X {X.shape}, got {np.shape(code)}"
            )


def order_change(
    X: np.ndarray,
    Wq: np.ndarray,
    Wk: np.ndarray,
    Wv: np.ndarray,
    code: np.ndarray | None,
    order: Sequence[int],
) -> float:
    """The largest change of the last token's output when the tokens come in `order`.

    The position code (one row per place, or None) stays where it is: it belongs to the places.
    """
    _, shuffled, original = _outputs_in_order(X, Wq, Wk, Wv, code, order)
    return float(np.abs(shuffled - original).max())


def _outputs_in_order(
    X: np.ndarray,
    Wq: np.ndarray,
    Wk: np.ndarray,
    Wv: np.ndarray,
    code: np.ndarray | None,
    order: Sequence[int],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The last token's weights and output with the tokens in `order`, and its output before."""
    added = 0.0 if code is None else np.asarray(code)
    _, original = last_token_attention(X + added, Wq, Wk, Wv)
    weights, shuffled = last_token_attention(X[list(order)] + added, Wq, Wk, Wv)
    return weights, shuffled, original


def _cell(value: float, scale: float) -> str:
    color = sign_color(value)  # the book's colour key
    alpha = min(abs(value) / scale, 1.0) if scale > 0 else 0.0
    r, g, b = (round(255 * c) for c in to_rgb(color))
    shade = f"rgba({r},{g},{b},{alpha:.2f})"
    text = "white" if alpha > 0.55 else "black"
    return (
        f'<td style="background:{shade};color:{text};padding:1px 4px;text-align:right;'
        f'min-width:3.2em">{value:.3f}</td>'
    )


def _weight_box(word: str, weight: float) -> str:
    bar = (
        f'<div style="height:6px;width:{round(60 * weight)}px;background:{COLORS["activation"]};'
        'margin-top:2px"></div>'
    )
    return (
        '<span style="display:inline-block;margin:2px 6px 2px 0;vertical-align:top">'
        f"<b>{html.escape(word)}</b><br>weight {weight:.3f}{bar}</span>"
    )


def permutation_view(
    tokens: Sequence[str],
    X: np.ndarray,
    Wq: np.ndarray,
    Wk: np.ndarray,
    Wv: np.ndarray,
    code: np.ndarray | None,
    order: Sequence[int],
) -> str:
    """One frame: the tokens in `order`, their weights, the output against the original's."""
    u, shuffled, original = _outputs_in_order(X, Wq, Wk, Wv, code, order)
    change = float(np.abs(shuffled - original).max())
    scale = float(max(np.abs(original).max(), np.abs(shuffled).max()))
    words = "".join(_weight_box(tokens[i], w) for i, w in zip(order, u, strict=True))
    rows = "".join(
        f'<tr><th style="text-align:left;padding-right:6px;font-weight:normal">{label}</th>'
        + "".join(_cell(v, scale) for v in values)
        + "</tr>"
        for label, values in (
            ("original order", original),
            ("this order", shuffled),
        )
    )
    verdict = (
        "the same output: attention cannot see the order"
        if change < SAME
        else f"the output changed: largest change {change:.3f}"
    )
    last = html.escape(tokens[-1])
    return (
        f'<div style="line-height:1.4"><div>How much "{last}" looks at each token:</div>'
        f"<div>{words}</div>"
        f'<div style="margin-top:4px">The output of "{last}":</div>'
        f'<table style="border-collapse:collapse;font-size:0.9em">{rows}</table>'
        f'<div style="margin-top:4px"><b>{html.escape(verdict)}</b></div></div>'
    )


def permutation_explorer(
    tokens: Sequence[str],
    X: np.ndarray,
    Wq: np.ndarray,
    Wk: np.ndarray,
    Wv: np.ndarray,
    codes: Mapping[str, np.ndarray | None],
) -> Explorer:
    """Pick an order of the earlier tokens and a position code (or none); see the output."""
    from llmbook.widgets import Choice, explore

    X = np.asarray(X, dtype=float)
    weights = [np.asarray(W, dtype=float) for W in (Wq, Wk, Wv)]
    _check_inputs(tokens, X, weights, codes)
    order_labels = {" ".join(tokens[i] for i in order): order for order in orders(len(tokens))}

    def draw(order: tuple[int, ...], positions: str) -> str:
        return permutation_view(tokens, X, *weights, codes[positions], order)

    return explore(
        draw,
        order=Choice(order_labels, label="word order"),
        positions=Choice({name: name for name in codes}, label="positions added"),
        max_frames=max(64, len(order_labels) * len(codes)),
    )
