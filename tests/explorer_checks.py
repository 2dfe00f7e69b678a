"""What every explorer must offer: the site's states, a live widget and one fallback picture.

`check_explorer` drives an `llmbook.widgets.Explorer` the way the three places that show it do,
and checks that moving each control, alone, from the starting state changes the picture.
"""

from __future__ import annotations

from typing import Any

from llmbook.widgets import MIME_TYPE, NOTE, WIDGET_VIEW, Explorer


def frame_content(frame: dict[str, Any]) -> str:
    return frame.get("png") or frame["html"]


def moved_alone(payload: dict[str, Any]) -> dict[str, set[str]]:
    """For each control: the contents of the frames where it alone left its default."""
    controls = payload["controls"]
    default = [c["default"] for c in controls]
    seen: dict[str, set[str]] = {c["name"]: set() for c in controls}
    for frame in payload["frames"]:
        off = [k for k, (s, d) in enumerate(zip(frame["state"], default, strict=True)) if s != d]
        if len(off) == 1:
            seen[controls[off[0]]["name"]].add(frame_content(frame))
    return seen


def check_explorer(explorer: Explorer, frames: int, max_bytes: int) -> dict[str, Any]:
    """The explorer's payload, after checking its three faces; returns the payload."""
    payload = explorer.payload()
    assert len(payload["frames"]) == frames
    default = [c["default"] for c in payload["controls"]]
    (start,) = [f for f in payload["frames"] if f["state"] == default]
    for name, contents in moved_alone(payload).items():
        assert contents, f"{name}: no stored state moves it alone"
        assert frame_content(start) not in contents, f"moving {name} leaves the picture as it was"
    size = sum(len(frame_content(f)) for f in payload["frames"])
    assert size < max_bytes, f"the states weigh {size} bytes"
    data, _ = explorer.bundle(precompute=True)
    assert MIME_TYPE in data and NOTE in data["text/plain"]
    live, _ = explorer.bundle(precompute=False)
    assert WIDGET_VIEW in live
    return payload
