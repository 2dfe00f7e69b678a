"""Interactive figures: one explorer, shown as well as each place that opens it can show it.

Built in chapter 1, "A simple neural network"; every chapter uses it.

One call::

    explore(draw, r=Slider(0, 255, 1, value=32, static=8), relu=Toggle())

``draw(**values)`` returns a matplotlib ``Figure`` (or an HTML string). What the reader sees:

* **a running kernel** (JupyterLab, Colab, VS Code): ipywidgets controls that call ``draw``
  again whenever a control moves (ipywidgets 7.6+ and 8), the picture drawn at twice the
  density it is shown at, so it stays sharp on any screen and is never stretched;
* **the book's website**: every *static* state drawn in advance, with native
  ``<input type=range>``, ``<select>`` and checkbox controls and a few lines of inline
  JavaScript that show the matching frame; nothing is fetched from anywhere;
* **viewers that run nothing** (GitHub, nbviewer, an untrusted notebook, Colab before running):
  one picture of the default state and one line saying that the figure moves on the website or
  when the cell runs.

The states are drawn only when the book's stored outputs are made (``make outputs`` and nbval
set ``LLMBOOK_EXPLORER_FRAMES=1``); they travel in the output under :data:`MIME_TYPE`, which
the site turns into HTML at build time (:mod:`llmbook.sphinx_explorers`). In a reader's session
only the live widget and the one fallback picture are drawn.

Sliders with many static values can move *one at a time* (``one_at_a_time=True``): the others
hold at their defaults, so the states add up instead of multiplying (four sliders of 8 steps:
29 states instead of 4,096). On the site, moving such a slider puts the others back to their
defaults.
"""

from __future__ import annotations

import base64
import html
import io
import itertools
import json
import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from numbers import Integral, Real
from typing import Any

import matplotlib.pyplot as plt
from matplotlib.figure import Figure
from PIL import Image

MIME_TYPE = "application/vnd.llmbook.explorer+json"
"""The output entry holding every precomputed state; only the book's site renders it."""

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"

FRAMES_ENV = "LLMBOOK_EXPLORER_FRAMES"
"""Set to 1 (``make outputs``, nbval) to precompute the states for the site."""

MAX_FRAMES = 64
"""Default cap on precomputed states per explorer."""

SITE_DENSITY = 1
"""Pixels per CSS pixel of a site frame. Measured: at 1.25, chapter 12's three explorers alone
weigh 1.8 MB of base64; steps are worth more than density on a page of at most 2 MB."""

LIVE_DENSITY = 2
"""Pixels per CSS pixel of a live picture: sharp on high-density screens."""

PALETTE_COLORS = 64
"""Colours of a site frame: a 64-colour PNG is about a quarter of a full-colour one."""

NOTE = "This figure is interactive on the book website, or here once this cell runs."

Frame = Any  # Picture, or str for an HTML snippet


def _check_number(name: str, what: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"{name}: {what} must be a number, got {value!r}")
    if not math.isfinite(float(value)):
        raise ValueError(f"{name}: {what} must be finite, got {value!r}")
    return float(value)


def _decimals_of(x: float) -> int:
    """The fewest decimals that write ``x`` exactly (up to 10): 0.005 -> 3, 2.0 -> 0."""
    return next((d for d in range(11) if abs(round(x, d) - x) <= 1e-12 * max(1.0, abs(x))), 10)


def _fmt(value: Any) -> str:
    """Short label for a value: 0.1 + 0.2 prints as 0.3, 4.0 as 4."""
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


@dataclass(frozen=True)
class Slider:
    """A numeric slider from ``start`` to ``stop`` (inclusive) in steps of ``step``.

    ``static`` picks the values precomputed for the site: a sequence of values, a number ``n``
    for ``n`` evenly spaced values, or ``None`` for every value. The starting ``value`` is always
    one of them, so the site opens on the same state as the live widget.
    """

    start: float
    stop: float
    step: float = 1
    value: float | None = None
    label: str | None = None
    static: Sequence[float] | int | None = None

    def validated(self, name: str) -> Slider:
        start = _check_number(name, "start", self.start)
        stop = _check_number(name, "stop", self.stop)
        step = _check_number(name, "step", self.step)
        if step <= 0:
            raise ValueError(f"{name}: step must be positive, got {self.step!r}")
        if stop < start:
            raise ValueError(f"{name}: empty range, start {self.start!r} > stop {self.stop!r}")
        for v in [self.value] if self.value is not None else []:
            if not start <= _check_number(name, "value", v) <= stop:
                raise ValueError(f"{name}: value {v!r} is outside [{self.start!r}, {self.stop!r}]")
        if isinstance(self.static, Integral) and not isinstance(self.static, bool):
            if self.static < 1:
                raise ValueError(f"{name}: static must be at least 1 value, got {self.static!r}")
        elif self.static is not None:
            if isinstance(self.static, str | bytes | bool) or len(self.static) == 0:
                raise ValueError(
                    f"{name}: static must be a number of values or a non-empty sequence, "
                    f"got {self.static!r}"
                )
            for v in self.static:
                if not start <= _check_number(name, "static value", v) <= stop:
                    raise ValueError(
                        f"{name}: static value {v!r} is outside [{self.start!r}, {self.stop!r}]"
                    )
        return self

    @property
    def is_integer(self) -> bool:
        return all(float(x).is_integer() for x in (self.start, self.stop, self.step))

    @property
    def decimals(self) -> int:
        """Decimals a readout needs so that neighbouring positions read differently.

        >>> Slider(0, 0.1, 0.005).decimals, Slider(0.05, 1, 0.1).decimals, Slider(0, 9).decimals
        (3, 2, 0)
        """
        if self.is_integer:
            return 0
        return max(_decimals_of(float(self.step)), _decimals_of(float(self.start)))

    def readout(self, value: float) -> str:
        """The slider's readout for a value, the same live and on the site: 0.005 -> '0.005'."""
        return f"{value:.{self.decimals}f}"

    def count(self) -> int:
        """How many values the slider can take, by arithmetic (nothing is listed)."""
        return math.floor((self.stop - self.start) / self.step + 1e-9) + 1

    def _snap(self, value: float) -> Any:
        k = round((value - self.start) / self.step)
        v = self.start + k * self.step
        return round(v) if self.is_integer else round(v, 10)

    def live_values(self) -> list[Any]:
        return [self._snap(self.start + k * self.step) for k in range(self.count())]

    def static_count(self) -> int:
        """An upper bound on ``len(static_values())``, by arithmetic."""
        if self.static is None:
            return self.count()
        given = min(self.static, self.count()) if isinstance(self.static, int) else len(self.static)
        return given + 1  # the starting value may be added

    def static_values(self) -> list[Any]:
        if self.static is None:
            return self.live_values()
        if isinstance(self.static, int):
            n = min(self.static, self.count())
            span = self.stop - self.start
            chosen = [self._snap(self.start + span * k / max(n - 1, 1)) for k in range(n)]
        else:
            chosen = list(self.static)
        start = self.initial()
        if not any(abs(float(v) - float(start)) <= 1e-9 * max(1.0, abs(self.step)) for v in chosen):
            chosen.append(start)
        unique: list[Any] = []
        for v in sorted(chosen, key=float):
            if not unique or abs(float(v) - float(unique[-1])) > 1e-12:
                unique.append(v)
        return unique

    def initial(self) -> Any:
        start = self.value if self.value is not None else self.start
        return int(start) if self.is_integer else start


@dataclass(frozen=True)
class Choice:
    """Pick one of ``options``: a sequence of values, or a mapping ``{label: value}``.

    ``static`` picks the options precomputed for the site (default: all); the starting
    ``value`` is always one of them.
    """

    options: Sequence[Any] | Mapping[str, Any]
    value: Any = None
    label: str | None = None
    static: Sequence[Any] | None = None

    def validated(self, name: str) -> Choice:
        if isinstance(self.options, str | bytes) or len(self.options) == 0:
            raise ValueError(f"{name}: options must be a non-empty sequence, got {self.options!r}")
        values = self.live_values()
        if self.value is not None and self.value not in values:
            raise ValueError(f"{name}: value {self.value!r} is not one of the options {values!r}")
        for v in self.static or []:
            if v not in values:
                raise ValueError(f"{name}: static value {v!r} is not one of the options {values!r}")
        return self

    def labelled(self) -> list[tuple[str, Any]]:
        if isinstance(self.options, Mapping):
            return [(str(k), v) for k, v in self.options.items()]
        return [(_fmt(v), v) for v in self.options]

    def live_values(self) -> list[Any]:
        return [v for _, v in self.labelled()]

    def count(self) -> int:
        return len(self.options)

    def static_count(self) -> int:
        return self.count() if self.static is None else len(self.static) + 1

    def static_values(self) -> list[Any]:
        if self.static is None:
            return self.live_values()
        keep = [*self.static, self.initial()]
        return [v for v in self.live_values() if v in keep]

    def initial(self) -> Any:
        return self.value if self.value is not None else self.live_values()[0]

    def label_of(self, value: Any) -> str:
        return next(lab for lab, v in self.labelled() if v == value)


@dataclass(frozen=True)
class Toggle:
    """An on/off switch."""

    value: bool = False
    label: str | None = None

    def validated(self, name: str) -> Toggle:
        if not isinstance(self.value, bool):
            raise TypeError(f"{name}: a Toggle's value must be True or False, got {self.value!r}")
        return self

    def count(self) -> int:
        return 2

    def static_count(self) -> int:
        return 2

    def static_values(self) -> list[bool]:
        return [False, True]

    def initial(self) -> bool:
        return self.value


Control = Slider | Choice | Toggle


def as_control(name: str, spec: object) -> Control:
    """Turn a control spec into a validated control.

    Shorthands, as in ``ipywidgets.interact``: ``(start, stop)`` or ``(start, stop, step)`` is a
    Slider, a list is a Choice, ``True``/``False`` is a Toggle.

    >>> as_control("n", (1, 5)).static_values()
    [1, 2, 3, 4, 5]
    """
    if isinstance(spec, Slider | Choice | Toggle):
        return spec.validated(name)
    if isinstance(spec, bool):
        return Toggle(spec).validated(name)
    if isinstance(spec, tuple) and len(spec) in (2, 3):
        return Slider(*spec).validated(name)
    if isinstance(spec, list | dict):
        return Choice(spec).validated(name)
    raise TypeError(
        f"{name}: cannot make a control from {spec!r}; use Slider, Choice, Toggle, "
        "a (start, stop[, step]) tuple, a list of options or True/False"
    )


def _label(name: str, control: Control) -> str:
    return control.label or name


def _value_labels(control: Control) -> list[str]:
    """What the site shows for each static value of a control."""
    if isinstance(control, Toggle):
        return ["off", "on"]
    if isinstance(control, Choice):
        return [control.label_of(v) for v in control.static_values()]
    return [control.readout(v) for v in control.static_values()]


# ---- pictures -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Picture:
    """A PNG and the size in CSS pixels it is shown at (its pixels / its density)."""

    png: bytes
    width: int
    height: int

    def data_uri(self) -> str:
        return "data:image/png;base64," + base64.b64encode(self.png).decode("ascii")


def figure_picture(fig: Figure, density: float = 1.0, colors: int | None = None) -> Picture:
    """Render a figure and close it: a PNG at ``density`` pixels per CSS pixel.

    One CSS pixel is one of the figure's own dots (the house style's 80 dpi), so a 6.4-inch
    figure is shown 512 px wide. ``colors`` reduces the palette (a smaller file). The PNG carries
    no software-version metadata, so the same figure gives the same bytes.
    """
    buffer = io.BytesIO()
    fig.savefig(
        buffer,
        format="png",
        dpi=fig.dpi * density,
        bbox_inches="tight",
        metadata={"Software": None},
    )
    plt.close(fig)
    png = buffer.getvalue()
    image = Image.open(io.BytesIO(png))
    width, height = image.size
    if colors is not None:
        small = io.BytesIO()
        with_house_colors(image.convert("RGB"), colors).save(small, format="png", optimize=True)
        png = small.getvalue()
    return Picture(png, round(width / density), round(height / density))


def house_colors() -> list[tuple[int, int, int]]:
    """Every colour of the book's house style (:mod:`llmbook.plotting`), black and white."""
    from matplotlib.colors import to_rgb

    from llmbook import plotting

    named = [*plotting.COLORS.values(), *plotting.SEQUENCE, "#000000", "#ffffff"]
    rgb = [tuple(round(255 * c) for c in to_rgb(color)) for color in named]
    return list(dict.fromkeys(rgb))  # type: ignore[arg-type]


def with_house_colors(image: Image.Image, colors: int) -> Image.Image:
    """``image`` in a palette of its ``colors`` most typical colours plus the house colours.

    A palette made from the picture alone shifts flat colours (chapter 4's pink highlight came
    out red, the colour of a positive number); with the house colours in the palette, and no
    dithering, every pixel drawn in a house colour keeps it exactly.
    """
    adaptive = image.quantize(colors, method=Image.Quantize.MEDIANCUT).getpalette() or []
    picked = [tuple(adaptive[i : i + 3]) for i in range(0, min(len(adaptive), 3 * colors), 3)]
    palette = list(dict.fromkeys([*house_colors(), *picked]))[:256]
    palette += [palette[0]] * (256 - len(palette))  # pad with a colour already there
    holder = Image.new("P", (1, 1))
    holder.putpalette([channel for color in palette for channel in color])
    return image.quantize(palette=holder, dither=Image.Dither.NONE)


def _render(
    draw: Callable[..., Figure | str],
    values: Mapping[str, Any],
    density: float,
    colors: int | None,
) -> Frame:
    result = draw(**values)
    if isinstance(result, Figure):
        return figure_picture(result, density, colors)
    if isinstance(result, str):
        return result
    raise TypeError(f"draw must return a matplotlib Figure or an HTML string, got {result!r}")


def _img_tag(picture: Picture, alt: str, extra: str = "") -> str:
    return (
        f'<img{extra} alt="{html.escape(alt)}" src="{picture.data_uri()}" '
        f'width="{picture.width}" height="{picture.height}" style="max-width:100%;height:auto">'
    )


# ---- the site's HTML, from the stored states ------------------------------------------------

# The inline handler shared by every static control: read every control's position, find the
# frame stored for that state; when there is none (another one-at-a-time control is off its
# default), put the other one-at-a-time controls back to their defaults. Then update the readouts
# and show that frame only.
_SHOW_FRAME_JS = (
    "var box=this.closest('.llmbook-explore'),moved=this,"
    "cs=Array.prototype.slice.call(box.querySelectorAll('[data-control]')),"
    "at=function(c){return c.type==='checkbox'?(c.checked?1:0):+c.value;},"
    "find=function(){return box.querySelector('.lbx-frame[data-state=\"'+cs.map(at).join(',')"
    "+'\"]');},f=find();"
    "if(!f){cs.forEach(function(c){if(c!==moved&&c.dataset.alone){var d=+c.dataset.default;"
    "if(c.type==='checkbox'){c.checked=d===1;}else{c.value=d;}}});f=find();}"
    "cs.forEach(function(c){var o=c.parentNode.querySelector('output');"
    "if(o){o.textContent=JSON.parse(c.dataset.labels)[at(c)];}});"
    "if(f){box.querySelectorAll('.lbx-frame').forEach(function(g){g.hidden=(g!==f);});}"
)

_BOX_STYLE = "font-family:sans-serif;font-size:0.9em;max-width:100%;"
_CONTROLS_STYLE = "display:flex;flex-wrap:wrap;gap:0.3em 1.2em;margin-bottom:0.4em;"


def _site_control(index: int, control: Mapping[str, Any]) -> str:
    labels = control["labels"]
    default = control["default"]
    data = (
        f'data-control="{index}" data-default="{default}" '
        f'data-labels="{html.escape(json.dumps(labels))}" '
        f'data-name="{html.escape(control["name"])}"'
    ) + (' data-alone="1"' if control["alone"] else "")
    handler = html.escape(_SHOW_FRAME_JS)
    caption = html.escape(control["label"])
    if control["kind"] == "checkbox":
        checked = " checked" if default else ""
        return (
            f'<label>{caption} <input type="checkbox" {data}{checked} onchange="{handler}"></label>'
        )
    if control["kind"] == "select":
        options = "".join(
            f'<option value="{k}"{" selected" if k == default else ""}>{html.escape(lab)}</option>'
            for k, lab in enumerate(labels)
        )
        return (  # long option names shrink to the page width instead of overflowing it
            f'<label style="max-width:100%;min-width:0">{caption} '
            f'<select {data} onchange="{handler}" style="max-width:100%">{options}</select>'
            "</label>"
        )
    return (
        f'<label>{caption} <input type="range" min="0" max="{len(labels) - 1}" step="1" '
        f'value="{default}" {data} oninput="{handler}" style="vertical-align:middle;'
        f'max-width:40vw"> <output>{html.escape(labels[default])}</output></label>'
    )


def explorer_html(payload: Mapping[str, Any]) -> str:
    """The site's self-contained HTML for a stored explorer (the :data:`MIME_TYPE` entry)."""
    controls = payload["controls"]
    default = ",".join(str(c["default"]) for c in controls)
    frames = []
    for i, frame in enumerate(payload["frames"]):
        state = ",".join(str(k) for k in frame["state"])
        hidden = "" if state == default else " hidden"
        common = f' class="lbx-frame" data-index="{i}" data-state="{state}"'
        if "png" in frame:
            picture = Picture(base64.b64decode(frame["png"]), frame["width"], frame["height"])
            frames.append(_img_tag(picture, frame["alt"], common + hidden))
        else:
            label = f' role="img" aria-label="{html.escape(frame["alt"])}"'
            frames.append(f"<div{common}{label}{hidden}>{frame['html']}</div>")
    parts = "".join(_site_control(k, c) for k, c in enumerate(controls))
    return (
        f'<div class="llmbook-explore" style="{_BOX_STYLE}">'
        f'<div class="lbx-controls" style="{_CONTROLS_STYLE}">{parts}</div>'
        f"{_one_at_a_time_note(controls)}"
        f'<div class="lbx-frames">{"".join(frames)}</div></div>'
    )


def _one_at_a_time_note(controls: Sequence[Mapping[str, Any]]) -> str:
    """A line under the controls when some of them move one at a time on the site."""
    alone = [c["label"] for c in controls if c["alone"]]
    if len(alone) < 2:
        return ""
    names = ", ".join(alone[:-1]) + " and " + alone[-1]
    text = (
        f"Here {names} move one at a time: moving one puts the others back to their starting "
        "values. Run the notebook to combine them freely."
    )
    return f'<p class="lbx-note" style="margin:0 0 0.4em;font-size:0.9em">{html.escape(text)}</p>'


# ---- the explorer ---------------------------------------------------------------------------


def _view_bundle(widget: Any) -> dict[str, Any]:
    """The output that shows a live widget, built from its model id.

    ipywidgets 8 widgets have ``_repr_mimebundle_``; ipywidgets 7 (Colab's) display through
    ``_ipython_display_`` instead. Both put this entry in the output, so build it the same way.
    """
    return {"version_major": 2, "version_minor": 0, "model_id": widget.model_id}


class Explorer:
    """What :func:`explore` returns: displays as a live widget, site states, or one picture."""

    def __init__(
        self,
        draw: Callable[..., Figure | str],
        controls: Mapping[str, Control],
        max_frames: int = MAX_FRAMES,
        one_at_a_time: Sequence[str] = (),
    ) -> None:
        self.draw = draw
        self.controls = dict(controls)
        self.max_frames = max_frames
        self.one_at_a_time = tuple(one_at_a_time)
        self._payload: dict[str, Any] | None = None
        self._widget: Any = None
        self._first_live_frame: Frame = None

    # ---- the states precomputed for the site --------------------------------------------
    def _grid_names(self) -> list[str]:
        return [n for n in self.controls if n not in self.one_at_a_time]

    @staticmethod
    def count_states(counts: Mapping[str, int], one_at_a_time: Sequence[str]) -> int:
        """States for these static counts: grid controls multiply, one-at-a-time ones add."""
        grid = math.prod(c for n, c in counts.items() if n not in one_at_a_time)
        return grid * (1 + sum(counts[n] - 1 for n in one_at_a_time))

    @property
    def frame_count(self) -> int:
        counts = {n: len(c.static_values()) for n, c in self.controls.items()}
        return self.count_states(counts, self.one_at_a_time)

    def defaults(self) -> dict[str, int]:
        """Index of each control's starting value among its static values."""
        return {n: c.static_values().index(c.initial()) for n, c in self.controls.items()}

    def static_indices(self) -> list[tuple[int, ...]]:
        """Every precomputed state as static-value indices in control order.

        The grid controls take every combination (the last varies fastest); for each, the
        one-at-a-time controls sit at their defaults, then each moves alone through its values.
        """
        names = list(self.controls)
        defaults = self.defaults()
        sizes = {n: len(c.static_values()) for n, c in self.controls.items()}
        grid = self._grid_names()
        singles: list[dict[str, int]] = [{}]
        for n in self.one_at_a_time:
            singles += [{n: k} for k in range(sizes[n]) if k != defaults[n]]
        states = []
        for combo in itertools.product(*(range(sizes[n]) for n in grid)):
            for single in singles:
                chosen = dict(zip(grid, combo, strict=True))
                chosen.update({n: single.get(n, defaults[n]) for n in self.one_at_a_time})
                states.append(tuple(chosen[n] for n in names))
        return states

    def static_states(self) -> list[dict[str, Any]]:
        """Every precomputed state as the values ``draw`` receives."""
        values = {n: c.static_values() for n, c in self.controls.items()}
        return [
            {n: values[n][k] for n, k in zip(self.controls, state, strict=True)}
            for state in self.static_indices()
        ]

    def initial_values(self) -> dict[str, Any]:
        return {name: c.initial() for name, c in self.controls.items()}

    def _alt(self, state: Sequence[int]) -> str:
        labels = [_value_labels(c) for c in self.controls.values()]
        return ", ".join(
            f"{_label(n, c)} {lab[k]}"
            for (n, c), lab, k in zip(self.controls.items(), labels, state, strict=True)
        )

    def payload(self) -> dict[str, Any]:
        """The :data:`MIME_TYPE` entry: the controls and every state's frame (drawn here)."""
        if self._payload is not None:
            return self._payload
        defaults = self.defaults()
        controls = [
            {
                "name": n,
                "label": _label(n, c),
                "kind": {Slider: "range", Choice: "select", Toggle: "checkbox"}[type(c)],
                "labels": _value_labels(c),
                "default": defaults[n],
                "steps_of": c.count(),
                "alone": n in self.one_at_a_time,
            }
            for n, c in self.controls.items()
        ]
        frames = []
        for state, values in zip(self.static_indices(), self.static_states(), strict=True):
            frame = _render(self.draw, values, SITE_DENSITY, PALETTE_COLORS)
            entry: dict[str, Any] = {"state": list(state), "alt": self._alt(state)}
            if isinstance(frame, Picture):
                png = base64.b64encode(frame.png).decode("ascii")
                entry.update(png=png, width=frame.width, height=frame.height)
            else:
                entry["html"] = frame
            frames.append(entry)
        self._payload = {"controls": controls, "frames": frames}
        return self._payload

    def static_html(self) -> str:
        """The site's version: controls, every frame, and the inline handler."""
        return explorer_html(self.payload())

    # ---- one picture for viewers that run nothing -----------------------------------------
    def _default_frame(self) -> Frame:
        """The default state's frame at :data:`LIVE_DENSITY`: the live widget's first, or drawn.

        It is what every viewer that runs nothing shows, so it is as sharp as the live picture
        (a 2x screen shows it crisp) in the house palette, which keeps the colour key exact.
        """
        if self._first_live_frame is not None:
            return self._first_live_frame
        return _render(self.draw, self.initial_values(), LIVE_DENSITY, PALETTE_COLORS)

    def _fallback(self) -> tuple[dict[str, Any], dict[str, Any]]:
        frame = self._default_frame()
        alt = self._alt(tuple(self.defaults().values()))
        note = f"<p><em>{html.escape(NOTE)}</em></p>"
        plain = f"{NOTE} Controls: {', '.join(_label(n, c) for n, c in self.controls.items())}."
        if isinstance(frame, Picture):
            data = {"image/png": base64.b64encode(frame.png).decode("ascii")}
            data["text/html"] = _img_tag(frame, alt) + note
            metadata = {"image/png": {"width": frame.width, "height": frame.height}}
        else:
            data, metadata = {"text/html": f"<div>{frame}</div>{note}"}, {}
        data["text/plain"] = plain
        return data, metadata

    # ---- live widget --------------------------------------------------------------------
    def _live_control(self, name: str, control: Control) -> Any:
        import ipywidgets as w

        description = _label(name, control)
        style = {"description_width": "initial"}
        if isinstance(control, Toggle):
            return w.Checkbox(value=control.initial(), description=description, style=style)
        if isinstance(control, Choice):
            return w.Dropdown(
                options=control.labelled(),
                value=control.initial(),
                description=description,
                style=style,
            )
        if control.is_integer:
            slider, readout = w.IntSlider, {}
        else:  # as many decimals as the step needs, like the site's readout
            slider, readout = w.FloatSlider, {"readout_format": f".{control.decimals}f"}
        return slider(
            **readout,
            min=control.start,
            max=control.stop,
            step=control.step,
            value=control.initial(),
            description=description,
            style=style,
            continuous_update=False,
        )

    def widget(self) -> Any:
        """The ipywidgets version: the controls above a picture (or HTML) that redraws.

        The picture is drawn at :data:`LIVE_DENSITY` and shown at its CSS width (never wider
        than the output), so the widget layout does not stretch it.
        """
        if self._widget is not None:
            return self._widget
        import ipywidgets as w

        inputs = {n: self._live_control(n, c) for n, c in self.controls.items()}
        image = w.Image(format="png", layout=w.Layout(max_width="100%", height="auto"))
        text = w.HTML()

        def redraw(_change: object = None) -> None:
            values = {n: i.value for n, i in inputs.items()}
            frame = _render(self.draw, values, LIVE_DENSITY, None)
            if self._first_live_frame is None:
                self._first_live_frame = frame  # also the picture for viewers without the widget
            if isinstance(frame, Picture):
                image.value, image.layout.width = frame.png, f"{frame.width}px"
                image.layout.display, text.layout.display = None, "none"
            else:
                text.value, text.layout.display, image.layout.display = frame, None, "none"

        for control_widget in inputs.values():
            control_widget.observe(redraw, names="value")
        redraw()
        controls = w.HBox(list(inputs.values()), layout=w.Layout(flex_flow="row wrap"))
        self._widget = w.VBox([controls, image, text])
        return self._widget

    # ---- display --------------------------------------------------------------------------
    def bundle(self, precompute: bool | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
        """The output: the fallback picture, plus the states (``precompute``) or the widget.

        ``precompute`` defaults to whether :data:`FRAMES_ENV` is set to 1.
        """
        if precompute is None:
            precompute = os.environ.get(FRAMES_ENV, "") == "1"
        if precompute:
            states = {MIME_TYPE: self.payload()}
        else:
            states = {WIDGET_VIEW: _view_bundle(self.widget())}
        data, metadata = self._fallback()
        return {**states, **data}, metadata

    def _repr_mimebundle_(
        self, include: Any = None, exclude: Any = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        return self.bundle()


def explore(
    draw: Callable[..., Figure | str],
    *,
    max_frames: int = MAX_FRAMES,
    one_at_a_time: bool | Sequence[str] = False,
    **controls: object,
) -> Explorer:
    """An interactive figure: ``draw(**values)`` redrawn as the controls move.

    Each keyword names one argument of ``draw`` and gives its control (see :func:`as_control`).
    ``one_at_a_time`` (True, or the names of some controls) lets those controls move one at a
    time on the site while the others hold at their defaults. Raises ``ValueError`` when the
    controls are malformed or when their static values make more than ``max_frames`` states;
    both are checked by arithmetic before anything is listed or drawn.
    """
    if not callable(draw):
        raise TypeError(f"draw must be callable, got {draw!r}")
    if not controls:
        raise ValueError("explore needs at least one control")
    if isinstance(max_frames, bool) or not isinstance(max_frames, int) or max_frames < 1:
        raise ValueError(f"max_frames must be a positive integer, got {max_frames!r}")
    checked = {name: as_control(name, spec) for name, spec in controls.items()}
    if one_at_a_time is True:
        alone = list(checked)
    elif one_at_a_time is False:
        alone = []
    elif isinstance(one_at_a_time, str) or not all(n in checked for n in one_at_a_time):
        raise ValueError(
            f"one_at_a_time must be True, False or a list of control names from "
            f"{list(checked)}, got {one_at_a_time!r}"
        )
    else:
        alone = list(one_at_a_time)
    bounds = {n: c.static_count() for n, c in checked.items()}
    if Explorer.count_states(bounds, alone) > max_frames:  # an upper bound: exact count next
        exact = {n: len(c.static_values()) for n, c in checked.items() if bounds[n] <= max_frames}
        if len(exact) < len(checked) or Explorer.count_states(exact, alone) > max_frames:
            sizes = " x ".join(f"{n} ({exact.get(n, bounds[n])})" for n in checked)
            total = Explorer.count_states({**bounds, **exact}, alone)
            raise ValueError(
                f"too many states to precompute: {sizes} = {total} frames, more than "
                f"max_frames={max_frames}; give the sliders fewer static values "
                "(e.g. Slider(0, 255, 1, static=8)) or let them move one_at_a_time"
            )
    return Explorer(draw, checked, max_frames, alone)
