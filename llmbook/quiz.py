"""Check yourself: short questions that answer back, live in Jupyter/Colab and on the static site.

Used at the end of the main sections of every chapter::

    check_yourself(
        Numeric("The leaf's hidden values are (-26.598, 2.522, -47.094). After ReLU, what is "
                "the middle one?", answer=2.522, tolerance=0.001,
                explanation="ReLU keeps a positive number and turns a negative one into 0."),
        MultipleChoice("Which function keeps positive numbers and turns negative ones into 0?", [
            Option("ReLU", "ReLU(x) is x for x > 0 and 0 otherwise.", correct=True),
            Option("Softmax", "Softmax turns a list of numbers into probabilities."),
        ]),
    )

The result displays as one self-contained ``text/html`` output, built as progressive
enhancement:

* where scripts run (the book's site, a trusted notebook in JupyterLab, Colab or VS Code), a few
  lines of inline JavaScript add an answer box to each numeric question (checked within its
  tolerance) and a radio button to each choice, and show the matching feedback at once: for a
  choice, the explanation of the chosen option, right or wrong;
* where scripts and styles are stripped (GitHub, an untrusted notebook), each question still reads
  well: its text, its choices, and the answer with every explanation folded in ``<details>``.

In both, the answer stays folded until the reader asks for it. Nothing is fetched from anywhere,
and nothing needs MathJax: question texts are plain text (Unicode is fine) in which
```backticks``` mark code. The output is deterministic (ids are derived from the content), so
stored notebooks pass strict nbval. A ``text/plain`` version goes along for plain front ends.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from llmbook.widgets import _check_number  # the explorers' check: a finite real number

__all__ = ["MultipleChoice", "Numeric", "Option", "Quiz", "check_yourself"]


def _check_text(where: str, what: str, value: object) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{where}: {what} must be a string, got {value!r}")
    if not value.strip():
        raise ValueError(f"{where}: {what} must not be empty")
    return value.strip()


def _short(text: str, limit: int = 40) -> str:
    """The start of a question, to name it in an error message."""
    return repr(text if len(text) <= limit else text[: limit - 3] + "...")


def _number_text(value: float) -> str:
    """A number as a reader types it: 2.522, 0.1, 40, 1e-07."""
    return f"{value:.10g}"


def _inline(text: str) -> str:
    """Plain text to HTML: escaped, with `backticks` as code."""
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", html.escape(text, quote=False))


@dataclass(frozen=True)
class Numeric:
    """A question whose answer is a number; any answer within ``tolerance`` counts as right.

    ``explanation`` says how to get the answer; ``hint`` (optional) is shown after a wrong try.
    """

    text: str
    answer: float
    tolerance: float = 0.0
    explanation: str = field(kw_only=True)
    hint: str = field(default="", kw_only=True)

    def __post_init__(self) -> None:
        text = _check_text("Numeric", "the question text", self.text)
        where = f"Numeric {_short(text)}"
        object.__setattr__(self, "text", text)
        object.__setattr__(self, "answer", _check_number(where, "answer", self.answer))
        tolerance = _check_number(where, "tolerance", self.tolerance)
        if tolerance < 0:
            raise ValueError(f"{where}: tolerance must be >= 0, got {self.tolerance!r}")
        object.__setattr__(self, "tolerance", tolerance)
        object.__setattr__(self, "explanation", _check_text(where, "explanation", self.explanation))
        if not isinstance(self.hint, str):
            raise TypeError(f"{where}: hint must be a string, got {self.hint!r}")
        object.__setattr__(self, "hint", self.hint.strip())

    def answer_text(self) -> str:
        """The answer as the page shows it, e.g. ``2.522 (anything within ±0.001 counts)``."""
        shown = _number_text(self.answer)
        if self.tolerance > 0:
            shown += f" (anything within ±{_number_text(self.tolerance)} counts)"
        return shown


@dataclass(frozen=True)
class Option:
    """One choice of a multiple-choice question, with why it is right or wrong."""

    text: str
    explanation: str
    correct: bool = False

    def __post_init__(self) -> None:
        text = _check_text("Option", "the option text", self.text)
        object.__setattr__(self, "text", text)
        where = f"Option {_short(text)}"
        object.__setattr__(self, "explanation", _check_text(where, "explanation", self.explanation))
        if not isinstance(self.correct, bool):
            raise TypeError(f"{where}: correct must be True or False, got {self.correct!r}")


@dataclass(frozen=True)
class MultipleChoice:
    """A question with two or more options, exactly one of them correct."""

    text: str
    options: Sequence[Option]

    def __post_init__(self) -> None:
        text = _check_text("MultipleChoice", "the question text", self.text)
        where = f"MultipleChoice {_short(text)}"
        object.__setattr__(self, "text", text)
        if isinstance(self.options, (str, Option)) or not isinstance(self.options, Sequence):
            raise TypeError(f"{where}: options must be a list of Option, got {self.options!r}")
        options = tuple(self.options)
        wrong_type = [o for o in options if not isinstance(o, Option)]
        if wrong_type:
            raise TypeError(f"{where}: every option must be an Option, got {wrong_type[0]!r}")
        if len(options) < 2:
            raise ValueError(f"{where}: needs at least 2 options, got {len(options)}")
        texts = [o.text for o in options]
        repeated = sorted({t for t in texts if texts.count(t) > 1})
        if repeated:
            raise ValueError(f"{where}: option texts must differ, repeated: {repeated}")
        correct = sum(o.correct for o in options)
        if correct != 1:
            raise ValueError(f"{where}: exactly one option must have correct=True, got {correct}")
        object.__setattr__(self, "options", options)

    @property
    def correct_index(self) -> int:
        return next(i for i, option in enumerate(self.options) if option.correct)


Question = Numeric | MultipleChoice

LETTERS = "abcdefghijklmnopqrstuvwxyz"

STYLE = """\
.llmbook-quiz{border:1px solid rgba(127,127,127,.45);border-radius:6px;padding:.6em .9em;\
margin:1em 0;max-width:100%;box-sizing:border-box;overflow-wrap:anywhere}
.llmbook-quiz .lbq-title{font-weight:bold;margin:0 0 .4em}
.llmbook-quiz .lbq-question{margin:.7em 0}
.llmbook-quiz .lbq-text{margin:.2em 0}
.llmbook-quiz ol.lbq-options{margin:.3em 0;padding-left:1.8em}
.llmbook-quiz ol.lbq-options label{cursor:pointer}
.llmbook-quiz ol.lbq-options input{margin-right:.4em}
.llmbook-quiz .lbq-form{display:flex;flex-wrap:wrap;gap:.4em;margin:.3em 0}
.llmbook-quiz .lbq-form input{width:9em;max-width:100%;font:inherit;padding:.15em .3em}
.llmbook-quiz .lbq-form button{font:inherit;padding:.15em .7em;cursor:pointer}
.llmbook-quiz .lbq-feedback{margin:.3em 0;padding:.3em .5em;border-radius:4px}
.llmbook-quiz .lbq-right{background:rgba(47,133,90,.18);border-left:4px solid #2f855a}
.llmbook-quiz .lbq-wrong{background:rgba(197,48,48,.15);border-left:4px solid #c53030}
.llmbook-quiz details{margin:.3em 0}
.llmbook-quiz summary{cursor:pointer}
"""

# Wires every quiz on the page that is not wired yet (the site runs one copy of this per quiz
# output; Colab runs each output in its own frame). Plain ES2015, no libraries.
SCRIPT = """\
(function () {
  function parse(s) {
    s = s.replace(/[\\u2212\\u2012\\u2013]/g, "-").replace(/[\\s_]/g, "");
    return /^[-+]?(\\d+\\.?\\d*|\\.\\d+)([eE][-+]?\\d+)?$/.test(s) ? parseFloat(s) : NaN;
  }
  function say(q, right, text) {
    var out = q.querySelector(".lbq-feedback");
    out.hidden = false;
    out.className = "lbq-feedback " + (right ? "lbq-right" : "lbq-wrong");
    out.innerHTML = "";
    var verdict = document.createElement("strong");
    verdict.textContent = right ? "\\u2713 Right. " : "\\u2717 Not quite. ";
    out.appendChild(verdict);
    out.appendChild(text);
  }
  function span(html) {
    var s = document.createElement("span");
    s.innerHTML = html;
    return s;
  }
  function numeric(q) {
    var form = document.createElement("form");
    form.className = "lbq-form";
    var box = document.createElement("input");
    box.type = "text";
    box.setAttribute("inputmode", "decimal");
    box.setAttribute("autocomplete", "off");
    box.setAttribute("aria-label", "Your answer");
    box.placeholder = "your answer";
    var check = document.createElement("button");
    check.type = "submit";
    check.textContent = "Check";
    form.appendChild(box);
    form.appendChild(check);
    q.querySelector(".lbq-text").after(form);
    var answer = parseFloat(q.dataset.answer), tol = parseFloat(q.dataset.tolerance);
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var x = parse(box.value);
      if (isNaN(x)) {
        say(q, false, span("Type a number, such as 2.5 or -0.25."));
      } else if (Math.abs(x - answer) <= tol + 1e-9 * Math.max(1, Math.abs(answer))) {
        say(q, true, span(q.querySelector(".lbq-explanation").innerHTML));
      } else {
        var side = x > answer ? "too high" : "too low";
        var hint = q.dataset.hint ? q.dataset.hint + " " : "";
        var text = document.createElement("span");
        text.textContent = box.value.trim() + " is " + side + ". " + hint +
          "Try again, or open the answer below.";
        say(q, false, text);
      }
    });
  }
  function choice(q, quizId, k) {
    var why = q.querySelectorAll(".lbq-why");
    q.querySelectorAll("ol.lbq-options > li").forEach(function (li, i) {
      var label = document.createElement("label");
      var radio = document.createElement("input");
      radio.type = "radio";
      radio.name = quizId + "-q" + k;
      radio.value = String(i);
      label.appendChild(radio);
      while (li.firstChild) label.appendChild(li.firstChild);
      li.appendChild(label);
      radio.addEventListener("change", function () {
        say(q, i === parseInt(q.dataset.correct, 10), span(why[i].innerHTML));
      });
    });
  }
  document.querySelectorAll(".llmbook-quiz:not([data-ready])").forEach(function (quiz) {
    quiz.setAttribute("data-ready", "");
    quiz.querySelectorAll(".lbq-question").forEach(function (q, k) {
      if (q.classList.contains("lbq-numeric")) numeric(q);
      else choice(q, quiz.id, k);
    });
  });
})();
"""


def _question_id(quiz_id: str, k: int) -> str:
    return f"{quiz_id}-q{k}"


def _numeric_html(question: Numeric, number: int) -> str:
    hint = f' data-hint="{html.escape(question.hint)}"' if question.hint else ""
    return (
        f'<div class="lbq-question lbq-numeric" data-answer="{question.answer!r}" '
        f'data-tolerance="{question.tolerance!r}"{hint}>\n'
        f'<p class="lbq-text"><strong>{number}.</strong> {_inline(question.text)}</p>\n'
        '<p class="lbq-feedback" role="status" aria-live="polite" hidden></p>\n'
        "<details><summary>Show the answer</summary>\n"
        f"<p><strong>Answer: {html.escape(question.answer_text())}.</strong> "
        f'<span class="lbq-explanation">{_inline(question.explanation)}</span></p>\n'
        "</details>\n</div>"
    )


def _choice_html(question: MultipleChoice, number: int) -> str:
    options = "\n".join(f"<li>{_inline(o.text)}</li>" for o in question.options)
    # The reasons name each option by its text: a list's letters may not survive sanitizers.
    reasons = "\n".join(
        f"<li>{_inline(o.text)}: <strong>{'right' if o.correct else 'wrong'}.</strong> "
        f'<span class="lbq-why">{_inline(o.explanation)}</span></li>'
        for o in question.options
    )
    right = question.correct_index
    return (
        f'<div class="lbq-question lbq-choice" data-correct="{right}">\n'
        f'<p class="lbq-text"><strong>{number}.</strong> {_inline(question.text)}</p>\n'
        f'<ol class="lbq-options" type="a">\n{options}\n</ol>\n'
        '<p class="lbq-feedback" role="status" aria-live="polite" hidden></p>\n'
        "<details><summary>Show the answer</summary>\n"
        f"<p><strong>Answer: {_inline(question.options[right].text)}</strong></p>\n"
        f'<ul class="lbq-reasons">\n{reasons}\n</ul>\n'
        "</details>\n</div>"
    )


def _plain(question: Question, number: int) -> list[str]:
    lines = [f"{number}. {question.text}"]
    if isinstance(question, Numeric):
        lines.append(f"   Answer: {question.answer_text()}. {question.explanation}")
        return lines
    lines += [f"   {LETTERS[i]}) {o.text}" for i, o in enumerate(question.options)]
    right = question.correct_index
    lines.append(f"   Answer: {LETTERS[right]}) {question.options[right].text}.")
    lines += [
        f"   {LETTERS[i]}) {'right' if o.correct else 'wrong'}: {o.explanation}"
        for i, o in enumerate(question.options)
    ]
    return lines


@dataclass(frozen=True)
class Quiz:
    """Questions that display as one self-contained HTML block (see the module docstring)."""

    questions: tuple[Question, ...]
    title: str = "Check yourself"

    @property
    def quiz_id(self) -> str:
        """An id derived from the content: the same questions give the same page, always."""
        content = json.dumps([self.title, *map(repr, self.questions)], ensure_ascii=False)
        return "lbq-" + hashlib.sha256(content.encode("utf-8")).hexdigest()[:12]

    def to_html(self) -> str:
        blocks = [
            _numeric_html(q, n) if isinstance(q, Numeric) else _choice_html(q, n)
            for n, q in enumerate(self.questions, start=1)
        ]
        body = "\n".join(blocks)
        return (
            f'<section class="llmbook-quiz" id="{self.quiz_id}" '
            f'aria-label="{html.escape(self.title)}">\n'
            f"<style>\n{STYLE}</style>\n"
            f'<p class="lbq-title">{html.escape(self.title)}</p>\n'
            f"{body}\n<script>\n{SCRIPT}</script>\n</section>"
        )

    def to_text(self) -> str:
        lines = [self.title]
        for number, question in enumerate(self.questions, start=1):
            lines += _plain(question, number)
        return "\n".join(lines)

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict[str, str]:
        return {"text/html": self.to_html(), "text/plain": self.to_text()}


def check_yourself(*questions: Question, title: str = "Check yourself") -> Quiz:
    """Questions for the end of a section; the result displays as a quiz (see the module doc)."""
    if not questions:
        raise ValueError("check_yourself: give at least one Numeric or MultipleChoice question")
    for k, question in enumerate(questions, start=1):
        if not isinstance(question, (Numeric, MultipleChoice)):
            raise TypeError(
                f"check_yourself: question {k} must be a Numeric or MultipleChoice, "
                f"got {question!r}"
            )
    return Quiz(tuple(questions), _check_text("check_yourself", "title", title))
