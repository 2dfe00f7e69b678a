"""Print the notebooks listed in _toc.yml, one path per line, in book order."""

from __future__ import annotations

import sys
from pathlib import Path

import yaml


def toc_files(node: object) -> list[str]:
    """Every `file:` entry of a Jupyter Book table of contents, depth first."""
    if isinstance(node, dict):
        found = [node["file"]] if "file" in node else []
        for value in node.values():
            found += toc_files(value)
        return found
    if isinstance(node, list):
        return [f for item in node for f in toc_files(item)]
    return []


def toc_notebooks(toc_path: Path = Path("_toc.yml")) -> list[Path]:
    toc = yaml.safe_load(toc_path.read_text(encoding="utf-8"))
    paths = [Path(f"{f}.ipynb") for f in toc_files(toc)]
    return [p for p in paths if (toc_path.parent / p).exists()]


if __name__ == "__main__":
    root = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(".")
    print("\n".join(str(p) for p in toc_notebooks(root / "_toc.yml")))
