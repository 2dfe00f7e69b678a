"""Chapter 1 as a reader meets it in JupyterLab: a fresh, untrusted copy that nobody has run.

Starts the venv's JupyterLab on 127.0.0.1 with a token and a throw-away data folder (so no trust
signature exists), opens the committed chapter in headless Chromium, and checks what the page
shows: MyST rendered by jupyterlab-myst (callouts, exercises, folded solutions, no raw `:::{`),
and each explorer as exactly one figure with no error text. A screenshot goes to
_build/jupyterlab/. The server is stopped at the end, and stops itself after 10 idle minutes.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHAPTER = ROOT / "notebooks" / "01_simple_neural_network.ipynb"
SCREENSHOTS = ROOT / "_build" / "jupyterlab"
TOKEN = "llmbook-test-token"
START_TIMEOUT_S = 90
ERROR_TEXT = re.compile(r"Error displaying widget|model not found|Traceback|Error:", re.IGNORECASE)

pytestmark = pytest.mark.jupyterlab


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_serving(url: str, server: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"JupyterLab exited with {server.returncode}: {log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if json.load(response).get("started"):
                    return
        except OSError:
            time.sleep(0.5)
    pytest.fail(f"JupyterLab did not answer within {START_TIMEOUT_S} s: {log.read_text()[-2000:]}")


def run_and_save(chapter: Path, target: Path) -> None:
    """The chapter as a reader leaves it: run with live widgets, saved with the widget state.

    `make lab` sets JupyterLab to save the widget state (tools/jupyterlab/overrides.json), as
    `jupyter execute` does here (in its own process: its event loop must not be this one's,
    which Playwright's sync API needs free).
    """
    import nbformat

    env = {k: v for k, v in os.environ.items() if k != "LLMBOOK_EXPLORER_FRAMES"}  # live widgets
    done = subprocess.run(
        [sys.executable, "-m", "jupyter", "execute", f"--output={target}", str(chapter)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    nb = nbformat.read(target, as_version=4)
    assert "widgets" in nb.metadata, "the saved chapter holds its widget state"


@contextmanager
def serving(home: Path, notebook: Path) -> Iterator[str]:
    """The URL of a JupyterLab, set up as `make lab` sets it, serving an untrusted `notebook`."""
    notebooks, settings = home / "notebooks", home / "settings"
    notebooks.mkdir(exist_ok=True)
    # render every cell, not only those scrolled into view (JupyterLab 4 windowing)
    tracker = settings / "@jupyterlab" / "notebook-extension" / "tracker.jupyterlab-settings"
    tracker.parent.mkdir(parents=True)
    tracker.write_text('{"windowingMode": "none"}')
    news = settings / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
    news.parent.mkdir(parents=True)
    news.write_text('{"fetchNews": "false", "checkForUpdates": false}')  # no pop-up, no network
    env = {
        **os.environ,
        "JUPYTER_DATA_DIR": str(home / "data"),  # an empty trust database: the copy is untrusted
        "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
        "JUPYTERLAB_SETTINGS_DIR": str(settings),
        "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces"),
    }
    port = free_port()
    command = [
        sys.executable, "-m", "jupyter", "lab", "--no-browser", "--allow-root",
        "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={TOKEN}", f"--ServerApp.root_dir={notebooks}",
        "--ServerApp.shutdown_no_activity_timeout=600",
        "--MappingKernelManager.cull_idle_timeout=600",
    ]  # fmt: skip
    log = home / "jupyterlab.log"
    with log.open("w") as out:
        server = subprocess.Popen(
            command, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(f"{base}/api/status?token={TOKEN}", server, log)
        yield f"{base}/lab/tree/{notebook.name}?token={TOKEN}"
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URL of a JupyterLab serving an untrusted copy of chapter 1, as committed."""
    home = tmp_path_factory.mktemp("lab")
    (home / "notebooks").mkdir()
    shutil.copy(CHAPTER, home / "notebooks" / CHAPTER.name)
    with serving(home, CHAPTER) as url:
        yield url


@pytest.fixture(scope="module")
def reopened_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URL of a JupyterLab reopening chapter 1 after a reader ran and saved it."""
    overrides = Path(sys.prefix) / "share" / "jupyter" / "lab" / "settings" / "overrides.json"
    saved = json.loads(overrides.read_text(encoding="utf-8"))  # installed by `make lab`
    assert saved["@jupyter-widgets/jupyterlab-manager:plugin"]["saveState"] is True
    home = tmp_path_factory.mktemp("reopened")
    (home / "notebooks").mkdir()
    saved = home / "notebooks" / CHAPTER.name
    run_and_save(CHAPTER, saved)
    # the reader's own saved notebook is trusted: JupyterLab renders its widgets, not a fallback
    trust = [sys.executable, "-m", "jupyter", "trust", str(saved)]
    env = {**os.environ, "JUPYTER_DATA_DIR": str(home / "data")}
    subprocess.run(trust, env=env, check=True, capture_output=True, timeout=120)
    with serving(home, CHAPTER) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One headless Chromium for the module (Playwright's sync API allows one at a time)."""
    sync_api = pytest.importorskip("playwright.sync_api")
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip
    with sync_api.sync_playwright() as p:
        launched = p.chromium.launch(executable_path=chromium, args=args)
        yield launched
        launched.close()


def open_page(browser: Any, url: str) -> Any:
    tab = browser.new_page(viewport={"width": 1280, "height": 1600})
    tab.set_default_timeout(60_000)
    tab.goto(url)
    tab.wait_for_selector(".jp-Notebook .myst-admonition")
    tab.wait_for_timeout(4_000)  # let the last cells, images and widget states settle
    return tab


@pytest.fixture(scope="module")
def page(browser: Any, lab: str) -> Iterator[Any]:
    tab = open_page(browser, lab)
    yield tab
    tab.close()


@pytest.fixture(scope="module")
def reopened_page(browser: Any, reopened_lab: str) -> Iterator[Any]:
    tab = open_page(browser, reopened_lab)
    yield tab
    tab.close()


def chapter_source() -> dict:
    return json.loads(CHAPTER.read_text(encoding="utf-8"))


def test_the_chapter_opens_untrusted(page):
    trust = page.locator(".jp-StatusItem-trust").get_attribute("title")
    assert trust.startswith("Notebook not trusted"), trust


def test_myst_renders_callouts_exercises_and_folded_solutions(page):
    markdown = "\n".join(
        "".join(c["source"]) for c in chapter_source()["cells"] if c["cell_type"] == "markdown"
    )
    text = page.locator(".jp-Notebook").inner_text()
    assert ":::{" not in text and "{cite}" not in text
    callouts = len(re.findall(r"^:{3,}\{(admonition|note|tip|warning|important)\}", markdown, re.M))
    exercises = markdown.count("{exercise}")
    solutions = markdown.count("{solution}")
    assert page.locator("aside.myst-admonition").count() == callouts
    assert page.locator("aside.myst-exercise").count() == exercises
    folded = page.locator("details.myst-exercise")
    assert folded.count() == solutions
    assert all(folded.nth(k).evaluate("e => !e.open") for k in range(solutions))
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.locator("aside.myst-exercise").first.scroll_into_view_if_needed()
    page.screenshot(path=str(SCREENSHOTS / "01_exercises.png"))


def each_explorer_shows_one_figure_and_no_error(page: Any, screenshot: str) -> None:
    sources = ["".join(c["source"]) for c in chapter_source()["cells"]]
    explorer_cells = [k for k, s in enumerate(sources) if "explore(" in s]
    assert explorer_cells, "chapter 1 has no explorer"
    cells = page.locator(".jp-Notebook .jp-Cell")
    assert cells.count() == len(sources)
    for k in explorer_cells:
        outputs = cells.nth(k).locator(".jp-OutputArea-output")
        images = outputs.locator("img, svg.main-svg, canvas")
        text = outputs.all_inner_texts()
        assert images.count() == 1, f"cell {k}: {images.count()} figures, want exactly 1"
        assert not ERROR_TEXT.search(" ".join(text)), f"cell {k} shows an error: {text}"
    every_output = " ".join(page.locator(".jp-Notebook .jp-OutputArea").all_inner_texts())
    assert not ERROR_TEXT.search(every_output)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    cells.nth(explorer_cells[0]).scroll_into_view_if_needed()
    page.screenshot(path=str(SCREENSHOTS / screenshot))


def test_each_explorer_shows_one_figure_and_no_error(page):
    each_explorer_shows_one_figure_and_no_error(page, "01_explorer.png")


def test_a_run_saved_and_reopened_chapter_shows_pictures_not_errors(reopened_page):
    each_explorer_shows_one_figure_and_no_error(reopened_page, "01_reopened_explorer.png")
