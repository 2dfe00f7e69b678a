"""A toy translation task the book generates itself: number words to digits.

Built in chapter 14, The transformer architecture.

    "three hundred and twelve" -> "312"

Every whole number from 0 to 999 is written out in British English ("and" after the hundreds,
a hyphen inside "forty-two"). The source side is read word by word (the hyphen splits, so
"forty-two" is the two words "forty", "two"); the target side is read digit by digit. Each side
has its own small vocabulary with a padding token at id 0, and the target side adds a
start (<bos>) and an end (<eos>) token:

    encode_source("three hundred and twelve") -> [4, 29, 30, 13]
    encode_target("312")                      -> [1, 6, 4, 5, 2]    (<bos> 3 1 2 <eos>)
"""

from __future__ import annotations

import random
from collections.abc import Sequence

import torch
from torch import Tensor

# fmt: off
ONES = (
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
    "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen",
    "nineteen",
)  # 0, 1, ..., 19
# fmt: on
TENS = ("twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")  # 20, ..., 90
LARGEST = 999

PAD, BOS, EOS = "<pad>", "<bos>", "<eos>"
SOURCE_TOKENS: tuple[str, ...] = (PAD, *ONES, *TENS, "hundred", "and")  # 31 tokens
TARGET_TOKENS: tuple[str, ...] = (PAD, BOS, EOS, *"0123456789")  # 13 tokens
PAD_ID, BOS_ID, EOS_ID = 0, 1, 2  # the same ids on both sides (the source has no <bos>/<eos>)

_SOURCE_ID = {token: i for i, token in enumerate(SOURCE_TOKENS)}
_TARGET_ID = {token: i for i, token in enumerate(TARGET_TOKENS)}


def number_words(n: int) -> str:
    """Write n (0..999) in words, British style.

    >>> number_words(312), number_words(42), number_words(700), number_words(905)
    ('three hundred and twelve', 'forty-two', 'seven hundred', 'nine hundred and five')
    """
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"n must be an int, got {n!r}")
    if not 0 <= n <= LARGEST:
        raise ValueError(f"n must be in 0..{LARGEST}, got {n}")
    hundreds, rest = divmod(n, 100)
    if hundreds == 0:
        return _below_hundred(rest)
    head = f"{ONES[hundreds]} hundred"
    return head if rest == 0 else f"{head} and {_below_hundred(rest)}"


def _below_hundred(n: int) -> str:
    if n < 20:
        return ONES[n]
    tens, ones = divmod(n, 10)
    return TENS[tens - 2] if ones == 0 else f"{TENS[tens - 2]}-{ONES[ones]}"


def source_tokens(text: str) -> list[str]:
    """Split number words into tokens: at spaces and hyphens.

    >>> source_tokens("three hundred and forty-two")
    ['three', 'hundred', 'and', 'forty', 'two']
    """
    return text.replace("-", " ").split()


def encode_source(text: str) -> list[int]:
    """Token ids of number words (no <bos>/<eos>): the encoder's input."""
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    tokens = source_tokens(text)
    if not tokens:
        raise ValueError("text has no words")
    unknown = [t for t in tokens if t not in _SOURCE_ID or t == PAD]
    if unknown:
        raise ValueError(f"unknown source words {unknown} in {text!r}")
    return [_SOURCE_ID[t] for t in tokens]


def decode_source(ids: Sequence[int]) -> str:
    """The words of source ids, padding left out."""
    return " ".join(SOURCE_TOKENS[i] for i in _check_ids(ids, SOURCE_TOKENS) if i != PAD_ID)


def encode_target(digits: str) -> list[int]:
    """<bos>, one id per digit, <eos>: the decoder's sequence.

    >>> encode_target("312")
    [1, 6, 4, 5, 2]
    """
    if not isinstance(digits, str):
        raise TypeError(f"digits must be a str, got {type(digits).__name__}")
    if not digits or not digits.isascii() or not digits.isdigit():
        raise ValueError(f"digits must be a non-empty string of 0-9, got {digits!r}")
    return [BOS_ID, *(_TARGET_ID[d] for d in digits), EOS_ID]


def decode_target(ids: Sequence[int]) -> str:
    """The digits of target ids: skips <bos> and <pad>, stops at the first <eos>.

    >>> decode_target([1, 6, 4, 5, 2, 0])
    '312'
    """
    digits = []
    for i in _check_ids(ids, TARGET_TOKENS):
        if i == EOS_ID:
            break
        if i not in (PAD_ID, BOS_ID):
            digits.append(TARGET_TOKENS[i])
    return "".join(digits)


def _check_ids(ids: Sequence[int], vocabulary: Sequence[str]) -> list[int]:
    values = ids.tolist() if isinstance(ids, Tensor) else list(ids)
    bad = [i for i in values if isinstance(i, bool) or not isinstance(i, int)]
    if bad:
        raise TypeError(f"ids must be ints, got {bad[:3]}")
    out_of_range = [i for i in values if not 0 <= i < len(vocabulary)]
    if out_of_range:
        raise ValueError(f"ids {out_of_range[:3]} are outside 0..{len(vocabulary) - 1}")
    return values


def pairs(numbers: Sequence[int]) -> list[tuple[str, str]]:
    """(words, digits) for each number: [(number_words(n), str(n)), ...]."""
    return [(number_words(n), str(n)) for n in numbers]


def split_numbers(n_held_out: int = 200, seed: int = 0) -> tuple[list[int], list[int]]:
    """Shuffle 0..999 with a seeded generator: (training numbers, held-out numbers), each sorted.

    The held-out numbers are never shown during training; accuracy on them measures whether the
    model learned the rule rather than the list.
    """
    total = LARGEST + 1
    if not 0 < n_held_out < total:
        raise ValueError(f"n_held_out must be in 1..{total - 1}, got {n_held_out}")
    numbers = list(range(total))
    random.Random(seed).shuffle(numbers)
    return sorted(numbers[n_held_out:]), sorted(numbers[:n_held_out])


def pad_batch(sequences: Sequence[Sequence[int]]) -> tuple[Tensor, Tensor]:
    """Stack id lists of different lengths: right-padded ids (B, L) and the mask (B, L).

    The mask is True at padding, as torch's `key_padding_mask` expects.

    >>> ids, mask = pad_batch([[4, 29], [7]])
    >>> ids.tolist(), mask.tolist()
    ([[4, 29], [7, 0]], [[False, False], [False, True]])
    """
    if len(sequences) == 0 or any(len(s) == 0 for s in sequences):
        raise ValueError("pad_batch needs at least one sequence and no empty ones")
    length = max(len(s) for s in sequences)
    ids = torch.full((len(sequences), length), PAD_ID, dtype=torch.long)  # (B, L)
    for row, seq in enumerate(sequences):
        ids[row, : len(seq)] = torch.tensor(list(seq), dtype=torch.long)
    mask = torch.arange(length)[None, :] >= torch.tensor([len(s) for s in sequences])[:, None]
    return ids, mask  # (B, L), (B, L) with True = padding


def make_batch(numbers: Sequence[int]) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Source ids, source padding mask, target ids, target padding mask for a list of numbers."""
    src, src_pad = pad_batch([encode_source(number_words(n)) for n in numbers])
    tgt, tgt_pad = pad_batch([encode_target(str(n)) for n in numbers])
    return src, src_pad, tgt, tgt_pad
