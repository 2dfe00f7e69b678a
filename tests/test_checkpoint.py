"""Checkpoints: checked as a whole when loaded, written durably, never leaving temp files."""

from __future__ import annotations

import copy
import math
import os
import socket
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from tiny_training import TINY  # tests/tiny_training.py

from llmbook import checkpoint, files, sample, train
from llmbook.checkpoint import CheckpointError, load_checkpoint, save_atomic, validate_checkpoint

# Smaller still: one layer, two steps; the checkpoint's contents are what these tests look at.
TINIER = {**TINY, "n_layer": 1, "n_embd": 8, "block_size": 8, "batch_size": 2, "max_steps": 2,
          "warmup_steps": 1, "eval_interval": 2, "eval_batches": 1}  # fmt: skip


@pytest.fixture(scope="module")
def run_dir(text: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    text = text[:20_000]
    out = tmp_path_factory.mktemp("run")
    train.train(train.config_from_preset("tiny-cpu", **TINIER, out_dir=str(out)), text=text)
    return out


@pytest.fixture(scope="module")
def good(run_dir: Path) -> dict[str, Any]:
    return torch.load(run_dir / "ckpt.pt", weights_only=True)


def test_a_good_checkpoint_passes_every_check(good: dict[str, Any], run_dir: Path) -> None:
    validate_checkpoint(good)
    model, tokenizer = sample.load_model(str(run_dir / "ckpt.pt"))
    assert (
        model.config.vocab_size == tokenizer.vocab_size == len(good["tokenizer"]["state"]["chars"])
    )


# --- any one field damaged is refused --------------------------------------------------------

DAMAGES: dict[str, Any] = {"None": None, "text": "garbage", "-1": -1, "nan": math.nan}


def fields_of(ckpt: dict[str, Any]) -> list[tuple[str, ...]]:
    """The places a damage can hit: the top-level keys, every model_config field, the tokenizer
    and its state, and every weight."""
    places = [(key,) for key in ckpt]
    places += [("model_config", key) for key in ckpt["model_config"]]
    places += [("tokenizer", "kind"), ("tokenizer", "state"), ("tokenizer", "state", "chars")]
    places += [("model", key) for key in ckpt["model"]]
    places += [("rng", 0, "torch"), ("rng", 0, "numpy"), ("rng", 0, "data")]
    return places


def damaged(ckpt: dict[str, Any], place: tuple, damage: str) -> dict[str, Any]:
    ckpt = copy.deepcopy(ckpt)
    *parents, last = place
    holder = ckpt
    for key in parents:
        holder = holder[key]
    old = holder[last]
    if damage == "delete":
        del holder[last]
    elif damage == "wrong shape" and isinstance(old, torch.Tensor) and old.dim() > 0:
        holder[last] = torch.cat([old, old[:1]])  # one row more
    elif damage == "shorter" and isinstance(old, list) and old:
        holder[last] = old[:-1]
    elif damage in DAMAGES and not (old is None and DAMAGES[damage] is None):
        holder[last] = DAMAGES[damage]
    else:
        holder[last] = math.nan  # no other damage fits this place
    return ckpt


# Damages that leave a checkpoint valid on purpose: a missing model_config field takes its
# default (checkpoints written before the field existed load that way); the log is optional, and
# so is the training data's fingerprint (older checkpoints have none; resuming checks it).
HARMLESS = {("delete", "model_config"), ("delete", "log"), ("shorter", "log"),
            ("delete", "data_sha256"), ("None", "data_sha256")}  # fmt: skip
RESUME_ONLY = {("optimizer",), ("config",), ("rng",)}


def test_any_one_damaged_field_is_refused_with_checkpoint_error(good: dict[str, Any]) -> None:
    @settings(max_examples=120, deadline=None)
    @given(
        place=st.sampled_from(fields_of(good)),
        damage=st.sampled_from(["delete", "wrong shape", "shorter", *DAMAGES]),
    )
    def check(place: tuple, damage: str) -> None:
        if (damage, place[0]) in HARMLESS:
            return
        if place in RESUME_ONLY and damage in ("delete", "shorter"):
            return  # only resuming needs those: tested below
        bad = damaged(good, place, damage)
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "ckpt.pt"
            torch.save(bad, path)
            with pytest.raises(CheckpointError) as info:
                load_checkpoint(path)
        assert str(path) in str(info.value)

    check()


@pytest.mark.parametrize(
    ("place", "damage"),
    [("optimizer", "delete"), ("config", "delete"), ("rng", "delete"), ("rng", "shorter")],
)
def test_resuming_without_the_resume_state_is_refused(
    place: str, damage: str, good: dict[str, Any], tmp_path: Path, shared_data_dir: Path
) -> None:
    bad = damaged(good, (place,), damage)
    torch.save(bad, tmp_path / "ckpt.pt")
    load_checkpoint(tmp_path / "ckpt.pt")  # enough to sample from
    text = (shared_data_dir / "tinyshakespeare.txt").read_text(encoding="utf-8")[:20_000]
    config = train.config_from_preset(
        "tiny-cpu", **{**TINIER, "max_steps": 4}, out_dir=str(tmp_path), resume=True
    )
    with pytest.raises(CheckpointError, match=str(tmp_path / "ckpt.pt")):
        train.train(config, text=text)


def test_a_tokenizer_smaller_than_the_model_is_named(good: dict[str, Any]) -> None:
    bad = damaged(good, ("tokenizer", "state", "chars"), "shorter")
    n = len(good["tokenizer"]["state"]["chars"])
    with pytest.raises(CheckpointError, match=f"tokenizer has {n - 1} tokens but the model {n}"):
        validate_checkpoint(bad, "x.pt")


def test_a_weight_of_the_wrong_shape_is_named(good: dict[str, Any]) -> None:
    bad = damaged(good, ("model", "h.0.attn.qkv.weight"), "wrong shape")
    with pytest.raises(
        CheckpointError,
        match=r"h.0.attn.qkv.weight has shape \(25, 8\), the model needs \(24, 8\)",
    ):
        validate_checkpoint(bad, "x.pt")
    bad["model"]["extra.weight"] = torch.zeros(2)
    del bad["model"]["ln_f.bias"]
    with pytest.raises(CheckpointError, match=r"ln_f\.bias is missing; extra\.weight is not part"):
        validate_checkpoint(bad, "x.pt")


def test_a_bad_model_config_field_is_named(good: dict[str, Any]) -> None:
    bad = damaged(good, ("model_config", "n_head"), "text")
    with pytest.raises(CheckpointError, match="bad model_config: n_head must be a positive"):
        validate_checkpoint(bad, "x.pt")
    bad = copy.deepcopy(good)
    bad["model_config"]["n_heads"] = 2
    with pytest.raises(CheckpointError, match=r"model_config has unknown fields \['n_heads'\]"):
        validate_checkpoint(bad, "x.pt")


# --- devices ---------------------------------------------------------------------------------


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_sampling_on_a_missing_device_says_so_not_corrupt(run_dir: Path, capsys) -> None:
    with pytest.raises(SystemExit) as info:
        sample.main(["--checkpoint", str(run_dir / "ckpt.pt"), "--device", "cuda"])
    err = capsys.readouterr().err
    assert info.value.code == 2
    assert "device 'cuda' is not available: this machine has no CUDA" in err
    assert "corrupt" not in err


def test_tilde_in_the_checkpoint_path_is_expanded(
    run_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(run_dir))
    assert load_checkpoint("~/ckpt.pt")["step"] == 2


# --- writing: durable, and no temp file left behind -------------------------------------------


def test_temp_files_of_killed_saves_are_removed_by_the_next_save(tmp_path: Path) -> None:
    path = tmp_path / "ckpt.pt"
    host = socket.gethostname()
    dead = tmp_path / f".ckpt.pt.{host}.{2**22 + 12345}.abcd1234.tmp"  # no such process
    mine = tmp_path / f".ckpt.pt.{host}.{os.getpid()}.efgh5678.tmp"  # this process: not writing
    alive = tmp_path / f".ckpt.pt.{host}.1.ijkl9012.tmp"  # pid 1 is running: a write in flight
    old = tmp_path / ".ckpt.pt.oldstyle.tmp"  # another host's or an older version's, stale
    fresh = tmp_path / ".ckpt.pt.otherhost.77.mnop.tmp"  # another host's, recent: in flight
    other = tmp_path / ".log.json.x.tmp"  # another file's temp: not ours to judge
    for tmp in (dead, mine, alive, old, fresh, other):
        tmp.write_bytes(b"partial")
    hour_ago = time.time() - 7200
    os.utime(old, (hour_ago, hour_ago))
    os.utime(other, (hour_ago, hour_ago))
    save_atomic({"x": torch.ones(2)}, path)
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == sorted([alive.name, fresh.name, other.name, "ckpt.pt"])


def test_saves_fsync_the_file_and_its_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[str] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        real_fsync(fd)

    monkeypatch.setattr(files.os, "fsync", fsync)
    checkpoint.write_text_atomic("hello", tmp_path / "log.json")
    assert (tmp_path / "log.json").read_text() == "hello"
    assert len(synced) == 2 and synced[1] == str(tmp_path)  # the temp file, then the folder
    assert Path(synced[0]).parent == tmp_path and synced[0].endswith(".tmp")


def test_a_failed_save_leaves_the_old_file_and_no_temp_file(tmp_path: Path) -> None:
    path = tmp_path / "ckpt.pt"
    save_atomic({"step": 1}, path)
    before = path.read_bytes()

    class Unsaveable:
        def __reduce__(self) -> Any:
            raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        save_atomic({"step": Unsaveable()}, path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt.pt"]


def test_sample_cli_names_bad_paths_and_seeds(run_dir: Path, capsys, tmp_path: Path) -> None:
    def error(argv: list[str]) -> str:
        with pytest.raises(SystemExit) as info:
            sample.main(argv)
        assert info.value.code == 2
        return capsys.readouterr().err

    err = error(["--checkpoint", str(run_dir)])
    assert f"{run_dir} is a folder; the checkpoint in it is {run_dir / 'ckpt.pt'}" in err
    err = error(["--checkpoint", str(tmp_path / "nothing.pt")])
    assert f"no checkpoint at {tmp_path / 'nothing.pt'}" in err
    err = error(["--checkpoint", str(run_dir / "ckpt.pt"), "--seed", str(2**64)])
    assert "--seed must be in 0..2**63 - 1" in err
    err = error(["--checkpoint", str(run_dir / "ckpt.pt"), "--temperature", "1e-45"])
    assert "temperature must be a finite number from 1e-06 up" in err
    err = error(
        ["--checkpoint", str(run_dir / "ckpt.pt"), "--temperature", "1e-45", "--context", "4"]
    )
    assert "temperature must be a finite number from 1e-06 up" in err
    assert "unknown device 'gpu'" in error(
        ["--checkpoint", str(run_dir / "ckpt.pt"), "--device", "gpu"]
    )
