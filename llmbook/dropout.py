"""Dropout two ways: the article's dropped connections, and the standard inverted dropout.

Built in chapter 10, Dropout.

With p the fraction dropped and keep = 1 - p:

    the article (DropConnect)   training: W * mask            inference: W * keep
    inverted dropout            training: x * mask / keep     inference: x

Either way the average over masks of the training-time output equals the inference-time output
(exactly for a linear layer): the article scales at inference, inverted dropout scales during
training so that inference needs no change. `nn.Dropout` is inverted dropout.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import Tensor, nn

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from llmbook.widgets import Explorer


def _check_p(p: float) -> float:
    if isinstance(p, bool) or not isinstance(p, int | float) or not 0.0 <= p < 1.0:
        raise ValueError(f"dropout rate p must be a number in [0, 1), got {p!r}")
    return float(p)


def keep_mask(
    shape: tuple[int, ...] | torch.Size, p: float, generator: torch.Generator | None = None
) -> Tensor:
    """A boolean mask: each entry True (kept) with probability 1 - p, independently.

    >>> keep_mask((2, 3), 0.0).all().item()
    True
    """
    p = _check_p(p)
    return torch.rand(tuple(shape), generator=generator) >= p


def _mask_for(
    x: Tensor, p: float, mask: Tensor | None, generator: torch.Generator | None
) -> Tensor:
    if mask is None:
        return keep_mask(x.shape, p, generator)
    if mask.shape != x.shape:
        raise ValueError(
            f"mask must have the shape of its tensor {tuple(x.shape)}, got {tuple(mask.shape)}"
        )
    return mask.bool()


def inverted_dropout(
    x: Tensor,
    p: float,
    training: bool = True,
    mask: Tensor | None = None,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Zero each value with probability p and divide the survivors by 1 - p (training only).

    >>> inverted_dropout(torch.tensor([1.0, 2.0]), 0.5, mask=torch.tensor([True, False]))
    tensor([2., 0.])
    """
    p = _check_p(p)
    if not training:
        return x
    kept = _mask_for(x, p, mask, generator)
    return x * kept / (1.0 - p)


def drop_connect(
    weight: Tensor,
    p: float,
    training: bool = True,
    mask: Tensor | None = None,
    generator: torch.Generator | None = None,
) -> Tensor:
    """The article's dropout: delete each connection (weight) with probability p in training,
    and keep all of them multiplied by 1 - p at inference.

    >>> drop_connect(torch.tensor([0.4, 0.2]), 0.5, training=False)
    tensor([0.2000, 0.1000])
    """
    p = _check_p(p)
    if not training:
        return weight * (1.0 - p)
    return weight * _mask_for(weight, p, mask, generator)


class InvertedDropout(nn.Module):
    """`inverted_dropout` as a layer, on in `train()` mode and off in `eval()` mode: nn.Dropout."""

    def __init__(self, p: float = 0.5) -> None:
        super().__init__()
        self.p = _check_p(p)

    def forward(self, x: Tensor) -> Tensor:
        return inverted_dropout(x, self.p, self.training)


class DropConnectLinear(nn.Linear):
    """A linear layer whose weights are dropped (training) or scaled by 1 - p (inference).

    The bias is left alone, as in the article's picture, which has lines (weights) only.
    """

    def __init__(self, in_features: int, out_features: int, p: float = 0.5, bias: bool = True):
        super().__init__(in_features, out_features, bias=bias)
        self.p = _check_p(p)

    def forward(self, x: Tensor) -> Tensor:
        weight = drop_connect(self.weight, self.p, self.training)  # (out, in)
        return nn.functional.linear(x, weight, self.bias)


# ---- chapter 10's explorer: the average over many masks approaches the half-weight network -----

MASK_COUNTS = (1, 10, 100, 1000)
"""How many masks the explorer averages."""

MASK_DRAWS = 3
"""How many independent sets of masks (seeds 0, 1, 2) the explorer offers."""


def leaf_mask_outputs(n_masks: int, p: float = 0.5, seed: int = 0) -> np.ndarray:
    """Outputs (n_masks, 2) of chapter 1's leaf network under the article's dropout.

    Each row uses a fresh random mask: every one of the 12 input-to-middle lines is kept with
    probability 1 - p (seeded NumPy draws, so the first k rows are the same for any n_masks >= k).
    """
    from llmbook import network

    if isinstance(n_masks, bool) or not isinstance(n_masks, int) or n_masks < 1:
        raise ValueError(f"n_masks must be a positive whole number, got {n_masks!r}")
    p = _check_p(p)
    masks = np.random.default_rng(seed).random((n_masks, 3, 4)) >= p  # (S, 3, 4): keep a line?
    hidden = (network.W1 * masks) @ network.LEAF  # (S, 3, 4) @ (4,) -> (S, 3)
    return hidden @ network.W2.T  # (S, 3) @ (3, 2) -> (S, 2)


def half_weight_output(p: float = 0.5) -> np.ndarray:
    """The article's inference network: every line kept, W1 scaled by 1 - p; outputs (2,)."""
    from llmbook import network

    return network.forward(network.LEAF, (1 - _check_p(p)) * network.W1, network.W2)[1]


def draw_mask_average(n_masks: int, mask_set: int) -> Figure:
    """The running average of the leaf network's two outputs over 1 .. n_masks random masks."""
    from llmbook import network
    from llmbook.plotting import COLORS, new_figure

    outputs = leaf_mask_outputs(max(MASK_COUNTS), seed=mask_set)[:n_masks]  # (n, 2)
    running = np.cumsum(outputs, axis=0) / np.arange(1, n_masks + 1)[:, None]  # (n, 2)
    exact = half_weight_output()
    fig, ax = new_figure(height=2.6)
    for k, name in enumerate(network.OUTPUT_NAMES):
        color = COLORS[name.lower()]
        ax.axhline(exact[k], color=color, ls="--", lw=1)
        ax.plot(np.arange(1, n_masks + 1), running[:, k], color=color, label=f"{name} score")
        ax.plot([n_masks], [running[-1, k]], "o", color=color)
    ax.set_xscale("log")
    ax.set(xlim=(0.8, 1300), ylim=(-5, 3.5), xlabel="masks averaged", ylabel="average output")
    ax.legend(loc="lower right", fontsize=8)
    ax.set_title(
        f"average of {n_masks} mask{'s' if n_masks > 1 else ''}: leaf {running[-1, 0]:.3f}, "
        f"flower {running[-1, 1]:.3f}; dashed: half weights {exact[0]:.3f}, {exact[1]:.3f}",
        fontsize=9,
    )
    return fig


def mask_average_explorer() -> Explorer:
    """Chapter 10's explorer: average 1, 10, 100 or 1000 masks, from one of three draws."""
    from llmbook.widgets import Choice, explore

    return explore(
        draw_mask_average,
        n_masks=Choice(  # "1 mask", not "1": a bare number reads like an option's index
            {f"{n} mask{'s' if n > 1 else ''}": n for n in MASK_COUNTS}, label="masks averaged"
        ),
        mask_set=Choice({f"draw {k + 1}": k for k in range(MASK_DRAWS)}, label="random masks"),
    )
