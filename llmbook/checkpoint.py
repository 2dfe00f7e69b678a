"""Checkpoints: write atomically, read back with `torch.load(..., weights_only=True)`.

Built in chapter 13, The GPT architecture (the training program of `llmbook.train` uses it).

A checkpoint is one dict of tensors and plain Python values (no pickled classes), so it loads
with `weights_only=True`. It is written to a temporary file in the same folder and then moved
into place with `os.replace`, so a reader, or a run killed half way, never sees a partial file.
"""

from __future__ import annotations

import os
import random
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from llmbook.tokenizer import BPETokenizer, CharTokenizer, Tokenizer

FORMAT = "llmbook-gpt-checkpoint"
VERSION = 1
REQUIRED_KEYS = ("format", "version", "model", "model_config", "tokenizer", "step")


class CheckpointError(ValueError):
    """A checkpoint that cannot be read, or that does not fit the run asking for it."""


def save_atomic(obj: dict[str, Any], path: str | os.PathLike) -> Path:
    """torch.save `obj` to a temp file beside `path`, then os.replace it into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return path


def write_text_atomic(text: str, path: str | os.PathLike) -> Path:
    """Write `text` to a temp file beside `path`, then os.replace it into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return path


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict:
    """Read a checkpoint with weights_only=True; CheckpointError if it is missing or corrupt."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}")
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # truncated zip, random bytes, pickled classes, ...
        raise CheckpointError(
            f"checkpoint {path} is corrupt or not a llmbook checkpoint ({type(exc).__name__}: "
            f"{str(exc).splitlines()[0] if str(exc) else ''})"
        ) from exc
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a llmbook checkpoint (no format {FORMAT!r})")
    missing = [k for k in REQUIRED_KEYS if k not in ckpt]
    if missing:
        raise CheckpointError(f"checkpoint {path} lacks {missing}")
    if ckpt["version"] != VERSION:
        raise CheckpointError(
            f"checkpoint {path} has version {ckpt['version']!r}; this code reads {VERSION}"
        )
    return ckpt


def _tensors(value: Any, prefix: str) -> Iterator[tuple[str, torch.Tensor]]:
    """Every tensor inside nested dicts and lists, with a dotted name saying where it sits."""
    if isinstance(value, torch.Tensor):
        yield prefix, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _tensors(item, f"{prefix}.{key}")
    elif isinstance(value, list | tuple):
        for k, item in enumerate(value):
            yield from _tensors(item, f"{prefix}.{k}")


def check_finite(ckpt: dict[str, Any], path: str | os.PathLike) -> None:
    """CheckpointError if a weight or an optimiser number in `ckpt` is nan or inf.

    Such a checkpoint comes from a run that diverged; resuming it would only train nan.
    """
    for section in ("model", "optimizer"):
        for name, tensor in _tensors(ckpt.get(section, {}), section):
            if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
                bad = tensor[~torch.isfinite(tensor)].flatten()[0].item()
                raise CheckpointError(
                    f"checkpoint {path} holds non-finite numbers ({bad} in {name}): the run "
                    f"that wrote it diverged, so it cannot be resumed; start a new run with "
                    f"--overwrite, or resume an earlier copy"
                )


# --- tokenizers and RNG states as plain values ---------------------------------------------


def tokenizer_state(tokenizer: Tokenizer) -> dict[str, Any]:
    """{'kind': 'char' | 'bpe', 'state': plain dict}: what `tokenizer_from_state` rebuilds."""
    return {"kind": tokenizer.kind, "state": tokenizer._state()}


def tokenizer_from_state(saved: dict[str, Any]) -> Tokenizer:
    kinds = {"char": CharTokenizer, "bpe": BPETokenizer}
    if not isinstance(saved, dict) or saved.get("kind") not in kinds:
        raise CheckpointError(f"unknown tokenizer in checkpoint: {saved!r:.80}")
    return kinds[saved["kind"]]._from_state(saved["state"])


def rng_state() -> dict[str, Any]:
    """The global RNG states (torch, numpy, python, cuda when present) as tensors/plain types."""
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": [kind, torch.from_numpy(keys.astype(np.int64)), pos, has_gauss, gauss],
        "python": _to_lists(random.getstate()),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"].cpu())
    kind, keys, pos, has_gauss, gauss = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, gauss))
    random.setstate(_to_tuples(state["python"]))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda"]])


def _to_lists(value: Any) -> Any:
    return [_to_lists(v) for v in value] if isinstance(value, tuple | list) else value


def _to_tuples(value: Any) -> Any:
    return tuple(_to_tuples(v) for v in value) if isinstance(value, list) else value
