"""llmbook.train reaches chapter 15 and pretrained models: the variant flags, --init-from a
local Hugging Face folder, gradient accumulation, the best checkpoint, and --help."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import pytest
import torch
from tiny_training import TINY, flags  # tests/tiny_training.py

from llmbook import train
from llmbook.checkpoint import load_checkpoint
from llmbook.gpt import GPTConfig
from llmbook.train import MODEL_SETTINGS, TrainConfig, config_from_preset
from llmbook.training import batches

# Four heads, so that --n-kv-head 2 shares each key/value head between two.
SMALL = {**TINY, "n_head": 4, "max_steps": 4, "warmup_steps": 1, "eval_interval": 2}
LLAMA_FLAGS = ["--norm", "rmsnorm", "--mlp", "swiglu", "--position", "rope", "--n-kv-head", "2",
               "--no-bias", "--no-tie-embeddings", "--rope-scale", "8",
               "--rope-original-context", "8"]  # fmt: skip


def test_train_config_carries_the_model_config() -> None:
    config = config_from_preset("tiny-cpu", n_kv_head=2, norm="rmsnorm")
    assert isinstance(config.model, GPTConfig)
    assert (config.n_layer, config.model.n_kv_head, config.model.norm) == (4, 2, "rmsnorm")
    assert config.model_config(65) == GPTConfig(**{**vars(config.model), "vocab_size": 65})
    assert "n_layer" not in {f.name for f in fields(TrainConfig)}  # declared once, in GPTConfig


def test_help_gives_every_flag_a_line_with_its_default(capsys: pytest.CaptureFixture) -> None:
    parser = train.build_parser()
    shown = [a for a in parser._actions if a.help != "==SUPPRESS==" and a.dest != "help"]
    assert {a.dest for a in shown} >= set(MODEL_SETTINGS) | {"init_from", "grad_accum"}
    for action in shown:
        assert action.help and "default:" in action.help, action.dest


def test_llama_variant_flags_train_and_resume(text: str, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(batches, "load_text", lambda name: text)
    args = flags(**SMALL, out_dir=tmp_path) + LLAMA_FLAGS
    assert train.main([*args, "--stop-at", "2"]) == 0
    saved = load_checkpoint(tmp_path / "ckpt.pt")["model_config"]
    assert (saved["norm"], saved["mlp"], saved["position"], saved["n_kv_head"]) == (
        "rmsnorm", "swiglu", "rope", 2)  # fmt: skip
    assert (saved["bias"], saved["tie_embeddings"], saved["rope_scale"]) == (False, False, 8.0)
    assert train.main([*args, "--resume"]) == 0
    assert load_checkpoint(tmp_path / "ckpt.pt")["step"] == 4
    other = [*args[: args.index("--n-kv-head") + 1], "4", *args[args.index("--n-kv-head") + 2 :]]
    with pytest.raises(SystemExit) as exit_info:
        train.main([*other, "--resume"])
    assert exit_info.value.code == 2


def test_best_checkpoint_is_kept_beside_the_latest(text: str, tmp_path: Path) -> None:
    result = train.train(config_from_preset("tiny-cpu", **SMALL, out_dir=str(tmp_path)), text)
    best = load_checkpoint(tmp_path / train.BEST_NAME)
    losses = [e["val_loss"] for e in result.log]
    assert best["log"][-1]["val_loss"] == min(losses)
    assert best["step"] == result.log[losses.index(min(losses))]["step"]
    assert load_checkpoint(tmp_path / "ckpt.pt")["step"] == 4


def test_gradient_accumulation_equals_the_whole_batch(text: str) -> None:
    """Two micro-batches of 2 windows give the step of one batch of 4: the same windows (drawn
    in order from the same stream) and the mean of their gradients."""
    whole = train.train(config_from_preset("tiny-cpu", **SMALL), text)
    split = train.train(config_from_preset("tiny-cpu", **SMALL, grad_accum=2), text)
    for (name, a), b in zip(whole.model.state_dict().items(), split.model.state_dict().values(),
                            strict=True):  # fmt: skip
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-4, msg=name)


def test_grad_accum_must_divide_the_batch() -> None:
    with pytest.raises(ValueError, match="grad_accum=3"):
        config_from_preset("tiny-cpu", **SMALL, grad_accum=3)


@pytest.fixture(scope="module")
def gpt2_folder(tmp_path_factory: pytest.TempPathFactory, text: str) -> Path:
    """A tiny randomly initialised Hugging Face GPT-2 with a book BPE as its tokenizer files."""
    transformers = pytest.importorskip("transformers")
    from llmbook.tokenizer import BPETokenizer, save_gpt2_bpe

    folder = tmp_path_factory.mktemp("gpt2-tiny")
    torch.manual_seed(0)
    hf_config = transformers.GPT2Config(vocab_size=300, n_positions=32, n_embd=32, n_layer=2,
                                        n_head=4, bos_token_id=None, eos_token_id=None)  # fmt: skip
    transformers.GPT2LMHeadModel(hf_config).save_pretrained(folder)
    save_gpt2_bpe(BPETokenizer().train(text, 300), folder)
    return folder


def test_init_from_a_local_folder_fine_tunes_it(gpt2_folder: Path, text: str) -> None:
    from llmbook.pretrained import from_pretrained

    start = from_pretrained(gpt2_folder)
    config = config_from_preset("tiny-cpu", **SMALL, init_from=str(gpt2_folder))
    result = train.train(config, text)
    assert result.model.config == GPTConfig(**{**vars(start.config), "dropout": 0.0})
    assert result.config.block_size == 32 and result.tokenizer.vocab_size == 300
    assert result.log[-1]["train_loss"] < result.log[0]["train_loss"]  # it learns
    tiny_steps = train.train(
        config_from_preset("tiny-cpu", **{**SMALL, "learning_rate": 1e-9, "min_lr": 0.0},
                           init_from=str(gpt2_folder)), text)  # fmt: skip
    torch.testing.assert_close(tiny_steps.model.wte.weight, start.wte.weight, atol=1e-6, rtol=0)


def test_init_from_refuses_shapeflags(gpt2_folder: Path, capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        train.main(["--init-from", str(gpt2_folder), "--n-layer", "3"])
    assert exit_info.value.code == 2
    assert "leave out --n-layer" in capsys.readouterr().err
