"""Scaffold a new chapter notebook with the book's fixed skeleton.

    python tools/new_chapter.py notebooks/02_how_models_are_trained.ipynb "How are models trained?"

Every chapter has the same parts, in this order: the set-up cell that makes it run in Colab,
the title and learning goals, the chapter's sections, a "what the article simplifies" callout
where one applies, a summary, and exercises with solutions in dropdowns. Add the new file to
_toc.yml, fill it in, then run `make outputs` to store its outputs.

    python tools/new_chapter.py --refresh-set-up notebooks/*.ipynb

gives every listed notebook's first code cell the current set-up cell (after a new release or a
new repository address), and touches nothing else.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import nbformat
import yaml

ROOT = Path(__file__).resolve().parent.parent

COLAB_CELL = """\
# Set-up: in Colab (google.colab), or wherever this book's companion package `llmbook` is missing
# or another release, install the release this edition of the book was written with. pip keeps
# every package you already have that is recent enough; the last line prints the versions and the
# device.
import subprocess
import sys

LLMBOOK = "{version}"
try:
    import llmbook
except ImportError:
    llmbook = None
if llmbook is None or llmbook.__version__ != LLMBOOK:
    release = "git+{url}@v" + LLMBOOK
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", release], check=True)
    for name in [m for m in sys.modules if m.split(".")[0] == "llmbook"]:
        del sys.modules[name]  # forget an older release this kernel had imported
    import llmbook

llmbook.versions()"""

SETUP_TAGS = ["remove-input", "remove-output", "nbval-ignore-output"]
"""The site shows nothing of the set-up cell; its printout differs on every machine."""

SETUP_IGNORE_REASON = "prints the versions and the device of whatever machine runs it"


def repository_url(root: Path = ROOT) -> str:
    """The book's repository URL, as written in _config.yml."""
    config = yaml.safe_load((root / "_config.yml").read_text(encoding="utf-8"))
    return config["repository"]["url"]


def package_version(root: Path = ROOT) -> str:
    """llmbook's version, as written in pyproject.toml: its release is the tag v<version>."""
    text = (root / "pyproject.toml").read_text(encoding="utf-8")
    found = re.search(r'^version = "([^"]+)"$', text, flags=re.MULTILINE)
    if found is None:
        raise ValueError("pyproject.toml has no line 'version = \"X.Y.Z\"'")
    return found.group(1)


def colab_cell_source(root: Path = ROOT) -> str:
    """The exact source every notebook's first code cell must have."""
    return COLAB_CELL.format(url=repository_url(root), version=package_version(root))


def setup_cell_metadata() -> dict:
    """The first code cell's metadata: the site hides it, nbval ignores its output (and why)."""
    return {"tags": list(SETUP_TAGS), "nbval_ignore_reason": SETUP_IGNORE_REASON}


SKELETON = [
    (
        "markdown",
        "# {title}\n\n"
        ":::{{admonition}} Learning goals\n:class: tip\n\nBy the end of this chapter you can\n"
        "- ...\n:::",
    ),
    ("code", "import numpy as np\n\nfrom llmbook.plotting import use_style\n\nuse_style()"),
    ("markdown", "## The idea\n\n..."),
    ("markdown", "## The article's worked example\n\n..."),
    ("markdown", "## Explore it\n\n..."),
    ("markdown", ":::{{admonition}} What the article simplifies\n:class: note\n\n...\n:::"),
    ("markdown", "## Summary\n\n- ..."),
    (
        "markdown",
        "## Exercises\n\n:::{{exercise}}\n:label: {slug}-ex1\n\n...\n:::\n\n"
        ":::{{solution}} {slug}-ex1\n:class: dropdown\n\n...\n:::",
    ),
]


def scaffold(path: Path, title: str) -> nbformat.NotebookNode:
    slug = re.sub(r"[^a-z0-9]+", "-", path.stem.lower()).strip("-")
    setup = nbformat.v4.new_code_cell(colab_cell_source(), metadata=setup_cell_metadata())
    cells = [setup]
    for kind, text in SKELETON:
        source = text.format(title=title, slug=slug)
        new = nbformat.v4.new_code_cell if kind == "code" else nbformat.v4.new_markdown_cell
        cells.append(new(source))
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.metadata["language_info"] = {"name": "python"}
    return nb


def refresh_set_up_cell(path: Path) -> bool:
    """Give the notebook's first code cell the current set-up source, tags and reason.

    Touches nothing else (other cells, outputs, ids); returns whether the file changed.
    """
    nb = nbformat.read(path, as_version=4)
    first = next(cell for cell in nb.cells if cell.cell_type == "code")
    before = (first.source, dict(first.metadata))
    first.source = colab_cell_source()
    kept = [t for t in first.metadata.get("tags", []) if t not in ("hide-input", *SETUP_TAGS)]
    first.metadata.update(setup_cell_metadata())
    first.metadata["tags"] = [*kept, *SETUP_TAGS]
    if (first.source, dict(first.metadata)) == before:
        return False
    nbformat.write(nb, path)
    return True


def main(argv: list[str]) -> None:
    if argv[:1] == ["--refresh-set-up"]:
        for name in argv[1:]:
            changed = refresh_set_up_cell(Path(name))
            print(f"{name}: {'set-up cell refreshed' if changed else 'up to date'}")
        return
    if len(argv) != 2:
        raise SystemExit(__doc__)
    path, title = Path(argv[0]), argv[1]
    if path.exists():
        raise SystemExit(f"{path} exists already; not overwriting it")
    nbformat.write(scaffold(path, title), path)
    print(f"wrote {path}; add it to _toc.yml, fill it in, then run `make outputs`")


if __name__ == "__main__":
    main(sys.argv[1:])
