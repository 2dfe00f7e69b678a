"""Tokenizers: text -> list of integer ids -> text.

Built in chapter 5, "Sub-word tokenizers".

Modelled on Karpathy's minbpe: a base class `Tokenizer` holds save/load, and each subclass adds
one idea.

- `CharTokenizer`: one id per distinct character of a text (the GPT of chapter 13 uses it).
- `WordTokenizer`: one id per word (a chunk of `split_chunks`), with an id for unknown words.
- `BPETokenizer`: byte-level byte-pair encoding. It starts from the 256 possible bytes of UTF-8
  text, so any string can be encoded, and learns merges of frequent neighbouring tokens.

BPE training works on the distinct chunks of the text (roughly words with their leading space,
split with GPT-2's own regular expression, `GPT2_PATTERN`) weighted by how often each occurs,
and updates the pair counts after each merge only for the chunks that contained the merged
pair. It gives the same merges as recounting everything after each merge, in a fraction of the
time.
"""

from __future__ import annotations

import json
import operator
import os
import re
from collections import Counter, defaultdict
from collections.abc import Collection, Iterable, Sequence
from itertools import pairwise
from pathlib import Path
from typing import Any, ClassVar

from llmbook.files import write_atomic

FORMAT = "llmbook.tokenizer"
FORMAT_VERSION = 1

GPT2_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
"""How text is cut into chunks before BPE: GPT-2's pattern, character for character (as in
OpenAI's encoder.py, tiktoken's "gpt2" and Hugging Face's ByteLevel pre-tokenizer).

Contractions ('s, 't, ...), letters (\\p{L}: any script), numbers (\\p{N}: digits, but also
"²", "½", "①", "Ⅻ"), and other symbols, each optionally led by one space; then runs of
whitespace. Every character falls in some chunk, so joining the chunks gives the text back.
Merges never cross a chunk boundary, so " cat" can become one token but "t." cannot. Python's
`re` has no \\p{...}; the `regex` module compiles it.
"""

GPT2_LIKE_PATTERN = r"""'(?:[sdmt]|ll|ve|re)| ?[^\W\d_]+| ?\d+| ?(?:[^\s\w]|_)+|\s+(?!\S)|\s+"""
"""An earlier approximation of GPT2_PATTERN for Python's `re` (kept, and compiled with `re`, so
that tokenizers saved with it split as before). Numerals that are not decimal digits ("²",
"½", "①", "Ⅻ", ...) count as letters there, U+001C-U+001F as spaces, and characters that
Python's Unicode tables do not know yet as symbols; GPT-2's ids need GPT2_PATTERN.
"""


def get_stats(ids: Sequence[int], counts: dict | None = None) -> dict[tuple[int, int], int]:
    """How often each pair of neighbours occurs in `ids`.

    Example: ids=[1, 2, 3, 1, 2] -> {(1, 2): 2, (2, 3): 1, (3, 1): 1}.
    Pass `counts` to add to an existing dict (it is updated in place and returned).
    """
    counts = {} if counts is None else counts
    for pair in pairwise(ids):
        counts[pair] = counts.get(pair, 0) + 1
    return counts


def merge(ids: Sequence[int], pair: tuple[int, int], idx: int) -> list[int]:
    """Replace every occurrence of `pair` in `ids` by the new token `idx`, left to right.

    Example: ids=[1, 2, 3, 1, 2], pair=(1, 2), idx=4 -> [4, 3, 4].
    Overlaps go to the leftmost pair: ids=[5, 5, 5], pair=(5, 5), idx=6 -> [6, 5].
    """
    out = []
    i = 0
    while i < len(ids):
        if i < len(ids) - 1 and ids[i] == pair[0] and ids[i + 1] == pair[1]:
            out.append(idx)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out


def split_chunks(text: str, pattern: str | None = GPT2_PATTERN) -> list[str]:
    """Cut `text` into chunks with `pattern` (None: the whole text is one chunk).

    Example: split_chunks("the cats sat.") -> ["the", " cats", " sat", "."].
    """
    _check_text(text)
    if pattern is None:
        return [text] if text else []
    compiled = _compiled(pattern)
    chunks = compiled.findall(text)
    if sum(map(len, chunks)) != len(text):  # the pattern passed the probe but not this text
        _check_covers(compiled, text)
    return chunks


def _regex_engine(pattern: str) -> Any:
    """The module that compiles `pattern`: `re` for GPT2_LIKE_PATTERN (written for it), the
    `regex` module (which reads every `re` pattern and adds \\p{L}, \\p{N}, ...) for the rest."""
    if pattern == GPT2_LIKE_PATTERN:
        return re
    try:
        import regex
    except ImportError:
        raise ValueError(
            f"the split pattern {pattern[:40]!r}... needs the `regex` package (Python's `re` "
            f"has no \\p{{L}}): pip install regex"
        ) from None
    return regex


def _compiled(pattern: str) -> Any:
    """`pattern` compiled, once; ValueError if it is not a regular expression, has capturing
    groups, or drops characters of a test text (then decode(encode(text)) would lose them)."""
    compiled = _PATTERNS.get(pattern)
    if compiled is None:
        engine = _regex_engine(pattern)
        try:
            compiled = engine.compile(pattern)
        except engine.error as exc:
            raise ValueError(f"bad pattern {pattern!r}: {exc}") from exc
        if compiled.groups:
            raise ValueError(
                f"bad pattern {pattern!r}: it has capturing groups, so the chunks would be the "
                f"groups, not the matches; write (?:...) instead of (...)"
            )
        _check_covers(compiled, COVERAGE_PROBE)
        _PATTERNS[pattern] = compiled
    return compiled


_PATTERNS: dict[str, Any] = {}  # pattern -> compiled (a re.Pattern or a regex.Pattern)

COVERAGE_PROBE = (
    "Hello, World 42! It's 3.14\n\t naïve CAFÉ Ω 日本語 🙂 a_b-c\r\n\x00\x7f\u00a0\u2028 "
)
"""Text every split pattern must cut into chunks that give it back: letters, digits,
punctuation, every kind of space, accents, other scripts, an emoji and control characters."""

KNOWN_PATTERNS: set[str] = {GPT2_PATTERN, GPT2_LIKE_PATTERN}
"""The split patterns a tokenizer file may use. Loading compiles no other: a regular expression
read from a file could take exponential time. `trust_pattern` adds one."""


def trust_pattern(pattern: str) -> None:
    """Let tokenizer files that use `pattern` load (after the checks of a new pattern)."""
    if not isinstance(pattern, str):
        raise TypeError(f"pattern must be a str, got {pattern!r}")
    _compiled(pattern)
    KNOWN_PATTERNS.add(pattern)


def _check_covers(compiled: Any, text: str) -> None:
    """ValueError naming the first character of `text` that no chunk of `compiled` holds."""
    pos = 0
    for match in compiled.finditer(text):
        if match.start() != pos:
            break
        pos = match.end()
    if pos != len(text):
        raise ValueError(
            f"pattern {compiled.pattern!r} drops characters: {text[pos]!r} (position {pos} of "
            f"{text[:60]!r}{'...' if len(text) > 60 else ''}) is in no chunk, so "
            f"decode(encode(text)) would lose it; a split pattern must match every character "
            f"(end it with |\\s+|[\\s\\S] to catch the rest)"
        )


def _check_text(text: object) -> str:
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}: {text!r:.80}")
    return text


def _checked_pattern(pattern: object) -> str | None:
    """A saved split pattern: None or one of KNOWN_PATTERNS (else ValueError); never compiled
    from the file, since a regular expression can take exponential time."""
    if pattern is not None and pattern not in KNOWN_PATTERNS:
        raise ValueError(
            f"bad pattern {pattern!r:.100}: not one of the known split patterns (such as "
            f"GPT2_PATTERN); patterns from files are not compiled, since a regular "
            f"expression can take exponential time. If you trust this file, call "
            f"llmbook.tokenizer.trust_pattern(pattern) before loading it"
        )
    return pattern  # type: ignore[return-value]


class Tokenizer:
    """Base class: encode, decode, vocab_size, and save/load as JSON."""

    kind: ClassVar[str] = ""  # the "type" written in saved files
    _kinds: ClassVar[dict[str, type[Tokenizer]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.kind:
            Tokenizer._kinds[cls.kind] = cls

    def encode(self, text: str) -> list[int]:
        raise NotImplementedError

    def decode(self, ids: Iterable[int]) -> str:
        raise NotImplementedError

    @property
    def vocab_size(self) -> int:
        raise NotImplementedError

    def pieces(self, text: str) -> list[str]:
        """The text of each token of `text` (a token holding part of a character shows \ufffd)."""
        return [self.decode([i]) for i in self.encode(text)]

    def _check_ids(self, ids: Iterable[int]) -> list[int]:
        if isinstance(ids, (str, bytes)):
            raise TypeError(f"ids must be a sequence of ints, got {type(ids).__name__}")
        checked = []
        for i in ids:
            try:
                k = operator.index(i)  # int, numpy integer, 0-d integer tensor
            except TypeError:
                k = None
            if k is None or isinstance(i, bool):
                raise TypeError(f"ids must be ints, got {i!r} ({type(i).__name__})")
            if not 0 <= k < self.vocab_size:
                raise ValueError(f"id {k} is outside the vocabulary (0 to {self.vocab_size - 1})")
            checked.append(k)
        return checked

    def _state(self) -> dict[str, Any]:
        raise NotImplementedError

    @classmethod
    def _from_state(cls, state: dict[str, Any]) -> Tokenizer:
        raise NotImplementedError

    def save(self, path: str | os.PathLike) -> None:
        """Write the tokenizer to `path` as JSON (atomically: a temp file, then a rename)."""
        payload = {"format": FORMAT, "version": FORMAT_VERSION, "type": self.kind}
        payload.update(self._state())
        _write_text(Path(path), json.dumps(payload, ensure_ascii=False, indent=1))

    @classmethod
    def load(cls, path: str | os.PathLike) -> Tokenizer:
        """Read a tokenizer written by `save`; `Tokenizer.load` returns the subclass it holds."""
        try:
            payload = json.loads(Path(path).read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ValueError(f"{path}: not a tokenizer file (not JSON: {exc})") from exc
        if not isinstance(payload, dict) or payload.get("format") != FORMAT:
            raise ValueError(f"{path}: not a tokenizer file (no 'format': {FORMAT!r})")
        if payload.get("version") != FORMAT_VERSION:
            raise ValueError(f"{path}: unsupported version {payload.get('version')!r}")
        kind = payload.get("type")
        sub = Tokenizer._kinds.get(kind) if isinstance(kind, str) else None
        if sub is None:
            raise ValueError(f"{path}: unknown tokenizer type {kind!r}")
        if not issubclass(sub, cls):
            raise ValueError(f"{path} holds a {sub.__name__}, not a {cls.__name__}")
        try:
            return sub._from_state(payload)
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"{path}: corrupt {kind} tokenizer file ({exc})") from exc

    def __repr__(self) -> str:
        return f"{type(self).__name__}(vocab_size={self.vocab_size})"


class CharTokenizer(Tokenizer):
    """One id per character: ids are positions in `chars` (sorted by `from_text`)."""

    kind = "char"

    def __init__(self, chars: Iterable[str]) -> None:
        chars = list(chars)
        if not chars:
            raise ValueError("a CharTokenizer needs at least one character")
        for ch in chars:
            if not isinstance(ch, str) or len(ch) != 1:
                raise ValueError(f"vocabulary entries must be single characters, got {ch!r}")
            if "\ud800" <= ch <= "\udfff":
                raise ValueError(
                    f"the text holds {ch!r}, a lone surrogate: half of a character that UTF-8 "
                    f"cannot encode (text read from a file never has one; it comes from "
                    f"slicing or decoding with errors='surrogateescape')"
                )
        if len(set(chars)) != len(chars):
            repeated = sorted(ch for ch, n in Counter(chars).items() if n > 1)
            raise ValueError(f"vocabulary has repeated characters: {repeated!r}")
        self.chars = chars
        self.stoi = {ch: i for i, ch in enumerate(chars)}

    @classmethod
    def from_text(cls, text: str) -> CharTokenizer:
        """The sorted distinct characters of `text` (Tiny Shakespeare: 65 of them)."""
        if not _check_text(text):
            raise ValueError("cannot build a vocabulary from an empty text")
        return cls(sorted(set(text)))

    @property
    def vocab_size(self) -> int:
        return len(self.chars)

    def encode(self, text: str) -> list[int]:
        try:
            return [self.stoi[ch] for ch in _check_text(text)]
        except KeyError as exc:
            ch = exc.args[0]
            raise ValueError(
                f"character {ch!r} (at position {text.index(ch)}) is not in the vocabulary"
                f" of {self.vocab_size} characters"
            ) from None

    def decode(self, ids: Iterable[int]) -> str:
        return "".join(self.chars[i] for i in self._check_ids(ids))

    def _state(self) -> dict[str, Any]:
        return {"chars": self.chars}

    @classmethod
    def _from_state(cls, state: dict[str, Any]) -> CharTokenizer:
        if not isinstance(state["chars"], list):
            raise TypeError(f"'chars' must be a list, got {type(state['chars']).__name__}")
        return cls(state["chars"])


class WordTokenizer(Tokenizer):
    """One id per word: the chunks of `split_chunks` (a word with its leading space, say).

    Id 0 stands for every word not in the vocabulary and decodes as `UNKNOWN`; ids 1, 2, ...
    are the words in `words`. Unlike BPE, a word tokenizer cannot spell a new word, so
    decode(encode(text)) gives `text` back only when every word of `text` is known.
    """

    kind = "word"
    UNKNOWN = "<unk>"

    def __init__(self, words: Iterable[str], pattern: str | None = GPT2_PATTERN) -> None:
        words = list(words)
        for w in words:
            if not isinstance(w, str) or not w:
                raise ValueError(f"vocabulary entries must be non-empty strings, got {w!r}")
        if len(set(words)) != len(words):
            repeated = sorted(w for w, n in Counter(words).items() if n > 1)
            raise ValueError(f"vocabulary has repeated words: {repeated[:5]!r}")
        if pattern is not None and not isinstance(pattern, str):
            raise TypeError(f"pattern must be a str or None, got {pattern!r}")
        if pattern is not None:
            _compiled(pattern)  # a bad pattern fails here, not at the first encode
        self.pattern = pattern
        self.words = words
        self.stoi = {w: i for i, w in enumerate(words, start=1)}

    @classmethod
    def from_text(
        cls, text: str, max_words: int | None = None, pattern: str | None = GPT2_PATTERN
    ) -> WordTokenizer:
        """The words of `text`, most frequent first (ties in alphabetical order).

        `max_words` keeps only that many (the rest become unknown).
        """
        if not _check_text(text):
            raise ValueError("cannot build a vocabulary from an empty text")
        if max_words is not None and (
            isinstance(max_words, bool) or not isinstance(max_words, int) or max_words < 1
        ):
            raise ValueError(f"max_words must be a positive integer or None, got {max_words!r}")
        counts = Counter(split_chunks(text, pattern))
        ranked = sorted(counts, key=lambda w: (-counts[w], w))
        return cls(ranked[:max_words], pattern)

    @property
    def vocab_size(self) -> int:
        return 1 + len(self.words)

    def encode(self, text: str) -> list[int]:
        """One id per word of `text`; 0 for a word outside the vocabulary."""
        return [self.stoi.get(w, 0) for w in split_chunks(text, self.pattern)]

    def decode(self, ids: Iterable[int]) -> str:
        return "".join(self.words[i - 1] if i else self.UNKNOWN for i in self._check_ids(ids))

    def _state(self) -> dict[str, Any]:
        return {"pattern": self.pattern, "words": self.words}

    @classmethod
    def _from_state(cls, state: dict[str, Any]) -> WordTokenizer:
        if not isinstance(state["words"], list):
            raise TypeError(f"'words' must be a list, got {type(state['words']).__name__}")
        pattern = _checked_pattern(state["pattern"])
        return cls(state["words"], pattern)


class BPETokenizer(Tokenizer):
    """Byte-level BPE: ids 0-255 are the bytes; merge k makes id 256 + k.

    Training picks, at each step, the most frequent pair of neighbouring tokens; ties go to the
    smallest pair (compare first ids, then second ids), so training is deterministic.
    `pattern=None` trains on the text as one chunk (minbpe's BasicTokenizer; slow on big texts).
    """

    kind = "bpe"
    _CACHE_LIMIT = 200_000  # chunks remembered by encode

    def __init__(self, pattern: str | None = GPT2_PATTERN) -> None:
        if pattern is not None and not isinstance(pattern, str):
            raise TypeError(f"pattern must be a str or None, got {pattern!r}")
        if pattern is not None:
            _compiled(pattern)  # a bad pattern fails here, not at the first encode
        self.pattern = pattern
        self._set_merges({})

    def _set_merges(self, merges: dict[tuple[int, int], int]) -> None:
        self.merges = merges  # (id, id) -> new id, in the order they were learned
        self.vocab = {i: bytes([i]) for i in range(256)}  # id -> the bytes it stands for
        for (a, b), idx in merges.items():
            self.vocab[idx] = self.vocab[a] + self.vocab[b]
        self._cache: dict[str, list[int]] = {}

    @property
    def vocab_size(self) -> int:
        return 256 + len(self.merges)

    def split(self, text: str) -> list[str]:
        """Cut `text` into the chunks that BPE works within (joined, they give `text` back)."""
        return split_chunks(text, self.pattern)

    def train(self, text: str, vocab_size: int, verbose: bool = False) -> BPETokenizer:
        """Learn `vocab_size - 256` merges from `text` (replacing any earlier ones); return self."""
        _check_text(text)
        if isinstance(vocab_size, bool) or not isinstance(vocab_size, int):
            raise TypeError(f"vocab_size must be an int, got {vocab_size!r}")
        if vocab_size < 256:
            raise ValueError(f"vocab_size must be at least 256 (the bytes), got {vocab_size}")
        num_merges = vocab_size - 256
        words = Counter(self.split(text))  # chunk -> how often it occurs
        chunks = [list(w.encode("utf-8")) for w in words]
        weights = list(words.values())
        stats: dict[tuple[int, int], int] = defaultdict(int)  # pair -> count in the whole text
        where: dict[tuple[int, int], set[int]] = defaultdict(set)  # pair -> chunks holding it
        for c, ids in enumerate(chunks):
            for pair in pairwise(ids):
                stats[pair] += weights[c]
                where[pair].add(c)
        merges: dict[tuple[int, int], int] = {}
        for k in range(num_merges):
            if not stats:
                raise ValueError(
                    f"this text allows only {k} merges (vocab_size up to {256 + k}),"
                    f" asked for {num_merges} (vocab_size {vocab_size})"
                )
            pair = max(stats, key=lambda p: (stats[p], -p[0], -p[1]))
            if verbose:
                print(f"merge {k + 1}/{num_merges}: {pair} -> {256 + k} ({stats[pair]} times)")
            merges[pair] = 256 + k
            for c in where.pop(pair):
                self._update(chunks, c, weights[c], pair, 256 + k, stats, where)
        self._set_merges(merges)
        return self

    def truncated(self, num_merges: int) -> BPETokenizer:
        """A new tokenizer with only the first `num_merges` merges of this one.

        Training is greedy, one merge after another, so this equals training to
        `256 + num_merges` tokens on the same text: one run gives every smaller vocabulary.
        """
        if isinstance(num_merges, bool) or not isinstance(num_merges, int):
            raise TypeError(f"num_merges must be an int, got {num_merges!r}")
        if not 0 <= num_merges <= len(self.merges):
            raise ValueError(
                f"num_merges must be between 0 and {len(self.merges)} (the merges learned),"
                f" got {num_merges}"
            )
        tok = BPETokenizer(self.pattern)
        tok._set_merges(dict(list(self.merges.items())[:num_merges]))
        return tok

    @staticmethod
    def _update(
        chunks: list[list[int]],
        c: int,
        weight: int,
        pair: tuple[int, int],
        idx: int,
        stats: dict[tuple[int, int], int],
        where: dict[tuple[int, int], set[int]],
    ) -> None:
        """Merge `pair` in chunk `c` and move its pair counts from the old ids to the new."""
        old = chunks[c]
        new = merge(old, pair, idx)
        if len(new) == len(old):
            return
        for p in pairwise(old):
            stats[p] -= weight
        for p in pairwise(new):
            stats[p] += weight
            where[p].add(c)
        for p in pairwise(old):
            if stats.get(p) == 0:
                del stats[p]
        chunks[c] = new

    def _encode_chunk(self, chunk: str) -> list[int]:
        ids = list(chunk.encode("utf-8"))
        while len(ids) >= 2:
            # the pair learned earliest among those present; merges must be applied in order
            pair = min(get_stats(ids), key=lambda p: self.merges.get(p, float("inf")))
            if pair not in self.merges:
                break
            ids = merge(ids, pair, self.merges[pair])
        return ids

    def encode(self, text: str) -> list[int]:
        """Token ids of `text`; any string works, since every byte is a token."""
        out: list[int] = []
        cache = self._cache
        try:
            for chunk in self.split(text):
                ids = cache.get(chunk)
                if ids is None:
                    if len(cache) >= self._CACHE_LIMIT:
                        cache.clear()
                    ids = cache[chunk] = self._encode_chunk(chunk)
                out.extend(ids)
        except UnicodeEncodeError as exc:  # a lone surrogate such as "\ud800"
            bad = exc.object[exc.start]
            raise ValueError(
                f"text holds {bad!r} (at position {text.index(bad)}), a lone surrogate that "
                f"UTF-8 cannot encode"
            ) from None
        return out

    def decode(self, ids: Iterable[int]) -> str:
        """The text of `ids`; bytes that are not valid UTF-8 show as \ufffd."""
        data = b"".join(self.vocab[i] for i in self._check_ids(ids))
        return data.decode("utf-8", errors="replace")

    def _state(self) -> dict[str, Any]:
        return {"pattern": self.pattern, "merges": [list(pair) for pair in self.merges]}

    @classmethod
    def _from_state(cls, state: dict[str, Any]) -> BPETokenizer:
        pattern = _checked_pattern(state["pattern"])
        tok = cls(pattern)
        merges = {}
        for k, pair in enumerate(state["merges"]):
            ok = isinstance(pair, list) and len(pair) == 2
            ok = ok and all(type(i) is int and 0 <= i < 256 + k for i in pair)
            if not ok:
                raise ValueError(f"merge {k} is {pair!r}; expected two ids below {256 + k}")
            if tuple(pair) in merges:
                raise ValueError(f"merge {k} repeats the pair {pair!r}")
            merges[tuple(pair)] = 256 + k
        tok._set_merges(merges)
        return tok


# --- GPT-2's file format: vocab.json + merges.txt ------------------------------------------
# GPT-2 (and Hugging Face `tokenizers`) write a byte-level BPE as two files: vocab.json maps each
# token's text to its id, merges.txt lists the merges in order, one "left right" pair a line.
# Token texts spell bytes with printable characters (`bytes_to_unicode`: byte 32, the space,
# is "Ġ"), and the ids need not be the book's (bytes 0-255, then merge k = 256 + k).


def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's printable character for each byte: printable bytes stand for themselves, the
    other 68 (controls, space, ...) get the characters from 256 on, in byte order.

    Example: bytes_to_unicode()[ord("a")] -> "a", [32] (space) -> "Ġ", [10] (newline) -> "Ċ".
    """
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1)]
    printable += range(ord("®"), ord("ÿ") + 1)
    chars, extra = {}, 0
    for b in range(256):
        if b in printable:
            chars[b] = chr(b)
        else:
            chars[b] = chr(256 + extra)
            extra += 1
    return chars


class GPT2FormatTokenizer(BPETokenizer):
    """A `BPETokenizer` whose ids are those of a vocab.json (GPT-2's numbering, say).

    Encoding is the book's BPE (merges applied in the order learned); the ids are then
    renumbered: `file_ids[i]` is the file's id for the book's token i. Special tokens such as
    "<|endoftext|>" (ids in vocab.json that no merge makes) decode to their text; encode gives
    their ids only where the caller allows them, as tiktoken does (`allowed_special`).
    """

    kind = "bpe-gpt2-format"

    def __init__(
        self,
        merges: dict[tuple[int, int], int],
        file_ids: Sequence[int],
        special: dict[str, int] | None = None,
        pattern: str | None = GPT2_PATTERN,
    ) -> None:
        super().__init__(pattern)
        self._set_merges(merges)
        if sorted(set(file_ids)) != sorted(file_ids) or len(file_ids) != 256 + len(merges):
            raise ValueError(
                f"file_ids must give {256 + len(merges)} distinct ids (bytes and merges), "
                f"got {len(file_ids)} ({len(set(file_ids))} distinct)"
            )
        self.file_ids = list(file_ids)
        self.special = dict(special or {})
        self._book_ids = {f: i for i, f in enumerate(self.file_ids)}
        self._special_text = {i: s for s, i in self.special.items()}
        if set(self._special_text) & set(self._book_ids):
            raise ValueError("a special token's id is also a byte's or a merge's id")

    @property
    def vocab_size(self) -> int:
        return 1 + max(self.file_ids + list(self.special.values()))

    def encode(
        self,
        text: str,
        allowed_special: Collection[str] | str = frozenset(),
        disallowed_special: Collection[str] | str = "all",
    ) -> list[int]:
        """The file's ids of `text`, as tiktoken's `encode`: the special tokens named in
        `allowed_special` ("all": every one) become their own ids; any of `disallowed_special`
        ("all": every special token not allowed) in the text is a ValueError, since it would
        otherwise be spelled out as ordinary text; pass disallowed_special=() for that."""
        allowed = self._special_set(allowed_special, "allowed_special")
        if disallowed_special == "all":
            disallowed = set(self.special) - allowed
        else:
            disallowed = self._special_set(disallowed_special, "disallowed_special")
        _check_text(text)
        for token in sorted(disallowed):
            if token in text:
                raise ValueError(
                    f"text holds the special token {token!r} (at position {text.index(token)}); "
                    f"pass allowed_special={{{token!r}}} to encode it as id "
                    f"{self.special[token]}, or disallowed_special=() to encode it as ordinary "
                    f"text"
                )
        if not allowed:
            return self._encode_ordinary(text)
        ids: list[int] = []
        pieces = _special_splitter(allowed).split(text)  # text, special, text, special, ...
        for k, piece in enumerate(pieces):
            if k % 2:
                ids.append(self.special[piece])
            elif piece:
                ids.extend(self._encode_ordinary(piece))
        return ids

    def _encode_ordinary(self, text: str) -> list[int]:
        file_ids = self.file_ids
        return [file_ids[i] for i in super().encode(text)]

    def _special_set(self, names: Collection[str] | str, what: str) -> set[str]:
        if names == "all":
            return set(self.special)
        if isinstance(names, str) or not all(isinstance(n, str) for n in names):
            raise TypeError(f'{what} must be "all" or a set of special tokens, got {names!r}')
        unknown = sorted(set(names) - set(self.special))
        if unknown:
            raise ValueError(
                f"{what} names {unknown}, which are not special tokens of this tokenizer "
                f"({sorted(self.special) or 'it has none'})"
            )
        return set(names)

    def decode(self, ids: Iterable[int]) -> str:
        """The text of the file ids `ids`; special tokens give their own text."""
        parts, run = [], []  # run: book ids waiting to be decoded together
        for i in ids:
            if type(i) is not int and not hasattr(i, "__index__"):
                raise TypeError(f"ids must be integers, got {i!r}")
            i = int(i)
            if i in self._special_text:
                parts.append(super().decode(run) + self._special_text[i])
                run = []
            elif i in self._book_ids:
                run.append(self._book_ids[i])
            else:
                raise ValueError(
                    f"token id {i} is not in this vocabulary (0..{self.vocab_size - 1})"
                )
        return "".join(parts) + super().decode(run)

    def _state(self) -> dict[str, Any]:
        state = super()._state()
        state.update(file_ids=self.file_ids, special=self.special)
        return state

    @classmethod
    def _from_state(cls, state: dict[str, Any]) -> GPT2FormatTokenizer:
        book = BPETokenizer._from_state(state)
        special = state.get("special", {})
        if not isinstance(special, dict) or not all(
            isinstance(s, str) and type(i) is int for s, i in special.items()
        ):
            raise ValueError(f"special must map token texts to integer ids, got {special!r:.80}")
        file_ids = state.get("file_ids")
        if not isinstance(file_ids, list) or not all(type(i) is int for i in file_ids):
            raise ValueError(f"file_ids must be a list of integer ids, got {file_ids!r:.80}")
        return cls(book.merges, file_ids, special, book.pattern)


def _special_splitter(tokens: Iterable[str]) -> re.Pattern[str]:
    """A pattern whose split keeps each of `tokens` as a piece of its own (longest first)."""
    alternatives = "|".join(re.escape(t) for t in sorted(tokens, key=len, reverse=True))
    return re.compile(f"({alternatives})")


def load_gpt2_bpe(
    vocab_path: str | os.PathLike, merges_path: str | os.PathLike, pattern: str | None = None
) -> GPT2FormatTokenizer:
    """The BPE of a GPT-2-format vocab.json and merges.txt, with the file's ids.

    `pattern` defaults to `GPT2_PATTERN`, GPT-2's own split.
    Every one of the 256 bytes must have a token (GPT-2's files and byte-level `tokenizers`
    trained with the full initial alphabet do).
    """
    try:
        vocab = json.loads(Path(vocab_path).read_text(encoding="utf-8"))
        lines = Path(merges_path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"cannot read {vocab_path} and {merges_path}: {exc}") from exc
    if not isinstance(vocab, dict) or not all(type(i) is int for i in vocab.values()):
        raise ValueError(f"{vocab_path} must map token texts to integer ids")
    missing = [b for b, c in bytes_to_unicode().items() if c not in vocab]
    if missing:
        raise ValueError(f"{vocab_path} has no token for {len(missing)} bytes, e.g. {missing[:5]}")
    book_id = {bytes_to_unicode()[b]: b for b in range(256)}  # token text -> the book's id
    file_ids = [vocab[bytes_to_unicode()[b]] for b in range(256)]
    merges: dict[tuple[int, int], int] = {}
    pairs = [line.split(" ") for line in lines if line and not line.startswith("#version")]
    for k, pair in enumerate(pairs):
        if len(pair) != 2 or pair[0] not in book_id or pair[1] not in book_id:
            raise ValueError(
                f"merge {k + 1} of {merges_path} is {' '.join(pair)!r}: "
                "expected two tokens made earlier"
            )
        text = pair[0] + pair[1]
        if text not in vocab:
            raise ValueError(f"merge {k + 1} makes {text!r}, which {vocab_path} lacks")
        merges[(book_id[pair[0]], book_id[pair[1]])] = 256 + k
        book_id.setdefault(text, 256 + k)
        file_ids.append(vocab[text])
    made = set(file_ids)
    special = {s: i for s, i in vocab.items() if i not in made}  # "<|endoftext|>" and the like
    plain = [s for s in special if not SPECIAL_TOKEN.fullmatch(s)]
    if plain:
        raise ValueError(
            f"{vocab_path} has {len(plain)} token(s) that no merge of {merges_path} makes and "
            f"that are not special tokens such as <|endoftext|> (e.g. {plain[:3]}); merges.txt "
            f"is cut short or belongs to another vocab.json"
        )
    if len(set(vocab.values())) != len(vocab):
        raise ValueError(f"{vocab_path} gives one id to two tokens")
    return GPT2FormatTokenizer(merges, file_ids, special, pattern or GPT2_PATTERN)


SPECIAL_TOKEN = re.compile(r"<[^<>]+>|\[[^\[\]]+\]")
"""What a special token of a vocab.json looks like: <|endoftext|>, <pad>, [CLS]."""


def save_gpt2_bpe(tokenizer: BPETokenizer, folder: str | os.PathLike) -> tuple[Path, Path]:
    """Write the book's BPE as GPT-2-format vocab.json and merges.txt (ids unchanged).

    Then Hugging Face `tokenizers` (a BPE model with the ByteLevel pre-tokenizer) or
    `transformers` can read it. Returns the two paths.
    """
    if type(tokenizer) is not BPETokenizer:
        raise TypeError(f"tokenizer must be a BPETokenizer, got {type(tokenizer).__name__}")
    if tokenizer.pattern != GPT2_PATTERN:
        raise ValueError(
            f"this tokenizer splits text with the pattern {tokenizer.pattern!r:.60}, not "
            f"GPT-2's (GPT2_PATTERN); the readers of vocab.json + merges.txt (Hugging Face "
            f"`tokenizers`, `transformers`) always split with GPT-2's, so they would cut text "
            f"elsewhere and give other ids. Train it with BPETokenizer() (the default pattern) "
            f"to export it"
        )
    chars = bytes_to_unicode()
    text = {i: "".join(chars[b] for b in raw) for i, raw in tokenizer.vocab.items()}
    vocab: dict[str, int] = {}
    for i in sorted(text):
        if text[i] in vocab:
            raise ValueError(
                f"tokens {vocab[text[i]]} and {i} stand for the same bytes {text[i]!r}; "
                "vocab.json can hold only one of them"
            )
        vocab[text[i]] = i
    folder = Path(folder)
    vocab_path, merges_path = folder / "vocab.json", folder / "merges.txt"
    lines = ["#version: 0.2", *(f"{text[a]} {text[b]}" for a, b in tokenizer.merges)]
    _write_text(vocab_path, json.dumps(vocab, ensure_ascii=False))
    _write_text(merges_path, "\n".join(lines) + "\n")
    return vocab_path, merges_path


def _write_text(path: Path, text: str) -> None:
    """`text` as UTF-8 in `path`, atomically (whole or absent), with the user's umask."""
    write_atomic(path, lambda f: f.write(text.encode("utf-8")))
