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
from typing import TYPE_CHECKING

import torch
from torch import Tensor, nn

from llmbook.norm import LayerNorm, RMSNorm

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from llmbook.widgets import Explorer

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


# ---- chapter 9's explorer: how deep, how large the weights, with or without layer norm ---------

EXPLORER_WIDTH = 32
EXPLORER_BATCH = 64
MAX_DEPTH = 48
PROFILE_LIMITS = (1e-9, 1e17)
"""The explorer's fixed vertical range, so that frames compare at a glance."""


def depth_profile(depth: int, gain: float, layer_norm: bool) -> StackTrace:
    """`trace` of a plain stack of `depth` layers, weights N(0, gain^2 / 32), on 64 inputs.

    With `layer_norm`, every layer normalizes its input first (pre-norm). The inputs and the
    weights are seeded, so the same arguments give the same numbers.
    """
    stack = DeepStack(depth, EXPLORER_WIDTH, norm="layer" if layer_norm else None, gain=gain)
    return trace(stack, random_inputs(EXPLORER_BATCH, EXPLORER_WIDTH, seed=0))


def draw_depth_profile(depth: int, gain: float, layer_norm: bool) -> Figure:
    """The length of the activations and of the gradient after every layer, on a log scale."""
    from llmbook.plotting import COLORS, new_figure

    t = depth_profile(depth, gain, layer_norm)
    layers = range(depth + 1)
    color = COLORS["weight_pos"] if layer_norm else COLORS["weight_neg"]
    fig, (ax_a, ax_g) = new_figure(height=2.6, ncols=2)
    for ax, sizes, what in (
        (ax_a, t.activation_norms, "length of the activations"),
        (ax_g, t.gradient_norms, "length of the gradient"),
    ):
        ax.plot(layers, sizes, color=color, marker=".", ms=3)
        ax.set_yscale("log")
        ax.set(xlabel="layer", title=what, xlim=(0, MAX_DEPTH), ylim=PROFILE_LIMITS)
    norm = "with layer norm" if layer_norm else "no layer norm"
    fig.suptitle(
        f"{depth} layers, gain {gain:g}, {norm}: activations end at "
        f"{t.activation_norms[-1]:.2g}, the gradient reaches the input at "
        f"{t.gradient_norms[0]:.2g}",
        fontsize=9,
    )
    return fig


def depth_explorer() -> Explorer:
    """Chapter 9's explorer: depth 1 to 48, the weights' gain, layer norm on or off."""
    from llmbook.widgets import Slider, Toggle, explore

    return explore(
        draw_depth_profile,
        depth=Slider(
            1,
            MAX_DEPTH,
            1,
            value=MAX_DEPTH,
            label="layers",
            static=(1, 2, 4, 8, 12, 16, 24, 32, 48),
        ),
        gain=Slider(
            0.5,
            3.0,
            0.1,
            value=1.0,
            label="weight scale (gain)",
            static=(0.5, 0.8, 1.0, 1.2, 1.4, 1.7, 2.0, 2.5, 3.0),
        ),
        layer_norm=Toggle(False, label="layer norm"),
        one_at_a_time=["depth", "gain"],
    )
