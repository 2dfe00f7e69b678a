"""The stored outputs do not depend on the machine's cores: chapter 4 trains the same at 1 and 2.

Chapter 4 trains its embedding models live and stores what they print and draw. It sets its
torch threads itself, so strict nbval (as `make nbval` runs it) must pass whether the kernel may
use one core or two.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHAPTER = ROOT / "notebooks" / "04_embeddings.ipynb"
sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_nbval_reader_view import nbval_flags  # noqa: E402


@pytest.mark.slow
@pytest.mark.parametrize("cores", [1, 2])
def test_chapter_4_matches_its_stored_outputs_on_one_core_and_on_two(cores):
    available = sorted(os.sched_getaffinity(0))
    if len(available) < cores:
        pytest.skip(f"this machine lets us use {len(available)} core(s)")
    env = {
        **os.environ,
        "OMP_NUM_THREADS": str(cores),  # what torch would take by default on such a machine
        "PYTHONHASHSEED": "0",
        "MPLBACKEND": "module://matplotlib_inline.backend_inline",
        "LLMBOOK_EXPLORER_FRAMES": "1",
    }
    done = subprocess.run(
        [sys.executable, "-m", "pytest", *nbval_flags(), str(CHAPTER)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        preexec_fn=lambda: os.sched_setaffinity(0, available[:cores]),
    )
    assert done.returncode == 0, done.stdout[-3000:]
