"""See where attention looks: a heatmap and lines between tokens, live and on the static site.

Built in chapter 6, Self-attention; chapter 11 (Multi-head attention) and chapter 13 (The GPT
architecture) use it again.

The explorer takes attention weights that are already computed, so it works for any model::

    examples = {
        "humpty dumpty sat": (["humpty", "dumpty", "sat"], weights),  # (n_layer, n_head, T, T)
        ...
    }
    attention_explorer(examples)                      # pick a sentence, a layer and a head
    attention_explorer(examples, unmasked=unmasked)   # ... plus a "causal mask" switch

``weights[l, h, t, s]`` is how much token ``t`` looks at token ``s`` in head ``h`` of layer
``l``; every row is a softmax output (non-negative, adding up to 1). A (n_head, T, T) array means
one layer and a (T, T) array one head. Each frame shows the chosen matrix twice: as a heatmap
(rows = the token looking, columns = the token looked at) and as lines from each token on the
left to the tokens it looks at on the right, thicker for larger weights, with one query
(the last token unless told otherwise) highlighted.

Controls: ``sentence`` (a Choice over the examples; the static site gets all of them, or the
``static`` ones), ``layer`` and ``head`` (sliders numbered from 1, shown when there is more than
one) and ``causal`` (a Toggle, shown when ``unmasked`` is given: on shows ``examples``, which must
then be causal, off shows ``unmasked``). The static site precomputes
sentences x layers x heads x (2 with the toggle) frames, at most ``max_frames`` (64).

Where the weights come from:

* :func:`weights_from_qk` turns queries and keys (arrays or tensors, (..., T, d)) into weights;
* :func:`weights_from_model` runs a model once and records the weights of every
  :class:`~llmbook.attention.CausalSelfAttention` inside it, in order: (n_layer, n_head, T, T);
* :func:`examples_from_model` does that for a list of texts, giving ``examples`` directly.

:func:`plot_attention` draws one matrix as a plain figure.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from torch import Tensor, nn

from llmbook.attention import CausalSelfAttention, _padding_to_mask, attention_weights
from llmbook.plotting import COLORS, STYLE, new_figure
from llmbook.widgets import MAX_FRAMES, Choice, Explorer, Slider, Toggle, explore

Example = tuple[Sequence[str], Any]
"""(tokens, weights): the token labels and their attention weights, (n_layer, n_head, T, T)."""

ROW_SUM_TOLERANCE = 1e-3
ANNOTATE_UP_TO = 8
FIGURE_WIDTH = 4.8
"""Inches; 384 pixels at the house style's 80 dpi."""
LINE_CUTOFF = 0.1
"""Weights below this get no line (except the highlighted query's): keeps the frames light."""
"""Write the numbers into the heatmap cells when a sentence has at most this many tokens."""


# ---- checking the input -----------------------------------------------------------------


def as_weights(tokens: Sequence[str], weights: Any, name: str = "weights") -> np.ndarray:
    """Check one example and return its weights as a float array (n_layer, n_head, T, T).

    Raises ValueError naming the sentence and the bad shape or row.
    """
    if isinstance(tokens, str) or len(tokens) == 0:
        raise ValueError(f"{name}: tokens must be a non-empty list of strings, got {tokens!r}")
    if isinstance(weights, Tensor):
        weights = weights.detach().cpu().numpy()
    array = np.asarray(weights, dtype=float)
    T = len(tokens)
    if array.ndim not in (2, 3, 4) or array.shape[-2:] != (T, T):
        raise ValueError(
            f"{name}: weights must have shape (n_layer, n_head, {T}, {T}), (n_head, {T}, {T}) or "
            f"({T}, {T}) for {T} tokens, got {array.shape}"
        )
    array = array.reshape((1,) * (4 - array.ndim) + array.shape)  # -> (n_layer, n_head, T, T)
    if not np.isfinite(array).all() or (array < 0).any():
        raise ValueError(f"{name}: weights must be finite and non-negative")
    sums = array.sum(axis=-1)  # (n_layer, n_head, T)
    worst = np.unravel_index(np.abs(sums - 1).argmax(), sums.shape)
    if abs(sums[worst] - 1) > ROW_SUM_TOLERANCE:
        layer, head, row = (int(i) for i in worst)
        raise ValueError(
            f"{name}: every row must add up to 1 (weights after softmax); row {row + 1} of "
            f"layer {layer + 1}, head {head + 1} adds up to {sums[worst]:.4g}"
        )
    return array


def is_causal(weights: np.ndarray) -> bool:
    """True when no token looks at a later one: every weight above the diagonal is 0."""
    T = weights.shape[-1]
    return bool((weights[..., ~np.tri(T, dtype=bool)] == 0).all())


def _checked_examples(examples: Mapping[str, Example], name: str) -> dict[str, Example]:
    if not isinstance(examples, Mapping) or len(examples) == 0:
        raise ValueError(f"{name} must be a non-empty mapping {{sentence: (tokens, weights)}}")
    checked: dict[str, Example] = {}
    for sentence, example in examples.items():
        if not isinstance(example, tuple) or len(example) != 2:
            raise TypeError(
                f"{name}[{sentence!r}] must be a pair (tokens, weights), "
                f"got {type(example).__name__}"
            )
        tokens, weights = example
        checked[sentence] = (
            [str(t) for t in tokens],
            as_weights(tokens, weights, f"{name}[{sentence!r}]"),
        )
    shapes = {s: w.shape[:2] for s, (_, w) in checked.items()}
    first = next(iter(shapes))
    for sentence, shape in shapes.items():
        if shape != shapes[first]:
            raise ValueError(
                f"every sentence needs the same (n_layer, n_head): {first!r} has {shapes[first]}, "
                f"{sentence!r} has {shape}"
            )
    return checked


def _checked_unmasked(
    examples: dict[str, Example], unmasked: Mapping[str, Any]
) -> dict[str, np.ndarray]:
    if not isinstance(unmasked, Mapping) or set(unmasked) != set(examples):
        missing = sorted(set(examples) ^ set(unmasked if isinstance(unmasked, Mapping) else {}))
        raise ValueError(
            f"unmasked must map the same sentences as examples; these differ: {missing}"
        )
    arrays = {}
    for sentence, (tokens, weights) in examples.items():
        array = as_weights(tokens, unmasked[sentence], f"unmasked[{sentence!r}]")
        if array.shape != weights.shape:
            raise ValueError(
                f"unmasked[{sentence!r}] has shape {array.shape}, examples has {weights.shape}"
            )
        if not is_causal(weights):
            raise ValueError(
                f"with unmasked given, examples[{sentence!r}] must hold the causal weights "
                "(zero above the diagonal); did you swap examples and unmasked?"
            )
        arrays[sentence] = array
    return arrays


# ---- drawing ----------------------------------------------------------------------------


def _draw_heatmap(ax: Axes, tokens: Sequence[str], matrix: np.ndarray) -> None:
    T = len(tokens)
    ax.imshow(matrix, cmap="Purples", vmin=0, vmax=1, aspect="auto")  # rows line up with lines
    ax.grid(False)
    ax.set_xticks(range(T), labels=list(tokens), rotation=90, fontsize=9)
    ax.set_yticks(range(T), labels=list(tokens), fontsize=9)
    ax.set_xlabel("looked at", fontsize=9)
    ax.set_ylabel("looking", fontsize=9)
    ax.tick_params(length=0)
    if T <= ANNOTATE_UP_TO:
        for (r, c), v in np.ndenumerate(matrix):
            ax.text(
                c,
                r,
                f"{v:.2f}".lstrip("0") if v < 1 else "1",
                ha="center",
                va="center",
                fontsize=7,
                color="white" if v > 0.55 else "black",
            )


def _draw_lines(ax: Axes, tokens: Sequence[str], matrix: np.ndarray, query: int | None) -> None:
    T = len(tokens)
    y = -np.arange(T, dtype=float)  # token 0 at the top
    for t, s in np.ndindex(T, T):
        w = float(matrix[t, s])
        mine = query is None or t == query
        if w < (0.01 if mine else LINE_CUTOFF):
            continue
        ax.plot(
            [0, 1],
            [y[t], y[s]],
            color=COLORS["highlight"] if query is not None and mine else COLORS["activation"],
            lw=0.5 + 4.0 * w,
            alpha=min(1.0, 0.15 + 0.85 * w) if mine else 0.12 + 0.25 * w,
            solid_capstyle="round",
            zorder=3 if mine else 2,
        )
    for t, token in enumerate(tokens):
        bold = "bold" if t == query else "normal"
        ax.text(-0.04, y[t], token, ha="right", va="center", fontsize=10, fontweight=bold)
        ax.text(1.04, y[t], token, ha="left", va="center", fontsize=10)
    ax.set_xlim(-1.0, 2.0)
    ax.set_ylim(-T + 0.5, 0.5)  # the same rows as the heatmap beside it
    ax.axis("off")


def plot_attention(
    tokens: Sequence[str],
    weights: Any,
    *,
    title: str | None = None,
    query: int | None = -1,
) -> Figure:
    """One attention matrix (T, T) as a heatmap and as lines from each token to the tokens it
    looks at. ``query`` is the row highlighted in the lines (default: the last token; None for
    none). The figure is ``FIGURE_WIDTH`` inches wide: about a phone's width at the house dpi,
    so the page shows it nearly unscaled and the token labels stay readable.
    """
    matrix = as_weights(tokens, weights)
    if matrix.shape[:2] != (1, 1):
        raise ValueError(
            f"plot_attention draws one (T, T) matrix, got {matrix.shape[:2]} layers/heads; "
            "pick one, e.g. weights[layer, head]"
        )
    T = len(tokens)
    if query is not None and not -T <= query < T:
        raise ValueError(f"query must be a token index in [-{T}, {T}), got {query}")
    query = None if query is None else query % T
    height = 0.2 * T + 1.4
    fig, (left, right) = new_figure(width=FIGURE_WIDTH, height=height, ncols=2)
    fig.get_layout_engine().set(w_pad=0.02, wspace=0.02)
    _draw_heatmap(left, tokens, matrix[0, 0])
    _draw_lines(right, tokens, matrix[0, 0], query)
    if title:
        fig.suptitle(title, fontsize=STYLE["axes.titlesize"])  # type: ignore[arg-type]
    return fig


# ---- the explorer -----------------------------------------------------------------------


def _frame_title(layer: int, head: int, shape: tuple[int, ...], causal: bool | None) -> str:
    parts = []
    if shape[0] > 1:
        parts.append(f"layer {layer}")
    if shape[1] > 1:
        parts.append(f"head {head}")
    if causal is not None:
        parts.append("causal mask on" if causal else "causal mask off")
    return ", ".join(parts)


def attention_explorer(
    examples: Mapping[str, Example],
    *,
    unmasked: Mapping[str, Any] | None = None,
    static: Sequence[str] | None = None,
    query: int | None = -1,
    max_frames: int = MAX_FRAMES,
) -> Explorer:
    """An ``llmbook.widgets.explore`` widget over attention weights (see the module docstring).

    ``examples`` maps a sentence to ``(tokens, weights)``, weights (n_layer, n_head, T, T);
    ``unmasked`` (optional) maps the same sentences to the weights without the causal mask;
    ``static`` picks the sentences precomputed for the static site (default: all); ``query`` is
    the token whose lines are highlighted (default: the last, None for none).
    """
    checked = _checked_examples(examples, "examples")
    full = None if unmasked is None else _checked_unmasked(checked, unmasked)
    sentences = list(checked)
    static = sentences if static is None else list(static)
    n_layer, n_head = next(iter(checked.values()))[1].shape[:2]
    frames = len(static) * n_layer * n_head * (1 if full is None else 2)
    if frames > max_frames:
        raise ValueError(
            f"too many frames for the static site: {len(static)} sentences x {n_layer} layers x "
            f"{n_head} heads{'' if full is None else ' x 2 (mask on/off)'} = {frames}, more than "
            f"max_frames={max_frames}; pass fewer sentences in `static`"
        )
    candidates: dict[str, Any] = {
        "sentence": Choice(sentences, label="sentence", static=static),
        "layer": Slider(1, n_layer, 1, label="layer"),
        "head": Slider(1, n_head, 1, label="head"),
    }
    if full is not None:
        candidates["causal"] = Toggle(True, label="causal mask")
    sizes = {"sentence": len(static), "layer": n_layer, "head": n_head, "causal": 2}
    controls = {n: c for n, c in candidates.items() if sizes[n] > 1} or {
        "sentence": candidates["sentence"]
    }

    def draw(
        sentence: str = sentences[0], layer: int = 1, head: int = 1, causal: bool = True
    ) -> Figure:
        tokens, weights = checked[sentence]
        chosen = weights if causal or full is None else full[sentence]
        matrix = chosen[int(layer) - 1, int(head) - 1]
        title = _frame_title(int(layer), int(head), weights.shape, None if full is None else causal)
        return plot_attention(tokens, matrix, title=title or None, query=query)

    return explore(draw, max_frames=max_frames, **controls)


# ---- where the last token looks, head by head ------------------------------------------


def _checked_rows(tokens: Sequence[str], rows: Any, where: str) -> np.ndarray:
    """One weight row per head for the last token: (n_head, T), each row a softmax output."""
    array = np.asarray(rows.detach().cpu() if isinstance(rows, Tensor) else rows, dtype=float)
    if array.ndim == 1:
        array = array[None]
    if array.ndim != 2 or array.shape[1] != len(tokens):
        raise ValueError(
            f"{where}: weights must have shape (n_head, T) with T = {len(tokens)} tokens, "
            f"got {array.shape}"
        )
    if (array < -1e-6).any() or not np.allclose(array.sum(axis=1), 1.0, atol=1e-4):
        raise ValueError(f"{where}: every head's weights must be >= 0 and add up to 1")
    return array


def plot_head_rows(
    tokens: Sequence[str],
    rows: Any,
    *,
    marked: Mapping[str, str] | None = None,
    title: str | None = None,
) -> Figure:
    """The last token's weights, one row per head: a heatmap with the values written in.

    ``marked`` colours the labels of chosen words (``{word: colour}``).
    """
    array = _checked_rows(tokens, rows, "rows")
    n_head, T = array.shape
    fig, ax = new_figure(width=FIGURE_WIDTH, height=1.3 + 0.32 * n_head)
    ax.imshow(array, cmap="Purples", vmin=0, vmax=1, aspect="auto")
    ax.grid(False)
    ax.set_xticks(range(T), labels=list(tokens), rotation=90, fontsize=8)
    ax.set_yticks(range(n_head), labels=[f"head {h + 1}" for h in range(n_head)], fontsize=8)
    ax.tick_params(length=0)
    for label, token in zip(ax.get_xticklabels(), tokens, strict=True):
        if marked and token in marked:
            label.set_color(marked[token])
            label.set_fontweight("bold")
    for (r, c), v in np.ndenumerate(array):
        if v >= 0.05:
            ax.text(
                c,
                r,
                f"{v:.2f}".lstrip("0"),
                ha="center",
                va="center",
                fontsize=7,
                color="white" if v > 0.55 else "black",
            )
    if title:
        ax.set_title(title, fontsize=9)
    return fig


# ---- computing the weights --------------------------------------------------------------


def weights_from_qk(q: Any, k: Any, *, causal: bool = True, scale: bool = True) -> np.ndarray:
    """softmax(q k^T / sqrt(d) + mask) as a float64 array: q, k (..., T, d) -> (..., T, T).

    >>> weights_from_qk([[1.0, 0.0], [0.0, 1.0]], [[1.0, 0.0], [0.0, 1.0]], scale=False).round(3)
    array([[1.   , 0.   ],
           [0.269, 0.731]])
    """
    q_t = torch.as_tensor(np.asarray(q, dtype=float) if not isinstance(q, Tensor) else q)
    k_t = torch.as_tensor(np.asarray(k, dtype=float) if not isinstance(k, Tensor) else k)
    if q_t.shape[-2] != k_t.shape[-2]:
        raise ValueError(
            f"self-attention needs as many queries as keys, got q {tuple(q_t.shape)} and "
            f"k {tuple(k_t.shape)}"
        )
    with torch.no_grad():
        weights = attention_weights(q_t.double(), k_t.double(), causal=causal, scale=scale)
    return weights.cpu().numpy()


def _layer_weights(
    module: CausalSelfAttention, x: Tensor, key_padding_mask: Tensor | None
) -> Tensor:
    """The (B, nh, T, T) attention weights `module` computes for the input x (B, T, C)."""
    B, T, C = x.shape
    nh, nkv, hs = module.n_head, module.n_kv_head, module.head_size
    q, k, _ = module.qkv(x).split([C, module.kv_dim, module.kv_dim], dim=2)
    q = q.view(B, T, nh, hs).transpose(1, 2)  # (B, T, C) -> (B, nh, T, hs)
    k = k.view(B, T, nkv, hs).transpose(1, 2)  # (B, T, nkv*hs) -> (B, nkv, T, hs)
    k = k.repeat_interleave(nh // nkv, dim=1)  # (B, nkv, T, hs) -> (B, nh, T, hs)
    mask = _padding_to_mask(key_padding_mask, B, T)  # None or (B, 1, 1, T)
    return attention_weights(q, k, causal=module.causal, mask=mask)  # (B, nh, T, T)


def weights_from_model(
    model: nn.Module, *inputs: Any, causal: bool | None = None, batch: int = 0
) -> np.ndarray:
    """Run ``model(*inputs)`` once and return the attention weights of every
    ``CausalSelfAttention`` inside it, in the order they run: (n_layer, n_head, T, T), for
    sequence ``batch`` of the batch.

    ``model`` may be a single ``CausalSelfAttention``, an ``nn.Sequential`` stack of them, or a
    whole GPT. ``causal=True``/``False`` runs every attention layer with/without the causal mask
    for this call (the modules are restored afterwards); ``None`` keeps each module's own setting.
    The run is in evaluation mode (no dropout) and without gradients; the model's training flag
    is restored too.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    layers = [m for m in model.modules() if isinstance(m, CausalSelfAttention)]
    if not layers:
        raise ValueError(f"{type(model).__name__} contains no CausalSelfAttention layer")
    recorded: list[Tensor] = []

    def record(module: nn.Module, args: tuple, kwargs: dict) -> None:
        assert isinstance(module, CausalSelfAttention)
        x = args[0] if args else kwargs["x"]
        padding = args[1] if len(args) > 1 else kwargs.get("key_padding_mask")
        recorded.append(_layer_weights(module, x, padding))

    saved = [layer.causal for layer in layers]
    hooks = [layer.register_forward_pre_hook(record, with_kwargs=True) for layer in layers]
    was_training = model.training
    try:
        if causal is not None:
            for layer in layers:
                layer.causal = causal
        model.eval()
        with torch.no_grad():
            model(*inputs)
    finally:
        for hook in hooks:
            hook.remove()
        for layer, flag in zip(layers, saved, strict=True):
            layer.causal = flag
        model.train(was_training)
    if not 0 <= batch < recorded[0].size(0):
        raise ValueError(f"batch must be in [0, {recorded[0].size(0)}), got {batch}")
    return torch.stack([w[batch] for w in recorded]).double().cpu().numpy()


def examples_from_model(
    model: nn.Module,
    texts: Sequence[str],
    encode: Callable[[str], Sequence[int]],
    decode: Callable[[Sequence[int]], str],
    *,
    causal: bool | None = None,
) -> dict[str, Example]:
    """``{text: (tokens, weights)}`` for :func:`attention_explorer`, one model run per text.

    ``encode`` turns a text into token ids, which go into the model as a (1, T) tensor;
    ``decode([id])`` gives each token's label.
    """
    examples: dict[str, Example] = {}
    for text in texts:
        ids = list(encode(text))
        if not ids:
            raise ValueError(f"encode({text!r}) gave no tokens")
        idx = torch.tensor([ids], dtype=torch.long)  # (1, T)
        weights = weights_from_model(model, idx, causal=causal)
        examples[text] = ([decode([i]) for i in ids], weights)
    return examples


__all__ = [
    "Example",
    "as_weights",
    "attention_explorer",
    "examples_from_model",
    "is_causal",
    "plot_attention",
    "weights_from_model",
    "weights_from_qk",
]
