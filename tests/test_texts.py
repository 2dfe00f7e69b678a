from __future__ import annotations

import re

from llmbook.texts import CAT_CORPUS, HUMPTY, NURSERY_RHYMES


def test_humpty_is_the_articles_27_character_rhyme():
    assert HUMPTY == "humpty dumpty sat on a wall"
    assert len(HUMPTY) == 27
    assert set(HUMPTY) <= set("abcdefghijklmnopqrstuvwxyz ")


def test_nursery_rhymes_are_short_ascii_verses():
    assert list(NURSERY_RHYMES) == [
        "humpty dumpty",
        "jack and jill",
        "twinkle twinkle",
        "hey diddle diddle",
        "baa baa black sheep",
    ]
    for title, text in NURSERY_RHYMES.items():
        assert text.isascii()
        assert text.endswith("\n")
        assert 4 <= text.count("\n") <= 8
        assert text.lower().startswith(title.split()[0])
    assert NURSERY_RHYMES["humpty dumpty"].lower().startswith(HUMPTY)


def test_cat_corpus_has_singulars_and_plurals():
    words = re.findall(r"[a-z]+", CAT_CORPUS)
    assert CAT_CORPUS.lower() == CAT_CORPUS
    assert (words.count("cat"), words.count("cats")) == (11, 6)
    assert (words.count("dog"), words.count("dogs")) == (9, 5)
