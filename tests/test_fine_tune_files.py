"""Fine-tuning a pretrained folder writes files the other programs can open: `llmbook.train
--init-from` a saved random GPT-2, then `llmbook.sample` from its best.pt and `llmbook.train
--resume` from its ckpt.pt, all through the command line. Also: --block-size crops the model's
context, and a vocabulary padded beyond the tokenizer's trains and never samples a padding id."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from tiny_training import flags  # tests/tiny_training.py

transformers = pytest.importorskip("transformers")
pytest.importorskip("safetensors")

from llmbook import sample, train  # noqa: E402
from llmbook.checkpoint import load_checkpoint  # noqa: E402
from llmbook.pretrained import from_pretrained, load_tokenizer  # noqa: E402
from llmbook.tokenizer import BPETokenizer, GPT2FormatTokenizer, save_gpt2_bpe  # noqa: E402
from llmbook.training import batches, runtime  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
TOKENS = 300  # the tokenizer's vocabulary: 256 bytes + 44 merges
STEPS = dict(max_steps=4, warmup_steps=1, eval_interval=2, eval_batches=2, batch_size=4)
RUN = flags(**STEPS, quiet=True, device="cpu", learning_rate=1e-3)


def _gpt2_folder(folder: Path, text: str, vocab_size: int) -> Path:
    """A tiny random Hugging Face GPT-2 saved with save_pretrained, the book's BPE beside it."""
    torch.manual_seed(0)
    hf_config = transformers.GPT2Config(vocab_size=vocab_size, n_positions=32, n_embd=32,
                                        n_layer=2, n_head=4, bos_token_id=None,
                                        eos_token_id=None)  # fmt: skip
    transformers.GPT2LMHeadModel(hf_config).save_pretrained(folder)
    save_gpt2_bpe(BPETokenizer().train(text[:20_000], TOKENS), folder)
    return folder


@pytest.fixture(scope="module")
def gpt2_folder(tmp_path_factory: pytest.TempPathFactory, text: str) -> Path:
    return _gpt2_folder(tmp_path_factory.mktemp("gpt2"), text, TOKENS)


@pytest.fixture(scope="module")
def padded_folder(tmp_path_factory: pytest.TempPathFactory, text: str) -> Path:
    """The model has 320 rows, the tokenizer 300 tokens (as GPT-2 is padded to 50,304)."""
    return _gpt2_folder(tmp_path_factory.mktemp("gpt2-padded"), text, 320)


@pytest.fixture
def short_text(monkeypatch: pytest.MonkeyPatch, text: str) -> str:
    """The training program reads the first 40,000 characters instead of the whole corpus."""
    monkeypatch.setattr(batches, "load_text", lambda name: text)
    return text


def test_fine_tuned_files_sample_and_resume_through_the_command_line(
    gpt2_folder: Path, short_text: str, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    out = tmp_path / "run"
    start = [*RUN, "--init-from", str(gpt2_folder), "--out-dir", str(out)]
    assert train.main([*start, "--stop-at", "2"]) == 0
    ckpt = load_checkpoint(out / "ckpt.pt")
    assert ckpt["step"] == 2 and ckpt["tokenizer"]["kind"] == "bpe-gpt2-format"
    capsys.readouterr()

    # sample from best.pt: the tokenizer comes back with the file's ids
    model, tokenizer = sample.load_model(str(out / "best.pt"))
    assert isinstance(tokenizer, GPT2FormatTokenizer)
    assert tokenizer.encode(short_text[:500]) == load_tokenizer(gpt2_folder).encode(
        short_text[:500]
    )
    args = ["--checkpoint", str(out / "best.pt"), "--prompt", "ROMEO:", "--max-new-tokens", "8"]
    assert sample.main([*args, "--top-k", "1"]) == 0
    greedy = capsys.readouterr().out
    ids = torch.tensor([tokenizer.encode("ROMEO:")])  # (1, T)
    assert greedy == tokenizer.decode(model.generate(ids, 8, top_k=1)[0].tolist()) + "\n"

    # resume ckpt.pt to the end: the same weights as one uninterrupted run
    assert train.main([*start, "--resume"]) == 0
    assert "step 4: train loss" in capsys.readouterr().out
    resumed = load_checkpoint(out / "ckpt.pt")
    assert resumed["step"] == 4 and [e["step"] for e in resumed["log"]] == [0, 2, 4]
    whole = tmp_path / "whole"
    assert train.main([*RUN, "--init-from", str(gpt2_folder), "--out-dir", str(whole)]) == 0
    for name, tensor in load_checkpoint(whole / "ckpt.pt")["model"].items():
        torch.testing.assert_close(resumed["model"][name], tensor, msg=name)


@pytest.mark.slow  # a new Python process imports torch
def test_sample_program_opens_a_fine_tuned_checkpoint_in_a_new_process(
    gpt2_folder: Path, short_text: str, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    assert train.main([*RUN, "--init-from", str(gpt2_folder), "--out-dir", str(out)]) == 0
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    command = [sys.executable, "-m", "llmbook.sample", "--checkpoint", str(out / "best.pt"),
               "--prompt", "KING", "--max-new-tokens", "5", "--seed", "3"]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("KING") and "Traceback" not in done.stderr


def test_block_size_with_init_from_crops_the_position_table(
    gpt2_folder: Path, short_text: str, tmp_path: Path
) -> None:
    out = tmp_path / "cropped"
    args = [*RUN, "--init-from", str(gpt2_folder), "--out-dir", str(out), "--block-size", "16"]
    assert train.main([*args, "--stop-at", "2"]) == 0
    ckpt = load_checkpoint(out / "ckpt.pt")
    assert ckpt["model_config"]["block_size"] == 16
    assert ckpt["model"]["wpe.weight"].shape == (16, 32)
    assert train.main([*args, "--resume"]) == 0  # the cropped run resumes
    full = from_pretrained(gpt2_folder)
    first = train.train(
        train.config_from_preset(
            "tiny-cpu",
            **STEPS,
            init_from=str(gpt2_folder),
            init_block_size=16,
            learning_rate=1e-9,
            min_lr=0.0,
            quiet=True,
        ),
        short_text,
    )
    torch.testing.assert_close(first.model.wpe.weight, full.wpe.weight[:16], atol=1e-6, rtol=0)


def test_block_size_longer_than_the_pretrained_context_is_refused(
    gpt2_folder: Path, short_text: str, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        train.main([*RUN, "--init-from", str(gpt2_folder), "--block-size", "64"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "block_size=64 is longer than the pretrained model's context of 32" in err


def test_padded_vocabulary_trains_and_never_samples_a_padding_id(
    padded_folder: Path, short_text: str, tmp_path: Path
) -> None:
    out = tmp_path / "padded"
    assert train.main([*RUN, "--init-from", str(padded_folder), "--out-dir", str(out)]) == 0
    ckpt = load_checkpoint(out / "best.pt")
    assert ckpt["model_config"]["vocab_size"] == 320
    model, tokenizer = sample.load_model(str(out / "best.pt"))
    assert tokenizer.vocab_size == TOKENS
    with torch.no_grad():
        model.lm_head.weight[TOKENS:] = 0.0
        model.lm_head.weight[TOKENS:, 0] = 1e4  # the padding rows would win every draw
    with sample.only_known_ids(model, tokenizer.vocab_size):
        ids = model.generate(torch.tensor([[1, 2]]), 40, temperature=2.0)
    assert int(ids.max()) < TOKENS
    text = sample.generate_text(model, tokenizer, "ROMEO", 40, temperature=2.0, seed=1)
    assert text.startswith("ROMEO")


def test_the_memory_check_sizes_the_pretrained_model_before_loading_it(
    gpt2_folder: Path, short_text: str, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    from llmbook import pretrained
    from llmbook.gpt import param_count

    loaded: list[str] = []
    monkeypatch.setattr(runtime, "available_memory", lambda device: 10_000)
    monkeypatch.setattr(pretrained, "from_pretrained", lambda *a, **k: loaded.append("x"))
    with pytest.raises(SystemExit) as exit_info:
        train.main([*RUN, "--init-from", str(gpt2_folder), "--block-size", "16"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    n_params = param_count(pretrained.training_config(str(gpt2_folder), 16))
    # wte, wpe cropped to 16 rows, 2 blocks (qkv, proj, fc, proj with biases; 2 norms), ln_f
    assert n_params == 300 * 32 + 16 * 32 + 2 * (12 * 32 * 32 + 13 * 32) + 2 * 32
    assert "cannot be trained in the memory of cpu" in err and f"({n_params:,} parameters" in err
    assert loaded == []  # refused before any weight was read
