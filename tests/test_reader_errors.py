"""Errors careful readers found in chapters 1-7, gone: the sentences, and their numbers computed.

Each test reads the stored chapter: the wrong sentence is absent, the corrected one is present,
and the number it quotes is produced by code (a printed output or an assert in the chapter).
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
CHAPTERS = {path.stem[:2]: path for path in sorted((ROOT / "notebooks").glob("*.ipynb"))}


def chapter(key: str) -> nbformat.NotebookNode:
    return nbformat.read(CHAPTERS[key], as_version=4)


def markdown(nb: nbformat.NotebookNode) -> str:
    """All prose of a chapter with line breaks as spaces, so sentences match across lines."""
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    return " ".join(text.split())


def code(nb: nbformat.NotebookNode) -> str:
    return "\n".join(c.source for c in nb.cells if c.cell_type == "code")


def printed(nb: nbformat.NotebookNode) -> str:
    """Everything the chapter's code cells printed (stream outputs and plain-text results)."""
    parts = []
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream":
                parts.append(output["text"])
            elif "text/plain" in output.get("data", {}):
                parts.append(output["data"]["text/plain"])
    return "\n".join(parts)


# --- chapter 1 -----------------------------------------------------------------------------------


def test_ch01_exercise_2_prints_the_loss_the_solution_quotes():
    nb = chapter("01")
    assert "(2.255, −0.0425)" in markdown(nb)
    assert "out.round(4).tolist()" in markdown(nb)  # the solution's code prints four decimals
    assert "assert green_out.round(4).tolist() == [2.255, -0.0425]" in code(nb)


# --- chapter 2 -----------------------------------------------------------------------------------


def test_ch02_axis_marks_are_what_the_text_says():
    nb = chapter("02")
    assert "goes up in factors of 10" not in markdown(nb)
    step = int(re.search(r"^MARK_STEP = (\d+)", code(nb), re.M).group(1))
    assert step == 4 and "each mark is $10^4 = 10{,}000$ times the one below" in markdown(nb)
    assert "ax.set_yticks(10.0 ** np.arange(-16, 9, MARK_STEP))" in code(nb)


def test_ch02_vanishing_numbers_come_from_the_weights_named():
    nb = chapter("02")
    text = markdown(nb)
    assert "a little below 1 the gradient **vanishes**: after 30 layers it is about" not in text
    assert "such as 0.9, the gradient shrinks to 0.042 after 30 layers" in text
    assert "at 1.1, it grows to 17.4" in text
    assert f"{0.9**30:.3f}" == "0.042" and f"{1.1**30:.1f}" == "17.4"
    assert f"{0.5**30:.0e}" == "9e-10" and f"{1.5**30:.0e}" == "2e+05"
    for line in ("w = 0.9: gradient at the input 0.0424", "w = 1.1: gradient at the input 17.4"):
        assert line in printed(nb)
    assert "round(chain_gradients[0.9], 3) == 0.042" in code(nb)


def test_ch02_exercise_2_calls_the_tie_a_tie():
    nb = chapter("02")
    text = markdown(nb)
    assert "The lowest final loss comes from about 0.2" not in text
    assert "0.1, 0.15 and 0.2 tie (0.1215, 0.1213 and 0.1213" in text
    assert "[0.1215, 0.1213, 0.1213, 0.1257]" in code(nb)


def test_ch02_exercise_1_prints_a_rounded_gradient():
    text = markdown(chapter("02"))
    assert 'print(g["W2"][0, 1]) # 28.6' not in text  # (markdown() joins spaces)
    assert 'print(round(g["W2"][0, 1], 3)) # 28.6' in text


# --- chapters 4 and 5 -------------------------------------------------------------------------


def test_ch04_one_letter_for_one_thing():
    nb = chapter("04")
    assert "E for the length of each vector" not in markdown(nb)
    assert "C for the length of each vector (10)" in markdown(nb)
    assert not re.search(r"#.*\((E, V|V, E|T, E|E, T|N, T \* E)\)", code(nb))  # shape comments
    assert "$C = X^\\top X" not in markdown(nb)  # the covariance matrix has its own name


def test_ch04_sentence_about_x_and_j_says_what_is_checked():
    nb = chapter("04")
    assert "close to where every vector started" not in markdown(nb)
    assert "stay near the middle of the cloud, closer to its centre than most letters" in markdown(
        nb
    )
    assert 'from_centre[chars.CODE[c] - 1] < np.median(from_centre) for c in "xj"' in code(nb)


def test_ch05_counts_ids_from_zero_as_chapter_4_does():
    nb = chapter("05")
    assert 'Id 8 means "column 8"' not in markdown(nb)
    assert 'the id of "h" is 7' in markdown(nb)
    assert "ids:   [7, 20, 12, 15, 19, 24, 26, 3, 20, 12, 15, 19]" in printed(nb)
    assert "ids counted from 0, so the code $k$ of chapter 3 is the id $k - 1$" in markdown(
        chapter("04")
    )


# --- chapter 6 -----------------------------------------------------------------------------------


def test_ch06_exercise_1_changes_only_the_key_of_sat():
    nb = chapter("06")
    assert "The keys do not change" not in markdown(nb)
    assert 'Only the key of "sat" changes' in markdown(nb)
    assert "[(Wk @ x).tolist() for x in X] == [[1, 3], [1, 2], [2, 2]]" in code(nb)


@pytest.mark.parametrize("key", ["01", "02", "04", "05", "06"])
def test_corrected_chapters_are_stored_executed(key):
    nb = chapter(key)
    counts = [c.execution_count for c in nb.cells if c.cell_type == "code"]
    assert None not in counts and counts == sorted(counts)


# --- the appendix and where chapter 1 points to it ---


def test_appendix_a1_teaches_logarithms_with_worked_examples():
    nb = chapter("A1")
    text = markdown(nb)
    assert "## Logarithms" in text and "### Charts with a logarithmic axis" in text
    assert "$\\log(ab) = \\log a + \\log b$" in text
    for quoted in ("p = 0.5000: -log p = 0.693", "p = 0.0357: -log p = 3.332"):
        assert quoted in printed(nb)
    assert "round(np.log(28), 3) == 3.332" in code(nb)
    assert ":label: a1-ex5" in text


def test_chapter_1_points_to_the_appendix_as_the_place_to_look_things_up():
    text = markdown(chapter("01"))
    opening = text[: text.index("## Objects as numbers")]
    assert "Where to look things up" in opening and "<A1_math_toolkit>" in opening


# --- the page shows only what teaches ---

MINE = ["01", "02", "03", "04", "05", "06", "07", "A1"]
FOLD = re.compile(
    r":::\{admonition\} For programmers: (?P<title>[^\n]+)\n:class: dropdown\n(?P<body>.*?)\n:::",
    re.S,
)
BLOCK = re.compile(r"```python\n(?P<code>.*?)\n```\n\nprints\n\n```text\n(?P<out>.*?)\n```", re.S)


def visible_code_cells(nb: nbformat.NotebookNode) -> list[nbformat.NotebookNode]:
    return [
        c
        for c in nb.cells
        if c.cell_type == "code" and "remove-cell" not in c.metadata.get("tags", [])
    ]


@pytest.mark.parametrize("key", MINE)
def test_check_cells_are_removed_from_the_page(key):
    shown = [
        c.source.splitlines()[0]
        for c in visible_code_cells(chapter(key))
        if c.source.lstrip().startswith("# Check")
    ]
    assert shown == []


@pytest.mark.parametrize("key", MINE)
def test_visible_code_says_nothing_about_the_text_around_it(key):
    for cell in visible_code_cells(chapter(key)):
        for words in ("quoted in the box", "# the box", "the numbers quoted"):
            assert words not in cell.source, cell.source


@pytest.mark.parametrize(
    ("key", "titles"),
    [
        ("03", ["text the code cannot take"]),
        ("05", ["saving and loading a tokenizer", "bad input"]),
    ],
)
def test_programmer_detours_are_dropdowns_whose_code_ran(key, titles):
    nb = chapter(key)
    text = "\n\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    folds = {m["title"]: m["body"] for m in FOLD.finditer(text)}
    assert list(folds) == titles
    ran = {c.source: c for c in nb.cells if c.cell_type == "code"}
    for body in folds.values():
        blocks = list(BLOCK.finditer(body))
        assert blocks
        for block in blocks:
            cell = ran[block["code"]]  # the fold shows exactly the code of a cell that ran
            assert cell.metadata["tags"] == ["remove-cell"]
            stdout = "".join(o["text"] for o in cell.outputs if o.output_type == "stream")
            assert stdout.rstrip("\n") == block["out"]  # and exactly what it printed
    assert "### For programmers" not in text
    assert not [c for c in nb.cells if "hide-cell" in c.metadata.get("tags", [])]
