"""Every chapter follows the book's skeleton and stores the outputs CI verified."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import nbformat
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
from clean_notebook import marker_problems  # noqa: E402
from new_chapter import SETUP_TAGS, colab_cell_source, package_version, repository_url  # noqa: E402
from toc_notebooks import toc_files, toc_notebooks  # noqa: E402

NOTEBOOKS = toc_notebooks(ROOT / "_toc.yml")


def load(path: Path) -> dict:
    return json.loads((ROOT / path).read_text(encoding="utf-8"))


def markdown(nb: dict) -> str:
    return "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")


def code_cells(nb: dict) -> list[dict]:
    return [c for c in nb["cells"] if c["cell_type"] == "code"]


def test_every_notebook_is_in_the_table_of_contents():
    on_disk = sorted(p.relative_to(ROOT) for p in (ROOT / "notebooks").glob("*.ipynb"))
    assert on_disk == sorted(NOTEBOOKS)
    assert NOTEBOOKS, "no chapter listed in _toc.yml"


def test_toc_lists_chapters_in_file_order():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    chapters = [f for f in toc_files(toc) if f.startswith("notebooks/")]
    assert chapters == sorted(chapters)  # 01 ... 15, then the appendix A1


def test_repository_url_is_a_github_url():
    assert repository_url(ROOT).startswith("https://github.com/")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=str)
def test_first_cell_is_the_colab_set_up_cell(path):
    first = code_cells(load(path))[0]
    assert "".join(first["source"]) == colab_cell_source(ROOT), (
        "run `python tools/new_chapter.py --refresh-set-up notebooks/*.ipynb`"
    )
    assert first["metadata"]["tags"][-3:] == list(SETUP_TAGS)
    assert first["metadata"]["nbval_ignore_reason"]


def test_set_up_cell_installs_this_release():
    source = colab_cell_source(ROOT)
    version = package_version(ROOT)
    assert f'LLMBOOK = "{version}"' in source
    assert f'"git+{repository_url(ROOT)}@v" + LLMBOOK' in source
    assert "-U" not in source and "--upgrade" not in source, "never upgrade a reader's packages"
    llmbook = pytest.importorskip("llmbook")
    assert llmbook.__version__ == version, "llmbook/__init__.py and pyproject.toml disagree"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=str)
def test_chapter_has_the_skeleton(path):
    text = markdown(load(path))
    assert text.lstrip().startswith("# "), "a chapter starts with its title"
    for part in (
        "Learning goals",
        "## Summary",
        "## Exercises",
        "{exercise}",
        "{solution}",
        ":class: dropdown",
    ):
        assert part in text, f"{path} has no {part!r}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=str)
def test_chapter_has_a_widget(path):
    sources = "".join("".join(c["source"]) for c in code_cells(load(path)))
    assert "explore(" in sources, f"{path} has no llmbook.widgets.explore widget"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=str)
def test_outputs_are_stored_from_one_top_to_bottom_run(path):
    cells = code_cells(load(path))
    assert [c["execution_count"] for c in cells] == list(range(1, len(cells) + 1)), (
        "run `make outputs` to store the outputs"
    )
    errors = [o for c in cells for o in c["outputs"] if o["output_type"] == "error"]
    assert errors == []


@pytest.mark.parametrize("path", NOTEBOOKS, ids=str)
def test_stored_outputs_carry_no_machine_paths_or_widget_state(path):
    text = (ROOT / path).read_text(encoding="utf-8")
    for marker in ("/work/", "/home/", "/Users/", "/root/", "site-packages"):
        assert marker not in text, f"{path} stores a local path ({marker})"
    assert "widgets" not in load(path)["metadata"], "run tools/clean_notebook.py (make outputs)"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=str)
def test_ignored_outputs_say_why_out_of_the_readers_sight(path):
    """An ignored output has the tag nbval obeys and a reason in metadata; no marker is shown."""
    cells = [nbformat.from_dict(cell) for cell in load(path)["cells"]]
    problems = [p for cell in cells for p in marker_problems(cell)]
    assert problems == [], f"{path}: {problems}"


# --- numbers quoted in solutions --------------------------------------------------------------
#
# Rule: every number a `{solution}` block quotes in its prose (fenced and inline code left out:
# their numbers are inputs the reader types) must be computed or asserted by the chapter, that
# is, occur in the source or the stored text output (plain text, Markdown, streams) of one of
# the same notebook's code cells. A number with d decimals matches a computed number that rounds
# to it at d decimals (0.796 in prose matches 0.79601 printed); a whole number must occur as
# written; a percentage also matches its fraction (94% matches 0.94). Thousands separators are
# removed first (8,030,261,248, LaTeX's 131{,}072 and Python's 10_000 are whole numbers); the
# sign is ignored. Only numbers with a decimal point or at least two digits are checked (single
# digits are counts a reader sees at a glance). Not checked, because they name rather than quote:
# - a number glued to letters or an underscore (identifiers and labels: float32, ch03-ex1, 8B,
#   A1, 12th), and a LaTeX subscript (the indices in $W_{2,01}$);
# - a number right after "chapter(s)", "section", "exercise", "appendix", "figure", "part",
#   "step" or "layer" (references and indices);
# - the number of an ordered list item at the start of a line ("10. ");
# - a year from 1900 to 2099 written as four digits (citations);
# - the options of the directive itself (`:label:`, `:class:` lines).

SOLUTION_OPEN = re.compile(r"^(:{3,})\{solution\}")
NUMBER = re.compile(r"(?<![\w.])(\d{1,3}(?:,\d{3})+|\d+)(\.\d+)?(?![\w])")
SEPARATOR = re.compile(r"(?<=\d)(\{,\}|\\,|_)(?=\d{3})")
SUBSCRIPT = re.compile(r"_(\{[^}]*\}|\w)")
NAMING_WORDS = re.compile(
    r"\b(chapters?|section|exercise|appendix|figure|part|step|layer)s?\s*$", re.IGNORECASE
)
FENCE = re.compile(r"^(`{3,}|~{3,}).*?^\1\s*$", re.M | re.S)
INLINE_CODE = re.compile(r"`[^`\n]+`")


def solution_blocks(nb: dict) -> list[str]:
    """The body of every `{solution}` directive in the notebook's Markdown cells."""
    blocks = []
    for cell in nb["cells"]:
        if cell["cell_type"] != "markdown":
            continue
        lines = "".join(cell["source"]).splitlines()
        for k, line in enumerate(lines):
            opened = SOLUTION_OPEN.match(line)
            if not opened:
                continue
            fence = opened.group(1)
            body = []
            for inner in lines[k + 1 :]:
                if inner.strip() == fence:
                    break
                if not inner.startswith((":label:", ":class:")):
                    body.append(inner)
            blocks.append("\n".join(body))
    return blocks


def quoted_numbers(text: str) -> list[str]:
    """The numbers a piece of prose quotes, by the rule above, as written (separators dropped)."""
    prose = SUBSCRIPT.sub("", SEPARATOR.sub(",", INLINE_CODE.sub("", FENCE.sub("", text))))
    found = []
    for match in NUMBER.finditer(prose):
        whole, decimals = match.group(1).replace(",", ""), match.group(2) or ""
        before = prose[: match.start()]
        line_start = before.rsplit("\n", 1)[-1]
        if not decimals and len(whole) < 2:
            continue
        if NAMING_WORDS.search(before[-30:]):
            continue
        if not decimals and line_start.strip() == "" and prose[match.end() :].startswith(". "):
            continue  # an ordered list item
        if not decimals and len(whole) == 4 and 1900 <= int(whole) <= 2099:
            continue
        percent = "%" if prose[match.end() :].lstrip().startswith("%") else ""
        found.append(whole + decimals + percent)
    return found


def computed_text(nb: dict) -> str:
    """What the code cells of a notebook say: their sources and stored text outputs."""
    parts = []
    for cell in code_cells(nb):
        parts.append("".join(cell["source"]))
        for output in cell["outputs"]:
            if output["output_type"] == "stream":
                parts.append("".join(output["text"]))
            for kind in ("text/plain", "text/markdown"):
                parts.append("".join(output.get("data", {}).get(kind, "")))
    return "\n".join(parts)


def is_computed(quoted: str, computed: list[str]) -> bool:
    """Whether a quoted number equals, or is the rounding of, a number the code shows."""
    if quoted.endswith("%"):
        quoted = quoted[:-1]
        places = len(quoted.partition(".")[2])
        as_fraction = {round(float(c) * 100, places) for c in computed if "." in c}
        if round(float(quoted), places) in as_fraction:
            return True
    if "." not in quoted:
        return quoted in computed
    places = len(quoted.split(".")[1])
    target = round(float(quoted), places)
    return any("." in c and round(float(c), places) == target for c in computed)


def unbacked_solution_numbers(nb: dict) -> list[str]:
    """The numbers the notebook's solutions quote that no code cell computes or asserts."""
    computed = [
        m.group(1).replace(",", "") + (m.group(2) or "")
        for m in NUMBER.finditer(SEPARATOR.sub(",", computed_text(nb)))
    ]
    quoted = [n for block in solution_blocks(nb) for n in quoted_numbers(block)]
    return sorted(
        {n for n in quoted if not is_computed(n, computed)}, key=lambda n: float(n.strip("%"))
    )


def test_solution_number_checker_follows_its_rule():
    nb = {
        "cells": [
            {
                "cell_type": "code",
                "source": ["x = 12 * 3.14159"],
                "outputs": [
                    {"output_type": "stream", "name": "stdout", "text": ["1,024 0.79601 0.3141\n"]}
                ],
            },
            {
                "cell_type": "markdown",
                "source": [
                    ":::{solution} ch01-ex1\n:class: dropdown\n\n"
                    "In chapter 13 (2017), float32 gives 1{,}024, 0.796, 3.14, 12 and $W_{2,01}$.\n"
                    "10. a list item `range(77)`\n"
                    "But 57 is quoted and 0.81 too; 31.4% is, 72% is not.\n"
                    "```python\nprint(99)\n```\n:::\n"
                ],
            },
        ]
    }
    assert unbacked_solution_numbers(nb) == ["0.81", "57", "72%"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=str)
def test_solutions_quote_only_numbers_the_chapter_computes(path):
    unbacked = unbacked_solution_numbers(load(path))
    assert unbacked == [], (
        f"{path}: a solution quotes {unbacked}, which no code cell computes or asserts; "
        "print the number from code (or assert it) in the chapter"
    )


TORCH_WORK = re.compile(r"\.backward\(\)|torch\.optim\.|train_nextchar\(|(?<![\w.])train\(")
"""A cell that trains or differentiates with torch, directly or through llmbook (in a chapter
that imports torch: chapter 5's `train(` trains a tokenizer)."""


@pytest.mark.parametrize("path", NOTEBOOKS, ids=str)
def test_torch_threads_are_set_before_any_torch_training(path):
    """torch's default is one thread per core: numbers would depend on the machine, and two
    threads on two cores crawl when another process keeps one busy. Chapters set it themselves."""
    sources = ["".join(c["source"]) for c in code_cells(load(path))]
    first_work = next((k for k, s in enumerate(sources) if TORCH_WORK.search(s)), None)
    if first_work is None or not any("import torch" in s for s in sources):
        return
    threads = [k for k, s in enumerate(sources) if "torch.set_num_threads(" in s]
    assert threads and threads[0] <= first_work, (
        f"cell {first_work} trains with torch before any torch.set_num_threads(...)"
    )


# --- chapter 13 keeps the GPT; appendix A2 runs the training program ------------------------------

GPT_CHAPTER = Path("notebooks/13_gpt.ipynb")
PROGRAM_APPENDIX = Path("notebooks/A2_training_program.ipynb")
# What belongs to the program, not to the model: several GPUs, resuming, precision, speed-ups.
PROGRAM_TOPICS = ("torchrun", "DistributedDataParallel", "--resume", "resume=True", "bf16",
                  "TF32", "gradient scaler", "--init-from", "torch.compile",
                  "Change runtime type", "benchmarks/")  # fmt: skip


def sources(nb: dict) -> str:
    """Every cell's source but the set-up cell's (which names Colab in every chapter)."""
    return "\n".join("".join(c["source"]) for c in nb["cells"][1:])


def printed(nb: dict) -> str:
    return "".join(
        "".join(o.get("text", "")) for c in code_cells(nb) for o in c["outputs"] if "text" in o
    )


def test_chapter_13_leaves_the_training_program_to_appendix_a2():
    chapter, appendix = sources(load(GPT_CHAPTER)), sources(load(PROGRAM_APPENDIX))
    assert [t for t in PROGRAM_TOPICS if t in chapter] == []
    assert [t for t in PROGRAM_TOPICS if t not in appendix] == []
    assert "{doc}`appendix A2 <A2_training_program>`" in chapter


def test_appendix_a2_runs_the_commands_it_teaches():
    nb = load(PROGRAM_APPENDIX)
    code = "\n".join("".join(c["source"]) for c in code_cells(nb))
    for command in ('run("llmbook.train ', 'run("llmbook.sample --checkpoint tiny/ckpt.pt'):
        assert command in code
    out = printed(nb)
    assert re.search(r"step 40: train loss \d\.\d{4}, val loss \d\.\d{4}", out)
    assert "['best.pt', 'ckpt.pt', 'log.json']" in out
    assert "stopped at step 30, resumed to step 60" in out
    assert "weights equal to the run in one go: True" in out


def test_chapter_13_measures_memorising_against_harder_text():
    nb = load(GPT_CHAPTER)
    names = ("training text it trained on", "training text it never saw", "validation text")
    found = {
        n: float(m) for n, m in re.findall(r"(" + "|".join(names) + r") +(\d\.\d\d)", printed(nb))
    }
    assert list(found) == list(names), "the three losses are printed in this order"
    trained, unseen, validation = found.values()
    assert trained < unseen < validation
    assert unseen - trained < validation - unseen  # memorising explains the smaller part
    assert "assert trained < unseen < validation" in sources(nb)
    assert "That gap is the first sign of overfitting" not in markdown(nb)  # the old claim


def test_chapter_13_quotes_the_asserted_parameter_counts():
    nb = load(GPT_CHAPTER)
    text, code = markdown(nb), sources(nb)
    for quoted, asserted in (("10,745,088", "10_745_088"), ("10,770,816", "10_770_816")):
        assert quoted in text and asserted in code
    assert "bias=False" in text
    assert "AdamW shrinks every weight" not in text and "every weight *matrix*" in text
    assert "make_optimizer" in code  # the decayed groups are checked against the package
