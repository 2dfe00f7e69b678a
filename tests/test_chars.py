"""llmbook.chars: the a=1 ... z=26 code with space=27 and period=28, and sliding windows."""

from __future__ import annotations

import numpy as np
import pytest

from llmbook import chars, texts


def test_humpty_dumpt_encodes_as_in_the_article():
    assert chars.encode("humpty dumpt") == [8, 21, 13, 16, 20, 25, 27, 4, 21, 13, 16, 20]


def test_codes_of_letters_space_and_period():
    assert (chars.CODE["a"], chars.CODE["h"], chars.CODE["z"]) == (1, 8, 26)
    assert (chars.SPACE, chars.PERIOD, chars.VOCAB_SIZE) == (27, 28, 28)


def test_decode_inverts_encode_for_every_character():
    assert chars.decode(chars.encode(chars.ALPHABET)) == chars.ALPHABET
    assert chars.decode(range(1, 29)) == chars.ALPHABET
    assert chars.decode(np.array([8, 9])) == "hi"  # numpy integers are integers too


def test_humpty_has_15_windows_of_12_characters():
    pairs = chars.windows(texts.HUMPTY, 12)
    assert len(pairs) == 15
    assert pairs[0] == ("humpty dumpt", "y")
    assert pairs[1] == ("umpty dumpty", " ")
    assert pairs[2] == ("mpty dumpty ", "s")
    assert pairs[-1] == ("sat on a wal", "l")
    assert all(len(w) == 12 for w, _ in pairs)


@pytest.mark.parametrize("context", [1, 5, 12, 26])
def test_windows_rebuild_the_text(context):
    pairs = chars.windows(texts.HUMPTY, context)
    assert len(pairs) == len(texts.HUMPTY) - context
    assert pairs[0][0] + "".join(nxt for _, nxt in pairs) == texts.HUMPTY


def test_padded_windows_start_before_the_first_character():
    pairs = chars.windows("hum", 4, pad=True)
    assert pairs == [("    ", "h"), ("   h", "u"), ("  hu", "m")]


def test_clean_maps_a_rhyme_onto_the_28_characters():
    text = chars.clean(texts.NURSERY_RHYMES["humpty dumpty"])
    assert text.startswith("humpty dumpty sat on a wall humpty dumpty had a great fall. ")
    assert "kings horses" in text and "couldnt" in text
    assert set(text) <= set(chars.ALPHABET)
    for rhyme in texts.NURSERY_RHYMES.values():
        assert chars.encode(chars.clean(rhyme))  # every rhyme of the book encodes


def test_clean_turns_other_sentence_ends_into_periods():
    assert chars.clean("Are you there?  Yes; come!") == "are you there. yes. come."


def test_character_outside_the_alphabet_is_named_with_its_position():
    with pytest.raises(ValueError, match=r"'H' at position 0"):
        chars.encode("Humpty")
    with pytest.raises(ValueError, match=r"',' at position 4"):
        chars.windows("wall, humpty", 3)
    with pytest.raises(ValueError, match=r"'7' at position 4"):
        chars.clean("No, 7")  # the position in the text as given


def test_empty_text_is_refused():
    with pytest.raises(ValueError, match="empty"):
        chars.encode("")
    with pytest.raises(ValueError, match="empty"):
        chars.windows("", 3)
    with pytest.raises(ValueError, match="empty"):
        chars.fit_window("", 3)


@pytest.mark.parametrize("context", [0, -1])
def test_context_below_one_is_refused(context):
    with pytest.raises(ValueError, match=f"at least 1 character, got {context}"):
        chars.windows(texts.HUMPTY, context)


@pytest.mark.parametrize("context", [2.0, True, "12"])
def test_context_must_be_an_integer(context):
    with pytest.raises(TypeError, match="context must be an integer"):
        chars.windows(texts.HUMPTY, context)


def test_text_too_short_for_one_window_says_how_long_it_must_be():
    with pytest.raises(ValueError, match="needs at least 13"):
        chars.windows("humpty dumpt", 12)


def test_non_text_is_a_type_error():
    with pytest.raises(TypeError, match="must be a str"):
        chars.encode(["h", "i"])


@pytest.mark.parametrize("bad", [0, 29, -3])
def test_decode_refuses_codes_outside_1_to_28(bad):
    with pytest.raises(ValueError, match=f"code {bad} at position 1"):
        chars.decode([8, bad])


def test_decode_refuses_non_integers():
    with pytest.raises(TypeError, match="must be an integer"):
        chars.decode([8.0])


def test_fit_window_keeps_the_last_characters_or_pads_on_the_left():
    assert chars.fit_window("humpty dumpty", 12) == "umpty dumpty"
    assert chars.fit_window("hum", 5) == "  hum"
    assert chars.fit_window("humpt", 5) == "humpt"
