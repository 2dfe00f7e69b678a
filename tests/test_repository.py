"""What readers and contributors expect of the repository: licences, citation, CI, templates."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
from new_chapter import package_version, repository_url  # noqa: E402
from reader_notebooks import READER_BRANCH, site_url  # noqa: E402


def read(path: str) -> str:
    return (ROOT / path).read_text(encoding="utf-8")


def test_code_is_mit_and_text_is_cc_by_and_the_package_says_so():
    assert "MIT License" in read("LICENSE") and "LICENSE-TEXT" in read("LICENSE")
    assert "CC BY 4.0" in read("LICENSE-TEXT")
    pyproject = read("pyproject.toml")
    assert re.search(r'^license = "MIT"', pyproject, flags=re.MULTILINE)
    assert 'license-files = ["LICENSE"]' in pyproject


def test_citation_matches_the_release_and_the_repository():
    citation = yaml.safe_load(read("CITATION.cff"))
    assert citation["cff-version"] == "1.2.0"
    assert str(citation["version"]) == package_version(ROOT)
    assert citation["repository-code"] == repository_url(ROOT)
    assert citation["url"] == site_url(ROOT)
    assert citation["license"] == ["MIT", "CC-BY-4.0"]


def test_tests_run_on_push_and_pull_request():
    workflow = yaml.safe_load(read(".github/workflows/test.yml"))
    triggers = workflow[True]  # YAML reads the key `on` as True
    assert "push" in triggers and "pull_request" in triggers
    steps = [step.get("run", "") for step in workflow["jobs"]["test"]["steps"]]
    assert "make test" in steps


def test_deploy_publishes_the_reader_notebooks_where_colab_buttons_point():
    steps = yaml.safe_load(read(".github/workflows/deploy.yml"))["jobs"]["build"]["steps"]
    runs = "\n".join(step.get("run", "") for step in steps)
    assert "make reader" in runs
    assert f"git init -q -b {READER_BRANCH}" in runs
    assert re.search(rf"^git push -f .* {READER_BRANCH}$", runs, flags=re.MULTILINE)


def test_bug_report_asks_for_the_version_printout():
    template = yaml.safe_load(read(".github/ISSUE_TEMPLATE/bug_report.yml"))
    versions = next(item for item in template["body"] if item.get("id") == "versions")
    assert versions["validations"]["required"] is True
    assert "llmbook.versions()" in versions["attributes"]["description"]


def test_jupyterlab_renders_myst_through_a_pinned_extension():
    assert re.search(r"^jupyterlab-myst==\d", read("requirements.txt"), flags=re.MULTILINE)
    makefile = read("Makefile")
    for target in ("reader:", "lab:", "colab-test:", "lab-test:"):
        assert f"\n{target}" in makefile


def test_the_notebooks_folder_says_where_to_read_and_run_the_chapters():
    """GitHub shows notebooks/README.md under the MyST sources: it points to the readable copies."""
    readme = (ROOT / "notebooks" / "README.md").read_text(encoding="utf-8")
    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    assert config["html"]["baseurl"] in readme
    assert f"{config['repository']['url']}/tree/reader/notebooks" in readme
    assert "make lab" in readme and "make reader" in readme
