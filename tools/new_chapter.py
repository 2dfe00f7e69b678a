"""Scaffold a new chapter notebook with the book's fixed skeleton.

    python tools/new_chapter.py notebooks/02_how_models_are_trained.ipynb "How are models trained?"

Every chapter has the same parts, in this order: the set-up cell that makes it run in Colab,
the title and learning goals, the chapter's sections, a "what the article simplifies" callout
where one applies, a summary, and exercises with solutions in dropdowns. Add the new file to
_toc.yml, fill it in, then run `make outputs` to store its outputs.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import nbformat
import yaml

ROOT = Path(__file__).resolve().parent.parent

COLAB_CELL = """\
# Set-up: makes this notebook run anywhere. In Colab ("google.colab") or any other environment
# without the book's companion package, it installs `llmbook` from the book's repository
# (a placeholder address until the book is published; it must equal the one in _config.yml).
import importlib.util
import subprocess
import sys

REPO_URL = "{url}"
if importlib.util.find_spec("llmbook") is None:
    pip = [sys.executable, "-m", "pip", "install", "-q"]
    subprocess.run([*pip, f"git+{{REPO_URL}}"], check=True)"""


def repository_url(root: Path = ROOT) -> str:
    """The book's repository URL, as written in _config.yml."""
    config = yaml.safe_load((root / "_config.yml").read_text(encoding="utf-8"))
    return config["repository"]["url"]


def colab_cell_source(root: Path = ROOT) -> str:
    """The exact source every notebook's first code cell must have."""
    return COLAB_CELL.format(url=repository_url(root))


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
    setup = nbformat.v4.new_code_cell(colab_cell_source(), metadata={"tags": ["hide-input"]})
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


def main(argv: list[str]) -> None:
    if len(argv) != 2:
        raise SystemExit(__doc__)
    path, title = Path(argv[0]), argv[1]
    if path.exists():
        raise SystemExit(f"{path} exists already; not overwriting it")
    nbformat.write(scaffold(path, title), path)
    print(f"wrote {path}; add it to _toc.yml, fill it in, then run `make outputs`")


if __name__ == "__main__":
    main(sys.argv[1:])
