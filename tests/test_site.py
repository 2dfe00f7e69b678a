"""Checks of the built site (`make site` first): offline, light, and interactive without a kernel.

Marked `site`: `make test` runs them after building the book.
"""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
from new_chapter import repository_url  # noqa: E402
from reader_notebooks import READER_BRANCH  # noqa: E402

HTML = ROOT / "_build" / "html"
SCREENSHOTS = ROOT / "_build" / "screenshots"
MAX_PAGE_BYTES = 2_000_000

pytestmark = pytest.mark.site


def pages() -> list[Path]:
    if not (HTML / "index.html").exists():
        pytest.fail("the site is not built: run `make site` first")
    return sorted(HTML.rglob("*.html"))


def chapter_pages() -> list[Path]:
    return [p for p in pages() if p.parent.name == "notebooks"]


def test_every_chapter_was_built():
    built = {p.stem for p in chapter_pages()}
    on_disk = {p.stem for p in (ROOT / "notebooks").glob("*.ipynb")}
    assert built == on_disk


def test_no_page_is_heavier_than_2_mb():
    heavy = {p.name: p.stat().st_size for p in pages() if p.stat().st_size > MAX_PAGE_BYTES}
    assert heavy == {}


def test_scripts_are_all_local():
    for page in pages():
        sources = re.findall(r'<script[^>]*\ssrc="([^"]+)"', page.read_text(encoding="utf-8"))
        remote = [s for s in sources if re.match(r"(https?:)?//", s)]
        assert remote == [], f"{page.name} loads {remote}"


def test_mathjax_is_self_hosted():
    assert (HTML / "_static" / "mathjax" / "tex-mml-chtml.js").exists()
    page = (HTML / "notebooks" / "01_simple_neural_network.html").read_text(encoding="utf-8")
    assert 'src="../_static/mathjax/tex-mml-chtml.js' in page


def test_chapter_pages_offer_colab_and_download():
    for page in chapter_pages():
        text = page.read_text(encoding="utf-8")
        repo = repository_url(ROOT).removeprefix("https://github.com/")
        # Colab opens the reader notebook (plain Markdown), published on the reader branch
        reader = f"blob/{READER_BRANCH}/notebooks/{page.stem}.ipynb"
        colab = f"colab.research.google.com/github/{repo}/{reader}"
        assert colab in text, f"{page.name}: no Colab launch link to the reader notebook"
        assert f'href="../_sources/notebooks/{page.stem}.ipynb"' in text, (
            f"{page.name}: no download link"
        )


def test_static_widgets_reference_nothing_external():
    for page in chapter_pages():
        text = page.read_text(encoding="utf-8")
        widgets = re.findall(r'<div class="llmbook-explore".*?</div></div>', text, flags=re.S)
        assert widgets, f"{page.name} has no static widget"
        for widget in widgets:
            assert not re.search(r"(src|href)=\"(https?:)?//", widget)
        assert "application/vnd.jupyter.widget-view+json" not in text


# --- in a real browser ---------------------------------------------------------------------


def chromium_path() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        args = [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ]
        try:
            chosen = chromium_path()
            launched = (
                p.chromium.launch(executable_path=chosen, args=args)
                if chosen
                else p.chromium.launch(args=args)
            )
        except Exception as exc:  # any launch failure gets the same advice
            pytest.fail(
                f"no usable Chromium for the browser tests ({exc}). Install Debian's 'chromium' "
                "package (apt-get install chromium) or run "
                "'.venv/bin/python -m playwright install chromium'."
            )
        yield launched
        launched.close()


@pytest.mark.parametrize("name", sorted(p.stem for p in (ROOT / "notebooks").glob("*.ipynb")))
def test_chapter_page_in_a_browser(browser, name):
    page_path = HTML / "notebooks" / f"{name}.html"
    page = browser.new_page(viewport={"width": 1100, "height": 1400})
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.goto(page_path.as_uri())
    page.wait_for_load_state("load")
    page.wait_for_function("document.querySelectorAll('mjx-container').length > 0", timeout=20_000)

    explorers = page.locator(".llmbook-explore")
    assert explorers.count() >= 1
    for k in range(explorers.count()):
        box = explorers.nth(k)
        box.scroll_into_view_if_needed()
        before = box.locator(".lbx-frame:not([hidden])").get_attribute("data-index")
        move_first_control(box)
        after = box.locator(".lbx-frame:not([hidden])").get_attribute("data-index")
        assert before != after, f"{name}: widget {k} did not change frame"
        assert box.locator(".lbx-frame:not([hidden])").count() == 1

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))
    external = [u for u in requests if not u.startswith(("file:", "data:"))]
    assert external == [], f"{name} made network requests: {external}"
    page.close()


def move_first_control(box) -> None:
    """Change the first control of a static widget the way a reader would."""
    control = box.locator("[data-control], [data-stride]").first
    kind = control.evaluate("c => c.tagName.toLowerCase() + ':' + (c.type || '')")
    if kind == "input:range":
        top = int(control.get_attribute("max"))
        current = int(control.input_value())
        control.fill(str(top if current != top else 0))
    elif kind.startswith("select"):
        options = control.locator("option")
        current = control.input_value()
        values = [options.nth(i).get_attribute("value") for i in range(options.count())]
        control.select_option(next(v for v in values if v != current))
    else:
        control.click()


# --- what the reader sees first, and long code folded ------------------------------------------
#
# A chapter page opens with its title: no code cell (not even a folded "Show code cell source"
# bar) comes before the first heading. A code cell of more than MAX_UNFOLDED_LINES lines is folded
# (the cell tags `hide-input` or `hide-cell`, or the cell sits inside a dropdown) unless it is
# the subject of its section, marked by the cell tag `subject` (README, "Writing and refreshing
# chapters").

MAX_UNFOLDED_LINES = 20
FOLDING_TAGS = {"tag_hide-input", "tag_hide-cell", "tag_subject"}


def article(page: Path):
    bs4 = pytest.importorskip("bs4")
    soup = bs4.BeautifulSoup(page.read_text(encoding="utf-8"), "html.parser")
    return soup.find("article", class_="bd-article")


def code_before_first_heading(page: Path) -> list[str]:
    """The first lines of every code cell that stands above the page's first heading."""
    body = article(page)
    heading = body.find(["h1", "h2", "h3"])
    shown = []
    for cell in body.find_all("div", class_="cell_input"):
        if heading is None or cell in heading.find_all_previous("div", class_="cell_input"):
            shown.append(cell.get_text().strip().splitlines()[0][:60])
    return shown


def is_folded(cell) -> bool:
    """Whether a code cell's source is folded on the page (or marked as the section's subject)."""
    if FOLDING_TAGS & set(cell.get("class", [])):
        return True
    return any(
        parent.name == "details" or "dropdown" in parent.get("class", []) for parent in cell.parents
    )


def long_unfolded_cells(page: Path) -> list[str]:
    """'first line (N lines)' for each code cell shown open with more than the allowed lines."""
    found = []
    for cell in article(page).find_all("div", class_="cell"):
        source = cell.find("div", class_="cell_input")
        if source is None or is_folded(cell):
            continue
        lines = source.get_text().strip("\n").splitlines()
        if len(lines) > MAX_UNFOLDED_LINES:
            found.append(f"{lines[0][:60]!r} ({len(lines)} lines)")
    return found


@pytest.mark.parametrize("name", sorted(p.stem for p in (ROOT / "notebooks").glob("*.ipynb")))
def test_chapter_page_opens_with_its_title_not_code(name):
    shown = code_before_first_heading(HTML / "notebooks" / f"{name}.html")
    assert shown == [], f"{name} shows code above its title: {shown}"


@pytest.mark.parametrize("name", sorted(p.stem for p in (ROOT / "notebooks").glob("*.ipynb")))
def test_long_code_cells_are_folded_unless_they_are_the_subject(name):
    long_cells = long_unfolded_cells(HTML / "notebooks" / f"{name}.html")
    assert long_cells == [], (
        f"{name} shows long code cells open: {long_cells}; tag them hide-input (or subject "
        "if the code is what the section teaches)"
    )


# --- clean pages, phone width, alt text, questions that answer back ---------------------------

PHONE = {"width": 390, "height": 844}
IMAGE_FILE = re.compile(r"(^|/)[\w.-]+\.(png|jpe?g|gif|svg|webp)$", re.I)


def reader_pages() -> list[Path]:
    """Every page a reader can open (not the theme's or Sphinx's own files, nor redirects)."""
    hidden = {"_static", "_sources", "_images", "_sphinx_design_static"}
    return [
        p
        for p in pages()
        if not hidden & set(p.relative_to(HTML).parts)
        and 'http-equiv="refresh"' not in p.read_text(encoding="utf-8")[:2000].lower()
    ]


def reader_page_names() -> list[str]:
    if not (HTML / "index.html").exists():
        return ["index.html"]  # lets collection pass; the test then says the site is not built
    return [str(p.relative_to(HTML)) for p in reader_pages()]


def open_quietly(browser, page_path: Path, viewport: dict[str, int]):
    """Open a page and record what went wrong: console errors, page errors, failed loads,
    and every request that leaves the disk."""
    page = browser.new_page(viewport=viewport)
    problems: list[str] = []
    page.on(
        "console", lambda m: problems.append(f"console: {m.text}") if m.type == "error" else None
    )
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.on("requestfailed", lambda r: problems.append(f"failed to load: {r.url}"))
    page.on(
        "request",
        lambda r: (
            None if r.url.startswith(("file:", "data:")) else problems.append(f"request: {r.url}")
        ),
    )
    page.goto(page_path.as_uri())
    page.wait_for_load_state("load")
    return page, problems


@pytest.mark.parametrize("name", reader_page_names())
def test_page_logs_no_error_and_loads_everything_from_disk(browser, name):
    page, problems = open_quietly(browser, HTML / name, {"width": 1100, "height": 1400})
    page.wait_for_timeout(500)  # late errors: async scripts, MathJax
    page.close()
    assert problems == [], f"{name}: {problems}"


OVERFLOW_JS = """() => {
  const width = document.documentElement.clientWidth;
  const scrollsInside = (el) => {
    for (let a = el.parentElement; a && !a.matches('article'); a = a.parentElement) {
      const x = getComputedStyle(a).overflowX;
      const fits = a.getBoundingClientRect().right <= width + 1;
      if ((x === 'auto' || x === 'scroll') && fits) return true;
    }
    return false;
  };
  const clipped = [];
  const selector = 'code, pre, table, img, .cell_output, .llmbook-explore, .llmbook-quiz';
  for (const el of document.querySelectorAll('article.bd-article :is(' + selector + ')')) {
    const box = el.getBoundingClientRect();
    const inside = box.right <= width + 1 && box.left >= -1;
    if (box.width === 0 || inside || scrollsInside(el)) continue;
    const text = el.textContent.trim().slice(0, 50);
    clipped.push(`${el.tagName.toLowerCase()}.${el.className} "${text}"`
                 + ` spans ${Math.round(box.left)}..${Math.round(box.right)} px`);
  }
  return {page: document.documentElement.scrollWidth, width, clipped};
}"""


@pytest.mark.parametrize("name", reader_page_names())
def test_page_fits_a_phone_screen(browser, name):
    page, _ = open_quietly(browser, HTML / name, PHONE)
    found = page.evaluate(OVERFLOW_JS)
    page.close()
    assert found["page"] <= found["width"], (
        f"{name} is {found['page']} px wide on a {found['width']} px screen: {found['clipped']}"
    )
    assert found["clipped"] == [], f"{name} cuts off at 390 px: {found['clipped']}"


def test_every_image_says_what_it_shows():
    bs4 = pytest.importorskip("bs4")
    missing: dict[str, list[str]] = {}
    count = 0
    for page in reader_pages():
        soup = bs4.BeautifulSoup(page.read_text(encoding="utf-8"), "html.parser")
        for img in soup.find_all("img"):
            count += 1
            alt = (img.get("alt") or "").strip()
            if not alt or IMAGE_FILE.search(alt):
                where = img.get("src", "")
                where = "data: URL" if where.startswith("data:") else where
                missing.setdefault(page.name, []).append(f"{where[-20:]} (alt {alt[-20:]!r})")
    assert count > 0
    summary = {name: f"{len(found)}, e.g. {found[0]}" for name, found in missing.items()}
    assert summary == {}, (
        f"images without a meaningful alt (of {count}): {summary}. A figure takes its alt from "
        "its title (llmbook.plotting.figure_alt): re-execute the chapter, or give the figure a "
        "title or llmbook.plotting.describe(fig, ...)"
    )


def first_question(page):
    question = page.locator(".llmbook-quiz .lbq-question").first
    question.scroll_into_view_if_needed()
    return question


def feedback_of(question) -> tuple[str, str]:
    box = question.locator(".lbq-feedback")
    return " ".join(box.get_attribute("class").split()), box.inner_text()


def answer_wrongly_then_rightly(question) -> list[tuple[str, str]]:
    """Answer a question as a reader would, first wrongly, then rightly; the feedback each time."""
    seen = []
    if "lbq-numeric" in question.get_attribute("class"):
        answer = float(question.get_attribute("data-answer"))
        tolerance = float(question.get_attribute("data-tolerance"))
        wrong = answer + max(1.0, 10 * tolerance, abs(answer))
        for typed in (repr(wrong), question.get_attribute("data-answer")):
            question.locator("input").fill(typed)
            question.locator("button").click()
            seen.append(feedback_of(question))
        explanation = question.locator(".lbq-explanation").inner_text()
        return [*seen, ("explanation", explanation)]
    right = int(question.get_attribute("data-correct"))
    wrong = 0 if right != 0 else 1
    reasons = question.locator(".lbq-why")
    for choice in (wrong, right):
        question.locator("input[type=radio]").nth(choice).check()
        seen.append(feedback_of(question))
    return [
        *seen,
        ("explanations", reasons.nth(wrong).inner_text(), reasons.nth(right).inner_text()),
    ]


@pytest.mark.parametrize("name", sorted(p.stem for p in (ROOT / "notebooks").glob("*.ipynb")))
def test_a_question_answers_back_without_a_kernel(browser, name):
    page, problems = open_quietly(browser, HTML / "notebooks" / f"{name}.html", PHONE)
    assert page.locator(".llmbook-quiz .lbq-question").count() >= 3, (
        f"{name}: fewer than 3 questions"
    )
    question = first_question(page)
    assert question.locator(".lbq-feedback").is_hidden()
    (wrong_class, wrong_text), (right_class, right_text), explained = answer_wrongly_then_rightly(
        question
    )
    assert wrong_class == "lbq-feedback lbq-wrong" and wrong_text.startswith("✗ Not quite.")
    assert right_class == "lbq-feedback lbq-right" and right_text.startswith("✓ Right.")
    if explained[0] == "explanation":  # a number: the explanation comes with the right answer
        assert explained[1] in right_text
    else:  # a choice: each answer brings its own explanation
        assert explained[1] in wrong_text and explained[2] in right_text
    assert question.locator("details").get_attribute("open") is None, "the answer unfolded itself"
    page.close()
    assert problems == [], f"{name}: {problems}"


# --- chapter 16's budget explorer: every control moves the picture ----------------------------


def test_budget_explorer_moves_with_each_of_its_controls(browser):
    chapter = HTML / "notebooks" / "16_generation_and_scale.html"
    page, problems = open_quietly(browser, chapter, {"width": 1100, "height": 1400})
    box = page.locator(".llmbook-explore", has=page.locator('[data-name="log10_budget"]'))
    assert box.count() == 1, "chapter 16 has no budget explorer"
    box.scroll_into_view_if_needed()

    def shown():
        frame = box.locator(".lbx-frame:not([hidden])")
        assert frame.count() == 1
        return frame.get_attribute("data-index"), frame.get_attribute("alt")

    controls = box.locator("[data-control]")
    names = [controls.nth(k).get_attribute("data-name") for k in range(controls.count())]
    assert names == ["log10_budget", "log10_ratio"]
    moves = {"log10_budget": ("0", "18.0"), "log10_ratio": ("14", "3.50")}  # to 10^18, 10^3.5
    for k, name in enumerate(names):
        control = controls.nth(k)
        before = shown()
        position, label = moves[name]
        control.fill(position)
        after = shown()
        assert after[0] != before[0], f"moving {name} did not change the frame"
        readout = control.locator("xpath=following-sibling::output").inner_text()
        assert readout == label, f"{name} reads {readout!r} at position {position}"
        assert f"^ {label}" in after[1], f"the frame shown is not {name} = {label}: {after[1]}"
    page.close()
    assert problems == [], problems


# --- the explorers of chapters 9 to 12, control by control -------------------------------------
#
# These read the explorer states stored in the notebooks (no site build needed) and drive the
# site's HTML for them in Chromium: each control, moved alone, must show another frame.

NEW_EXPLORERS = [
    ("09_layer_normalization", "c9deepex"),
    ("10_dropout", "c10avgex"),
    ("11_multi_head_attention", "c11fewex"),
    ("12_positional_encoding", "c12permx"),
]


def stored_explorer_html(name: str, cell_id: str) -> str:
    import json

    from llmbook.widgets import MIME_TYPE, explorer_html

    nb = json.loads((ROOT / "notebooks" / f"{name}.ipynb").read_text(encoding="utf-8"))
    (cell,) = [c for c in nb["cells"] if c.get("id") == cell_id]
    (output,) = [o for o in cell["outputs"] if MIME_TYPE in o.get("data", {})]
    return explorer_html(output["data"][MIME_TYPE])


def move_control(control) -> None:
    """Set one static control to another value, as a reader would."""
    kind = control.evaluate("c => c.tagName.toLowerCase() + ':' + (c.type || '')")
    if kind == "input:range":
        top = int(control.get_attribute("max"))
        control.fill(str(top if int(control.input_value()) != top else 0))
    elif kind.startswith("select"):
        options = control.locator("option")
        current = control.input_value()
        values = [options.nth(i).get_attribute("value") for i in range(options.count())]
        # by index: a value string also matches an option's label ("1" is the label of value 0)
        control.select_option(index=next(i for i, v in enumerate(values) if v != current))
    else:
        control.click()


@pytest.mark.parametrize(("name", "cell_id"), NEW_EXPLORERS)
def test_every_control_of_the_new_explorers_changes_the_frame(browser, name, cell_id):
    markup = stored_explorer_html(name, cell_id)
    page = browser.new_page(viewport={"width": 1100, "height": 900})
    page.set_content(f"<html><body>{markup}</body></html>")
    count = page.locator(".llmbook-explore [data-control]").count()
    assert count >= 2, f"{name}: expected at least two controls, found {count}"
    for k in range(count):
        page.set_content(f"<html><body>{markup}</body></html>")  # every control from the start
        box = page.locator(".llmbook-explore")
        before = box.locator(".lbx-frame:not([hidden])").get_attribute("data-index")
        move_control(box.locator("[data-control]").nth(k))
        after = box.locator(".lbx-frame:not([hidden])").get_attribute("data-index")
        assert before != after, f"{name}: control {k} did not change the frame"
        assert box.locator(".lbx-frame:not([hidden])").count() == 1


# --- chapter 13's "follow one token" explorer ------------------------------------------------


def test_follow_one_token_moves_with_every_control(browser):
    """Prompt, position and step each change the frame; the step walks embeddings to sampler."""
    page = browser.new_page(viewport={"width": 1100, "height": 1400})
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.goto((HTML / "notebooks" / "13_gpt.html").as_uri())
    page.wait_for_load_state("load")
    box = page.locator(".llmbook-explore", has=page.locator('[data-name="step"]')).first
    box.scroll_into_view_if_needed()

    def shown() -> tuple[str | None, str]:
        frame = box.locator(".lbx-frame:not([hidden])")
        assert frame.count() == 1
        return frame.get_attribute("data-index"), frame.inner_text()

    step = box.locator('[data-name="step"]')
    _, first_text = shown()
    assert "Embeddings" in first_text
    step.fill(str(int(step.get_attribute("max"))))
    _, last_text = shown()
    assert "The sampler" in last_text and "temperature 0.5" in last_text
    for name in ("prompt", "position", "step"):
        before = shown()[0]
        control = box.locator(f'[data-name="{name}"]')
        if name == "prompt":
            values = control.locator("option").evaluate_all("os => os.map(o => o.value)")
            control.select_option(next(v for v in values if v != control.input_value()))
        else:
            top = int(control.get_attribute("max"))
            control.fill(str(0 if int(control.input_value()) == top else top))
        assert shown()[0] != before, f"moving {name} did not change the frame"
    assert [u for u in requests if not u.startswith(("file:", "data:"))] == []
    page.close()
