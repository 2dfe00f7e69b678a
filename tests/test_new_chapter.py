"""tools/new_chapter.py: the scaffold's set-up cell, and refreshing it in existing chapters."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
from new_chapter import (  # noqa: E402
    SETUP_TAGS,
    colab_cell_source,
    refresh_set_up_cell,
    scaffold,
)


def test_scaffold_starts_with_the_hidden_set_up_cell(tmp_path):
    nb = scaffold(tmp_path / "16_new.ipynb", "A new idea")
    first = nb.cells[0]
    assert first.cell_type == "code" and first.source == colab_cell_source()
    assert first.metadata["tags"] == list(SETUP_TAGS)
    assert "versions" in first.metadata["nbval_ignore_reason"]


def test_refresh_touches_only_the_first_code_cell(tmp_path):
    old = nbformat.v4.new_code_cell(
        "# old set-up\nimport llmbook", metadata={"tags": ["hide-input"]}
    )
    other = nbformat.v4.new_code_cell("x = 1", metadata={"tags": ["hide-input"]})
    text = nbformat.v4.new_markdown_cell("# Title")
    path = tmp_path / "chapter.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[text, old, other]), path)
    assert refresh_set_up_cell(path) is True
    nb = nbformat.read(path, as_version=4)
    assert nb.cells[1].source == colab_cell_source()
    assert nb.cells[1].metadata["tags"] == list(SETUP_TAGS)
    assert (nb.cells[0].source, nb.cells[2].source) == ("# Title", "x = 1")
    assert nb.cells[2].metadata["tags"] == ["hide-input"]
    assert refresh_set_up_cell(path) is False, "a second refresh changes nothing"


RUN_SET_UP = """
import subprocess, sys
def fake_pip(args, check):  # "installs" the release: the folder `new` now comes first
    calls.append(args[-1])
    sys.path.insert(0, {new!r})
calls = []
subprocess.run = fake_pip
exec({cell!r})
import llmbook.part
print(calls, llmbook.__version__, llmbook.NAME, llmbook.part.NAME)
"""


def _fake_llmbook(folder: Path, version: str) -> Path:
    """A stand-in package with the book's __version__ and versions(), and one submodule."""
    package = folder / "llmbook"
    package.mkdir(parents=True)
    name = f"NAME = {folder.name!r}\n"
    (package / "__init__.py").write_text(
        f"__version__ = {version!r}\n{name}def versions():\n    pass\n"
    )
    (package / "part.py").write_text(name)
    return folder


def _run_set_up(tmp_path: Path, installed: str | None) -> str:
    new = _fake_llmbook(tmp_path / "new", colab_cell_source().split('LLMBOOK = "')[1][:5])
    old = tmp_path / "old"
    if installed is None:
        old.mkdir()
    else:
        _fake_llmbook(old, installed)
    script = RUN_SET_UP.format(new=str(new), cell=colab_cell_source())
    result = subprocess.run(  # -S: no site-packages, so only the stand-ins can be imported
        [sys.executable, "-S", "-c", f"import llmbook.part\n{script}" if installed else script],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(old), "PATH": ""},
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_set_up_cell_installs_the_release_where_llmbook_is_missing(tmp_path):
    out = _run_set_up(tmp_path, installed=None)
    assert out.startswith("['git+") and out.endswith("new new")


def test_set_up_cell_replaces_an_older_release_the_kernel_had_imported(tmp_path):
    out = _run_set_up(tmp_path, installed="0.0.1")
    assert out.startswith("['git+") and out.endswith("new new"), "no module of 0.0.1 is left"


def test_set_up_cell_keeps_the_right_release(tmp_path):
    version = colab_cell_source().split('LLMBOOK = "')[1].split('"')[0]
    assert _run_set_up(tmp_path, installed=version).startswith(f"[] {version} old old")
