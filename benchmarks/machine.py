"""What every benchmark shares: the machine it ran on, and how its result is written."""

from __future__ import annotations

import json
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


def write_result(result: dict[str, Any], path: Path) -> None:
    """The result as indented JSON, written atomically (a killed run leaves the old file)."""
    write_text_atomic(json.dumps(result, indent=2) + "\n", path)
