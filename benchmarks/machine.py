"""What every benchmark shares: the machine it ran on, and how its result is written."""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path
from typing import Any

from llmbook.checkpoint import write_text_atomic


def cpu_model() -> str:
    """The CPU's model name on Linux, else what `platform` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_info(threads: int, load_at_start: list[float] | None = None) -> dict[str, Any]:
    """The machine a CPU timing ran on, with the load averages around it when they are known."""
    info: dict[str, Any] = {
        "cpu_count": os.cpu_count(),
        "torch_threads": threads,
        "processor": cpu_model(),
        "platform": platform.platform(),
    }
    if load_at_start is not None:
        info["load_average_at_start"] = load_at_start
        info["load_average_at_end"] = load_average()
        info["note"] = "a shared machine: absolute times vary from run to run, the ratio less"
    return info


def load_average() -> list[float]:
    """The 1-, 5- and 15-minute load averages, rounded: other work slows a timing down."""
    return [round(x, 2) for x in os.getloadavg()]


def write_result(result: dict[str, Any], path: Path) -> None:
    """The result as indented JSON, written atomically (a killed run leaves the old file)."""
    write_text_atomic(json.dumps(result, indent=2) + "\n", path)
