"""The number-words translation task: words, ids, the split and the padding."""

from __future__ import annotations

import pytest
import torch

from llmbook import toydata


def words_to_number(text: str) -> int:
    """An independent oracle: read number words back by adding up their values."""
    values = {w: i for i, w in enumerate(toydata.ONES)}
    values |= {w: 10 * (i + 2) for i, w in enumerate(toydata.TENS)}
    total = 0
    for word in toydata.source_tokens(text):
        if word == "hundred":
            total *= 100
        elif word != "and":
            total += values[word]
    return total


@pytest.mark.parametrize(
    ("n", "words"),
    [
        (0, "zero"),
        (7, "seven"),
        (13, "thirteen"),
        (40, "forty"),
        (42, "forty-two"),
        (100, "one hundred"),
        (105, "one hundred and five"),
        (312, "three hundred and twelve"),
        (999, "nine hundred and ninety-nine"),
    ],
)
def test_number_words_writes_british_english(n: int, words: str) -> None:
    assert toydata.number_words(n) == words


def test_every_number_reads_back_to_itself() -> None:
    texts = [toydata.number_words(n) for n in range(1000)]
    assert [words_to_number(t) for t in texts] == list(range(1000))
    assert len(set(texts)) == 1000


def test_vocabularies_have_the_stated_sizes_and_ids() -> None:
    assert len(toydata.SOURCE_TOKENS) == 31 and len(toydata.TARGET_TOKENS) == 13
    assert toydata.SOURCE_TOKENS[toydata.PAD_ID] == toydata.TARGET_TOKENS[toydata.PAD_ID] == "<pad>"
    assert toydata.TARGET_TOKENS[toydata.BOS_ID] == "<bos>"
    assert toydata.TARGET_TOKENS[toydata.EOS_ID] == "<eos>"
    used = {t for n in range(1000) for t in toydata.source_tokens(toydata.number_words(n))}
    assert used == set(toydata.SOURCE_TOKENS) - {"<pad>"}  # every word is needed


def test_encode_source_matches_docstring_example_and_round_trips() -> None:
    assert toydata.encode_source("three hundred and twelve") == [4, 29, 30, 13]
    for n in range(1000):
        words = toydata.number_words(n)
        ids = toydata.encode_source(words)
        assert toydata.decode_source(ids) == words.replace("-", " ")
        assert 1 <= len(ids) <= 5


def test_encode_target_wraps_digits_in_bos_and_eos() -> None:
    assert toydata.encode_target("312") == [1, 6, 4, 5, 2]
    for n in range(1000):
        ids = toydata.encode_target(str(n))
        assert ids[0] == toydata.BOS_ID and ids[-1] == toydata.EOS_ID
        assert toydata.decode_target(ids) == str(n)


def test_decode_target_stops_at_the_first_eos() -> None:
    assert toydata.decode_target([1, 6, 2, 7, 8]) == "3"
    assert toydata.decode_target(torch.tensor([1, 6, 4, 0, 0])) == "31"  # no eos: all digits


def test_split_is_seeded_disjoint_and_complete() -> None:
    train, held_out = toydata.split_numbers(200, seed=0)
    assert len(train) == 800 and len(held_out) == 200
    assert set(train).isdisjoint(held_out) and sorted(train + held_out) == list(range(1000))
    assert toydata.split_numbers(200, seed=0) == (train, held_out)
    assert toydata.split_numbers(200, seed=1)[1] != held_out


def test_pad_batch_pads_on_the_right_and_marks_padding() -> None:
    ids, mask = toydata.pad_batch([[4, 29, 30, 13], [7], [9, 2]])
    assert ids.tolist() == [[4, 29, 30, 13], [7, 0, 0, 0], [9, 2, 0, 0]]
    assert mask.tolist() == [
        [False, False, False, False],
        [False, True, True, True],
        [False, False, True, True],
    ]
    assert ids.dtype == torch.long and mask.dtype == torch.bool


def test_make_batch_shapes_follow_the_longest_example() -> None:
    src, src_pad, tgt, tgt_pad = toydata.make_batch([7, 312, 777])
    assert src.shape == src_pad.shape == (3, 5)  # "seven hundred and seventy seven"
    assert tgt.shape == tgt_pad.shape == (3, 5)  # <bos> 7 7 7 <eos>
    assert (~src_pad).sum(1).tolist() == [1, 4, 5]
    assert toydata.decode_target(tgt[1]) == "312"


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: toydata.number_words(1000), ValueError, "0..999"),
        (lambda: toydata.number_words(-1), ValueError, "0..999"),
        (lambda: toydata.number_words(3.0), TypeError, "int"),
        (lambda: toydata.number_words(True), TypeError, "int"),
        (lambda: toydata.encode_source("three thousand"), ValueError, "thousand"),
        (lambda: toydata.encode_source(""), ValueError, "no words"),
        (lambda: toydata.encode_source("<pad>"), ValueError, "unknown"),
        (lambda: toydata.encode_source(312), TypeError, "str"),
        (lambda: toydata.encode_target("3a"), ValueError, "3a"),
        (lambda: toydata.encode_target(""), ValueError, "non-empty"),
        (lambda: toydata.encode_target(312), TypeError, "str"),
        (lambda: toydata.decode_target([1, 13]), ValueError, "13"),
        (lambda: toydata.decode_source([1.5]), TypeError, "ints"),
        (lambda: toydata.split_numbers(0), ValueError, "n_held_out"),
        (lambda: toydata.split_numbers(1000), ValueError, "n_held_out"),
        (lambda: toydata.pad_batch([]), ValueError, "at least one"),
        (lambda: toydata.pad_batch([[1], []]), ValueError, "empty"),
    ],
)
def test_bad_input_raises_a_clear_error(call, error, message) -> None:
    with pytest.raises(error, match=message):
        call()
