"""Reader notebooks for Colab and GitHub: plain Markdown, solutions folded, plumbing folded."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
from reader_notebooks import (  # noqa: E402
    READER_BRANCH,
    Book,
    Converter,
    colab_reader_url,
    load_book,
    names_only_removed_cells_define,
    reader_notebook,
    write_reader_notebooks,
)
from toc_notebooks import toc_notebooks  # noqa: E402

NOTEBOOKS = toc_notebooks(ROOT / "_toc.yml")
MYST_LEFTOVERS = [":::{", "```{", "{cite}", "{ref}", "{doc}", "{numref}", "{solution}"]
SITE = "https://example.org/book/"


@pytest.fixture(scope="module")
def book() -> Book:
    return load_book(ROOT)


def small_book() -> Book:
    return Book(
        site_url=SITE,
        labels={
            "ch02-ex1": ("notebooks/02_x", "Exercise 1"),
            "sec-loss": ("notebooks/02_x", "Loss"),
        },
        citations={"patel2024": "Patel 2024", "vaswani2017": "Vaswani et al. 2017"},
        titles={"book/intro": "LLMs from Scratch, by the Numbers"},
    )


def convert(text: str, page: str = "notebooks/01_x") -> str:
    return Converter(small_book(), page).convert(text)


def markdown_of(nb: nbformat.NotebookNode) -> str:
    return "\n\n".join(c.source for c in nb.cells if c.cell_type == "markdown")


# --- every chapter -----------------------------------------------------------------------------


@pytest.mark.parametrize("path", NOTEBOOKS, ids=str)
def test_reader_notebook_holds_no_myst(book, path):
    nb = nbformat.read(ROOT / path, as_version=4)
    text = markdown_of(reader_notebook(nb, book, path.with_suffix("").as_posix()))
    assert [m for m in MYST_LEFTOVERS if m in text] == []
    assert re.findall(r"\{[\w:-]+\}`", text) == [], "a MyST role is left"
    assert re.findall(r"^\([\w.:-]+\)=", text, flags=re.MULTILINE) == [], "a MyST target is left"
    assert re.findall(r"^:[\w-]+:", text, flags=re.MULTILINE) == [], "a directive option is left"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=str)
def test_every_solution_is_folded_under_its_exercise(book, path):
    nb = nbformat.read(ROOT / path, as_version=4)
    source = markdown_of(nb)
    text = markdown_of(reader_notebook(nb, book, path.with_suffix("").as_posix()))
    exercises = source.count("{exercise}")
    solutions = source.count("{solution}")
    assert exercises > 0 and solutions > 0
    headings = re.findall(r"^\*\*Exercise (\d+)\*\*", text, flags=re.MULTILINE)
    assert headings == [str(n) for n in range(1, exercises + 1)]
    folded = re.findall(r"<details>\n<summary>Solution to exercise (\d+)</summary>\n\n", text)
    assert len(folded) == solutions
    assert text.count("<details>") == text.count("</details>")
    # each solution's own words sit inside its <details> block
    blocks = re.findall(r"<details>\n<summary>Solution.*?</details>", text, flags=re.S)
    bodies = re.findall(
        r"^:{3,}\{solution\}[^\n]*\n(?::[\w-]+:[^\n]*\n)*(.*?)^:{3,}[ \t]*$", source, re.S | re.M
    )
    for body, block in zip(bodies, blocks, strict=True):
        plain = [line for line in body.splitlines() if line.strip() and "`" not in line]
        assert plain == [] or plain[0].strip()[:30] in block


@pytest.mark.parametrize("path", NOTEBOOKS, ids=str)
def test_set_up_cell_is_folded_in_colab_and_code_kept(book, path):
    nb = nbformat.read(ROOT / path, as_version=4)
    reader = reader_notebook(nb, book, path.with_suffix("").as_posix())
    first = next(c for c in reader.cells if c.cell_type == "code")
    original = next(c for c in nb.cells if c.cell_type == "code")
    assert first.metadata["cellView"] == "form"
    assert first.source == "#@title Set-up\n" + original.source
    assert first.outputs == [], "the printout of the machine that stored the outputs is dropped"
    kept = [c for c in nb.cells if "remove-cell" not in c.metadata.get("tags", [])]
    assert len(reader.cells) == len(kept) + 1  # the banner that links the website


@pytest.mark.parametrize("path", NOTEBOOKS, ids=str)
def test_reader_notebook_leaves_out_what_the_site_removes(book, path):
    nb = nbformat.read(ROOT / path, as_version=4)
    reader = reader_notebook(nb, book, path.with_suffix("").as_posix())
    assert [c for c in reader.cells if "remove-cell" in c.metadata.get("tags", [])] == []
    removed = [c.source for c in nb.cells if "remove-cell" in c.metadata.get("tags", [])]
    shown = [c.source for c in reader.cells]
    assert [s for s in removed if s in shown] == []
    # and nothing a reader runs needed them
    assert names_only_removed_cells_define(nb) == {}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=str)
def test_no_answer_shows_outside_a_folded_solution(book, path):
    """After the first exercise, the reader notebook holds no code: answers sit in solutions."""
    nb = nbformat.read(ROOT / path, as_version=4)
    reader = reader_notebook(nb, book, path.with_suffix("").as_posix())
    first = next(
        i
        for i, c in enumerate(reader.cells)
        if c.source.startswith("**Exercise 1**") or "\n**Exercise 1**" in c.source
    )
    code_after = [c.source[:60] for c in reader.cells[first:] if c.cell_type == "code"]
    assert code_after == []


def test_a_kept_cell_that_needs_a_removed_one_is_found():
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("x = 1"),
        nbformat.v4.new_code_cell("import math\nanswer = 2", metadata={"tags": ["remove-cell"]}),
        nbformat.v4.new_code_cell("%matplotlib inline\ny = x + answer\nprint(math.pi)"),
    ]
    assert names_only_removed_cells_define(nb) == {2: {"answer", "math"}}


def test_citations_link_to_the_references_page(book):
    assert "patel2024" in book.citations and book.citations["patel2024"] == "Patel 2024"
    text = Converter(book, "notebooks/01").convert("As {cite}`patel2024` shows.")
    assert text == f"As ([Patel 2024]({book.site_url}book/references.html)) shows."


def test_make_reader_writes_one_notebook_per_chapter(tmp_path):
    written = write_reader_notebooks([ROOT / p for p in NOTEBOOKS[:2]], tmp_path)
    assert [p.relative_to(tmp_path) for p in written] == NOTEBOOKS[:2]
    assert (tmp_path / "README.md").exists()
    nbformat.validate(nbformat.read(written[0], as_version=4))


# --- the converter, piece by piece -------------------------------------------------------------


def test_callout_becomes_a_quoted_block_with_a_bold_title():
    text = ":::{admonition} What the article simplifies\n:class: note\n\n- one\n- two\n:::"
    assert convert(text) == "> **What the article simplifies**\n>\n> - one\n> - two"


def test_note_without_title_uses_its_kind():
    assert convert(":::{warning}\nCareful.\n:::") == "> **Warning**\n>\n> Careful."


def test_dropdown_and_dropdown_class_fold():
    expected = "<details>\n<summary>For programmers</summary>\n\nSave with `json`.\n\n</details>"
    assert convert(":::{dropdown} For programmers\nSave with `json`.\n:::") == expected
    text = ":::{admonition} For programmers\n:class: dropdown\n\nSave with `json`.\n:::"
    assert convert(text) == expected


def test_nested_directives_with_a_longer_outer_fence():
    text = "::::{note}\nOuter.\n\n:::{dropdown} Inner\nDeep.\n:::\n::::"
    assert convert(text) == (
        "> **Note**\n>\n> Outer.\n>\n> <details>\n> <summary>Inner</summary>\n>\n> Deep.\n>\n"
        "> </details>"
    )


def test_exercise_and_solution_are_numbered_and_folded():
    text = (
        ":::{exercise}\n:label: a-ex1\n\nFirst.\n:::\n\n:::{solution} a-ex1\n:class: dropdown\n\n"
        "One.\n:::\n\n:::{exercise} Hard\n:label: a-ex2\n\nSecond.\n:::"
    )
    assert convert(text) == (
        "**Exercise 1**\n\nFirst.\n\n<details>\n<summary>Solution to exercise 1</summary>\n\n"
        "One.\n\n</details>\n\n**Exercise 2** (Hard)\n\nSecond."
    )


def test_solution_without_its_exercise_is_an_error_naming_the_label():
    with pytest.raises(ValueError, match="'missing-ex'"):
        convert(":::{solution} missing-ex\nOne.\n:::")


def test_unknown_citation_is_an_error_naming_the_key():
    with pytest.raises(ValueError, match="'nobody2020'"):
        convert("See {cite}`nobody2020`.")


def test_roles_become_links_and_math():
    assert convert("{ref}`sec-loss`") == f"[Loss]({SITE}notebooks/02_x.html#sec-loss)"
    assert (
        convert("{ref}`the loss <sec-loss>`") == f"[the loss]({SITE}notebooks/02_x.html#sec-loss)"
    )
    assert convert("{doc}`../book/intro`") == (
        f"[LLMs from Scratch, by the Numbers]({SITE}book/intro.html)"
    )
    assert convert("{math}`x^2`") == "$x^2$"
    assert (
        convert("{cite:t}`vaswani2017`") == f"[Vaswani et al. (2017)]({SITE}book/references.html)"
    )
    assert convert("{cite}`patel2024,vaswani2017`") == (
        f"([Patel 2024]({SITE}book/references.html); "
        f"[Vaswani et al. 2017]({SITE}book/references.html))"
    )


def test_code_blocks_and_dollar_math_are_kept_as_they_are():
    text = (
        "$$\na = b\n$$\n\n```python\nprint('{cite}`x`')\n```\n\n```{code-block} python\nx = 1\n```"
    )
    assert (
        convert(text)
        == "$$\na = b\n$$\n\n```python\nprint('{cite}`x`')\n```\n\n```python\nx = 1\n```"
    )


def test_a_role_may_run_over_a_line_break():
    assert convert("see {doc}`the\nintro <../book/intro>` now") == (
        f"see [the\nintro]({SITE}book/intro.html) now"
    )


def test_targets_and_comments_are_dropped():
    assert convert("(sec-loss)=\n## Loss\n% a comment\nText.") == "## Loss\nText."


def test_hidden_code_is_folded_in_colab_and_site_only_outputs_are_dropped():
    cell = nbformat.v4.new_code_cell("# Draw the figure\nplot()", metadata={"tags": ["hide-input"]})
    cell.outputs = [
        nbformat.v4.new_output(
            "display_data",
            data={
                "image/png": "iVBOR",
                "text/plain": "<Figure>",
                "application/vnd.llmbook+json": {},
            },
        )
    ]
    nb = nbformat.v4.new_notebook(cells=[cell, nbformat.v4.new_code_cell("x = 1")])
    reader = reader_notebook(nb, small_book(), "notebooks/01_x")
    folded, plain = reader.cells[1], reader.cells[2]
    assert folded.metadata["cellView"] == "form"
    assert folded.source == "#@title Draw the figure\n# Draw the figure\nplot()"
    assert set(folded.outputs[0]["data"]) == {"image/png", "text/plain"}
    assert "cellView" not in plain.metadata and plain.source == "x = 1"
    assert nb.cells[0].source == "# Draw the figure\nplot()", "the source notebook is untouched"


def test_colab_button_url_points_at_the_reader_branch():
    url = "https://colab.research.google.com/github/org/repo/blob/main/notebooks/01_x.ipynb"
    assert colab_reader_url(url) == (
        f"https://colab.research.google.com/github/org/repo/blob/{READER_BRANCH}/notebooks/01_x.ipynb"
    )


def test_reader_markdown_renders_as_commonmark_with_html(book):
    """What GitHub and Colab do with the Markdown: folded solutions, quoted callouts, no fences."""
    from markdown_it import MarkdownIt

    path = NOTEBOOKS[0]
    nb = nbformat.read(ROOT / path, as_version=4)
    source = markdown_of(nb)
    reader = reader_notebook(nb, book, path.with_suffix("").as_posix())
    html = MarkdownIt("commonmark").render(markdown_of(reader))
    openings = re.findall(
        r"^:{3,}\{(?:admonition|note|tip|warning)\}.*\n((?::[\w-]+:.*\n)*)", source, re.MULTILINE
    )
    callouts = sum("dropdown" not in options for options in openings)
    assert callouts > 0
    assert html.count("<blockquote>\n<p><strong>") == callouts
    assert html.count("<summary>Solution to exercise") == source.count("{solution}")
    assert ":::" not in html and "{cite}" not in html
    assert "$$" in html or "$" in html, "dollar math is kept for the viewer to typeset"
