from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llmbook.texts import CAT_CORPUS, HUMPTY, NURSERY_RHYMES
from llmbook.tokenizer import (
    GPT2_LIKE_PATTERN,
    BPETokenizer,
    CharTokenizer,
    Tokenizer,
    WordTokenizer,
    get_stats,
    merge,
    split_chunks,
)

MODEST = settings(max_examples=50, deadline=None)
SMALL_ALPHABET = st.text(alphabet="ab c.\n'é_", max_size=60)
RHYMES_PLUS = "".join(NURSERY_RHYMES.values()) + "naïve café, 東京 😀😀 naïve"


def naive_train(text: str, vocab_size: int, tok: BPETokenizer) -> dict[tuple[int, int], int]:
    """minbpe's loop: recount every pair of every chunk after each merge (the answer key)."""
    chunks = [list(c.encode("utf-8")) for c in tok.split(text)]
    merges = {}
    for idx in range(256, vocab_size):
        stats: dict[tuple[int, int], int] = {}
        for ids in chunks:
            get_stats(ids, stats)
        if not stats:
            break
        pair = max(stats, key=lambda p: (stats[p], -p[0], -p[1]))
        merges[pair] = idx
        chunks = [merge(ids, pair, idx) for ids in chunks]
    return merges


def naive_encode(text: str, tok: BPETokenizer) -> list[int]:
    """Apply the learned merges one after another, in order, to each chunk."""
    out = []
    for chunk in tok.split(text):
        ids = list(chunk.encode("utf-8"))
        for pair, idx in tok.merges.items():
            ids = merge(ids, pair, idx)
        out.extend(ids)
    return out


@pytest.fixture(scope="module")
def rhymes_bpe() -> BPETokenizer:
    return BPETokenizer().train(RHYMES_PLUS, 320)


@pytest.mark.parametrize(
    ("ids", "expected"),
    [
        ([1, 2, 3, 1, 2], {(1, 2): 2, (2, 3): 1, (3, 1): 1}),
        ([5, 5, 5], {(5, 5): 2}),
        ([7], {}),
        ([], {}),
    ],
)
def test_get_stats_counts_neighbouring_pairs(ids, expected):
    assert get_stats(ids) == expected


def test_get_stats_adds_to_given_counts():
    counts = {(1, 2): 10}
    assert get_stats([1, 2, 1], counts) is counts
    assert counts == {(1, 2): 11, (2, 1): 1}


@pytest.mark.parametrize(
    ("ids", "pair", "idx", "expected"),
    [
        ([1, 2, 3, 1, 2], (1, 2), 4, [4, 3, 4]),
        ([5, 5, 5], (5, 5), 6, [6, 5]),
        ([5, 5, 5, 5], (5, 5), 6, [6, 6]),
        ([1, 3, 2], (1, 2), 4, [1, 3, 2]),
        ([], (1, 2), 4, []),
    ],
)
def test_merge_replaces_pairs_left_to_right(ids, pair, idx, expected):
    assert merge(ids, pair, idx) == expected


@MODEST
@given(SMALL_ALPHABET, st.integers(0, 30))
def test_incremental_training_matches_naive_recounting(text, num_merges):
    tok = BPETokenizer()
    expected = naive_train(text, 256 + num_merges, tok)
    if len(expected) < num_merges:  # the text has fewer pairs to merge than asked
        with pytest.raises(ValueError, match=f"allows only {len(expected)} merges"):
            tok.train(text, 256 + num_merges)
        return
    tok.train(text, 256 + num_merges)
    assert list(tok.merges.items()) == list(expected.items())


def test_incremental_training_matches_naive_on_the_rhymes():
    text = "".join(NURSERY_RHYMES.values())
    tok = BPETokenizer().train(text, 340)
    assert list(tok.merges.items()) == list(naive_train(text, 340, tok).items())


def test_ties_go_to_the_smallest_pair():
    tok = BPETokenizer(pattern=None).train("xyab", 257)  # every pair occurs once
    assert tok.merges == {(ord("a"), ord("b")): 256}


@MODEST
@given(st.text())
def test_bpe_roundtrips_any_unicode(rhymes_bpe, text):
    assert rhymes_bpe.decode(rhymes_bpe.encode(text)) == text
    assert BPETokenizer().decode(BPETokenizer().encode(text)) == text


@MODEST
@given(st.text())
def test_split_chunks_join_back_to_the_text(text):
    assert "".join(BPETokenizer().split(text)) == text


@MODEST
@given(st.text())
def test_encode_matches_merges_applied_in_order(rhymes_bpe, text):
    assert rhymes_bpe.encode(text) == naive_encode(text, rhymes_bpe)


@MODEST
@given(st.text(max_size=100))
def test_encode_is_deterministic(rhymes_bpe, text):
    other = BPETokenizer().train(RHYMES_PLUS, 320)  # trained again, with an empty encode cache
    assert rhymes_bpe.encode(text) == rhymes_bpe.encode(text) == other.encode(text)


def test_cat_corpus_learns_cat_plus_s():
    tok = BPETokenizer().train(CAT_CORPUS, 265)
    assert tok.pieces(" cats") == [" cat", "s"]
    assert tok.pieces(" dogs") == [" dog", "s"]
    assert tok.pieces("the cats")[-2:] == [" cat", "s"]
    assert b" cat" in tok.vocab.values()
    assert b" cats" not in tok.vocab.values()


def test_cat_corpus_runs_out_of_merges_at_64():
    assert len(BPETokenizer().train(CAT_CORPUS, 320).merges) == 64
    with pytest.raises(ValueError, match=r"allows only 64 merges \(vocab_size up to 320\)"):
        BPETokenizer().train(CAT_CORPUS, 321)


def test_bpe_vocab_is_bytes_plus_merges(rhymes_bpe):
    assert rhymes_bpe.vocab_size == 320 == len(rhymes_bpe.vocab)
    assert list(rhymes_bpe.merges.values()) == list(range(256, 320))
    for (a, b), idx in rhymes_bpe.merges.items():
        assert rhymes_bpe.vocab[idx] == rhymes_bpe.vocab[a] + rhymes_bpe.vocab[b]


def test_untrained_bpe_encodes_utf8_bytes():
    tok = BPETokenizer()
    assert tok.vocab_size == 256
    assert tok.encode("hé😀") == list("hé😀".encode())
    assert tok.pieces("é") == ["\ufffd", "\ufffd"]  # two bytes, each half a character


@pytest.mark.parametrize("vocab_size", [0, 100, 255])
def test_bpe_rejects_vocab_below_256(vocab_size):
    with pytest.raises(ValueError, match=f"at least 256.*got {vocab_size}"):
        BPETokenizer().train("hello", vocab_size)


@pytest.mark.parametrize("bad", [b"bytes", None, 3, ["a"]])
def test_bpe_rejects_non_string_text(bad):
    with pytest.raises(TypeError, match="text must be a str"):
        BPETokenizer().train(bad, 300)
    with pytest.raises(TypeError, match="text must be a str"):
        BPETokenizer().encode(bad)


def test_bpe_rejects_non_int_vocab_size():
    with pytest.raises(TypeError, match="vocab_size must be an int"):
        BPETokenizer().train("hello", 300.0)


@pytest.mark.parametrize(
    ("ids", "error", "message"),
    [
        ([256], ValueError, "id 256 is outside the vocabulary"),
        ([-1], ValueError, "id -1 is outside"),
        ([1.0], TypeError, "ids must be ints"),
        ("abc", TypeError, "ids must be a sequence of ints"),
    ],
)
def test_bpe_decode_rejects_bad_ids(ids, error, message):
    with pytest.raises(error, match=message):
        BPETokenizer().decode(ids)


def test_char_tokenizer_on_humpty():
    tok = CharTokenizer.from_text(HUMPTY)
    assert "".join(tok.chars) == " adhlmnopstuwy"
    assert tok.vocab_size == 14
    ids = tok.encode("humpty dumpt")
    assert ids == [3, 11, 5, 8, 10, 13, 0, 2, 11, 5, 8, 10]
    assert tok.decode(ids) == "humpty dumpt"


def test_char_tokenizer_on_tiny_shakespeare(shared_data_dir: Path):
    text = (shared_data_dir / "tinyshakespeare.txt").read_text(encoding="utf-8")
    tok = CharTokenizer.from_text(text)
    assert tok.vocab_size == 65
    assert "".join(tok.chars[:3]) == "\n !"
    assert tok.decode(tok.encode(text[:1000])) == text[:1000]


def test_char_tokenizer_names_unknown_character():
    tok = CharTokenizer.from_text(HUMPTY)
    with pytest.raises(ValueError, match=r"character 'z' \(at position 7\) is not in"):
        tok.encode("humpty zumpty")


@pytest.mark.parametrize(
    ("chars", "message"),
    [
        ([], "at least one character"),
        (["a", "bc"], "single characters, got 'bc'"),
        (["a", "b", "a"], r"repeated characters: \['a'\]"),
    ],
)
def test_char_tokenizer_rejects_bad_vocabulary(chars, message):
    with pytest.raises(ValueError, match=message):
        CharTokenizer(chars)


def test_char_tokenizer_rejects_bad_input():
    with pytest.raises(ValueError, match="empty text"):
        CharTokenizer.from_text("")
    with pytest.raises(TypeError, match="text must be a str"):
        CharTokenizer.from_text(42)
    with pytest.raises(ValueError, match="id 14 is outside"):
        CharTokenizer.from_text(HUMPTY).decode([14])


@pytest.mark.parametrize(
    "make",
    [
        lambda: BPETokenizer().train(CAT_CORPUS, 300),
        lambda: BPETokenizer(pattern=None).train("aaabdaaabac", 259),
        lambda: CharTokenizer.from_text(HUMPTY + "é😀"),
    ],
)
def test_save_load_roundtrips(make, tmp_path: Path):
    tok = make()
    path = tmp_path / "tok.json"
    tok.save(path)
    assert [p.name for p in tmp_path.iterdir()] == ["tok.json"]  # no temp file left
    text = "a wall é😀 " + HUMPTY
    loaded = Tokenizer.load(path)
    assert type(loaded) is type(tok)
    assert loaded.vocab_size == tok.vocab_size
    if isinstance(tok, BPETokenizer):
        assert list(loaded.merges.items()) == list(tok.merges.items())
        assert loaded.pattern == tok.pattern
        assert loaded.encode(text) == tok.encode(text)
    else:
        assert loaded.encode(text) == tok.encode(text)
    assert type(type(tok).load(path)) is type(tok)


def _bpe_payload(**changes):
    payload = {"format": "llmbook.tokenizer", "version": 1, "type": "bpe"}
    payload |= {"pattern": None, "merges": [[97, 97], [256, 98]]}
    payload |= changes
    return json.dumps(payload)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not a tokenizer file \\(not JSON"),
        ("[1, 2]", "not a tokenizer file \\(no 'format'"),
        ('{"merges": []}', "not a tokenizer file \\(no 'format'"),
        (_bpe_payload(version=99), "unsupported version 99"),
        (_bpe_payload(type="wordpiece"), "unknown tokenizer type 'wordpiece'"),
        (_bpe_payload(type=["bpe"]), r"unknown tokenizer type \['bpe'\]"),
        (_bpe_payload(merges=[[97, 97], [257, 98]]), r"merge 1 is \[257, 98\]; expected two ids"),
        (_bpe_payload(merges=[[97, 97], [97, 97]]), "merge 1 repeats the pair"),
        (_bpe_payload(merges=[[97, "a"]]), "merge 0 is"),
        (_bpe_payload(merges=[[97, 98, 99]]), "merge 0 is"),
        (_bpe_payload(pattern="(unclosed"), "bad pattern"),
        (_bpe_payload(merges=None), "corrupt bpe tokenizer file"),
        ('{"format": "llmbook.tokenizer", "version": 1, "type": "char"}', "corrupt char"),
        (
            '{"format": "llmbook.tokenizer", "version": 1, "type": "char", "chars": ["a", "a"]}',
            "repeated characters",
        ),
    ],
)
def test_load_rejects_corrupt_or_foreign_files(tmp_path: Path, content: str, message: str):
    path = tmp_path / "bad.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ValueError, match=message) as info:
        Tokenizer.load(path)
    assert str(path) in str(info.value)


def test_load_refuses_the_wrong_subclass(tmp_path: Path):
    path = tmp_path / "char.json"
    CharTokenizer.from_text(HUMPTY).save(path)
    with pytest.raises(ValueError, match="holds a CharTokenizer, not a BPETokenizer"):
        BPETokenizer.load(path)


def test_bpe_on_tiny_shakespeare_compresses_unseen_text(shared_data_dir: Path):
    text = (shared_data_dir / "tinyshakespeare.txt").read_text(encoding="utf-8")
    train, val = text[:300_000], text[-100_000:]
    tok = BPETokenizer().train(train, 512)
    ids = tok.encode(val)
    assert tok.decode(ids) == val
    assert 1.8 < len(val.encode()) / len(ids) < 2.2


# --- saving and loading keeps everything ---------------------------------------------------


@MODEST
@given(SMALL_ALPHABET, st.integers(0, 20), st.text(max_size=40), st.booleans())
def test_save_load_roundtrips_exactly(tmp_path_factory, train_text, num_merges, probe, chunked):
    tok = BPETokenizer(pattern=GPT2_LIKE_PATTERN if chunked else None)
    possible = len(naive_train(train_text, 256 + num_merges, tok))
    tok.train(train_text, 256 + min(num_merges, possible))
    folder = tmp_path_factory.mktemp("tok")
    tok.save(folder / "a.json")
    loaded = BPETokenizer.load(folder / "a.json")
    assert list(loaded.merges.items()) == list(tok.merges.items())
    assert loaded.vocab == tok.vocab and loaded.pattern == tok.pattern
    assert loaded.encode(probe) == tok.encode(probe)
    assert loaded.decode(loaded.encode(probe)) == probe
    loaded.save(folder / "b.json")  # saving again writes the very same bytes
    assert (folder / "a.json").read_bytes() == (folder / "b.json").read_bytes()


# --- one training run gives every smaller vocabulary ---------------------------------------


@MODEST
@given(SMALL_ALPHABET, st.integers(0, 15))
def test_truncated_equals_training_fewer_merges(text, keep):
    full = BPETokenizer()
    available = len(naive_train(text, 256 + 15, full))
    full.train(text, 256 + available)
    keep = min(keep, available)
    small = BPETokenizer().train(text, 256 + keep)
    cut = full.truncated(keep)
    assert list(cut.merges.items()) == list(small.merges.items())
    assert cut.encode(text) == small.encode(text)
    assert len(full.merges) == available  # the original is left as it was


def test_truncated_refuses_bad_counts(rhymes_bpe):
    with pytest.raises(ValueError, match=r"between 0 and 64 \(the merges learned\), got 65"):
        rhymes_bpe.truncated(65)
    with pytest.raises(ValueError, match="got -1"):
        rhymes_bpe.truncated(-1)
    with pytest.raises(TypeError, match="num_merges must be an int"):
        rhymes_bpe.truncated(2.0)


def test_merges_shorten_the_sequence_step_by_step(rhymes_bpe):
    text = "".join(NURSERY_RHYMES.values())
    lengths = [len(rhymes_bpe.truncated(k).encode(text)) for k in range(0, 65, 8)]
    assert lengths == sorted(lengths, reverse=True)
    assert lengths[0] == len(text.encode("utf-8"))  # no merges: one token per byte


def test_decode_accepts_numpy_and_torch_integers(rhymes_bpe):
    np = pytest.importorskip("numpy")
    torch = pytest.importorskip("torch")
    ids = rhymes_bpe.encode("humpty dumpty")
    assert rhymes_bpe.decode(np.array(ids)) == "humpty dumpty"
    assert rhymes_bpe.decode(torch.tensor(ids)) == "humpty dumpty"


def test_split_chunks_keeps_the_leading_space_with_the_word():
    assert split_chunks("the cats sat.") == ["the", " cats", " sat", "."]
    assert split_chunks("the cats", pattern=None) == ["the cats"]
    assert split_chunks("", pattern=None) == []


# --- word tokens ---------------------------------------------------------------------------


def test_word_tokenizer_on_the_rhyme():
    tok = WordTokenizer.from_text(HUMPTY + " " + HUMPTY)
    # most frequent first (" dumpty", " sat", ... twice each), ties alphabetical
    assert tok.words == [" a", " dumpty", " on", " sat", " wall", " humpty", "humpty"]
    assert tok.vocab_size == 8  # the 7 words and the unknown id 0
    ids = tok.encode(HUMPTY)
    assert ids == [7, 2, 4, 3, 1, 5]
    assert tok.decode(ids) == HUMPTY
    assert tok.pieces(HUMPTY) == ["humpty", " dumpty", " sat", " on", " a", " wall"]


def test_word_tokenizer_cannot_spell_new_words():
    tok = WordTokenizer.from_text(CAT_CORPUS)
    assert tok.encode(" cat cats catnip") == [tok.stoi[" cat"], tok.stoi[" cats"], 0]
    assert tok.decode(tok.encode(" cat catnip")) == " cat<unk>"
    assert tok.stoi[" cat"] != tok.stoi[" cats"]  # related words, unrelated ids


def test_word_tokenizer_keeps_the_most_frequent_words():
    tok = WordTokenizer.from_text(CAT_CORPUS, max_words=3)
    assert tok.words == [".", " the", " cat"]
    assert tok.encode("the dog.") == [0, 0, 1]


@MODEST
@given(st.text(alphabet="ab c.\n'é", max_size=60))
def test_word_tokenizer_roundtrips_text_it_was_built_from(text):
    if text:
        tok = WordTokenizer.from_text(text)
        assert tok.decode(tok.encode(text)) == text


def test_word_tokenizer_save_load(tmp_path: Path):
    tok = WordTokenizer.from_text(CAT_CORPUS)
    tok.save(tmp_path / "w.json")
    loaded = Tokenizer.load(tmp_path / "w.json")
    assert isinstance(loaded, WordTokenizer)
    assert loaded.words == tok.words and loaded.encode(CAT_CORPUS) == tok.encode(CAT_CORPUS)


@pytest.mark.parametrize(
    ("make", "error", "message"),
    [
        (lambda: WordTokenizer.from_text(""), ValueError, "empty text"),
        (lambda: WordTokenizer.from_text(3), TypeError, "text must be a str"),
        (lambda: WordTokenizer.from_text("a b", max_words=0), ValueError, "max_words"),
        (lambda: WordTokenizer(["a", "a"]), ValueError, "repeated words"),
        (lambda: WordTokenizer(["a", ""]), ValueError, "non-empty strings, got ''"),
        (lambda: WordTokenizer(["a"]).decode([2]), ValueError, "id 2 is outside"),
    ],
)
def test_word_tokenizer_rejects_bad_input(make, error, message):
    with pytest.raises(error, match=message):
        make()
