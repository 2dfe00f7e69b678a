"""Inputs that used to give a silent wrong result or an unclear error now give a clear one:
targets that are all ignored or not integers, a temperature that overflows, resuming on another
text, a step-0 log entry written twice, a negative number of new tokens, a checkpoint cut short,
a lone surrogate, nan logits, a bad Content-Length, write errors naming a temp file."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest
import torch
from tiny_training import tiny  # tests/tiny_training.py

from llmbook import train
from llmbook.checkpoint import CheckpointError, load_checkpoint
from llmbook.data import _content_length
from llmbook.files import write_atomic
from llmbook.gpt import GPT, GPTConfig, sample_next
from llmbook.guards import scale_by_temperature
from llmbook.runlock import RunInterrupted
from llmbook.sample import generate_text
from llmbook.tokenizer import CharTokenizer


@pytest.fixture
def model() -> GPT:
    torch.manual_seed(0)
    return GPT(GPTConfig(vocab_size=5, block_size=8, n_layer=1, n_head=2, n_embd=8)).eval()


def test_targets_must_be_integer_ids_and_not_all_ignored(model: GPT) -> None:
    idx = torch.tensor([[1, 2, 3]])
    with pytest.raises(TypeError, match="targets must be an integer tensor of token ids"):
        model(idx, torch.tensor([[2.0, 3.0, 4.0]]))
    with pytest.raises(ValueError, match=r"every target is -1 \(ignored\), so the mean loss"):
        model(idx, torch.full((1, 3), -1))
    with pytest.raises(ValueError, match=r"target 5 is neither a token id 0\.\.4 nor -1"):
        model(idx, torch.tensor([[1, 5, -1]]))
    with pytest.raises(ValueError, match="targets must have the shape of idx"):
        model(idx, torch.tensor([[1, 2]]))
    _, loss = model(idx, torch.tensor([[-1, 2, -1]]))  # one target is enough
    assert loss is not None and torch.isfinite(loss)


def test_a_tiny_temperature_cannot_overflow_into_nan() -> None:
    logits = torch.tensor([[3.0, 60000.0, 59968.0]], dtype=torch.float16)  # (1, V)
    assert torch.isinf(logits / 1e-6).any()  # the naive division overflows
    scaled = scale_by_temperature(logits, 1e-6)
    assert not torch.isnan(torch.softmax(scaled.float(), -1)).any()
    g = torch.Generator().manual_seed(0)
    assert sample_next(logits, temperature=1e-6, generator=g).item() == 1  # the best one
    ordinary = torch.randn(4, 7)
    assert torch.equal(scale_by_temperature(ordinary, 0.7), ordinary / 0.7)  # bit for bit


def test_nan_logits_and_negative_token_counts_are_refused(model: GPT) -> None:
    tokenizer = CharTokenizer(list("abcde"))
    with pytest.raises(ValueError, match="max_new_tokens must be an integer >= 0, got -1"):
        generate_text(model, tokenizer, "ab", max_new_tokens=-1)
    with torch.no_grad():
        model.h[0].mlp.fc.weight[0, 0] = float("nan")
    with pytest.raises(ValueError, match="the model gave a logit of nan: its weights hold nan"):
        generate_text(model, tokenizer, "ab", max_new_tokens=3)


def test_a_lone_surrogate_is_named() -> None:
    with pytest.raises(ValueError, match=r"'\\ud800', a lone surrogate"):
        CharTokenizer.from_text("ab\ud800c")


def test_resuming_on_another_text_is_refused(text: str, tmp_path: Path) -> None:
    train.train(tiny(out_dir=str(tmp_path), stop_at=3), text)
    shuffled = text[20_000:] + text[:20_000]  # the same characters, other windows
    with pytest.raises(CheckpointError, match="trained on another text than this run's"):
        train.train(tiny(out_dir=str(tmp_path), resume=True), shuffled)
    with pytest.raises(CheckpointError, match="trained with another tokenizer"):
        train.train(tiny(out_dir=str(tmp_path), resume=True), text + "\u00e9")
    assert train.train(tiny(out_dir=str(tmp_path), resume=True), text).step == 6


def test_resuming_a_step_0_checkpoint_logs_step_0_once(text: str, tmp_path: Path) -> None:
    def stop_after_the_first_evaluation(entry: dict) -> None:
        raise KeyboardInterrupt

    with pytest.raises(RunInterrupted, match="holds step 0"):
        train.train(tiny(out_dir=str(tmp_path)), text, callback=stop_after_the_first_evaluation)
    assert [e["step"] for e in load_checkpoint(tmp_path / "ckpt.pt")["log"]] == [0]
    result = train.train(tiny(out_dir=str(tmp_path), resume=True), text)
    assert [e["step"] for e in result.log] == [0, 3, 6]


def test_a_checkpoint_cut_short_says_so(text: str, tmp_path: Path) -> None:
    train.train(tiny(out_dir=str(tmp_path)), text)
    data = (tmp_path / "ckpt.pt").read_bytes()
    for size in (len(data) - 10, len(data) // 2, 0):
        cut = tmp_path / f"cut{size}.pt"
        cut.write_bytes(data[:size])
        with pytest.raises(CheckpointError) as info:
            load_checkpoint(cut)
        message = str(info.value)
        assert str(cut) in message and "Invalid argument" not in message
        assert any(w in message for w in ("cut short", "corrupt", "empty")), message


def test_a_write_error_names_the_file_not_its_temp_file(tmp_path: Path) -> None:
    def full_disk(f) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    target = tmp_path / "ckpt.pt"
    with pytest.raises(OSError) as info:
        write_atomic(target, full_disk)
    assert str(info.value) == f"cannot write {target}: No space left on device"
    assert info.value.errno == errno.ENOSPC and list(tmp_path.iterdir()) == []


def test_a_bad_content_length_only_changes_the_progress_bar() -> None:
    assert _content_length("abc", 1_115_394) == 1_115_394
    assert _content_length("-5", 10) == 10 and _content_length(None, 10) == 10
    assert _content_length("1115394", 10) == 1_115_394


def test_a_bpe_checkpoint_from_before_the_exact_pattern_resumes(text: str, tmp_path: Path) -> None:
    from llmbook.checkpoint import check_same_data, data_fingerprint
    from llmbook.tokenizer import GPT2_LIKE_PATTERN, BPETokenizer

    old = BPETokenizer(GPT2_LIKE_PATTERN).train(text[:5000], 270)
    new = BPETokenizer().train(text[:5000], 270)
    assert old.merges == new.merges  # ASCII text: the two patterns cut it alike
    ids = torch.tensor(new.encode(text[:5000]))
    ckpt = {"tokenizer": {"kind": "bpe", "state": old._state()}}
    check_same_data(ckpt, new, data_fingerprint(ids, ids), tmp_path)  # no error
