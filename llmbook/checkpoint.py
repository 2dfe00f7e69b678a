"""Checkpoints: write atomically, read back with `torch.load(..., weights_only=True)`.

Built in chapter 13, The GPT architecture (the training program of `llmbook.train` uses it).

A checkpoint is one dict of tensors and plain Python values (no pickled classes), so it loads
with `weights_only=True`. It is written to a temporary file in the same folder, synced to disk and
then moved into place with `os.replace`, so a reader, or a run killed half way, never sees a
partial file; the temp files of killed writes are removed by the next write, and when a run
starts in the folder (`llmbook.runlock`). Files get the user's umask, not the temp file's 0600.
Loading checks the checkpoint as a whole (header, model config, tokenizer, every weight's shape)
and raises one `CheckpointError` naming what is wrong. A checkpoint holds the run's tokenizer,
whichever it is (characters, the book's BPE, or a pretrained model's GPT-2-format BPE), and the
sha256 of the run's token ids, so that a resumed run must use the same text.
"""

from __future__ import annotations

import dataclasses
import errno
import hashlib
import os
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from llmbook.files import write_atomic
from llmbook.gpt import GPT, GPTConfig
from llmbook.tokenizer import (
    GPT2_LIKE_PATTERN,
    GPT2_PATTERN,
    BPETokenizer,
    CharTokenizer,
    GPT2FormatTokenizer,
    Tokenizer,
    WordTokenizer,
)

FORMAT = "llmbook-gpt-checkpoint"
VERSION = 1
REQUIRED_KEYS = ("format", "version", "model", "model_config", "tokenizer", "step")
# Every tokenizer a run can use: characters, words, the book's BPE, and a pretrained model's
# GPT-2-format BPE (--init-from); a checkpoint names its kind.
TOKENIZER_KINDS: dict[str, type[Tokenizer]] = {
    t.kind: t for t in (CharTokenizer, WordTokenizer, BPETokenizer, GPT2FormatTokenizer)
}


class CheckpointError(ValueError):
    """A checkpoint that cannot be read, or that does not fit the run asking for it."""


def save_atomic(obj: dict[str, Any], path: str | os.PathLike) -> Path:
    """torch.save `obj` to a temp file beside `path`, then os.replace it into place.

    OSError naming `path` if it cannot be written (torch reports a full disk as a RuntimeError
    about the zip entry it was writing)."""

    def save(f: Any) -> None:
        try:
            torch.save(obj, f)
        except RuntimeError as exc:
            if "writ" not in str(exc):
                raise
            raise OSError(f"cannot write {path}: {str(exc).splitlines()[0]}") from None

    return write_atomic(path, save)


def write_text_atomic(text: str, path: str | os.PathLike) -> Path:
    """Write `text` (UTF-8) to a temp file beside `path`, then os.replace it into place."""
    return write_atomic(path, lambda f: f.write(text.encode("utf-8")))


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict:
    """Read a checkpoint with weights_only=True and check it as a whole (`validate_checkpoint`).

    CheckpointError if it is missing, corrupt, or any part of it is wrong; ValueError if
    `map_location` is a device this machine does not have.
    """
    path = Path(path).expanduser()
    _check_device_available(map_location)
    if path.is_dir() and (path / "ckpt.pt").is_file():
        raise CheckpointError(f"{path} is a folder; the checkpoint in it is {path / 'ckpt.pt'}")
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}")
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except OSError as exc:
        if exc.errno == errno.EINVAL:  # what torch says of a zip file cut short
            raise CheckpointError(
                f"checkpoint {path} is cut short or damaged ({path.stat().st_size:,} bytes): "
                f"its writer was stopped, or the copy is incomplete; use ckpt.pt or best.pt "
                f"written by a run, or copy it again"
            ) from None
        raise CheckpointError(f"cannot read checkpoint {path}: {exc.strerror or exc}") from exc
    except EOFError:
        raise CheckpointError(f"checkpoint {path} is empty (0 bytes)") from None
    except Exception as exc:  # truncated zip, random bytes, pickled classes, ...
        raise CheckpointError(
            f"checkpoint {path} is corrupt or not a llmbook checkpoint ({type(exc).__name__}: "
            f"{str(exc).splitlines()[0] if str(exc) else ''})"
        ) from exc
    validate_checkpoint(ckpt, path)
    return ckpt


def _check_device_available(device: str | torch.device) -> None:
    try:
        kind = torch.device(device).type
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"unknown device {device!r}: {exc}") from None
    if kind == "meta":
        raise ValueError(
            f"device {str(device)!r} holds shapes but no numbers, so nothing can be computed "
            f"there; use cpu, cuda or mps"
        )
    if kind == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {str(device)!r} is not available: this machine has no CUDA")
    index = torch.device(device).index
    if kind == "cuda" and index is not None and index >= torch.cuda.device_count():
        raise ValueError(
            f"device {str(device)!r} is not available: this machine has "
            f"{torch.cuda.device_count()} CUDA device(s), cuda:0 to "
            f"cuda:{torch.cuda.device_count() - 1}"
        )
    mps = getattr(torch.backends, "mps", None)
    if kind == "mps" and (mps is None or not mps.is_available()):
        raise ValueError(f"device {str(device)!r} is not available: this machine has no MPS")


# --- checking a checkpoint as a whole ---------------------------------------------------------


def validate_checkpoint(ckpt: Any, path: str | os.PathLike = "checkpoint") -> None:
    """CheckpointError naming the first thing wrong with `ckpt`: its header, step, model
    config, tokenizer (and its vocabulary against the model's), every weight's name, shape and
    finiteness against the model its config builds, and the shape of the resume state."""
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a llmbook checkpoint (no format {FORMAT!r})")
    missing = [k for k in REQUIRED_KEYS if k not in ckpt]
    if missing:
        raise CheckpointError(f"checkpoint {path} lacks {missing}")
    if ckpt["version"] != VERSION:
        raise CheckpointError(
            f"checkpoint {path} has version {ckpt['version']!r}; this code reads {VERSION}"
        )
    step = ckpt["step"]
    if isinstance(step, bool) or not isinstance(step, int) or step < 0:
        raise CheckpointError(f"checkpoint {path}: step must be an integer >= 0, got {step!r}")
    config = model_config_from(ckpt, path)
    tokenizer = tokenizer_from_state(ckpt["tokenizer"], path)
    # A pretrained model's vocabulary may be padded beyond its tokenizer's (GPT-2 to 50,304,
    # say); the tokenizers a run builds itself fix vocab_size exactly.
    padded = tokenizer.kind == GPT2FormatTokenizer.kind
    if tokenizer.vocab_size > config.vocab_size or (
        not padded and tokenizer.vocab_size != config.vocab_size
    ):
        raise CheckpointError(
            f"checkpoint {path}: the tokenizer has {tokenizer.vocab_size} tokens but the model "
            f"{config.vocab_size} (vocab_size); they must be equal"
            + (" or the model larger" if padded else "")
        )
    _check_weights(ckpt["model"], config, path)
    _check_resume_state(ckpt, path)
    check_finite(ckpt, path)


def model_config_from(ckpt: dict[str, Any], path: str | os.PathLike = "checkpoint") -> GPTConfig:
    """The GPTConfig stored in `ckpt`; CheckpointError naming a missing, unknown or bad field."""
    saved = ckpt.get("model_config")
    if not isinstance(saved, dict):
        raise CheckpointError(f"checkpoint {path}: model_config must be a dict, got {saved!r:.80}")
    known = {f.name for f in dataclasses.fields(GPTConfig)}
    unknown = sorted(str(k) for k in saved if k not in known)
    if unknown:
        raise CheckpointError(f"checkpoint {path}: model_config has unknown fields {unknown}")
    try:
        return GPTConfig(**saved)
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"checkpoint {path}: bad model_config: {exc}") from exc


def _check_weights(weights: Any, config: GPTConfig, path: str | os.PathLike) -> None:
    """Every tensor the model built from `config` needs, with its shape, finite; nothing else."""
    if not isinstance(weights, dict):
        raise CheckpointError(f"checkpoint {path}: model must be a dict of tensors")
    with torch.device("meta"):  # shapes only: nothing is allocated
        expected = {k: tuple(v.shape) for k, v in GPT(config).state_dict().items()}
    problems = [f"{k} is missing" for k in expected if k not in weights]
    problems += [f"{k} is not part of this model" for k in weights if k not in expected]
    for name, shape in expected.items():
        tensor = weights.get(name)
        if name not in weights:
            continue
        if not isinstance(tensor, torch.Tensor) or not tensor.is_floating_point():
            problems.append(f"{name} is not a tensor of floats ({type(tensor).__name__})")
        elif tuple(tensor.shape) != shape:
            problems.append(f"{name} has shape {tuple(tensor.shape)}, the model needs {shape}")
    if problems:
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        raise CheckpointError(
            f"checkpoint {path} does not fit the model of its model_config: "
            + "; ".join(problems[:5])
            + more
        )


def _check_resume_state(ckpt: dict[str, Any], path: str | os.PathLike) -> None:
    """The parts only resuming needs, when present: config, optimizer, rng, log."""
    for key, kind in (("config", dict), ("optimizer", dict), ("rng", list), ("log", list)):
        if key in ckpt and not isinstance(ckpt[key], kind):
            raise CheckpointError(
                f"checkpoint {path}: {key} must be a {kind.__name__}, got {ckpt[key]!r:.60}"
            )
    optimizer = ckpt.get("optimizer", {"state": {}, "param_groups": []})
    if not isinstance(optimizer.get("state"), dict) or not isinstance(
        optimizer.get("param_groups"), list
    ):
        raise CheckpointError(f"checkpoint {path}: optimizer lacks its state or param_groups")
    generator_bytes = torch.get_rng_state().numel()
    for rank, state in enumerate(ckpt.get("rng", [])):
        ok = isinstance(state, dict) and isinstance(state.get("numpy"), list)
        ok = ok and len(state["numpy"]) == 5 and isinstance(state.get("python"), list)
        ok = ok and isinstance(state.get("data"), list)
        generators = [state.get("torch"), *state["data"]] if ok else []
        ok = ok and all(
            isinstance(g, torch.Tensor) and g.dtype == torch.uint8 and g.numel() == generator_bytes
            for g in generators
        )
        if not ok:
            raise CheckpointError(
                f"checkpoint {path}: the random-number state of rank {rank} is damaged"
            )
    _check_stream_count(ckpt, path)
    _check_data_fingerprint(ckpt, path)


def _check_data_fingerprint(ckpt: dict[str, Any], path: str | os.PathLike) -> None:
    """The training data's sha256, where a checkpoint has one: 64 hexadecimal digits."""
    value = ckpt.get("data_sha256")
    hex_digits = set("0123456789abcdef")
    if value is not None and not (
        isinstance(value, str) and len(value) == 64 and set(value) <= hex_digits
    ):
        raise CheckpointError(
            f"checkpoint {path}: data_sha256 must be 64 hexadecimal digits, got {value!r:.80}"
        )


def _check_stream_count(ckpt: dict[str, Any], path: str | os.PathLike) -> None:
    """Each rank's data streams: config's data_streams shared among the ranks."""
    ranks, streams = ckpt.get("rng", []), ckpt.get("config", {}).get("data_streams")
    if not ranks or isinstance(streams, bool) or not isinstance(streams, int):
        return
    for rank, state in enumerate(ranks):
        if len(state["data"]) * len(ranks) != streams:
            raise CheckpointError(
                f"checkpoint {path}: rank {rank} holds {len(state['data'])} data streams; "
                f"data_streams={streams} over {len(ranks)} rank(s) needs "
                f"{streams / len(ranks):g}"
            )


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

    Such a checkpoint comes from a run that diverged: resuming it would only train nan, and
    sampling from it would fail.
    """
    for section in ("model", "optimizer"):
        for name, tensor in _tensors(ckpt.get(section, {}), section):
            if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
                bad = tensor[~torch.isfinite(tensor)].flatten()[0].item()
                raise CheckpointError(
                    f"checkpoint {path} holds non-finite numbers ({bad} in {name}): the run "
                    f"that wrote it diverged, so it can be neither resumed nor sampled; start a "
                    f"new run with --overwrite, or use an earlier copy"
                )


# --- tokenizers and RNG states as plain values ---------------------------------------------


def tokenizer_state(tokenizer: Tokenizer) -> dict[str, Any]:
    """{'kind': 'char' | 'word' | 'bpe' | 'bpe-gpt2-format', 'state': plain dict}: what
    `tokenizer_from_state` rebuilds. TypeError for a tokenizer a checkpoint cannot hold (one
    read by Hugging Face `tokenizers`, say)."""
    if not isinstance(tokenizer, Tokenizer) or tokenizer.kind not in TOKENIZER_KINDS:
        raise TypeError(
            f"a checkpoint holds one of the book's tokenizers ({', '.join(TOKENIZER_KINDS)}), "
            f"got {type(tokenizer).__name__}"
        )
    return {"kind": tokenizer.kind, "state": tokenizer._state()}


def tokenizer_from_state(saved: Any, path: str | os.PathLike = "checkpoint") -> Tokenizer:
    """The tokenizer that `tokenizer_state` described; CheckpointError if the state is bad."""
    kinds = TOKENIZER_KINDS
    if not isinstance(saved, dict) or saved.get("kind") not in kinds:
        raise CheckpointError(
            f"{path}: unknown tokenizer in checkpoint: {saved!r:.80}; this code reads "
            f"{', '.join(kinds)}"
        )
    state = saved.get("state")
    if not isinstance(state, dict):
        raise CheckpointError(f"{path}: the tokenizer state must be a dict, got {state!r:.80}")
    try:
        return kinds[saved["kind"]]._from_state(state)
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"{path}: bad {saved['kind']} tokenizer state: {exc!s:.200}") from exc


def data_fingerprint(train_ids: torch.Tensor, val_ids: torch.Tensor) -> str:
    """sha256 of a run's token ids (training, then validation): a resumed run must train on
    the same ids, or its batches would silently come from another text."""
    digest = hashlib.sha256()
    for ids in (train_ids, val_ids):
        digest.update(len(ids).to_bytes(8, "little"))
        digest.update(ids.to(torch.int64).contiguous().numpy().tobytes())
    return digest.hexdigest()


def check_same_data(
    ckpt: dict[str, Any], tokenizer: Tokenizer, fingerprint: str, path: str | os.PathLike
) -> None:
    """CheckpointError unless this run's tokenizer and token ids are the checkpoint's: resuming
    on another text (or with another tokenizer) would train on ids the model never meant."""
    saved = tokenizer_from_state(ckpt["tokenizer"], path)
    if _comparable(tokenizer_state(saved)) != _comparable(tokenizer_state(tokenizer)):
        raise CheckpointError(
            f"checkpoint {path} was trained with another tokenizer than this run's text gives "
            f"({saved!r} there, {tokenizer!r} here): resume it on the text it was trained on"
        )
    if ckpt.get("data_sha256", fingerprint) != fingerprint:
        raise CheckpointError(
            f"checkpoint {path} was trained on another text than this run's (the token ids "
            f"differ): resume it on the text it was trained on, or start a new run with "
            f"--overwrite"
        )


def _comparable(state: dict[str, Any]) -> dict[str, Any]:
    """A tokenizer state with GPT2_LIKE_PATTERN read as GPT2_PATTERN: BPE checkpoints written
    before the exact pattern was the default resume (on Tiny Shakespeare, which is ASCII, the
    two patterns cut the text alike; `llmbook.tokenizer.GPT2_LIKE_PATTERN` says where not)."""
    inner = state.get("state", {})
    if inner.get("pattern") == GPT2_LIKE_PATTERN:
        return {**state, "state": {**inner, "pattern": GPT2_PATTERN}}
    return state


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
