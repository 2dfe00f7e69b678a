"""Tokenizers give back any text they accept, refuse patterns that would drop characters, and
compile no pattern read from a file unless it is known or trusted."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import regex
from hypothesis import given, settings
from hypothesis import strategies as st

from llmbook import tokenizer as tk
from llmbook.tokenizer import (
    GPT2_LIKE_PATTERN,
    GPT2_PATTERN,
    BPETokenizer,
    CharTokenizer,
    Tokenizer,
    WordTokenizer,
    split_chunks,
)

TRAINING_TEXT = (
    "First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak.\n"
    "Naïve café owners said: 'we'll pay 42 €!' 日本語のテキスト 🙂🙂 tabs\tand  spaces\n"
) * 3


@pytest.fixture(scope="module")
def bpe() -> BPETokenizer:
    return BPETokenizer().train(TRAINING_TEXT, 300)


@settings(max_examples=150, deadline=None)
@given(text=st.text())
def test_bpe_roundtrips_any_text(bpe: BPETokenizer, text: str) -> None:
    assert bpe.decode(bpe.encode(text)) == text


@settings(max_examples=100, deadline=None)
@given(text=st.text(min_size=1), other=st.text())
def test_char_tokenizer_roundtrips_any_text_over_its_alphabet(text: str, other: str) -> None:
    tok = CharTokenizer.from_text(text)
    assert tok.decode(tok.encode(text)) == text
    if set(other) <= set(text):
        assert tok.decode(tok.encode(other)) == other
    else:  # refuses, naming the character, instead of dropping it
        with pytest.raises(ValueError, match="is not in the vocabulary"):
            tok.encode(other)


@settings(max_examples=100, deadline=None)
@given(words=st.lists(st.sampled_from(split_chunks(TRAINING_TEXT)), min_size=1, max_size=30))
def test_word_tokenizer_roundtrips_text_of_known_words(words: list[str]) -> None:
    tok = WordTokenizer.from_text(TRAINING_TEXT)
    text = "".join(words)
    ids = tok.encode(text)
    if 0 not in ids:  # chunks can join differently than the words came; all known here
        assert tok.decode(ids) == text


# Patterns a reader might try: some cover every character, some would drop characters.
PATTERNS = [
    GPT2_PATTERN,
    GPT2_LIKE_PATTERN,
    r"[a-z]+",
    r"\w+",
    r"\w+|\s+",
    r"\w+|\W",
    r"\S+|\s+",
    r"[A-Za-z]+|[0-9]+|[^A-Za-z0-9]",
    r"\w+|\s+|[^\w\s]+",
    r"[^\n]+|\n",
    r"(?:\w+)|.",
    r"[^\W\d_]+|\d+",
]


@settings(max_examples=150, deadline=None)
@given(pattern=st.sampled_from(PATTERNS), text=st.text())
def test_a_pattern_is_refused_or_roundtrips_never_drops(pattern: str, text: str) -> None:
    """Either the pattern is refused when the tokenizer is made, or encode refuses the text,
    naming the character; never a silently shorter text."""
    try:
        tok = BPETokenizer(pattern)
    except ValueError as exc:
        assert "drops characters" in str(exc)
        return
    try:
        ids = tok.encode(text)
    except ValueError as exc:
        assert "drops characters" in str(exc)
        return
    assert tok.decode(ids) == text


def test_a_pattern_that_drops_characters_is_refused_at_construction() -> None:
    """The case that used to come back as 'elloorld'."""
    with pytest.raises(ValueError, match=r"pattern '\[a-z\]\+' drops characters: 'H' \(position 0"):
        BPETokenizer(pattern="[a-z]+")
    with pytest.raises(ValueError, match="drops characters"):
        WordTokenizer(["hello"], pattern=r"\w+")
    with pytest.raises(ValueError, match="drops characters"):
        split_chunks("Hello, World 42!", r"[a-z]+")
    with pytest.raises(ValueError, match="capturing groups"):
        BPETokenizer(pattern=r"(\w+)|\s+|[\s\S]")


def test_a_pattern_that_passes_the_probe_still_never_drops() -> None:
    pattern = r"[^\u0378]+"  # covers the probe, not the unassigned character U+0378
    with pytest.raises(ValueError, match=r"'\\u0378' \(position 5 of 'Hello\\u0378 x'\)"):
        BPETokenizer(pattern).encode("Hello\u0378 x")


def test_a_lone_surrogate_is_refused_by_bpe(bpe: BPETokenizer) -> None:
    with pytest.raises(ValueError, match=r"'\\ud800' \(at position 1\), a lone surrogate"):
        bpe.encode("a\ud800b")


def _saved(tmp_path: Path, pattern: str | None) -> Path:
    path = tmp_path / "tok.json"
    payload = {"format": tk.FORMAT, "version": tk.FORMAT_VERSION, "type": "bpe"}
    path.write_text(json.dumps({**payload, "pattern": pattern, "merges": [[97, 98]]}))
    return path


def test_loading_compiles_no_unknown_pattern(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """(a*)*b takes exponential time on 'aaaa...c'; the file is refused before compiling it."""
    compiled: list[str] = []
    for engine in (re, regex):  # GPT2_LIKE_PATTERN is compiled by re, the others by regex
        real = engine.compile
        monkeypatch.setattr(
            engine, "compile", lambda p, *a, real=real: compiled.append(p) or real(p, *a)
        )
    with pytest.raises(ValueError, match=r"bad pattern '\(a\*\)\*b': not one of the known"):
        Tokenizer.load(_saved(tmp_path, "(a*)*b"))
    assert "(a*)*b" not in compiled
    assert Tokenizer.load(_saved(tmp_path, GPT2_LIKE_PATTERN)).encode("ab cd") == [256, 32, 99, 100]
    assert Tokenizer.load(_saved(tmp_path, None)).pattern is None


def test_a_trusted_pattern_loads(tmp_path: Path) -> None:
    pattern = r"\w+|\s+|[^\w\s]+"
    with pytest.raises(ValueError, match="trust_pattern"):
        Tokenizer.load(_saved(tmp_path, pattern))
    try:
        tk.trust_pattern(pattern)
        assert Tokenizer.load(_saved(tmp_path, pattern)).pattern == pattern
    finally:
        tk.KNOWN_PATTERNS.discard(pattern)
    with pytest.raises(ValueError, match="drops characters"):
        tk.trust_pattern(r"\w+")
