"""GPT-2's tokenizer files and the book's BPE, checked on each other with Hugging Face
`tokenizers` as the answer key, on the whole of Tiny Shakespeare."""

from __future__ import annotations

from pathlib import Path

import pytest

tokenizers = pytest.importorskip("tokenizers")

from llmbook.tokenizer import (  # noqa: E402
    BPETokenizer,
    GPT2FormatTokenizer,
    Tokenizer,
    bytes_to_unicode,
    load_gpt2_bpe,
    save_gpt2_bpe,
)

VOCAB_SIZE = 400  # 144 merges: a few seconds of training


@pytest.fixture(scope="module")
def shakespeare(shared_data_dir: Path) -> str:
    return (shared_data_dir / "tinyshakespeare.txt").read_text(encoding="utf-8")


def _hf_byte_level(vocab: Path, merges: Path):
    hf = tokenizers.Tokenizer(tokenizers.models.BPE.from_file(str(vocab), str(merges)))
    hf.pre_tokenizer = tokenizers.pre_tokenizers.ByteLevel(add_prefix_space=False)
    hf.decoder = tokenizers.decoders.ByteLevel()
    return hf


def test_bytes_to_unicode_is_gpt2s_table() -> None:
    chars = bytes_to_unicode()
    assert (chars[ord("a")], chars[32], chars[10], chars[255]) == ("a", "Ġ", "Ċ", "ÿ")
    assert len(set(chars.values())) == 256
    assert sorted(chars.values()) == sorted(tokenizers.pre_tokenizers.ByteLevel.alphabet())


def test_book_bpe_exported_encodes_like_hugging_face(shakespeare: str, tmp_path: Path) -> None:
    book = BPETokenizer().train(shakespeare, VOCAB_SIZE)
    vocab, merges = save_gpt2_bpe(book, tmp_path)
    hf = _hf_byte_level(vocab, merges)
    ours = book.encode(shakespeare)
    assert hf.encode(shakespeare).ids == ours
    assert len(ours) < len(shakespeare.encode("utf-8"))  # the merges are used
    assert hf.decode(ours) == shakespeare


def test_tokenizers_gpt2_files_load_into_book_bpe(shakespeare: str, tmp_path: Path) -> None:
    hf = tokenizers.ByteLevelBPETokenizer()
    hf.train_from_iterator(
        [shakespeare], vocab_size=VOCAB_SIZE, show_progress=False, special_tokens=["<|endoftext|>"]
    )
    hf.save_model(str(tmp_path))
    ours = load_gpt2_bpe(tmp_path / "vocab.json", tmp_path / "merges.txt")
    expected = hf.encode(shakespeare).ids
    assert ours.encode(shakespeare) == expected
    assert ours.vocab_size == hf.get_vocab_size() == VOCAB_SIZE
    eot = hf.token_to_id("<|endoftext|>")
    assert ours.special == {"<|endoftext|>": eot}
    assert ours.decode([*expected[:50], eot]) == hf.decode(expected[:50]) + "<|endoftext|>"
    ours.save(tmp_path / "tok.json")
    again = Tokenizer.load(tmp_path / "tok.json")
    assert isinstance(again, GPT2FormatTokenizer)
    assert again.encode(shakespeare[:5000]) == hf.encode(shakespeare[:5000]).ids


def test_gpt2_files_missing_bytes_are_refused(tmp_path: Path) -> None:
    (tmp_path / "vocab.json").write_text('{"a": 0, "b": 1}')
    (tmp_path / "merges.txt").write_text("#version: 0.2\na b\n")
    with pytest.raises(ValueError, match="no token for 254 bytes"):
        load_gpt2_bpe(tmp_path / "vocab.json", tmp_path / "merges.txt")


def test_unknown_id_is_refused(tmp_path: Path) -> None:
    book = BPETokenizer().train("a cat sat on a mat " * 20, 260)
    vocab, merges = save_gpt2_bpe(book, tmp_path)
    loaded = load_gpt2_bpe(vocab, merges)
    assert loaded.encode("a mat") == book.encode("a mat")  # the book's own ids come back
    with pytest.raises(ValueError, match="token id 999 is not in this vocabulary"):
        loaded.decode([999])
