"""The house style for figures: one palette, one way to draw networks and heatmaps.

Built in chapter 1, "A simple neural network"; every chapter draws with it, so the same thing
has the same colour everywhere (activations purple, the leaf green, the flower yellow, training
blue, validation orange).

One colour key for signs, in every figure of the book: **blue is positive, red is negative**,
white is zero. :data:`POSITIVE` and :data:`NEGATIVE` are the only place these colours are
defined; network diagrams colour their lines with them (:func:`sign_color`), and heatmaps of
signed numbers use :data:`SIGN_CMAP`, the diverging colour map built from them.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import Colormap, LinearSegmentedColormap
from matplotlib.figure import Figure
from matplotlib.text import Text

POSITIVE = "#2b6cb0"
"""The colour of a positive number (a weight, a heatmap cell): blue, everywhere in the book."""

NEGATIVE = "#c53030"
"""The colour of a negative number: red, everywhere in the book."""

ZERO = "#ffffff"
"""The colour of zero in a heatmap of signed numbers."""

SIGN_CMAP_NAME = "llmbook_sign"
SIGN_CMAP: Colormap = LinearSegmentedColormap.from_list(
    SIGN_CMAP_NAME, [NEGATIVE, ZERO, POSITIVE], N=257
)
"""The diverging colour map for signed numbers: red (negative) through white (0) to blue.

An odd number of shades (257) puts exact white in the middle.
"""
if SIGN_CMAP_NAME not in mpl.colormaps:
    mpl.colormaps.register(SIGN_CMAP)

COLORS: dict[str, str] = {
    "positive": POSITIVE,  # a positive number: the colour key of the whole book
    "negative": NEGATIVE,  # a negative number
    "weight_pos": POSITIVE,  # a positive weight (the same colour, by an older name)
    "weight_neg": NEGATIVE,  # a negative weight
    "activation": "#6b46c1",  # a neuron's value
    "input": "#4a5568",  # an input number
    "leaf": "#2f855a",
    "flower": "#d69e2e",
    "train": "#2b6cb0",
    "val": "#dd6b20",
    "highlight": "#d53f8c",
    "muted": "#a0aec0",
}
"""Named colours; use the name of the thing, not of the colour."""

SEQUENCE = ["#2b6cb0", "#dd6b20", "#2f855a", "#c53030", "#6b46c1", "#d69e2e", "#319795", "#718096"]
"""Colour cycle for lines that have no fixed meaning."""

WIDTH = 6.4
"""Width in inches of a full-width figure; with dpi 80 it stays readable at phone width."""

STYLE: dict[str, object] = {
    "figure.dpi": 80,
    "savefig.dpi": 80,
    "figure.figsize": (WIDTH, 3.6),
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.25,
    "axes.prop_cycle": mpl.cycler(color=SEQUENCE),
    "legend.frameon": False,
    "image.cmap": SIGN_CMAP_NAME,
}


def use_style() -> None:
    """Apply the house style to every figure drawn from now on.

    In a notebook it also makes every displayed figure carry its alt text (see ``figure_alt``).
    """
    mpl.rcParams.update(STYLE)
    record_alt_text()


ALT_ATTRIBUTE = "_llmbook_alt"


def describe(fig: Figure, alt: str) -> Figure:
    """Give ``fig`` the text that stands in for it where it cannot be seen (its alt text)."""
    if not isinstance(alt, str) or not alt.strip():
        raise ValueError(f"describe: alt must be a non-empty string, got {alt!r}")
    setattr(fig, ALT_ATTRIBUTE, " ".join(alt.split()))
    return fig


def _text_of(artist: Text | None) -> str:
    return " ".join(artist.get_text().split()) if artist is not None else ""


def figure_alt(fig: Figure) -> str:
    """What a figure shows, in words: for readers who cannot see it.

    The text given with ``describe``; else the figure's title (``suptitle``); else its axes'
    titles, joined by "; "; else "<y label> against <x label>" of each axes. Empty if the
    figure says nothing about itself.

    >>> fig, ax = plt.subplots(); _ = ax.set_title("Loss while training")
    >>> figure_alt(fig)
    'Loss while training'
    """
    given = getattr(fig, ALT_ATTRIBUTE, "")
    if given:
        return given
    suptitle = _text_of(getattr(fig, "_suptitle", None))
    if suptitle:
        return suptitle
    titles = [
        _text_of(title) for ax in fig.axes for title in (ax.title, ax._left_title, ax._right_title)
    ]
    titles = [t for t in titles if t]
    if titles:
        return "; ".join(titles)
    labels = [
        (" ".join(ax.get_ylabel().split()), " ".join(ax.get_xlabel().split())) for ax in fig.axes
    ]
    return "; ".join(f"{y} against {x}" for y, x in labels if y and x)


def record_alt_text() -> None:
    """In IPython, store ``figure_alt(fig)`` with each displayed figure's PNG (metadata "alt").

    Jupyter keeps it in the notebook output's metadata; the book's site uses it as the image's
    alt text. Outside IPython this does nothing.
    """
    try:
        from IPython import get_ipython
    except ImportError:  # plain Python: nothing displays figures
        return
    shell = get_ipython()
    if shell is None or not hasattr(shell, "display_formatter"):
        return
    if "inline" in mpl.get_backend():
        # The inline backend registers its PNG formatter when it is first imported (usually
        # with the first figure); import it now so that there is a formatter to wrap.
        importlib.import_module("matplotlib_inline.backend_inline")
    png = shell.display_formatter.formatters["image/png"]
    try:
        draw_png = png.lookup_by_type(Figure)
    except KeyError:  # no inline backend: figures are not displayed as PNG
        return
    if getattr(draw_png, "records_alt", False):
        return

    def png_with_alt(fig: Figure) -> object:
        data = draw_png(fig)
        alt = figure_alt(fig)
        return (data, {"alt": alt}) if data is not None and alt else data

    png_with_alt.records_alt = True  # type: ignore[attr-defined]
    png.for_type(Figure, png_with_alt)


def new_figure(
    width: float = WIDTH, height: float = 3.6, ncols: int = 1, nrows: int = 1
) -> tuple[Figure, np.ndarray | Axes]:
    """A figure in house style; ``plt.subplots`` with the book's defaults."""
    with mpl.rc_context(STYLE):
        return plt.subplots(nrows, ncols, figsize=(width, height), layout="constrained")


def sign_color(value: float) -> str:
    """The colour key: :data:`POSITIVE` (blue) for a value >= 0, :data:`NEGATIVE` (red) below."""
    return POSITIVE if value >= 0 else NEGATIVE


LAYER_GAP = 2.6
"""Horizontal distance between layers in a network diagram, in units of the node spacing."""


def _layer_positions(sizes: Sequence[int]) -> list[np.ndarray]:
    """(x, y) of every node: layers left to right, nodes top to bottom, centred vertically."""
    top = max(sizes)
    return [
        np.column_stack([np.full(n, LAYER_GAP * i), (top - 1) / 2 - np.arange(n) + (n - 1) / 2])
        for i, n in enumerate(sizes)
    ]


def draw_network(
    ax: Axes,
    weights: Sequence[np.ndarray],
    values: Sequence[Sequence[float]] | None = None,
    labels: Sequence[Sequence[str]] | None = None,
    show_weights: bool = True,
    edge_mask: Sequence[np.ndarray] | None = None,
    node_colors: Sequence[Sequence[str]] | None = None,
    fmt: str = "{:.3g}",
) -> None:
    """Draw a fully connected network: circles for neurons, lines for weights.

    ``weights[l]`` has shape (n_out, n_in) and maps layer ``l`` to layer ``l + 1``, as in
    ``h = W @ x``. Lines are coloured by the weight's sign and get thicker with its size;
    ``edge_mask[l]`` (same shape, booleans) hides the lines that are False (dropout).
    ``values[l]`` are written in the circles, ``labels[l]`` beside them.
    """
    sizes = [weights[0].shape[1]] + [w.shape[0] for w in weights]
    for layer, w in enumerate(weights):
        if w.shape[1] != sizes[layer]:
            raise ValueError(f"weights[{layer}] has shape {w.shape}, expected (*, {sizes[layer]})")
    pos = _layer_positions(sizes)
    largest = max(float(np.abs(w).max()) for w in weights) or 1.0
    for layer, w in enumerate(weights):
        mask = np.ones(w.shape, bool) if edge_mask is None else np.asarray(edge_mask[layer], bool)
        for j, i in np.ndindex(*w.shape):
            if not mask[j, i]:
                continue
            (x0, y0), (x1, y1) = pos[layer][i], pos[layer + 1][j]
            ax.plot(
                [x0, x1],
                [y0, y1],
                color=sign_color(w[j, i]),
                zorder=1,
                lw=0.6 + 2.4 * abs(w[j, i]) / largest,
                alpha=0.8,
            )
            if show_weights:
                t = 0.2 + 0.5 * j / max(w.shape[0], 2)  # stagger labels of one fan
                xt, yt = x0 + t * (x1 - x0), y0 + t * (y1 - y0)
                ax.text(
                    xt,
                    yt,
                    f"{w[j, i]:.2f}",
                    fontsize=7,
                    ha="center",
                    va="center",
                    color=sign_color(w[j, i]),
                    zorder=3,
                    bbox={"boxstyle": "round,pad=0.1", "fc": "white", "ec": "none"},
                )
    for layer, xy in enumerate(pos):
        for k, (x, y) in enumerate(xy):
            color = node_colors[layer][k] if node_colors else "white"
            ax.add_patch(
                plt.Circle(
                    (x, y),
                    0.3,
                    fc=color,
                    ec=COLORS["input"] if layer == 0 else COLORS["activation"],
                    lw=1.5,
                    zorder=4,
                )
            )
            if values is not None:
                ax.text(
                    x,
                    y,
                    fmt.format(values[layer][k]),
                    ha="center",
                    va="center",
                    fontsize=8,
                    zorder=5,
                )
            if labels is not None and labels[layer]:
                side = -0.4 if layer == 0 else 0.4
                ax.text(
                    x + side,
                    y,
                    labels[layer][k],
                    ha="right" if layer == 0 else "left",
                    va="center",
                    fontsize=9,
                    zorder=5,
                )
    ax.set_xlim(-1.1, LAYER_GAP * (len(sizes) - 1) + 1.3)
    ax.set_ylim(-0.6, max(sizes) - 0.4)
    ax.set_aspect("equal")
    ax.axis("off")


def heatmap(
    ax: Axes,
    matrix: np.ndarray,
    row_labels: Sequence[str] | None = None,
    col_labels: Sequence[str] | None = None,
    annotate: bool = True,
    fmt: str = "{:.2f}",
    cmap: str | Colormap = SIGN_CMAP,
    center: float | None = 0.0,
    vmin: float | None = None,
    vmax: float | None = None,
) -> None:
    """A labelled heatmap; diverging around ``center`` (None for a sequential scale).

    The default colour map is :data:`SIGN_CMAP`: positive cells blue, negative red, as in every
    figure of the book. Pass a sequential map (e.g. ``"Purples"``) for numbers without a sign,
    such as attention weights.
    """
    matrix = np.asarray(matrix, dtype=float)
    if matrix.ndim != 2:
        raise ValueError(f"heatmap needs a 2-D matrix, got shape {matrix.shape}")
    if center is not None and vmin is None and vmax is None:
        span = float(np.abs(matrix - center).max()) or 1.0
        vmin, vmax = center - span, center + span
    image = ax.imshow(matrix, cmap=cmap, vmin=vmin, vmax=vmax, aspect="auto")
    ax.grid(False)
    for axis, labels in ((ax.set_yticks, row_labels), (ax.set_xticks, col_labels)):
        if labels is not None:
            axis(range(len(labels)), labels=list(labels))
    if annotate:
        for (r, c), v in np.ndenumerate(matrix):
            ax.text(
                c,
                r,
                fmt.format(v),
                ha="center",
                va="center",
                fontsize=7,
                color=_label_color(image.cmap(image.norm(v))),
            )


def _label_color(rgba: Sequence[float]) -> str:
    """White text on dark cells, black on light ones, whatever the colour map."""
    red, green, blue = rgba[:3]
    return "white" if 0.299 * red + 0.587 * green + 0.114 * blue < 0.5 else "black"
