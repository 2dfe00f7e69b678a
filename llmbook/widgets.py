"""Interactive figures that work live in Jupyter/Colab and on the static site.

Built in chapter 1, "A simple neural network"; every chapter uses it.

One call, both worlds::

    explore(draw, r=Slider(0, 255, 1, value=32, static=(32, 241)), relu=Toggle())

``draw(**values)`` returns a matplotlib ``Figure`` (or an HTML string). The result of ``explore``
displays as

* **live** (a running kernel: JupyterLab, Colab): ipywidgets controls that call ``draw`` again
  whenever a control moves;
* **static** (the built book, no kernel): every combination of the controls' *static* values is
  drawn in advance, and native ``<input type=range>``, ``<select>`` and checkbox controls with a
  few lines of inline JavaScript show the matching frame. Nothing is fetched from anywhere.

Both versions travel in one output bundle; the book's configuration tells the site to prefer
the static HTML, while live front ends prefer the widget.
"""

from __future__ import annotations

import base64
import html
import io
import itertools
import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from numbers import Real
from typing import Any

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

MAX_FRAMES = 64
"""Default cap on precomputed states: keeps a chapter page well under 3 MB."""

Frame = bytes | str  # PNG bytes from a figure, or an HTML snippet


def _check_number(name: str, what: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"{name}: {what} must be a number, got {value!r}")
    if not math.isfinite(float(value)):
        raise ValueError(f"{name}: {what} must be finite, got {value!r}")
    return float(value)


def _fmt(value: Any) -> str:
    """Short label for a value: 0.1 + 0.2 prints as 0.3, 4.0 as 4."""
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


@dataclass(frozen=True)
class Slider:
    """A numeric slider from ``start`` to ``stop`` (inclusive) in steps of ``step``.

    ``static`` picks the values precomputed for the static site (default: every value).
    """

    start: float
    stop: float
    step: float = 1
    value: float | None = None
    label: str | None = None
    static: Sequence[float] | None = None

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
        if self.static is not None:
            if isinstance(self.static, str | bytes) or len(self.static) == 0:
                raise ValueError(
                    f"{name}: static must be a non-empty sequence, got {self.static!r}"
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

    def live_values(self) -> list[float]:
        count = math.floor((self.stop - self.start) / self.step + 1e-9) + 1
        values = [self.start + k * self.step for k in range(count)]
        return [int(v) if self.is_integer else round(v, 10) for v in values]

    def static_values(self) -> list[Any]:
        return list(self.static) if self.static is not None else self.live_values()

    def initial(self) -> Any:
        return self.value if self.value is not None else self.start


@dataclass(frozen=True)
class Choice:
    """Pick one of ``options``: a sequence of values, or a mapping ``{label: value}``."""

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

    def static_values(self) -> list[Any]:
        return list(self.static) if self.static is not None else self.live_values()

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


def _nearest(values: Sequence[Any], target: Any) -> int:
    """Index of ``target`` in ``values``, or of the nearest number when it is not there."""
    if target in values:
        return list(values).index(target)
    return min(range(len(values)), key=lambda i: abs(float(values[i]) - float(target)))


def figure_png(fig: Figure) -> bytes:
    """Render a figure to PNG bytes (reproducible: no software-version metadata) and close it."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=fig.dpi, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    return buffer.getvalue()


def _render(draw: Callable[..., Figure | str], values: Mapping[str, Any]) -> Frame:
    result = draw(**values)
    if isinstance(result, Figure):
        return figure_png(result)
    if isinstance(result, str):
        return result
    raise TypeError(f"draw must return a matplotlib Figure or an HTML string, got {result!r}")


# The inline handler shared by every static control: read every control's index, combine them
# with the strides into one frame number, update the readouts and show that frame only.
_SHOW_FRAME_JS = (
    "var box=this.closest('.llmbook-explore'),i=0;"
    "box.querySelectorAll('[data-stride]').forEach(function(c){"
    "var k=c.type==='checkbox'?(c.checked?1:0):+c.value;i+=k*(+c.dataset.stride);"
    "var out=c.parentNode.querySelector('output');"
    "if(out){out.textContent=JSON.parse(c.dataset.labels)[k];}});"
    "box.querySelectorAll('.lbx-frame').forEach(function(f,j){f.hidden=(j!==i);});"
)

_BOX_STYLE = "font-family:sans-serif;font-size:0.9em;max-width:100%;"
_CONTROLS_STYLE = "display:flex;flex-wrap:wrap;gap:0.3em 1.2em;margin-bottom:0.4em;"


class Explorer:
    """What :func:`explore` returns: displays as a live widget or as static HTML."""

    def __init__(
        self,
        draw: Callable[..., Figure | str],
        controls: Mapping[str, Control],
        max_frames: int = MAX_FRAMES,
    ) -> None:
        self.draw = draw
        self.controls = dict(controls)
        self.max_frames = max_frames
        self._static_html: str | None = None
        self._widget: Any = None

    # ---- the grid of precomputed states -------------------------------------------------
    @property
    def frame_count(self) -> int:
        return math.prod(len(c.static_values()) for c in self.controls.values())

    def static_states(self) -> list[dict[str, Any]]:
        """Every combination of static values; the last control varies fastest."""
        names = list(self.controls)
        grids = [self.controls[n].static_values() for n in names]
        return [dict(zip(names, combo, strict=True)) for combo in itertools.product(*grids)]

    def initial_values(self) -> dict[str, Any]:
        return {name: c.initial() for name, c in self.controls.items()}

    # ---- static HTML --------------------------------------------------------------------
    def _strides(self) -> dict[str, int]:
        strides, stride = {}, 1
        for name in reversed(list(self.controls)):
            strides[name] = stride
            stride *= len(self.controls[name].static_values())
        return strides

    def _static_labels(self, control: Control) -> list[str]:
        if isinstance(control, Toggle):
            return ["off", "on"]
        if isinstance(control, Choice):
            return [control.label_of(v) for v in control.static_values()]
        return [_fmt(v) for v in control.static_values()]

    def _static_control(self, name: str, control: Control, stride: int, index: int) -> str:
        labels = self._static_labels(control)
        data = (
            f'data-stride="{stride}" data-labels="{html.escape(json.dumps(labels))}" '
            f'data-name="{html.escape(name)}"'
        )
        handler = html.escape(_SHOW_FRAME_JS)
        caption = html.escape(_label(name, control))
        if isinstance(control, Toggle):
            checked = " checked" if index else ""
            return (
                f'<label>{caption} <input type="checkbox" {data}{checked} '
                f'onchange="{handler}"></label>'
            )
        if isinstance(control, Choice):
            options = "".join(
                f'<option value="{k}"{" selected" if k == index else ""}>'
                f"{html.escape(lab)}</option>"
                for k, lab in enumerate(labels)
            )
            return (  # long option names shrink to the page width instead of overflowing it
                f'<label style="max-width:100%;min-width:0">{caption} '
                f'<select {data} onchange="{handler}" style="max-width:100%">{options}</select>'
                "</label>"
            )
        return (
            f'<label>{caption} <input type="range" min="0" max="{len(labels) - 1}" step="1" '
            f'value="{index}" {data} oninput="{handler}" style="vertical-align:middle"> '
            f"<output>{html.escape(labels[index])}</output></label>"
        )

    def static_html(self) -> str:
        """The self-contained HTML version: controls, every frame, and the inline handler."""
        if self._static_html is not None:
            return self._static_html
        strides = self._strides()
        start = {
            name: _nearest(c.static_values(), c.initial()) for name, c in self.controls.items()
        }
        shown = sum(start[n] * strides[n] for n in self.controls)
        controls = "".join(
            self._static_control(n, c, strides[n], start[n]) for n, c in self.controls.items()
        )
        frames = []
        for i, state in enumerate(self.static_states()):
            frame = _render(self.draw, state)
            alt = html.escape(
                ", ".join(f"{_label(n, self.controls[n])}={_fmt(v)}" for n, v in state.items())
            )
            hidden = "" if i == shown else " hidden"
            if isinstance(frame, bytes):
                src = "data:image/png;base64," + base64.b64encode(frame).decode("ascii")
                frames.append(
                    f'<img class="lbx-frame" data-index="{i}" alt="{alt}" src="{src}" '
                    f'style="max-width:100%;height:auto"{hidden}>'
                )
            else:
                frames.append(
                    f'<div class="lbx-frame" data-index="{i}" title="{alt}"{hidden}>{frame}</div>'
                )
        self._static_html = (
            f'<div class="llmbook-explore" style="{_BOX_STYLE}">'
            f'<div class="lbx-controls" style="{_CONTROLS_STYLE}">{controls}</div>'
            f'<div class="lbx-frames">{"".join(frames)}</div></div>'
        )
        return self._static_html

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
        slider = w.IntSlider if control.is_integer else w.FloatSlider
        return slider(
            min=control.start,
            max=control.stop,
            step=control.step,
            value=control.initial(),
            description=description,
            style=style,
            continuous_update=False,
        )

    def widget(self) -> Any:
        """The ipywidgets version: the controls above an image (or HTML) that redraws."""
        if self._widget is not None:
            return self._widget
        import ipywidgets as w

        inputs = {n: self._live_control(n, c) for n, c in self.controls.items()}
        image, text = w.Image(format="png"), w.HTML()

        def redraw(_change: object = None) -> None:
            frame = _render(self.draw, {n: i.value for n, i in inputs.items()})
            if isinstance(frame, bytes):
                image.value, image.layout.display, text.layout.display = frame, None, "none"
            else:
                text.value, text.layout.display, image.layout.display = frame, None, "none"

        for control_widget in inputs.values():
            control_widget.observe(redraw, names="value")
        redraw()
        controls = w.HBox(list(inputs.values()), layout=w.Layout(flex_flow="row wrap"))
        self._widget = w.VBox([controls, image, text])
        return self._widget

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        names = ", ".join(self.controls)
        bundle: dict[str, Any] = {
            "text/plain": f"explore({names}): {self.frame_count} precomputed frames",
            "text/html": self.static_html(),
        }
        view = self.widget()._repr_mimebundle_()
        if view and "application/vnd.jupyter.widget-view+json" in view:
            bundle["application/vnd.jupyter.widget-view+json"] = view[
                "application/vnd.jupyter.widget-view+json"
            ]
        return bundle


def explore(
    draw: Callable[..., Figure | str], *, max_frames: int = MAX_FRAMES, **controls: object
) -> Explorer:
    """An interactive figure: ``draw(**values)`` redrawn as the controls move.

    Each keyword names one argument of ``draw`` and gives its control (see :func:`as_control`).
    Raises ``ValueError`` when the controls are malformed or when their static values make more
    than ``max_frames`` states (give sliders fewer ``static`` values).
    """
    if not callable(draw):
        raise TypeError(f"draw must be callable, got {draw!r}")
    if not controls:
        raise ValueError("explore needs at least one control")
    if isinstance(max_frames, bool) or not isinstance(max_frames, int) or max_frames < 1:
        raise ValueError(f"max_frames must be a positive integer, got {max_frames!r}")
    checked = {name: as_control(name, spec) for name, spec in controls.items()}
    explorer = Explorer(draw, checked, max_frames)
    if explorer.frame_count > max_frames:
        sizes = " x ".join(f"{n} ({len(c.static_values())})" for n, c in checked.items())
        raise ValueError(
            f"too many states to precompute: {sizes} = {explorer.frame_count} frames, more than "
            f"max_frames={max_frames}; give the sliders fewer static values, "
            "e.g. Slider(0, 255, 1, static=(0, 128, 255))"
        )
    return explorer
