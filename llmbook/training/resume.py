"""The files of a training run, and carrying on from them.

Every evaluation writes `ckpt.pt` (the latest state: weights, AdamW's moments, the step, every
random state of every process and the log), `best.pt` (the same for the lowest validation loss
so far) and `log.json`, each atomically (`llmbook.checkpoint`). `--resume` reads ckpt.pt back,
after `check_compatible` has made sure that the run asking for it is the same run, so that the
resumed run ends with exactly the weights of one that was never stopped.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

import torch

from llmbook.checkpoint import (
    FORMAT,
    VERSION,
    CheckpointError,
    check_same_data,
    data_fingerprint,
    load_checkpoint,
    rng_state,
    save_atomic,
    set_rng_state,
    tokenizer_from_state,
    tokenizer_state,
    write_text_atomic,
)
from llmbook.gpt import GPT, GPTConfig
from llmbook.tokenizer import Tokenizer
from llmbook.training.batches import Data
from llmbook.training.config import DATA_FIELDS, MODEL_SETTINGS, TrainConfig
from llmbook.training.runtime import Distributed, gather

CHECKPOINT_NAME = "ckpt.pt"  # the latest state
BEST_NAME = "best.pt"  # the checkpoint with the lowest validation loss so far
LOG_NAME = "log.json"


def check_out_dir(config: TrainConfig) -> Path | None:
    """The output folder (with ~ expanded), after checking that the run may write there.

    ValueError if it is a file, cannot be created or written, or already holds a checkpoint
    while neither resume nor overwrite is set (so forgetting --resume never destroys a run).
    """
    if config.out_dir is None:
        return None
    out_dir = Path(config.out_dir).expanduser()
    if out_dir.exists() and not out_dir.is_dir():
        raise ValueError(f"--out-dir {out_dir} is a file; it must be a folder")
    ckpt_path = out_dir / CHECKPOINT_NAME
    if config.resume and not ckpt_path.is_file():
        raise CheckpointError(f"no checkpoint at {ckpt_path} to resume")
    if not config.resume and not config.overwrite and ckpt_path.exists():
        raise ValueError(
            f"--out-dir {out_dir} already holds a checkpoint ({ckpt_path}); pass --resume to "
            f"carry on from it, or --overwrite to start a new run that replaces it"
        )
    existing = out_dir
    while not existing.exists():  # the folders that do not exist yet are made at the first save
        existing = existing.parent
    if not existing.is_dir():
        raise ValueError(f"--out-dir {out_dir} cannot be made: {existing} is a file")
    try:
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as exc:
        raise ValueError(
            f"--out-dir {out_dir} is not writable: cannot create a file in {existing} "
            f"({exc.strerror or exc})"
        ) from None
    return out_dir


def write_log(path: Path, config: TrainConfig, log: list[dict[str, float]]) -> None:
    """log.json: the run's settings and every evaluation so far, rewritten atomically."""
    record = {"config": asdict(config), "evaluations": log}
    write_text_atomic(json.dumps(record, indent=1) + "\n", path)


def save_checkpoint(
    path: Path,
    model: GPT,
    optimizer: torch.optim.Optimizer,
    step: int,
    config: TrainConfig,
    tokenizer: Tokenizer,
    streams: Sequence[torch.Generator],
    log: list[dict[str, float]],
    ddp: Distributed,
    scaler: Any = None,
    data_sha256: str | None = None,
) -> None:
    """Every rank sends its RNG states; rank 0 writes the file."""
    local_rng = {**rng_state(), "data": [g.get_state() for g in streams]}
    all_rng = gather(local_rng, ddp)
    if not ddp.is_main:
        return
    ckpt = {
        "format": FORMAT,
        "version": VERSION,
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "step": step,
        "config": asdict(config),
        "model_config": asdict(model.config),
        "tokenizer": tokenizer_state(tokenizer),
        "rng": all_rng,  # one entry per rank
        "log": log,
    }
    if scaler is not None:
        ckpt["scaler"] = scaler.state_dict()
    if data_sha256 is not None:  # checked on resume (llmbook.checkpoint.check_same_data)
        ckpt["data_sha256"] = data_sha256
    save_atomic(ckpt, path)


def check_compatible(ckpt: dict, config: TrainConfig, ddp: Distributed, path: Path) -> None:
    """CheckpointError naming every setting where the run and the checkpoint disagree."""
    saved = ckpt.get("config", {})
    defaults = {f.name: f.default for f in fields(GPTConfig)}  # for older checkpoints
    saved_model = {**defaults, **ckpt.get("model_config", {})}
    wrong = [
        f"{name}: checkpoint {saved_model[name]!r}, this run {getattr(config.model, name)!r}"
        for name in MODEL_SETTINGS
        if name != "dropout" and saved_model[name] != getattr(config.model, name)
    ]
    wrong += [
        f"{name}: checkpoint {saved.get(name)!r}, this run {getattr(config, name)!r}"
        for name in DATA_FIELDS
        if saved.get(name) != getattr(config, name)
    ]
    if wrong:
        raise CheckpointError(f"checkpoint {path} does not match this run: " + "; ".join(wrong))
    ranks = len(ckpt.get("rng", []))
    if ranks != ddp.world_size:
        raise CheckpointError(
            f"checkpoint {path} was written by {ranks} process(es); resume it with the same "
            f"number, not {ddp.world_size}"
        )
    if ckpt["step"] > config.max_steps:
        raise CheckpointError(
            f"checkpoint {path} is at step {ckpt['step']}, beyond max_steps={config.max_steps}"
        )


def load_for_resume(
    ckpt_path: Path, config: TrainConfig, ddp: Distributed, data: Data
) -> dict[str, Any]:
    """The checkpoint to resume, checked against this run; its tokenizer replaces data's."""
    ckpt = load_checkpoint(ckpt_path)
    check_compatible(ckpt, config, ddp, ckpt_path)
    check_same_data(ckpt, data.tokenizer, data_fingerprint(data.train, data.val), ckpt_path)
    data.tokenizer = tokenizer_from_state(ckpt["tokenizer"], ckpt_path)
    return ckpt


def restore(
    ckpt: dict[str, Any],
    path: Path,
    optimizer: torch.optim.Optimizer,
    scaler: Any,
    streams: Sequence[torch.Generator],
    rank: int,
) -> None:
    """Load the optimiser, gradient-scaler and random states; CheckpointError if they do not fit."""
    try:
        optimizer.load_state_dict(ckpt["optimizer"])
        if scaler is not None and "scaler" in ckpt:
            scaler.load_state_dict(ckpt["scaler"])
        mine = ckpt["rng"][rank]
        set_rng_state(mine)
        for g, state in zip(streams, mine["data"], strict=True):
            g.set_state(state)
    except (KeyError, IndexError, TypeError, ValueError, RuntimeError) as exc:
        raise CheckpointError(
            f"checkpoint {path}: its optimiser or random-number state does not fit this run "
            f"({type(exc).__name__}: {exc!s:.200})"
        ) from exc
