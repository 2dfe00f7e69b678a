"""Scaling laws: how a compute budget should be split between model size and training tokens.

Built in chapter 16, Generation and scale. Hoffmann et al. (2022) fitted the final loss of
hundreds of training runs with

    L(N, D) = E + A / N**alpha + B / D**beta

for a model of ``N`` parameters trained on ``D`` tokens. A run costs about ``6 * N * D``
arithmetic operations (2 per parameter per token forward, 4 backward), so a budget ``C`` fixes
``D = C / (6 N)`` and leaves one choice: how big to make the model. :meth:`ScalingLaw.best_split`
gives the split with the lowest loss in closed form::

    >>> N, D = CHINCHILLA.best_split(1e21)
    >>> round(D / N)
    50

:func:`budget_explorer` lets a reader move the budget and the split and watch the loss. The
constants in :data:`CHINCHILLA` are the paper's, not the article's: measured on its data and
tokenizer, they do not carry over to other setups.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from numbers import Real

import numpy as np
from matplotlib.figure import Figure

from llmbook.plotting import COLORS, describe, new_figure
from llmbook.widgets import Explorer, Slider, explore

FLOPS_PER_PARAMETER_TOKEN = 6
"""Training cost per parameter per token: 2 operations forward, 4 backward."""


def _positive(name: str, value: object) -> float:
    """``value`` as a float; a ValueError or TypeError naming it unless a positive number."""
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"{name} must be a positive number, got {value!r}")
    number = float(value)
    if not (math.isfinite(number) and number > 0):
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")
    return number


@dataclass(frozen=True)
class ScalingLaw:
    """``L(N, D) = E + A / N**alpha + B / D**beta``; every constant positive."""

    E: float
    A: float
    B: float
    alpha: float
    beta: float

    def __post_init__(self) -> None:
        for name in ("E", "A", "B", "alpha", "beta"):
            _positive(f"ScalingLaw.{name}", getattr(self, name))

    def loss(self, N: float | np.ndarray, D: float | np.ndarray) -> float | np.ndarray:
        """The predicted final loss of a model of ``N`` parameters trained on ``D`` tokens."""
        N_arr, D_arr = np.asarray(N, dtype=float), np.asarray(D, dtype=float)
        if not (np.all(N_arr > 0) and np.all(D_arr > 0)):
            raise ValueError(f"N and D must be positive, got N={N!r}, D={D!r}")
        value = self.E + self.A / N_arr**self.alpha + self.B / D_arr**self.beta
        return float(value) if value.ndim == 0 else value

    def split(self, budget: float, tokens_per_parameter: float) -> tuple[float, float]:
        """``(N, D)`` that spend ``budget = 6 N D`` with ``D = tokens_per_parameter * N``."""
        C = _positive("budget", budget)
        ratio = _positive("tokens_per_parameter", tokens_per_parameter)
        N = math.sqrt(C / (FLOPS_PER_PARAMETER_TOKEN * ratio))
        return N, ratio * N

    def best_split(self, budget: float) -> tuple[float, float]:
        """The ``(N, D)`` with ``6 N D = budget`` and the lowest loss.

        Where the slope of ``L(N, C / 6N)`` in ``N`` is zero: ``alpha A / N**alpha`` equals
        ``beta B / D**beta``, which gives ``N = G (C/6)**(beta / (alpha + beta))`` with
        ``G = (alpha A / (beta B))**(1 / (alpha + beta))``.
        """
        C = _positive("budget", budget)
        G = (self.alpha * self.A / (self.beta * self.B)) ** (1 / (self.alpha + self.beta))
        N = G * (C / FLOPS_PER_PARAMETER_TOKEN) ** (self.beta / (self.alpha + self.beta))
        return N, C / (FLOPS_PER_PARAMETER_TOKEN * N)


CHINCHILLA = ScalingLaw(E=1.69, A=406.4, B=410.7, alpha=0.34, beta=0.28)
"""Hoffmann et al. (2022), "Training compute-optimal large language models", the constants as
published (their approach 3); not from the article."""

BUDGETS = (18.0, 25.0)
"""The explorer's budgets, as powers of ten of operations: 10**18 up to 10**25."""
RATIOS = (0.0, 3.5)
"""The explorer's tokens per parameter, as powers of ten: 1 up to about 3,000."""


def _fmt_count(x: float) -> str:
    """3.2e+10 -> '32 billion' style short names for parameter and token counts."""
    for size, name in ((1e12, "trillion"), (1e9, "billion"), (1e6, "million")):
        if x >= size:
            return f"{x / size:.3g} {name}"
    return f"{x:,.0f}"


def plot_budget(
    log10_budget: float, log10_tokens_per_parameter: float, law: ScalingLaw = CHINCHILLA
) -> Figure:
    """The loss along one budget: every model size N, with D = C / (6 N) tokens.

    Grey lines are the other whole powers of ten; the purple line is ``10**log10_budget``, the
    dot the chosen split, the star the best one; the dashed line joins the best splits.
    """
    budget = 10 ** float(log10_budget)
    ratio = 10 ** float(log10_tokens_per_parameter)
    fig, ax = new_figure(width=6.0, height=3.3)
    best_points = []
    for power in range(int(BUDGETS[0]), int(BUDGETS[1]) + 1):
        C = 10.0**power
        N_lo, _ = law.split(C, 10 ** (RATIOS[1] + 0.5))  # more tokens per parameter: smaller N
        N_hi, _ = law.split(C, 10 ** (RATIOS[0] - 0.5))
        N = np.geomspace(N_lo, N_hi, 80)
        ax.plot(N, law.loss(N, C / (FLOPS_PER_PARAMETER_TOKEN * N)), color=COLORS["muted"], lw=0.8)
        best_points.append(law.best_split(C))
    best_N = np.array([n for n, _ in best_points])
    best_D = np.array([d for _, d in best_points])
    ax.plot(best_N, law.loss(best_N, best_D), "--", color=COLORS["muted"], lw=0.8)
    N_lo, _ = law.split(budget, 10 ** (RATIOS[1] + 0.5))
    N_hi, _ = law.split(budget, 10 ** (RATIOS[0] - 0.5))
    N = np.geomspace(N_lo, N_hi, 120)
    ax.plot(N, law.loss(N, budget / (FLOPS_PER_PARAMETER_TOKEN * N)), color=COLORS["activation"])
    N_best, D_best = law.best_split(budget)
    ax.plot(
        [N_best],
        [law.loss(N_best, D_best)],
        "*",
        color=COLORS["flower"],
        ms=13,
        zorder=3,
        label="best split",
    )
    N_pick, D_pick = law.split(budget, ratio)
    loss_pick = law.loss(N_pick, D_pick)
    ax.plot([N_pick], [loss_pick], "o", color=COLORS["highlight"], ms=7, zorder=4, label="chosen")
    ax.set_xscale("log")
    ax.set_ylim(1.7, 4.4)
    ax.legend(loc="upper right", fontsize=8, numpoints=1)
    ax.set_xlabel("parameters N (the rest of the budget buys D = C / 6N tokens)")
    ax.set_ylabel("predicted loss L(N, D)")
    ax.set_title(
        f"C = 1e{log10_budget:g}: {D_pick / N_pick:,.0f} tokens/parameter, L = {loss_pick:.3f}; "
        f"best {D_best / N_best:,.0f}, L = {law.loss(N_best, D_best):.3f}",
        fontsize=9.5,
    )
    return describe(
        fig,
        f"Predicted loss against model size for a budget of 1e{log10_budget:g} operations: "
        f"{_fmt_count(N_pick)} parameters on {_fmt_count(D_pick)} tokens give {loss_pick:.3f}; "
        f"the best split, {_fmt_count(N_best)} parameters on {_fmt_count(D_best)} tokens, "
        f"gives {law.loss(N_best, D_best):.3f}.",
    )


def budget_explorer(law: ScalingLaw = CHINCHILLA, budget: float = 22.0) -> Explorer:
    """Move the budget (a power of ten) and the tokens per parameter; watch the loss.

    The two sliders move one at a time on the site (15 budgets + 14 more splits = 29 frames).
    """
    return explore(
        lambda log10_budget, log10_ratio: plot_budget(log10_budget, log10_ratio, law),
        log10_budget=Slider(*BUDGETS, 0.5, value=budget, label="budget C = 10^"),
        log10_ratio=Slider(*RATIOS, 0.25, value=1.25, label="tokens per parameter = 10^"),
        one_at_a_time=True,
    )
