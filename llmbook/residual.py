"""The residual connection: a block's output is added back to its input.

Built in chapter 8, Residual connections.

    output = x + block(x)

The block only has to learn a correction to x, and the gradient reaches earlier layers through
the "+" unchanged. The price: block(x) must have the shape of x.
"""

from __future__ import annotations

from torch import Tensor, nn


class Residual(nn.Module):
    """Wrap `block` so that forward(x) = x + block(x).

    >>> import torch
    >>> Residual(nn.Identity())(torch.tensor([1.0, 2.0]))  # x + x
    tensor([2., 4.])
    """

    def __init__(self, block: nn.Module) -> None:
        super().__init__()
        self.block = block

    def forward(self, x: Tensor) -> Tensor:
        y = self.block(x)
        if y.shape != x.shape:
            raise ValueError(
                f"a residual block must keep the shape of its input: "
                f"x {tuple(x.shape)} became {tuple(y.shape)}"
            )
        return x + y
