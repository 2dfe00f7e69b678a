"""Claims that careful readers found wrong in chapters 8, 12 and 14 stay corrected.

Each test reads the stored notebook: the wrong sentence is gone, and the corrected one comes with
the code that produces or asserts its numbers.
"""

from __future__ import annotations

import json
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def cells(name: str) -> list[dict]:
    path = next((ROOT / "notebooks").glob(f"{name}_*.ipynb"))
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


def markdown(name: str) -> str:
    return "\n".join("".join(c["source"]) for c in cells(name) if c["cell_type"] == "markdown")


def code(name: str) -> str:
    return "\n".join("".join(c["source"]) for c in cells(name) if c["cell_type"] == "code")


def test_chapter_8_explains_the_stuck_network_by_its_gradients_not_by_adams_epsilon() -> None:
    text = markdown("08")
    assert "these gradients are more than ten times smaller" not in text
    main_text = text.split(":::{admonition} Going deeper: why Adam")[0]
    assert "epsilon" not in main_text.split("## Training a deep network")[1]
    assert "a billion times larger" in text
    source = code("08")
    assert 'f"{largest_resid / largest_plain:.0e}" == "1e+09"' in source
    assert 'f"{largest_plain:.1g}" == "7e-10"' in source


def test_chapter_12_does_not_equate_the_context_length_with_the_sentence_length() -> None:
    text = markdown("12")
    assert "the very flaw the article" not in text
    assert "does not change from one sentence to\nthe next" in text
    assert "its $s_5(1)$ belongs to the first word" in text
    assert "$p = 0$, gets $\\sin 0 = 0$" in text


def test_chapter_14_qualifies_the_shifting_offset_and_checks_it() -> None:
    text = markdown("14")
    assert "exactly when the model still needs it" not in text
    assert 'which hardly needs\n"Wo"' in text
    assert "A KV cache (chapter 16) relies on exactly this" in text
    source = code("14")
    assert "assert all(same) and moved > 0.8 * largest" in source
    assert 'assert first_step[-WINDOW:][0] == "w2"' in source


def test_chapter_14_states_and_asserts_the_cross_attention_alignment() -> None:
    text = markdown("14")
    assert 'more than three\nquarters, on "five"' in text
    source = code("14")
    assert 'attn_513[0].argmax() == words_513.index("five") and attn_513[0, 0] > 0.75' in source


MINE = ["08", "09", "10", "11", "12", "14"]


def tags(cell: dict) -> list[str]:
    return cell.get("metadata", {}).get("tags", [])


def test_cells_that_check_the_solutions_are_removed_from_the_page() -> None:
    for name in MINE:
        for cell in cells(name):
            source = "".join(cell["source"]).lower()
            if cell["cell_type"] == "code" and "in the solutions" in source.split("\n")[0]:
                assert "remove-cell" in tags(cell), f"chapter {name}: {source[:60]!r} is shown"


def test_error_message_demonstrations_sit_in_folds_for_programmers() -> None:
    for name in ["11", "12", "14"]:
        chapter = cells(name)
        for k, cell in enumerate(chapter):
            source = "".join(cell["source"])
            if cell["cell_type"] != "code" or "except" not in source or "remove-cell" in tags(cell):
                continue
            if "Error" not in source or "print(" not in source:
                continue
            assert "hide-cell" in tags(cell), f"chapter {name}: an error demonstration is shown"
            before = "".join(chapter[k - 1]["source"])
            assert "**For programmers** (folded)" in before
