"""Chapter 15, The Llama block: its check against Hugging Face runs where `transformers` is
installed and says how to get it where it is not, instead of failing."""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
from pathlib import Path

import pytest
import torch

from llmbook import pretrained

ROOT = Path(__file__).resolve().parent.parent
CHAPTER = ROOT / "notebooks" / "15_llama_block.ipynb"
INSTALL = "pip install 'llmbook[pretrained]'"


def check_cell() -> dict:
    cells = json.loads(CHAPTER.read_text(encoding="utf-8"))["cells"]
    found = [c for c in cells if c["cell_type"] == "code" and "MISSING = [" in "".join(c["source"])]
    assert len(found) == 1, "chapter 15 has one check against Hugging Face"
    return found[0]


def run_cell(source: str) -> str:
    namespace = {"importlib": importlib, "torch": torch, "pretrained": pretrained}
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(source, str(CHAPTER), "exec"), namespace)
    return printed.getvalue()


@pytest.mark.parametrize("missing", [("transformers",), ("transformers", "safetensors")])
def test_without_transformers_the_check_says_how_to_install_it(monkeypatch, missing):
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name in missing else real(name, *a)
    )
    printed = run_cell("".join(check_cell()["source"]))
    assert printed == f"This check needs {' and '.join(missing)}: {INSTALL}\n"


def test_the_stored_check_found_both_models_equal_to_hugging_face():
    cell = check_cell()
    assert "hide-input" in cell["metadata"]["tags"]
    printed = "".join("".join(o.get("text", "")) for o in cell["outputs"])
    for name in ("GPT-2", "Llama 3.1-style"):
        assert (
            f"{name}: logits within 1e-5: True; same 20 greedy tokens, with and without the "
            "cache: True" in printed
        )
    assert "This check needs" not in printed


def test_the_pretrained_extra_installs_the_check_answer_key():
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    extra = next(line for line in pyproject.splitlines() if line.startswith("pretrained = "))
    for package in ("safetensors", "huggingface_hub", "transformers"):
        assert f'"{package}>=' in extra
