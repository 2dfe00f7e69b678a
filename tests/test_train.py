"""The training program: a forward pass by hand, learning, determinism, resume, DDP, bad input."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from dataclasses import replace
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from tiny_training import TINY, tiny  # tests/tiny_training.py

from llmbook import sample, train
from llmbook.attention import attention
from llmbook.checkpoint import CheckpointError, load_checkpoint
from llmbook.gpt import GPT, GPTConfig
from llmbook.norm import layer_norm
from llmbook.train import config_from_preset, lr_at, use_fused_layer_norm

ROOT = Path(__file__).resolve().parent.parent


def weights(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def assert_same_weights(a: dict, b: dict, atol: float = 0.0) -> None:
    assert a.keys() == b.keys()
    for key in a:
        if atol == 0.0:
            assert torch.equal(a[key], b[key]), key
        else:
            torch.testing.assert_close(a[key], b[key], atol=atol, rtol=0.0, msg=key)


# --- the model ------------------------------------------------------------------------------


def forward_by_hand(model: GPT, idx: torch.Tensor) -> torch.Tensor:
    """Embeddings, each block from its pieces (norm, attention, MLP, residuals), the head."""
    c = model.config
    B, T = idx.shape
    x = model.wte.weight[idx] + model.wpe.weight[:T]  # (B, T, C) + (T, C)
    hs = c.n_embd // c.n_head
    for block in model.h:
        h = layer_norm(x, block.ln_1.weight, block.ln_1.bias)
        qkv = h @ block.attn.qkv.weight.T + block.attn.qkv.bias  # (B, T, 3C)
        q, k, v = qkv.split(c.n_embd, dim=-1)
        q, k, v = (t.view(B, T, c.n_head, hs).transpose(1, 2) for t in (q, k, v))  # (B, nh, T, hs)
        y = attention(q, k, v, causal=True).transpose(1, 2).reshape(B, T, c.n_embd)  # (B, T, C)
        x = x + y @ block.attn.proj.weight.T + block.attn.proj.bias
        h = layer_norm(x, block.ln_2.weight, block.ln_2.bias)
        h = F.gelu(h @ block.mlp.fc.weight.T + block.mlp.fc.bias)  # (B, T, 4C)
        x = x + h @ block.mlp.proj.weight.T + block.mlp.proj.bias
    x = layer_norm(x, model.ln_f.weight, model.ln_f.bias)
    return x @ model.wte.weight.T  # the tied head: (B, T, C) @ (C, V) -> (B, T, V)


def test_forward_equals_the_pieces_assembled_by_hand() -> None:
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=13, block_size=10, n_layer=3, n_head=2, n_embd=8)).eval()
    idx = torch.randint(13, (3, 10), generator=torch.Generator().manual_seed(1))
    logits, _ = model(idx)  # torch's one-kernel LayerNorm
    torch.testing.assert_close(logits, forward_by_hand(model, idx), atol=1e-5, rtol=1e-5)
    by_hand = use_fused_layer_norm(model, False)  # chapter 9's formula: the same numbers
    torch.testing.assert_close(by_hand(idx)[0], logits, atol=1e-5, rtol=1e-5)


def test_fused_layer_norm_keeps_the_parameter_names() -> None:
    model = GPT(GPTConfig(vocab_size=5, block_size=4, n_layer=1, n_head=1, n_embd=4))
    names = list(model.state_dict())
    assert list(use_fused_layer_norm(model, False).state_dict()) == names


# --- the schedule and the config ------------------------------------------------------------


def test_lr_warms_up_linearly_then_decays_by_cosine_to_min_lr() -> None:
    c = tiny(max_steps=110, warmup_steps=10, learning_rate=1e-3, min_lr=1e-4)
    assert lr_at(0, c) == pytest.approx(1e-4)
    assert lr_at(4, c) == pytest.approx(5e-4)
    assert lr_at(9, c) == pytest.approx(1e-3)
    assert lr_at(60, c) == pytest.approx(5.5e-4)  # half way down the cosine
    assert lr_at(110, c) == pytest.approx(1e-4)
    assert all(lr_at(s, c) >= lr_at(s + 1, c) for s in range(10, 110))


def test_baby_gpu_preset_is_nanogpt_shakespeare_char() -> None:
    c = config_from_preset("baby-gpu")
    assert (c.n_layer, c.n_head, c.n_embd, c.block_size, c.batch_size) == (6, 6, 384, 256, 64)
    assert (c.dropout, c.max_steps, c.learning_rate, c.min_lr) == (0.2, 5000, 1e-3, 1e-4)
    assert (c.warmup_steps, c.beta1, c.beta2) == (100, 0.9, 0.99)


def test_flags_override_the_preset() -> None:
    c = train.config_from_args(["--preset", "baby-gpu", "--n-layer", "2", "--no-bias"])
    assert (c.n_layer, c.n_head, c.bias, c.preset) == (2, 6, False, "baby-gpu")


# --- training -------------------------------------------------------------------------------


def test_a_few_steps_lower_the_loss(text: str) -> None:
    config = tiny(max_steps=30, eval_interval=30, eval_batches=4, learning_rate=1e-2, min_lr=1e-3)
    result = train.train(config, text=text)
    first, last = result.log[0], result.log[-1]
    assert first["step"] == 0 and last["step"] == 30
    assert first["train_loss"] == pytest.approx(torch.log(torch.tensor(55.0)).item(), abs=0.3)
    assert last["train_loss"] < first["train_loss"] - 0.5


def test_training_is_deterministic_on_cpu(text: str) -> None:
    a = train.train(tiny(dropout=0.1), text=text)
    b = train.train(tiny(dropout=0.1), text=text)
    assert_same_weights(weights(a.model), weights(b.model))
    assert a.log == [dict(e, seconds=e["seconds"]) for e in a.log]
    assert [e["val_loss"] for e in a.log] == [e["val_loss"] for e in b.log]


def test_resume_after_a_stop_equals_an_uninterrupted_run(text: str, tmp_path: Path) -> None:
    """Exactly equal: the checkpoint holds weights, AdamW state, step and every RNG state."""
    whole = train.train(tiny(max_steps=8, dropout=0.1), text=text)
    out = str(tmp_path / "run")
    train.train(tiny(max_steps=8, dropout=0.1, out_dir=out, stop_at=3), text=text)
    assert load_checkpoint(Path(out) / "ckpt.pt")["step"] == 3
    resumed = train.train(tiny(max_steps=8, dropout=0.1, out_dir=out, resume=True), text=text)
    assert resumed.step == 8
    assert_same_weights(weights(whole.model), weights(resumed.model))
    log = json.loads((Path(out) / "log.json").read_text())
    assert [e["step"] for e in log["evaluations"]] == [0, 3, 6, 8]
    assert [e["val_loss"] for e in log["evaluations"]] == [e["val_loss"] for e in whole.log]


def test_bpe_tokenizer_option_trains(text: str, tmp_path: Path) -> None:
    result = train.train(
        tiny(tokenizer="bpe", bpe_vocab_size=300, out_dir=str(tmp_path)), text=text
    )
    assert result.model.config.vocab_size == 300
    model, tok = sample.load_model(str(tmp_path / "ckpt.pt"))
    assert model.config.vocab_size == 300
    assert tok.vocab_size == 300 and tok.decode(tok.encode("ROMEO: ")) == "ROMEO: "


# --- checkpoints ----------------------------------------------------------------------------


def test_checkpoint_loads_with_weights_only_and_holds_everything(text: str, tmp_path: Path) -> None:
    train.train(tiny(out_dir=str(tmp_path)), text=text)
    path = tmp_path / "ckpt.pt"
    ckpt = torch.load(path, weights_only=True)
    assert {"model", "optimizer", "step", "config", "tokenizer", "rng"} <= ckpt.keys()
    assert set(ckpt["rng"][0]) >= {"torch", "numpy", "python", "data"}
    assert ckpt["step"] == 6 and ckpt["model_config"]["n_embd"] == 16
    assert ckpt["config"]["model"]["n_embd"] == 16  # TrainConfig carries the GPTConfig
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temp files
    json.loads((tmp_path / "log.json").read_text())


def test_corrupt_checkpoint_gives_a_clear_error(text: str, tmp_path: Path) -> None:
    train.train(tiny(out_dir=str(tmp_path)), text=text)
    path = tmp_path / "ckpt.pt"
    path.write_bytes(path.read_bytes()[:1000])  # a run killed while copying it by hand
    with pytest.raises(CheckpointError, match="corrupt"):
        train.train(tiny(out_dir=str(tmp_path), resume=True), text=text)
    with pytest.raises(CheckpointError, match="corrupt"):
        sample.load_model(str(path))
    path.write_bytes(b"not a checkpoint at all")
    with pytest.raises(CheckpointError, match="corrupt"):
        load_checkpoint(path)


def test_mismatched_checkpoint_names_the_difference(text: str, tmp_path: Path) -> None:
    train.train(tiny(out_dir=str(tmp_path)), text=text)
    with pytest.raises(CheckpointError, match=r"n_embd: checkpoint 16, this run 32"):
        train.train(tiny(n_embd=32, out_dir=str(tmp_path), resume=True), text=text)
    with pytest.raises(CheckpointError, match="no checkpoint"):
        train.train(tiny(out_dir=str(tmp_path / "empty"), resume=True), text=text)


# --- sampling -------------------------------------------------------------------------------


def test_sampling_is_seeded_and_matches_model_generate(text: str) -> None:
    result = train.train(tiny(), text=text)
    model, tok = result.model, result.tokenizer
    a = sample.generate_text(model, tok, "ROMEO:", 20, temperature=0.8, top_k=5, seed=3)
    b = sample.generate_text(model, tok, "ROMEO:", 20, temperature=0.8, top_k=5, seed=3)
    assert a == b and a.startswith("ROMEO:") and len(a) == 26
    idx = torch.tensor([tok.encode("ROMEO:")])
    expected = model.generate(idx, 20, 0.8, 5, torch.Generator().manual_seed(3))
    assert a == tok.decode(expected[0].tolist())
    shorter = sample.generate_text(model, tok, "ROMEO:", 20, seed=3, context=4)
    assert len(shorter) == 26


# --- bad input ------------------------------------------------------------------------------


def cli_error(main, argv: list[str], capsys: pytest.CaptureFixture) -> str:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    return capsys.readouterr().err


def test_train_cli_rejects_an_unknown_preset(capsys: pytest.CaptureFixture) -> None:
    assert "invalid choice: 'huge'" in cli_error(train.main, ["--preset", "huge"], capsys)
    with pytest.raises(ValueError, match="unknown preset 'huge'"):
        config_from_preset("huge")


def test_train_cli_rejects_an_unknown_flag(capsys: pytest.CaptureFixture) -> None:
    assert "unrecognized arguments: --layers" in cli_error(train.main, ["--layers", "3"], capsys)


def test_train_cli_rejects_a_width_not_divisible_by_heads(capsys: pytest.CaptureFixture) -> None:
    err = cli_error(train.main, ["--n-embd", "100", "--n-head", "3"], capsys)
    assert "n_embd=100 must be divisible by n_head=3" in err


def test_batch_must_divide_among_ranks(capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in (("WORLD_SIZE", "4"), ("RANK", "0"), ("MASTER_ADDR", "127.0.0.1")):
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("MASTER_PORT", "29500")
    err = cli_error(train.main, ["--batch-size", "6", "--quiet"], capsys)
    assert "batch_size=6 must be divisible by the number of processes (WORLD_SIZE=4)" in err


def test_other_bad_settings_name_the_value() -> None:
    with pytest.raises(ValueError, match=r"dropout must be a finite number in \[0, 1\), got 1.5"):
        tiny(dropout=1.5)
    with pytest.raises(ValueError, match=r"tokenizer must be one of \('char', 'bpe'\), got 'wo"):
        tiny(tokenizer="words")
    with pytest.raises(ValueError, match="max_steps must be a positive integer, got 0"):
        tiny(max_steps=0)
    with pytest.raises(ValueError, match="resume needs out_dir"):
        tiny(resume=True)
    with pytest.raises(ValueError, match="unknown device"):
        train.pick_device("tpu9")


@pytest.fixture(scope="module")
def checkpoint(text: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    out = tmp_path_factory.mktemp("ckpt")
    train.train(tiny(out_dir=str(out)), text=text)
    return str(out / "ckpt.pt")


def test_sample_cli_generates_from_a_checkpoint(checkpoint: str, capsys) -> None:
    argv = ["--checkpoint", checkpoint, "--prompt", "First", "--max-new-tokens", "10"]
    assert sample.main([*argv, "--seed", "2"]) == 0
    first = capsys.readouterr().out
    sample.main([*argv, "--seed", "2"])
    assert capsys.readouterr().out == first and first.startswith("First") and len(first) == 16


def test_sample_cli_rejects_a_context_longer_than_the_models(checkpoint: str, capsys) -> None:
    err = cli_error(sample.main, ["--checkpoint", checkpoint, "--context", "17"], capsys)
    assert "context 17 is longer than the model's block_size 16" in err


def test_sample_cli_rejects_characters_outside_the_vocabulary(checkpoint: str, capsys) -> None:
    err = cli_error(sample.main, ["--checkpoint", checkpoint, "--prompt", "hello {world}"], capsys)
    assert "character '{' (at position 6) is not in the vocabulary" in err


def test_sample_cli_rejects_an_empty_prompt(checkpoint: str, capsys) -> None:
    err = cli_error(sample.main, ["--checkpoint", checkpoint, "--prompt", ""], capsys)
    assert "the prompt must be a non-empty string" in err


def test_sample_cli_rejects_a_corrupt_checkpoint(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "ckpt.pt"
    bad.write_bytes(b"\x00" * 64)
    assert "is corrupt" in cli_error(sample.main, ["--checkpoint", str(bad)], capsys)


# --- several processes ----------------------------------------------------------------------

DDP_SCRIPT = textwrap.dedent(
    """
    import os, sys, torch
    from llmbook import train
    out = sys.argv[1]
    text = open(os.path.join(os.environ["LLMBOOK_DATA_DIR"], "tinyshakespeare.txt")).read()
    config = train.config_from_preset("tiny-cpu", **{TINY!r}, out_dir=out)
    result = train.train(config, text=text[:40_000])
    torch.save(result.model.state_dict(), os.path.join(out, f"rank{{os.environ['RANK']}}.pt"))
    """
)


@pytest.mark.slow
def test_ddp_on_two_cpu_processes_equals_one_process(text: str, tmp_path: Path) -> None:
    """torchrun with gloo: both ranks end with the same weights, equal (within 1e-5) to one
    process that draws the same global batch (two streams of 2 windows each)."""
    torchrun = shutil.which("torchrun", path=str(Path(sys.executable).parent))
    if torchrun is None:
        pytest.skip("torchrun is not installed next to this python")
    script = tmp_path / "ddp_run.py"
    # No biases: the key bias gets a gradient that is exactly zero in exact arithmetic (adding it
    # shifts every score of a row by the same amount), so in floats it is pure rounding noise,
    # which AdamW scales up to full-size steps of random sign: it would differ between any two
    # ways of summing the same gradients.
    script.write_text(DDP_SCRIPT.format(TINY={**TINY, "bias": False}))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    cmd = [torchrun, "--standalone", "--nproc_per_node=2", str(script), str(tmp_path)]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    rank0 = torch.load(tmp_path / "rank0.pt", weights_only=True)
    rank1 = torch.load(tmp_path / "rank1.pt", weights_only=True)
    assert_same_weights(rank0, rank1)
    single = train.train(replace(tiny(bias=False), data_streams=2), text=text)
    # Summing the two ranks' gradients rounds differently from one process's sum (about 1e-8);
    # AdamW divides by the root of the mean squared gradient, which magnifies that wherever a
    # gradient is near zero: after 6 steps the weights (size about 0.07) agree within 1e-5.
    assert_same_weights(rank0, weights(single.model), atol=1e-5)
    ckpt = load_checkpoint(tmp_path / "ckpt.pt")
    assert len(ckpt["rng"]) == 2 and ckpt["config"]["data_streams"] == 2
