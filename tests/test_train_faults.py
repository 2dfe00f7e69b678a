"""The training program against careless input and bad luck: every bad setting is refused
before any work with a message naming it, an existing run is never overwritten by accident, a
diverging run stops without damaging its last checkpoint, and the precision suits the GPU."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tiny_training import TINY, flags, tiny  # tests/tiny_training.py

from llmbook import train
from llmbook.checkpoint import CheckpointError, load_checkpoint
from llmbook.gpt import GPT
from llmbook.train import TrainConfig
from llmbook.training import batches, resume

TINY_FLAGS = flags(**TINY)


def cli_error(argv: list[str], capsys: pytest.CaptureFixture) -> str:
    """Run the training program in this process; it must exit 2 before any work."""
    with pytest.raises(SystemExit) as exit_info:
        train.main(argv)
    assert exit_info.value.code == 2
    return capsys.readouterr().err


# --- an existing run is never overwritten by accident ---------------------------------------


def test_a_second_run_without_resume_refuses_and_keeps_the_checkpoint(
    text: str, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    train.train(tiny(out_dir=str(tmp_path)), text=text)
    ckpt = tmp_path / "ckpt.pt"
    before, log_before = ckpt.read_bytes(), (tmp_path / "log.json").read_bytes()
    err = cli_error([*TINY_FLAGS, "--out-dir", str(tmp_path)], capsys)
    assert f"--out-dir {tmp_path} already holds a checkpoint" in err
    assert "pass --resume to carry on from it, or --overwrite" in err
    with pytest.raises(ValueError, match="already holds a checkpoint"):
        train.train(tiny(out_dir=str(tmp_path), max_steps=3), text=text)
    assert ckpt.read_bytes() == before and (tmp_path / "log.json").read_bytes() == log_before
    # --overwrite starts afresh on purpose; resume and overwrite together make no sense
    train.train(tiny(out_dir=str(tmp_path), max_steps=3, overwrite=True), text=text)
    assert load_checkpoint(ckpt)["step"] == 3
    with pytest.raises(ValueError, match="resume and overwrite exclude each other"):
        tiny(out_dir=str(tmp_path), resume=True, overwrite=True)


def test_out_dir_that_is_a_file_or_under_a_file_is_refused(tmp_path: Path, capsys) -> None:
    a_file = tmp_path / "notes.txt"
    a_file.write_text("mine")
    err = cli_error([*TINY_FLAGS, "--out-dir", str(a_file)], capsys)
    assert f"--out-dir {a_file} is a file; it must be a folder" in err
    err = cli_error([*TINY_FLAGS, "--out-dir", str(a_file / "run")], capsys)
    assert f"cannot be made: {a_file} is a file" in err
    assert a_file.read_text() == "mine"


def test_out_dir_that_cannot_be_written_is_refused(
    tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    def read_only(*args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(resume.tempfile, "TemporaryFile", read_only)
    err = cli_error([*TINY_FLAGS, "--out-dir", str(tmp_path / "run")], capsys)
    # the folder is made (to hold the run's lock) before the check, and removed after it
    assert f"is not writable: cannot create a file in {tmp_path / 'run'} (Permission denied)" in err
    assert not (tmp_path / "run").exists()


def test_missing_folders_of_out_dir_are_made_and_tilde_is_expanded(
    text: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    result = train.train(tiny(out_dir="~/runs/first", max_steps=3), text=text)
    assert result.checkpoint == str(tmp_path / "runs" / "first" / "ckpt.pt")
    assert load_checkpoint(tmp_path / "runs" / "first" / "ckpt.pt")["step"] == 3


# --- a diverging run stops and keeps its last good checkpoint --------------------------------


def nan_after(monkeypatch: pytest.MonkeyPatch, good_steps: int) -> None:
    """Make the training loss nan from training step `good_steps` on (counting from 0)."""
    forward = GPT.forward
    calls = {"train": 0}

    def poisoned(self: GPT, *args: object, **kwargs: object):  # type: ignore[no-untyped-def]
        logits, loss = forward(self, *args, **kwargs)
        if self.training and loss is not None:
            calls["train"] += 1
            if calls["train"] > good_steps:
                loss = loss * float("nan")
        return logits, loss

    monkeypatch.setattr(GPT, "forward", poisoned)


def test_a_nan_loss_stops_training_with_exit_1_and_keeps_the_last_checkpoint(
    text: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    nan_after(monkeypatch, good_steps=4)  # steps 0..3 are fine, step 4 gives nan
    monkeypatch.setattr(batches, "load_text", lambda name: text)
    code = train.main([*TINY_FLAGS, "--out-dir", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 1
    assert "training stopped: the training loss became nan at step 4" in err
    assert f"the last good checkpoint, step 3, is kept in {tmp_path / 'ckpt.pt'}" in err
    ckpt = load_checkpoint(tmp_path / "ckpt.pt")
    assert ckpt["step"] == 3
    assert all(torch.isfinite(t).all() for t in ckpt["model"].values())


def test_a_nan_loss_without_out_dir_raises_diverged_error(
    text: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    nan_after(monkeypatch, good_steps=0)
    with pytest.raises(train.DivergedError, match=r"at step 0 .*nothing was saved"):
        train.train(tiny(), text=text)


def test_resuming_a_checkpoint_with_nan_weights_is_refused(text: str, tmp_path: Path) -> None:
    train.train(tiny(out_dir=str(tmp_path), stop_at=3), text=text)
    path = tmp_path / "ckpt.pt"
    ckpt = torch.load(path, weights_only=True)
    ckpt["model"]["h.1.mlp.fc.weight"][0, 0] = float("inf")
    torch.save(ckpt, path)
    with pytest.raises(CheckpointError, match=r"non-finite numbers \(inf in model.h.1.mlp.fc"):
        train.train(tiny(out_dir=str(tmp_path), resume=True), text=text)


# --- the machine ------------------------------------------------------------------------------


def test_world_size_without_rank_is_refused(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.delenv("RANK", raising=False)
    err = cli_error(TINY_FLAGS, capsys)
    assert "WORLD_SIZE=2 is set but RANK is not: start several processes with torchrun" in err
    monkeypatch.setenv("WORLD_SIZE", "two")
    assert "WORLD_SIZE='two' must be an integer" in cli_error(TINY_FLAGS, capsys)
    with pytest.raises(ValueError, match=r"RANK=5 and LOCAL_RANK=0 must be in 0..1"):
        train.read_distributed_env({"WORLD_SIZE": "2", "RANK": "5"})


def test_a_model_too_big_for_memory_is_refused_before_it_is_built(capsys) -> None:
    err = cli_error([*TINY_FLAGS, "--n-layer", "1000", "--n-embd", "8192", "--n-head", "8"], capsys)
    n_params = 1000 * (12 * 8192**2 + 13 * 8192) + 2 * 8192 + 1 * 8192 + 16 * 8192
    assert f"GB ({n_params:,} parameters x 16 bytes for the weights, their gradients" in err
    assert f"it needs at least {n_params * 16 // 10**12}," in err  # 12,886 GB + activations
    assert "this model cannot be trained in the memory of cpu" in err
    assert "make --n-layer, --n-embd, --batch-size or --block-size smaller" in err


def test_memory_estimate_counts_weights_gradients_adam_and_activations() -> None:
    config = tiny()
    n_params = sum(p.numel() for p in GPT(config.model_config(65)).parameters())
    assert n_params == 2 * (12 * 16 * 16 + 13 * 16) + 2 * 16 + 65 * 16 + 16 * 16
    activations = 4 * 16 * (2 * 12 * 16 + 2 * 65) * 4  # B T (L 12 C + 2 V) x 4 bytes
    assert train.memory_needed(config, 65, "fp32", 1) == 16 * n_params + activations
    assert train.memory_needed(config, 65, "bf16", 1) == 16 * n_params + activations // 2


# --- precision: bf16 where the GPU has it, fp16 with a GradScaler where it does not ----------


@pytest.mark.parametrize(
    ("capability", "expected"),
    [((7, 0), "fp16"), ((7, 5), "fp16"), ((8, 0), "bf16"), ((8, 9), "bf16"), ((9, 0), "bf16")],
)
def test_auto_precision_follows_the_gpus_compute_capability(
    monkeypatch: pytest.MonkeyPatch, capability: tuple[int, int], expected: str
) -> None:
    """V100 (7.0) and T4 (7.5) have no bf16: fp16; A100 (8.0), L4 (8.9), H100 (9.0): bf16."""
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: capability)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: "Tesla T4")
    cuda = torch.device("cuda")
    assert train.resolve_precision("auto", cuda) == expected
    assert train.resolve_precision("fp32", cuda) == "fp32"
    assert train.resolve_precision("fp16", cuda) == "fp16"
    if expected == "fp16":
        with pytest.raises(ValueError, match="Tesla T4 has no bf16; use --precision fp16"):
            train.resolve_precision("bf16", cuda)


def test_cpu_trains_in_fp32_unless_asked_for_bf16() -> None:
    cpu = torch.device("cpu")
    assert train.resolve_precision("auto", cpu) == "fp32"
    assert train.resolve_precision("bf16", cpu) == "bf16"
    with pytest.raises(ValueError, match="--precision fp16 needs a CUDA GPU, this run is on cpu"):
        train.resolve_precision("fp16", cpu)
    assert train.make_grad_scaler("bf16") is None and train.make_grad_scaler("fp32") is None
    assert isinstance(train.autocast_for(cpu, "bf16"), torch.autocast)


def test_precision_flag_is_parsed_and_checked(capsys) -> None:
    assert train.config_from_args(["--precision", "fp16"]).precision == "fp16"
    assert "invalid choice: 'fp8'" in cli_error(["--precision", "fp8"], capsys)
    assert "--precision fp16 needs a CUDA GPU" in cli_error(
        [*TINY_FLAGS, "--precision", "fp16"], capsys
    )


def test_scaled_step_equals_the_plain_step() -> None:
    """The GradScaler path scales the loss up and the gradients back down before clipping:
    the weights after one step equal those of the plain path."""
    results = []
    for scaler in (None, torch.amp.GradScaler("cpu", init_scale=2.0**10)):
        torch.manual_seed(0)
        model = torch.nn.Linear(4, 3)
        optimizer = torch.optim.AdamW(model.parameters(), lr=0.1)
        loss = model(torch.randn(5, 4)).pow(2).mean() * 100  # big gradients: clipping acts
        train.backward_and_step(loss, model, optimizer, scaler, grad_clip=0.5)
        results.append(model.weight.detach().clone())
    torch.testing.assert_close(results[0], results[1])


# --- every flag: bad values are refused before any work, naming the flag ---------------------

NOT_INT = st.sampled_from(["1.5", "abc", "", "nan", "1e3"])
NOT_FLOAT = st.sampled_from(["abc", "", "1,5", "0x"])
NON_FINITE = st.sampled_from(["nan", "inf", "-inf", "1e400"])


def reals(**kwargs: float) -> st.SearchStrategy[str]:
    return st.floats(allow_nan=False, allow_infinity=False, **kwargs).map(repr)


BAD_VALUES: dict[str, st.SearchStrategy[str]] = {
    **{
        name: st.one_of(st.integers(max_value=0).map(str), NOT_INT)
        for name in (
            "n_layer",
            "n_head",
            "n_embd",
            "block_size",
            "batch_size",
            "max_steps",
            "eval_interval",
            "eval_batches",
            "data_streams",
        )
    },
    "warmup_steps": st.one_of(st.integers(max_value=-1).map(str), NOT_INT),
    "eval_batch_size": st.one_of(st.integers(max_value=-1).map(str), NOT_INT),
    "seed": st.one_of(st.integers(max_value=-1), st.integers(min_value=2**32)).map(str),
    "stop_at": st.one_of(st.integers(max_value=0), st.integers(min_value=7)).map(str),
    "learning_rate": st.one_of(
        reals(max_value=0.0), reals(min_value=1.0, exclude_min=True), NON_FINITE, NOT_FLOAT
    ),
    "min_lr": st.one_of(reals(max_value=-1e-12), reals(min_value=0.0031), NON_FINITE),
    "weight_decay": st.one_of(reals(max_value=-1e-12), reals(min_value=334.0), NON_FINITE),
    "grad_clip": st.one_of(reals(max_value=-1e-12), NON_FINITE, NOT_FLOAT),
    "dropout": st.one_of(reals(max_value=-1e-12), reals(min_value=1.0), NON_FINITE),
    "beta1": st.one_of(reals(max_value=-1e-12), reals(min_value=1.0), NON_FINITE),
    "beta2": st.one_of(reals(max_value=-1e-12), reals(min_value=1.0), NON_FINITE),
    "tokenizer": st.text(max_size=8).filter(lambda s: s not in ("char", "bpe")),
    "dataset": st.text(max_size=8).filter(lambda s: s != "tinyshakespeare"),
    "precision": st.text(max_size=8).filter(lambda s: s not in train.PRECISIONS),
    # the model settings beyond the shape (GPTConfig's, reached through TrainConfig.model)
    **{
        name: st.one_of(st.integers(max_value=0).map(str), NOT_INT)
        for name in (
            "grad_accum",
            "n_kv_head",
            "mlp_hidden",
            "rope_original_context",
            "init_block_size",
        )
    },
    **{
        name: st.one_of(reals(max_value=0.0), NON_FINITE)
        for name in ("rope_base", "rope_scale", "rope_low_freq_factor", "rope_high_freq_factor")
    },
    "norm_eps": st.one_of(reals(max_value=-1e-12), NON_FINITE),
    **{
        name: st.text(max_size=8).filter(lambda s, ok=ok: s not in ok)
        for name, ok in train.MODEL_CHOICES.items()
    },
}


def test_every_value_flag_has_bad_values() -> None:
    """The table above covers every flag that takes a number or a choice."""
    skipped = {"out_dir", "device", "bpe_vocab_size", "preset", "init_from"}  # tested below
    names = {*TrainConfig.__dataclass_fields__, *train.MODEL_SETTINGS} - {"model"}
    valued = {f for f in names if f not in train.BOOL_FIELDS and f not in ("tie_embeddings",)}
    assert valued - skipped == set(BAD_VALUES)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_any_bad_flag_value_is_refused_before_work_naming_the_flag(
    data: st.DataObject, capsys: pytest.CaptureFixture
) -> None:
    name = data.draw(st.sampled_from(sorted(BAD_VALUES)))
    value = data.draw(BAD_VALUES[name])
    flag = "--" + name.replace("_", "-")
    err = cli_error([*TINY_FLAGS, "--learning-rate", "3e-3", f"{flag}={value}"], capsys)
    assert flag in err, err
    assert "Traceback" not in err


@settings(max_examples=40, deadline=None)
@given(
    st.sampled_from(["learning_rate", "min_lr", "weight_decay", "grad_clip", "dropout", "beta1"]),
    st.sampled_from([math.nan, math.inf, -math.inf, -1.0, "0.1", None, True]),
)
def test_any_non_finite_or_mistyped_float_setting_is_refused(name: str, value: object) -> None:
    with pytest.raises((ValueError, TypeError), match=f"{name} must be a finite number in"):
        tiny(**{name: value})


def test_bad_bpe_vocabulary_device_and_out_dir_are_refused(tmp_path: Path, capsys) -> None:
    err = cli_error([*TINY_FLAGS, "--tokenizer", "bpe", "--bpe-vocab-size", "100"], capsys)
    assert "bpe_vocab_size must be an integer in 257..65536, got 100 (--bpe-vocab-size)" in err
    assert "unknown device 'tpu9'" in cli_error([*TINY_FLAGS, "--device", "tpu9"], capsys)
    err = cli_error([*TINY_FLAGS, "--device", "meta"], capsys)
    assert "device 'meta' holds shapes but no numbers; use cpu, cuda or mps" in err
    if not torch.cuda.is_available():
        err = cli_error([*TINY_FLAGS, "--device", "cuda"], capsys)
        assert "device 'cuda' was asked for, but CUDA is not available" in err
    assert "out_dir must be a folder name" in cli_error([*TINY_FLAGS, "--out-dir", " "], capsys)
    with pytest.raises(TypeError, match="quiet must be True or False, got 'yes'"):
        tiny(quiet="yes")
