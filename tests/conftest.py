"""Shared pytest fixtures."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
TINYSHAKESPEARE = "tinyshakespeare.txt"


@pytest.fixture(scope="session")
def shared_data_dir() -> Path:
    """The folder holding a checked copy of tinyshakespeare.txt, without any network.

    $LLMBOOK_DATA_DIR when set, otherwise `shared/data` beside the repository's folder.
    """
    candidates = []
    if os.environ.get("LLMBOOK_DATA_DIR"):
        candidates.append(Path(os.environ["LLMBOOK_DATA_DIR"]).expanduser())
    candidates.append(REPO_ROOT.parent / "shared" / "data")
    for folder in candidates:
        if (folder / TINYSHAKESPEARE).is_file():
            return folder
    pytest.skip(
        f"no {TINYSHAKESPEARE} in {[str(c) for c in candidates]}; "
        "set LLMBOOK_DATA_DIR to a folder holding it"
    )


@pytest.fixture(scope="module")
def text(shared_data_dir: Path) -> str:
    """The first 40,000 characters of Tiny Shakespeare, for the training tests; code that loads
    the text itself finds it through LLMBOOK_DATA_DIR."""
    os.environ["LLMBOOK_DATA_DIR"] = str(shared_data_dir)
    return (shared_data_dir / TINYSHAKESPEARE).read_text(encoding="utf-8")[:40_000]
