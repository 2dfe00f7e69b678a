"""Reader notebooks: the chapters with their MyST turned into Markdown that Colab and GitHub render.

    python tools/reader_notebooks.py --out _build/reader notebooks/*.ipynb     (or `make reader`)

The chapters are written in MyST for the website. Colab, GitHub and VS Code do not know MyST:
they would show ``:::{admonition}`` fences, unfolded solutions and raw ``{cite}`` roles. This tool
writes a copy of each notebook in which

* callouts (``note``, ``tip``, ``admonition`` ...) become quoted blocks with a bold title, and a
  callout or ``dropdown`` with the class ``dropdown`` becomes a folded ``<details>`` block;
* an ``exercise`` becomes a bold heading "Exercise N", and its ``solution`` a folded
  ``<details>`` block "Solution to exercise N";
* ``{cite}`` becomes a link to the website's references page, ``{ref}``/``{numref}``/``{doc}``
  links to the website's page, ``{math}`` dollar math (which Colab and GitHub render as it is);
* code cells hidden on the website (``remove-input``/``hide-input``) are folded in Colab with
  ``cellView: form`` under a ``#@title``;
* outputs keep only the MIME types every viewer knows (the site's own types are dropped), and
  outputs the site removes (``remove-output``, such as the set-up cell's printout) are dropped;
* cells the site removes (``remove-cell``: the checks that recompute the numbers the text and
  the solutions quote) are left out, so no answer shows outside its folded solution and "Run
  all" does not redo the checks. No cell a reader keeps may use a name that only a removed cell
  defines (:func:`names_only_removed_cells_define` finds any).

The sources stay MyST. The deploy workflow publishes the copies on the ``reader`` branch, and the
site's Colab buttons open them there: this file is also the small Sphinx extension that rewrites
those buttons (``sphinx: local_extensions`` in ``_config.yml``).
"""

from __future__ import annotations

import argparse
import ast
import copy
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
import yaml

ROOT = Path(__file__).resolve().parent.parent
READER_BRANCH = "reader"
"""The branch the deploy workflow publishes the reader notebooks on (same paths as on main)."""

ADMONITIONS = {
    "admonition": "Note",
    "note": "Note",
    "tip": "Tip",
    "hint": "Hint",
    "important": "Important",
    "warning": "Warning",
    "caution": "Caution",
    "attention": "Attention",
    "danger": "Danger",
    "error": "Error",
    "seealso": "See also",
}
CODE_DIRECTIVES = {"code", "code-block", "code-cell", "sourcecode"}
STANDARD_MIME = {
    "text/plain",
    "text/html",
    "text/markdown",
    "text/latex",
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/svg+xml",
    "application/json",
}
HIDDEN_CODE_TAGS = {"remove-input", "hide-input", "hide-cell"}
REMOVED_TAG = "remove-cell"

OPENING = re.compile(r"^(?P<indent> {0,3})(?P<fence>:{3,}|`{3,}|~{3,})(?P<info>.*)$")
DIRECTIVE = re.compile(r"^\{(?P<name>[\w:-]+)\}\s*(?P<arg>.*)$")
OPTION = re.compile(r"^:(?P<key>[\w-]+):\s*(?P<value>.*)$")
ROLE = re.compile(r"\{(?P<name>[\w:-]+)\}`(?P<content>[^`]+)`")
TARGET = re.compile(r"^\((?P<label>[\w.:-]+)\)=\s*$")
MYST_COMMENT = re.compile(r"^%")


# --- what the converter knows about the book ---------------------------------------------------


@dataclass
class Book:
    """The website's address, its labels and its bibliography: what links are made from."""

    site_url: str
    labels: dict[str, tuple[str, str]] = field(default_factory=dict)  # label -> (page, title)
    citations: dict[str, str] = field(default_factory=dict)  # bibtex key -> "Patel 2024"
    titles: dict[str, str] = field(default_factory=dict)  # page (no suffix) -> title

    def page_url(self, page: str, anchor: str = "") -> str:
        return f"{self.site_url}{page}.html" + (f"#{anchor}" if anchor else "")

    @property
    def references_url(self) -> str:
        return self.page_url("book/references")


def site_url(root: Path = ROOT) -> str:
    """The published website's address, `html.baseurl` in _config.yml, ending in a slash."""
    config = yaml.safe_load((root / "_config.yml").read_text(encoding="utf-8"))
    url = (config.get("html") or {}).get("baseurl", "")
    if not url.startswith("https://"):
        raise ValueError(f"_config.yml: html.baseurl must be the site's https address, got {url!r}")
    return url.rstrip("/") + "/"


def short_citation(entry: Any) -> str:
    """'Patel 2024', 'Zhang and Sennrich 2019' or 'Vaswani et al. 2017' for a pybtex entry."""
    people = entry.persons.get("author", [])
    names = [" ".join(p.last_names).replace("{", "").replace("}", "") for p in people]
    if len(names) > 2:
        who = f"{names[0]} et al."
    else:
        who = " and ".join(names) or entry.fields.get("title", "?")
    return f"{who} {entry.fields.get('year', '')}".strip()


def read_citations(bib: Path) -> dict[str, str]:
    from pybtex.database import parse_file  # comes with sphinxcontrib-bibtex

    return {key: short_citation(entry) for key, entry in parse_file(str(bib)).entries.items()}


def markdown_sources(root: Path, pages: list[str]) -> dict[str, str]:
    """page -> all of its Markdown, for notebooks (markdown cells) and .md pages."""
    found = {}
    for page in pages:
        notebook, text_page = root / f"{page}.ipynb", root / f"{page}.md"
        if notebook.exists():
            nb = nbformat.read(notebook, as_version=4)
            cells = [c.source for c in nb.cells if c.cell_type == "markdown"]
            found[page] = "\n\n".join(cells)
        elif text_page.exists():
            found[page] = text_page.read_text(encoding="utf-8")
    return found


def collect_labels(page: str, text: str) -> tuple[dict[str, tuple[str, str]], str]:
    """The labels a page defines (targets before headings, exercises) and the page's title."""
    labels: dict[str, tuple[str, str]] = {}
    lines = text.splitlines()
    title = next((line[2:].strip() for line in lines if line.startswith("# ")), page)
    exercises = 0
    for i, line in enumerate(lines):
        target = TARGET.match(line)
        if target:
            heading = next((x for x in lines[i + 1 :] if x.strip()), "")
            labels[target["label"]] = (page, heading.lstrip("#").strip() or title)
        if re.match(r"^:{3,}\{exercise\}", line):
            exercises += 1
            for option_line in lines[i + 1 :]:
                found = OPTION.match(option_line)
                if not found:
                    break
                if found["key"] == "label":
                    labels[found["value"].strip()] = (page, f"Exercise {exercises}")
    return labels, title


def load_book(root: Path = ROOT) -> Book:
    """Everything the links need, read from _config.yml, _toc.yml and book/references.bib."""
    sys.path.insert(0, str(root / "tools"))
    from toc_notebooks import toc_files

    toc = yaml.safe_load((root / "_toc.yml").read_text(encoding="utf-8"))
    pages = toc_files(toc)
    book = Book(site_url=site_url(root), citations=read_citations(root / "book/references.bib"))
    for page, text in markdown_sources(root, pages).items():
        labels, title = collect_labels(page, text)
        book.labels.update(labels)
        book.titles[page] = title
    return book


# --- Markdown: directives and roles ------------------------------------------------------------


def quoted(text: str) -> str:
    return "\n".join(f"> {line}" if line.strip() else ">" for line in text.splitlines())


def folded(summary: str, body: str) -> str:
    """A <details> block: GitHub and Colab render the Markdown inside (blank lines required)."""
    return f"<details>\n<summary>{summary}</summary>\n\n{body.strip()}\n\n</details>"


@dataclass
class Directive:
    name: str
    arg: str
    options: dict[str, str]
    body: str  # raw MyST, not converted yet


class Converter:
    """Turns one page's MyST Markdown into plain Markdown (exercise numbers run per page)."""

    def __init__(self, book: Book, page: str) -> None:
        self.book = book
        self.page = page
        self.exercise_numbers: dict[str, int] = {}

    # roles ------------------------------------------------------------------------------------

    def role(self, match: re.Match[str]) -> str:
        name, content = match["name"], match["content"]
        text, target = split_target(content)
        if name.startswith("cite"):
            return self.cite(content, textual=name in ("cite:t", "cite:ts"))
        if name in ("ref", "numref"):
            page, title = self.book.labels.get(target, (self.page, target))
            return f"[{text or title}]({self.book.page_url(page, target)})"
        if name == "doc":
            page = resolve_page(self.page, target)
            title = text or self.book.titles.get(page, page)
            return f"[{title}]({self.book.page_url(page)})"
        if name == "math":
            return f"${content}$"
        if name == "eq":
            return f"({target})"
        if name in ("sub", "sup", "kbd"):
            return f"<{name}>{content}</{name}>"
        return text or target  # term, abbr, guilabel and the like: their words

    def cite(self, keys: str, textual: bool) -> str:
        links = []
        for key in (k.strip() for k in keys.split(",")):
            if key not in self.book.citations:
                raise ValueError(f"{self.page}: {{cite}} names {key!r}, not in references.bib")
            who = self.book.citations[key]
            if textual:
                who = re.sub(r" (\S+)$", r" (\1)", who)
            links.append(f"[{who}]({self.book.references_url})")
        return ", ".join(links) if textual else "(" + "; ".join(links) + ")"

    def inline(self, text: str) -> str:
        """The roles in a run of prose lines."""
        return ROLE.sub(self.role, text)

    # directives -------------------------------------------------------------------------------

    def directive(self, d: Directive) -> str:
        name = d.name
        if name in CODE_DIRECTIVES:
            language = d.arg.split()[0] if d.arg else d.options.get("language", "")
            return f"```{language}\n{d.body.rstrip()}\n```"
        if name == "math":
            return f"$$\n{d.body.strip()}\n$$"
        if name == "raw":
            return d.body if "html" in d.arg else ""
        if name in ("bibliography", "toctree", "tableofcontents", "glossary"):
            return ""
        body = self.convert(d.body).strip()
        classes = d.options.get("class", "").split()
        if name == "exercise":
            number = self.number_exercise(d.options.get("label", ""))
            heading = f"**Exercise {number}**" + (f" ({d.arg.strip()})" if d.arg.strip() else "")
            return f"{heading}\n\n{body}"
        if name == "solution":
            label = d.arg.strip()
            number = self.exercise_numbers.get(label)
            if number is None:
                raise ValueError(
                    f"{self.page}: solution for {label!r}, which no exercise above has"
                )
            return folded(f"Solution to exercise {number}", body)
        if name in ("figure", "image"):
            caption = body if name == "figure" else ""
            alt = d.options.get("alt", caption.splitlines()[0] if caption else "")
            return f"![{alt}]({d.arg.strip()})" + (f"\n\n*{caption}*" if caption else "")
        title = d.arg.strip() or ADMONITIONS.get(name, "")
        if name == "dropdown" or "dropdown" in classes:
            return folded(title or "Details", body)
        if name in ("tab-set", "grid", "card-carousel"):
            return body
        return quoted(f"**{title}**\n\n{body}" if title else body)

    def number_exercise(self, label: str) -> int:
        number = len(self.exercise_numbers) + 1
        self.exercise_numbers[label or f"#{number}"] = number
        return number

    # the block structure ----------------------------------------------------------------------

    def convert(self, text: str) -> str:
        lines = text.splitlines()
        out: list[str] = []
        prose: list[str] = []  # roles may run over a line break, so prose is converted in runs

        def flush() -> None:
            if prose:
                out.append(self.inline("\n".join(prose)))
                prose.clear()

        i = 0
        while i < len(lines):
            line = lines[i]
            opening = OPENING.match(line)
            if opening:
                flush()
                end = closing_line(lines, i, opening["fence"])
                inner = lines[i + 1 : end]
                found = DIRECTIVE.match(opening["info"].strip())
                if found:
                    out.append(self.directive(parse_directive(found, inner)))
                else:  # a plain code block: copied as it is
                    out.extend(lines[i : end + 1])
                i = end + 1
                continue
            if not (TARGET.match(line) or MYST_COMMENT.match(line) or line.strip() == "+++"):
                prose.append(line)
            i += 1
        flush()
        return "\n".join(out)


def split_target(content: str) -> tuple[str, str]:
    """'words <target>' -> ('words', 'target'); 'target' -> ('', 'target')."""
    found = re.match(r"^(?P<text>.*?)\s*<(?P<target>[^<>]+)>$", content.strip(), flags=re.S)
    if found:
        return found["text"].strip(), found["target"].strip()
    return "", content.strip()


def resolve_page(page: str, target: str) -> str:
    """A {doc} target relative to the page (or absolute from the book root) -> page path."""
    target = re.sub(r"\.(md|ipynb)$", "", target)
    if target.startswith("/"):
        return target.lstrip("/")
    parts = [*page.split("/")[:-1], *target.split("/")]
    resolved: list[str] = []
    for part in parts:
        if part == "..":
            resolved.pop()
        elif part not in ("", "."):
            resolved.append(part)
    return "/".join(resolved)


def closing_line(lines: list[str], start: int, fence: str) -> int:
    """Index of the line that closes the fence opened at `start` (the last line if none)."""
    closing = re.compile(rf"^ {{0,3}}{re.escape(fence[0])}{{{len(fence)},}}\s*$")
    for j in range(start + 1, len(lines)):
        if closing.match(lines[j]):
            return j
    return len(lines)


def parse_directive(found: re.Match[str], inner: list[str]) -> Directive:
    """Split a directive's lines into its options (`:key: value` or a --- block) and body."""
    options: dict[str, str] = {}
    k = 0
    if inner[:1] == ["---"]:
        end = inner.index("---", 1)
        options = {
            str(a): str(b) for a, b in (yaml.safe_load("\n".join(inner[1:end])) or {}).items()
        }
        k = end + 1
    while k < len(inner) and OPTION.match(inner[k]):
        option = OPTION.match(inner[k])
        assert option is not None
        options[option["key"]] = option["value"].strip()
        k += 1
    return Directive(found["name"], found["arg"], options, "\n".join(inner[k:]))


# --- notebooks ---------------------------------------------------------------------------------


def colab_title(source: str) -> str:
    """The title Colab shows for a folded cell: its first comment line, or a plain one."""
    first = source.lstrip().splitlines()[0] if source.strip() else ""
    if first.startswith("#") and not first.startswith("#@"):
        return first.lstrip("#").strip().split(":")[0].strip() or "Code"
    defined = re.match(r"^(?:def|class) (\w+)", first)
    if defined:
        return f"{defined.group(1)} (double-click to show the code)"
    return "Code (double-click to show)"


def fold_for_colab(cell: nbformat.NotebookNode) -> None:
    """A code cell the site hides: Colab shows its title and output, and the code folded."""
    if not HIDDEN_CODE_TAGS & set(cell.metadata.get("tags", [])):
        return
    cell.metadata["cellView"] = "form"
    if not cell.source.lstrip().startswith("#@title"):
        cell.source = f"#@title {colab_title(cell.source)}\n{cell.source}"


def keep_standard_outputs(cell: nbformat.NotebookNode) -> None:
    for output in cell.get("outputs", []):
        if "data" in output:
            output["data"] = {k: v for k, v in output["data"].items() if k in STANDARD_MIME}
            output["metadata"] = {
                k: v for k, v in output.get("metadata", {}).items() if k in STANDARD_MIME
            }


def banner(book: Book, page: str) -> nbformat.NotebookNode:
    text = (
        f"*A chapter of [LLMs from Scratch, by the Numbers]({book.site_url}) "
        f"([this chapter on the website]({book.page_url(page)})). Run the first code cell: it "
        "installs the book's package `llmbook` and prints the versions it runs with.*"
    )
    return nbformat.v4.new_markdown_cell(text, metadata={"tags": ["reader-banner"]})


def is_removed(cell: nbformat.NotebookNode) -> bool:
    """Whether the site leaves the cell out (and so do the reader notebooks)."""
    return REMOVED_TAG in cell.metadata.get("tags", [])


def _assigned_and_read(source: str) -> tuple[set[str], set[str]]:
    """The names a code cell binds and the names it reads (IPython magics skipped)."""
    code = "\n".join(
        line for line in source.splitlines() if not line.lstrip().startswith(("%", "!"))
    )
    bound: set[str] = set()
    read: set[str] = set()
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.Name):
            (bound if isinstance(node.ctx, ast.Store) else read).add(node.id)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            bound.add(node.name)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            bound.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
    return bound, read


def names_only_removed_cells_define(nb: nbformat.NotebookNode) -> dict[int, set[str]]:
    """Kept code cells (by index) that read a name only a removed cell has bound before them.

    Empty for every chapter: leaving the removed cells out cannot break "Run all".
    """
    kept_bound: set[str] = set()
    removed_bound: set[str] = set()
    broken: dict[int, set[str]] = {}
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        bound, read = _assigned_and_read(cell.source)
        if is_removed(cell):
            removed_bound |= bound
            continue
        missing = (read & removed_bound) - kept_bound - bound
        if missing:
            broken[index] = missing
        kept_bound |= bound
    return broken


def reader_notebook(nb: nbformat.NotebookNode, book: Book, page: str) -> nbformat.NotebookNode:
    """A copy of the chapter for Colab and GitHub: plain Markdown, folded plumbing."""
    reader = copy.deepcopy(nb)
    reader.cells = [cell for cell in reader.cells if not is_removed(cell)]
    converter = Converter(book, page)
    for cell in reader.cells:
        if cell.cell_type == "markdown":
            cell.source = converter.convert(cell.source)
        elif cell.cell_type == "code":
            fold_for_colab(cell)
            keep_standard_outputs(cell)
            if "remove-output" in cell.metadata.get("tags", []):
                cell.outputs = []  # the site hides it too (the set-up cell's printout)
    reader.cells.insert(0, banner(book, page))
    reader.metadata.pop("widgets", None)
    reader.metadata["colab"] = {"name": Path(page).name + ".ipynb", "toc_visible": True}
    return reader


def write_reader_notebooks(paths: list[Path], out: Path, root: Path = ROOT) -> list[Path]:
    book = load_book(root)
    written = []
    for path in paths:
        page = path.resolve().relative_to(root).with_suffix("").as_posix()
        target = out / f"{page}.ipynb"
        target.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(reader_notebook(nbformat.read(path, as_version=4), book, page), target)
        written.append(target)
    (out / "README.md").write_text(
        f"# Reader notebooks\n\nThe chapters of [LLMs from Scratch, by the Numbers]"
        f"({book.site_url}) for Colab, GitHub and any notebook viewer: generated from the MyST "
        "sources on the `main` branch by `tools/reader_notebooks.py` (`make reader`). Do not "
        "edit them here.\n",
        encoding="utf-8",
    )
    return written


# --- the site's Colab buttons ------------------------------------------------------------------


def colab_reader_url(url: str) -> str:
    """.../github/ORG/REPO/blob/BRANCH/path -> .../github/ORG/REPO/blob/reader/path"""
    return re.sub(r"(/github/[^/]+/[^/]+/blob/)[^/]+/", rf"\g<1>{READER_BRANCH}/", url, count=1)


def point_colab_at_reader(
    app: Any, pagename: str, templatename: str, context: dict, doctree: Any
) -> None:
    """html-page-context handler: rewrite the Colab entry of the launch buttons."""
    for group in context.get("header_buttons", []):
        for button in group.get("buttons", []):
            if button.get("text") == "Colab":
                button["url"] = colab_reader_url(button["url"])


def setup(app: Any) -> dict[str, Any]:
    """Sphinx extension: the Colab launch buttons open the reader notebooks."""
    # after sphinx-book-theme's add_launch_buttons (priority 501)
    app.connect("html-page-context", point_colab_at_reader, priority=502)
    return {"parallel_read_safe": True, "parallel_write_safe": True}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, default=ROOT / "_build" / "reader")
    args = parser.parse_args(argv)
    missing = [str(p) for p in args.notebooks if not p.is_file()]
    if missing:
        parser.error(f"no such notebook: {', '.join(missing)}")
    written = write_reader_notebooks(args.notebooks, args.out)
    print(f"wrote {len(written)} reader notebooks under {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
