"""Characters as numbers: the article's a=1 ... z=26 code, plus space and period.

Built in chapter 3, "How does all this help generate language?"; chapter 4 learns embeddings
for the same 28 characters.

The code::

    a=1, b=2, ..., z=26, space=27, period=28

so "humpty dumpt" -> [8, 21, 13, 16, 20, 25, 27, 4, 21, 13, 16, 20]. The same numbers name the
outputs of a next-character network: output number k (counting from 1) stands for the
character with code k, so "h" is "the 8th of the 28 outputs is the largest" (index 7 when
counting from 0, as Python does).

Real text has capitals, commas and line breaks; :func:`clean` maps it onto these 28
characters first. :func:`encode` itself accepts only the 28 and says exactly which character
is not one of them.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Iterable

ALPHABET = "abcdefghijklmnopqrstuvwxyz ."
"""The 28 characters in code order: the character with code k is ``ALPHABET[k - 1]``."""

VOCAB_SIZE = len(ALPHABET)
"""How many characters there are: 28, one output neuron each."""

SPACE = ALPHABET.index(" ") + 1
"""The code of the space: 27."""

PERIOD = ALPHABET.index(".") + 1
"""The code of the period: 28."""

CODE = {ch: k for k, ch in enumerate(ALPHABET, start=1)}
"""Character -> code, e.g. ``CODE["h"] == 8``."""

_PERIOD_LIKE = ".!?;:"  # sentence ends and their relatives become a period
_DROPPED = "'\"`-"  # apostrophes, quotes, hyphens vanish: "king's" -> "kings"
_SPACE_LIKE = ","  # commas become a space (runs of spaces then shrink to one)
_TO = "." * len(_PERIOD_LIKE) + " " * len(_SPACE_LIKE)
_CLEANABLE = set(ALPHABET + ALPHABET.upper() + _PERIOD_LIKE + _DROPPED + _SPACE_LIKE)


def _check_str(text: object, what: str = "text") -> str:
    if not isinstance(text, str):
        raise TypeError(f"{what} must be a str, got {type(text).__name__}: {text!r:.80}")
    return text


def _check_alphabet(text: str, what: str = "text") -> None:
    for position, ch in enumerate(text):
        if ch not in CODE:
            raise ValueError(
                f"character {ch!r} at position {position} of the {what} is not one of the 28 "
                f"characters a-z, space and period; chars.clean() lower-cases text and maps "
                "punctuation onto them"
            )


def clean(text: str) -> str:
    """Map ordinary English text onto the 28 characters.

    Letters are lower-cased; ``. ! ? ; :`` become a period; apostrophes, quotes and hyphens are
    dropped; commas and any whitespace (line breaks included) become a single space; leading and
    trailing spaces are removed. Any other character (a digit, say) raises ``ValueError``.

    >>> clean("Humpty Dumpty sat on a wall,\\nHumpty Dumpty had a great fall.")
    'humpty dumpty sat on a wall humpty dumpty had a great fall.'
    >>> clean("All the king's horses!")
    'all the kings horses.'
    """
    text = _check_str(text)
    for position, ch in enumerate(text):
        if not (ch.isspace() or ch in _CLEANABLE):
            raise ValueError(
                f"character {ch!r} at position {position} of the text cannot be mapped onto the "
                "28 characters: clean() knows the letters a-z in either case, whitespace and "
                "the marks . ! ? ; : , ' \" ` -"
            )
    text = text.lower().translate(str.maketrans(_PERIOD_LIKE + _SPACE_LIKE, _TO, _DROPPED))
    return re.sub(r"\s+", " ", text).strip()


def encode(text: str) -> list[int]:
    """Text -> codes, one per character.

    >>> encode("humpty dumpt")
    [8, 21, 13, 16, 20, 25, 27, 4, 21, 13, 16, 20]

    Raises ``ValueError`` for an empty text or a character outside the 28, naming the character
    and its position (use :func:`clean` first for text with capitals or punctuation).
    """
    text = _check_str(text)
    if text == "":
        raise ValueError("cannot encode an empty text: give at least one character")
    _check_alphabet(text)
    return [CODE[ch] for ch in text]


def decode(codes: Iterable[int]) -> str:
    """Codes -> text; the inverse of :func:`encode`.

    >>> decode([8, 21, 13, 16, 20, 25])
    'humpty'
    """
    out = []
    for position, code in enumerate(codes):
        try:
            k = operator.index(code)  # int, numpy integer, 0-d integer tensor
        except TypeError:
            k = None
        if k is None or isinstance(code, bool):
            raise TypeError(f"code at position {position} must be an integer, got {code!r}")
        if not 1 <= k <= VOCAB_SIZE:
            raise ValueError(f"code {k} at position {position} is not between 1 and {VOCAB_SIZE}")
        out.append(ALPHABET[k - 1])
    return "".join(out)


def _check_context(context: object) -> int:
    if isinstance(context, bool) or not isinstance(context, int):
        raise TypeError(f"context must be an integer, got {context!r}")
    if context < 1:
        raise ValueError(f"context must be at least 1 character, got {context}")
    return context


def windows(text: str, context: int, pad: bool = False) -> list[tuple[str, str]]:
    """Every (window, next character) training pair of a sliding window over ``text``.

    The window holds ``context`` characters and the pair's answer is the character right after
    it; the window then slides one character to the right.

    >>> pairs = windows("humpty dumpty sat on a wall", 12)
    >>> len(pairs), pairs[0], pairs[-1]
    (15, ('humpty dumpt', 'y'), ('sat on a wal', 'l'))

    With ``pad=True`` the text is preceded by ``context`` spaces, so that the very first
    character is also an answer (``("            ", "h")``): this teaches a model to start a
    text from a short prompt. Raises ``ValueError`` for an empty text, a character outside the
    28, ``context < 1``, or (without padding) a text too short for even one window.
    """
    context = _check_context(context)
    text = _check_str(text)
    if text == "":
        raise ValueError("cannot cut windows from an empty text")
    _check_alphabet(text)
    if pad:
        text = " " * context + text
    if len(text) <= context:
        raise ValueError(
            f"a text of {len(text)} characters has no window of {context} characters followed "
            f"by a next character: it needs at least {context + 1}"
        )
    return [(text[i : i + context], text[i + context]) for i in range(len(text) - context)]


def fit_window(prompt: str, context: int) -> str:
    """The ``context`` characters a fixed-size model sees of ``prompt``.

    A longer prompt keeps only its last ``context`` characters (the window has slid past the
    rest); a shorter one is padded with spaces on the left, as if the text had started after a
    run of spaces. An empty prompt raises ``ValueError``.

    >>> fit_window("humpty dumpty", 4), fit_window("hum", 5)
    ('mpty', '  hum')
    """
    context = _check_context(context)
    prompt = _check_str(prompt, "prompt")
    if prompt == "":
        raise ValueError("the prompt is empty: give at least one character to continue from")
    _check_alphabet(prompt, "prompt")
    return prompt[-context:].rjust(context, " ")
