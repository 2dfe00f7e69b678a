"""A deep stack of random layers, to watch signals and gradients fade, explode or get through.

Built in chapter 8, Residual connections; reused in chapter 9, Layer normalization.

Each layer is a ReLU followed by one weight matrix (the "pre-activation" order of ResNets, so
that what a residual layer adds has no built-in positive drift). Two switches change the wiring:

    plain:              x = W relu(x)
    residual=True:      x = x + W relu(x)
    norm="layer"/"rms": the layer's input is normalized first (pre-norm, as in GPT-2 and Llama)
                        x = W relu(norm(x))   or   x = x + W relu(norm(x))

`trace(stack, x)` runs a batch through the stack and returns, for every layer, the average
length (Euclidean norm) of the activation vectors and the size of the gradient that reaches the
layer's weights.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from llmbook.norm import LayerNorm, RMSNorm

NORMS = (None, "layer", "rms")


class StackLayer(nn.Module):
    """One layer of the stack: W relu(norm(x)), plus x when `residual` is on."""

    def __init__(self, width: int, residual: bool, norm: str | None) -> None:
        super().__init__()
        self.norm: nn.Module
        if norm == "layer":
            self.norm = LayerNorm(width)
        elif norm == "rms":
            self.norm = RMSNorm(width)
        else:
            self.norm = nn.Identity()
        self.linear = nn.Linear(width, width, bias=False)
        self.residual = residual

    def forward(self, x: Tensor) -> Tensor:
        y = self.linear(torch.relu(self.norm(x)))  # (B, C) -> (B, C)
        return x + y if self.residual else y


class DeepStack(nn.Module):
    """`depth` layers of width `width`, with or without residuals and normalization.

    Weights are drawn from N(0, gain^2 / width) with a fixed `seed`, so that a plain layer scales
    a vector's length by about gain / sqrt(2) (the ReLU keeps half of it). `gain=None` keeps
    PyTorch's default `nn.Linear` initialisation, uniform in +-1/sqrt(width), for which a plain
    layer scales the length by about 1 / sqrt(6).

    >>> DeepStack(depth=3, width=4).layers[0].linear.weight.shape
    torch.Size([4, 4])
    """

    def __init__(
        self,
        depth: int,
        width: int,
        residual: bool = False,
        norm: str | None = None,
        gain: float | None = None,
        seed: int = 0,
    ) -> None:
        super().__init__()
        for name, value in (("depth", depth), ("width", width)):
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if norm not in NORMS:
            raise ValueError(f"norm must be one of {NORMS}, got {norm!r}")
        if gain is not None and not gain > 0:
            raise ValueError(f"gain must be positive, got {gain!r}")
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.layers = nn.ModuleList(StackLayer(width, residual, norm) for _ in range(depth))
            if gain is not None:
                for layer in self.layers:
                    nn.init.normal_(layer.linear.weight, std=gain / width**0.5)
        self.width = width

    def forward(self, x: Tensor) -> Tensor:
        return self.activations(x)[-1]

    def activations(self, x: Tensor) -> list[Tensor]:
        """The input and the output of every layer: depth + 1 tensors of shape (B, C)."""
        if x.shape[-1] != self.width:
            raise ValueError(
                f"input must have width {self.width} in its last axis, got shape {tuple(x.shape)}"
            )
        outs = [x]
        for layer in self.layers:
            outs.append(layer(outs[-1]))
        return outs


@dataclass(frozen=True)
class StackTrace:
    """Sizes measured through a stack, averaged over the batch; index 0 is the input."""

    activation_norms: list[float]  # depth + 1: mean length of the vectors after layer l
    gradient_norms: list[float]  # depth + 1: mean length of d(score)/d(vectors after layer l)
    weight_gradient_norms: list[float]  # depth: length of d(score)/d(W) of layers 1 .. depth


def random_inputs(batch: int, width: int, seed: int = 0) -> Tensor:
    """A (batch, width) batch of standard normal vectors: each about sqrt(width) long."""
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(batch, width, generator=generator)


def trace(stack: DeepStack, x: Tensor, seed: int = 0) -> StackTrace:
    """Forward `x` (B, C) through `stack`, then backward a fixed random score of the output.

    The score is sum(output * r) for a seeded standard normal r of the output's shape, so the
    gradient arriving at the top is r (about sqrt(C) long per vector) whatever the output's
    size: what happens below is the stack's doing.
    """
    stack.zero_grad()
    outs = stack.activations(x.detach().requires_grad_(True))
    for out in outs[1:]:
        out.retain_grad()
    r = torch.randn(outs[-1].shape, generator=torch.Generator().manual_seed(seed + 1))
    (outs[-1] * r).sum().backward()
    activation_norms = [out.detach().norm(dim=-1).mean().item() for out in outs]
    gradient_norms = [out.grad.norm(dim=-1).mean().item() for out in outs]
    weight_gradient_norms = [layer.linear.weight.grad.norm().item() for layer in stack.layers]
    stack.zero_grad()
    return StackTrace(activation_norms, gradient_norms, weight_gradient_norms)
