"""llmbook.quiz: questions that answer back on the site and live, and still read well without JS."""

from __future__ import annotations

import json
import math
import re
import shutil
from pathlib import Path

import pytest

from llmbook.quiz import MultipleChoice, Numeric, Option, Quiz, check_yourself

LEAF = "The leaf's hidden values are (-26.598, 2.522, -47.094). After ReLU, what is the middle one?"


def relu_numeric() -> Numeric:
    return Numeric(
        LEAF,
        answer=2.522,
        tolerance=0.001,
        explanation="ReLU keeps a positive number as it is and turns a negative one into 0.",
    )


def relu_choice() -> MultipleChoice:
    return MultipleChoice(
        "Which function turns `-3` into 0?",
        [
            Option("ReLU", "ReLU(x) is 0 for every negative x.", correct=True),
            Option("Softmax", "Softmax gives positive probabilities, never 0."),
            Option("The identity", "The identity keeps -3 as it is."),
        ],
    )


def sample_quiz() -> Quiz:
    return check_yourself(relu_numeric(), relu_choice())


# --- validation ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"answer": math.nan}, ValueError, "answer must be finite, got nan"),
        ({"answer": math.inf}, ValueError, "answer must be finite, got inf"),
        ({"answer": "2.5"}, TypeError, "answer must be a number, got '2.5'"),
        ({"answer": True}, TypeError, "answer must be a number, got True"),
        ({"tolerance": -0.1}, ValueError, "tolerance must be >= 0, got -0.1"),
        ({"tolerance": math.nan}, ValueError, "tolerance must be finite"),
        ({"explanation": "  "}, ValueError, "explanation must not be empty"),
        ({"text": ""}, ValueError, "the question text must not be empty"),
    ],
)
def test_numeric_refuses_bad_input_naming_it(kwargs, error, message):
    args = {"text": "What is 1 + 1?", "answer": 2, "tolerance": 0, "explanation": "Count."}
    with pytest.raises(error, match=re.escape(message)):
        Numeric(**{**args, **kwargs})


def test_numeric_needs_an_explanation():
    with pytest.raises(TypeError, match="explanation"):
        Numeric("What is 1 + 1?", answer=2)  # type: ignore[call-arg]


def test_numeric_error_names_the_question():
    with pytest.raises(ValueError, match=r"Numeric 'What is 1 \+ 1\?': tolerance"):
        Numeric("What is 1 + 1?", answer=2, tolerance=-1, explanation="Count.")


@pytest.mark.parametrize("correct", [(False, False), (True, True)])
def test_multiple_choice_needs_exactly_one_correct_option(correct):
    options = [Option(f"choice {k}", "because", correct=c) for k, c in enumerate(correct)]
    with pytest.raises(
        ValueError, match=f"exactly one option must have correct=True, got {sum(correct)}"
    ):
        MultipleChoice("Which?", options)


def test_multiple_choice_refuses_too_few_repeated_or_foreign_options():
    with pytest.raises(ValueError, match="at least 2 options, got 1"):
        MultipleChoice("Which?", [Option("a", "why", correct=True)])
    with pytest.raises(ValueError, match=r"option texts must differ, repeated: \['a'\]"):
        MultipleChoice("Which?", [Option("a", "why", correct=True), Option("a", "why not")])
    with pytest.raises(TypeError, match="every option must be an Option, got 'b'"):
        MultipleChoice("Which?", [Option("a", "why", correct=True), "b"])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="options must be a list of Option"):
        MultipleChoice("Which?", "ab")


def test_option_refuses_empty_texts_and_non_bool_correct():
    with pytest.raises(ValueError, match="the option text must not be empty"):
        Option(" ", "why")
    with pytest.raises(ValueError, match="Option 'a': explanation must not be empty"):
        Option("a", "")
    with pytest.raises(TypeError, match="correct must be True or False, got 1"):
        Option("a", "why", correct=1)  # type: ignore[arg-type]


def test_check_yourself_refuses_no_questions_and_other_objects():
    with pytest.raises(ValueError, match="at least one"):
        check_yourself()
    with pytest.raises(TypeError, match="question 2 must be a Numeric or MultipleChoice, got 'x'"):
        check_yourself(relu_numeric(), "x")  # type: ignore[arg-type]


# --- rendering ----------------------------------------------------------------------------


def test_output_is_html_plus_plain_text_and_deterministic():
    bundle = sample_quiz()._repr_mimebundle_()
    assert set(bundle) == {"text/html", "text/plain"}
    assert bundle == sample_quiz()._repr_mimebundle_()
    assert not re.search(r"[0-9a-f]{8}-[0-9a-f]{4}-", bundle["text/html"])  # no random uuid


def test_id_follows_the_content():
    same = sample_quiz().quiz_id
    other = check_yourself(relu_numeric()).quiz_id
    assert same == sample_quiz().quiz_id
    assert same != other
    assert re.fullmatch(r"lbq-[0-9a-f]{12}", same)
    assert f'id="{same}"' in sample_quiz().to_html()


def test_html_needs_nothing_from_the_network_nor_mathjax():
    page = sample_quiz().to_html()
    assert not re.search(r"https?://|<script[^>]*\ssrc|<link|@import", page)
    assert "MathJax" not in page
    assert page.count("<script>") == 1


def test_answers_and_every_explanation_are_folded():
    page = sample_quiz().to_html()
    folds = re.findall(r"<details>(.*?)</details>", page, flags=re.S)
    assert len(folds) == 2
    assert "Answer: 2.522 (anything within ±0.001 counts)." in folds[0]
    assert "ReLU keeps a positive number" in folds[0]
    assert "Answer: ReLU" in folds[1]
    for option in relu_choice().options:
        assert option.explanation in folds[1]
    outside = re.sub(r"<details>.*?</details>", "", page, flags=re.S)
    assert "2.522 (anything" not in outside
    assert "ReLU(x) is 0" not in outside


def test_text_is_escaped_and_backticks_become_code():
    quiz = check_yourself(Numeric("Is `a < b` for <b>bold</b>?", answer=1, explanation="`x & y`."))
    page = quiz.to_html()
    assert "<code>a &lt; b</code> for &lt;b&gt;bold&lt;/b&gt;?" in page
    assert "<code>x &amp; y</code>." in page


def test_data_attributes_round_trip_the_numbers_exactly():
    page = check_yourself(
        Numeric("0.1 + 0.2?", answer=0.1 + 0.2, tolerance=1e-12, explanation="Floats.")
    ).to_html()
    assert 'data-answer="0.30000000000000004"' in page
    assert 'data-tolerance="1e-12"' in page


def test_plain_text_lists_question_choices_and_answers():
    text = sample_quiz().to_text()
    assert text.splitlines() == [
        "Check yourself",
        f"1. {LEAF}",
        "   Answer: 2.522 (anything within ±0.001 counts). ReLU keeps a positive number as it"
        " is and turns a negative one into 0.",
        "2. Which function turns `-3` into 0?",
        "   a) ReLU",
        "   b) Softmax",
        "   c) The identity",
        "   Answer: a) ReLU.",
        "   a) right: ReLU(x) is 0 for every negative x.",
        "   b) wrong: Softmax gives positive probabilities, never 0.",
        "   c) wrong: The identity keeps -3 as it is.",
    ]


def test_exact_answer_shows_no_tolerance():
    assert Numeric("2 + 2?", answer=4, explanation="Count.").answer_text() == "4"


# --- in a browser, without a kernel ---------------------------------------------------------


@pytest.fixture(scope="module")
def page_with_quiz(tmp_path_factory):
    sync_api = pytest.importorskip("playwright.sync_api")
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("no Chromium installed")
    path = tmp_path_factory.mktemp("quiz") / "quiz.html"
    body = sample_quiz().to_html() + check_yourself(relu_choice(), title="Again").to_html()
    path.write_text(f"<!doctype html><meta charset=utf-8><body>{body}</body>", encoding="utf-8")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        page = browser.new_page()
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(path.as_uri())
        yield page, errors
        browser.close()


def feedback(question) -> tuple[str, str]:
    box = question.locator(".lbq-feedback")
    return box.get_attribute("class"), box.inner_text()


def test_numeric_answer_is_checked_within_tolerance_in_a_browser(page_with_quiz):
    page, errors = page_with_quiz
    question = page.locator(".lbq-numeric").first
    question.locator("input").fill("2.6")
    question.locator("button").click()
    assert feedback(question) == (
        "lbq-feedback lbq-wrong",
        "✗ Not quite. 2.6 is too high. Try again, or open the answer below.",
    )
    question.locator("input").fill("two")
    question.locator("button").click()
    assert "Type a number" in feedback(question)[1]
    question.locator("input").fill(" 2.523 ")  # at the edge of the tolerance
    question.locator("input").press("Enter")
    assert feedback(question) == (
        "lbq-feedback lbq-right",
        "✓ Right. ReLU keeps a positive number as it is and turns a negative one into 0.",
    )
    assert errors == []


def test_every_choice_answers_with_its_own_explanation_in_a_browser(page_with_quiz):
    page, errors = page_with_quiz
    for quiz in range(2):  # each quiz on the page is wired, once
        question = page.locator(".llmbook-quiz").nth(quiz).locator(".lbq-choice")
        radios = question.locator("input[type=radio]")
        assert radios.count() == 3
        radios.nth(1).check()
        assert feedback(question) == (
            "lbq-feedback lbq-wrong",
            "✗ Not quite. Softmax gives positive probabilities, never 0.",
        )
        radios.nth(0).check()
        assert feedback(question) == (
            "lbq-feedback lbq-right",
            "✓ Right. ReLU(x) is 0 for every negative x.",
        )
        assert question.locator("details").get_attribute("open") is None  # still folded
    assert page.locator(".lbq-form").count() == 1
    assert errors == []


# --- the chapters ----------------------------------------------------------------------------

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))


def quiz_cells(path: Path) -> list[dict]:
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    return [
        cell
        for cell in cells
        for output in cell.get("outputs", [])
        if 'class="llmbook-quiz"' in "".join(output.get("data", {}).get("text/html", ""))
    ]


def stored_questions(cell: dict) -> int:
    html_outputs = ("".join(o.get("data", {}).get("text/html", "")) for o in cell["outputs"])
    return sum(text.count('class="lbq-question ') for text in html_outputs)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_chapter_asks_at_least_three_questions(path):
    cells = quiz_cells(path)
    assert sum(map(stored_questions, cells)) >= 3, f"{path.stem}: fewer than 3 stored questions"
    shown_code = [
        c["source"][:60] for c in cells if "remove-input" not in c["metadata"].get("tags", [])
    ]
    assert shown_code == [], f"{path.stem}: tag the question cells remove-input: {shown_code}"
