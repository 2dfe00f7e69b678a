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

import torch
from torch import Tensor, nn


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
