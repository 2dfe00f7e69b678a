"""Layer normalization and its cheaper cousin, RMS normalization.

Built in chapter 9, Layer normalization.

Both work on the last axis, one vector at a time:

    layer_norm(x) = (x - mean) / sqrt(var + eps) * weight + bias     (var: divide by N)
    rms_norm(x)   = x / sqrt(mean(x^2) + eps) * weight

`eps` keeps the division finite when every value is equal (var = 0). For vectors with a
real spread it changes nothing you can see: for the leaf it moves the 9th decimal.

The functions spell the formulas out. The `LayerNorm` module that models are built from computes
the same numbers (to float rounding) with torch's one-kernel `F.layer_norm`, three to four times
faster than the five operations by hand; `use_fused_layer_norm(model, False)` switches back.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def _check_ndim(x: Tensor, weight: Tensor | None) -> None:
    if weight is not None and weight.shape != x.shape[-1:]:
        raise ValueError(
            f"weight must have shape ({x.size(-1)},) to match x {tuple(x.shape)}, "
            f"got {tuple(weight.shape)}"
        )


def layer_norm(
    x: Tensor,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    eps: float = 1e-5,
) -> Tensor:
    """Subtract the mean, divide by the (population) standard deviation, then scale and shift.

    >>> layer_norm(torch.tensor([32.0, 107.0, 56.0, 11.2]), eps=0.0)  # the leaf
    tensor([-0.5473,  1.5522,  0.1246, -1.1295])
    """
    _check_ndim(x, weight)
    mean = x.mean(dim=-1, keepdim=True)  # (..., 1)
    var = ((x - mean) ** 2).mean(dim=-1, keepdim=True)  # (..., 1), divided by N, not N - 1
    y = (x - mean) / torch.sqrt(var + eps)
    if weight is not None:
        y = y * weight
    if bias is not None:
        y = y + bias
    return y


def rms_norm(x: Tensor, weight: Tensor | None = None, eps: float = 1e-6) -> Tensor:
    """Divide by the root mean square; no centring, no bias (used by Llama-style models).

    >>> rms_norm(torch.tensor([3.0, 4.0]), eps=0.0)  # rms = sqrt((9 + 16) / 2)
    tensor([0.8485, 1.1314])
    """
    _check_ndim(x, weight)
    y = x / torch.sqrt((x**2).mean(dim=-1, keepdim=True) + eps)
    return y if weight is None else y * weight


def _check_eps(eps: float) -> None:
    """A norm module's eps must be a number >= 0: a negative one can make the root of a
    negative number (nan) for a vector whose values are all equal."""
    if isinstance(eps, bool) or not isinstance(eps, int | float) or not eps >= 0:
        raise ValueError(f"eps must be a number >= 0, got {eps!r}")


class LayerNorm(nn.Module):
    """`layer_norm` with a trainable scale (`weight`, starts at 1) and shift (`bias`, starts at 0).

    `bias=False` drops the shift, which `nn.LayerNorm` only allows since torch 2.1. It computes
    with `F.layer_norm` (one kernel); with `fused = False` with `layer_norm`, the same numbers.
    """

    def __init__(self, ndim: int, bias: bool = True, eps: float = 1e-5) -> None:
        _check_eps(eps)
        super().__init__()
        if ndim <= 0:
            raise ValueError(f"ndim must be positive, got {ndim}")
        self.weight = nn.Parameter(torch.ones(ndim))
        self.bias = nn.Parameter(torch.zeros(ndim)) if bias else None
        self.eps = eps
        self.fused = True

    def forward(self, x: Tensor) -> Tensor:
        if not self.fused:
            return layer_norm(x, self.weight, self.bias, self.eps)
        _check_ndim(x, self.weight)
        return F.layer_norm(x, self.weight.shape, self.weight, self.bias, self.eps)


class RMSNorm(nn.Module):
    """`rms_norm` with a trainable scale (`weight`, starts at 1).

    (torch 2.13's `F.rms_norm` is no faster on a CPU than these three operations.)
    """

    def __init__(self, ndim: int, eps: float = 1e-6) -> None:
        _check_eps(eps)
        super().__init__()
        if ndim <= 0:
            raise ValueError(f"ndim must be positive, got {ndim}")
        self.weight = nn.Parameter(torch.ones(ndim))
        self.eps = eps

    def forward(self, x: Tensor) -> Tensor:
        return rms_norm(x, self.weight, self.eps)


def use_fused_layer_norm(model: nn.Module, fused: bool = True) -> nn.Module:
    """Switch every LayerNorm of `model` to torch's one kernel (True, how they are built) or
    to chapter 9's formula by hand (False); the parameters and their names stay as they are."""
    for module in model.modules():
        if isinstance(module, LayerNorm):
            module.fused = fused
    return model
