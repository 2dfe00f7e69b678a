"""Train the GPT of `llmbook.gpt` on Tiny Shakespeare: one program for a laptop, a GPU or several.

Built in chapter 13, The GPT architecture.

    python -m llmbook.train --preset tiny-cpu                    # about 2 minutes on 2 CPU cores
    python -m llmbook.train --preset baby-gpu --out-dir out      # one GPU, checkpoints in out/
    python -m llmbook.train --preset baby-gpu --out-dir out --resume      # after a kill
    torchrun --standalone --nproc_per_node=4 -m llmbook.train --preset baby-gpu --out-dir out
    python -m llmbook.train --norm rmsnorm --mlp swiglu --position rope --n-kv-head 2 \\
        --no-bias --no-tie-embeddings --out-dir llama                 # chapter 15's variant
    python -m llmbook.train --preset baby-gpu --init-from gpt2 --learning-rate 3e-5 \\
        --max-steps 500 --grad-accum 8 --out-dir gpt2-shakespeare     # fine-tune GPT-2

What it does, in order: tokenize the text (characters by default, `--tokenizer bpe` for byte-level
BPE trained on the training split), cut the first 90% for training and the rest for validation,
and repeat `max_steps` times: draw `batch_size` random windows of `block_size` tokens, compute the
loss, backpropagate, clip the gradient norm, take an AdamW step with a learning rate that rises
linearly for `warmup_steps` and then follows a cosine down to `min_lr`. Every `eval_interval`
steps it measures the mean loss on `eval_batches` fixed batches of each split, logs it (a JSON
file, rewritten atomically) and writes a checkpoint (atomically, see `llmbook.checkpoint`):
ckpt.pt is the latest, best.pt the one with the lowest validation loss so far.

`TrainConfig.model` is a `GPTConfig`: every model setting (chapter 15's norm, MLP, positions,
key/value heads, tying, RoPE scaling) is a flag, is saved in checkpoints and is checked on
resume, without being declared twice. `--init-from` starts from a pretrained GPT-2 or a local
folder (`llmbook.pretrained`), with its tokenizer and shape; `--grad-accum k` splits each
step's batch into k micro-batches whose gradients add up.

On CUDA it uses bf16 autocast (fp16 with a GradScaler on GPUs without bf16, such as the T4
and V100; `--precision` overrides), TF32 matrix products and the fused AdamW; `--compile` adds
torch.compile. Under `torchrun` every process (rank) trains a copy of the model on its own share
of the batch (`batch_size / world_size` windows from its own random stream) and
DistributedDataParallel averages the gradients; only rank 0 writes files.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import math
import os
import random
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import Tensor, nn

from llmbook.checkpoint import (
    FORMAT,
    VERSION,
    CheckpointError,
    load_checkpoint,
    rng_state,
    save_atomic,
    set_rng_state,
    tokenizer_from_state,
    tokenizer_state,
    write_text_atomic,
)
from llmbook.data import CORPORA, DownloadError, load_text, train_val_split
from llmbook.gpt import GPT, MLPS, NORMS, POSITIONS, GPTConfig, param_count
from llmbook.norm import use_fused_layer_norm
from llmbook.tokenizer import BPETokenizer, CharTokenizer, Tokenizer

CHECKPOINT_NAME = "ckpt.pt"
LOG_NAME = "log.json"

BEST_NAME = "best.pt"  # the checkpoint with the lowest validation loss so far
# The model's settings: every field of GPTConfig but vocab_size, which the tokenizer fixes.
# TrainConfig carries a GPTConfig (`model`), so a new GPTConfig field becomes a flag, goes into
# checkpoints and is checked on resume without being declared again here.
MODEL_SETTINGS = tuple(f.name for f in fields(GPTConfig) if f.name != "vocab_size")
# Settings that fix the meaning of the token ids: a checkpoint can only be resumed by a run that
# agrees on them (and on every model setting but dropout).
DATA_FIELDS = ("tokenizer", "bpe_vocab_size", "init_from")


# The allowed values of each setting, for validate() and its messages.
MAX_SEED = 2**32 - 1
MAX_BPE_VOCAB = 65_536
PRECISIONS = ("auto", "bf16", "fp16", "fp32")
CHOICES: dict[str, tuple[str, ...]] = {
    "tokenizer": ("char", "bpe"),
    "dataset": tuple(CORPORA),
    "precision": PRECISIONS,
}
BOOL_FIELDS = ("bias", "resume", "overwrite", "compile", "fused_attention", "fused_norm", "quiet")
# name: (low, high, whether high itself is allowed); low is always allowed except for the
# learning rate, which must be above 0
FLOAT_RANGES: dict[str, tuple[float, float, bool]] = {
    "learning_rate": (0.0, 1.0, True),
    "min_lr": (0.0, 1.0, True),
    "weight_decay": (0.0, math.inf, False),
    "grad_clip": (0.0, math.inf, False),  # 0 switches clipping off
    "dropout": (0.0, 1.0, False),
    "beta1": (0.0, 1.0, False),
    "beta2": (0.0, 1.0, False),
}


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _check_int(name: str, value: Any, low: int, high: int | None = None) -> None:
    """TypeError unless `value` is an int, ValueError unless low <= value <= high."""
    allowed = f"an integer >= {low}" if high is None else f"an integer in {low}..{high}"
    if low == 1 and high is None:
        allowed = "a positive integer"
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be {allowed}, got {value!r} ({_flag(name)})")
    if value < low or (high is not None and value > high):
        raise ValueError(f"{name} must be {allowed}, got {value!r} ({_flag(name)})")


def _check_float(name: str, value: Any, low: float, high: float, closed_high: bool) -> None:
    """TypeError unless `value` is a real number, ValueError unless finite and in range."""
    open_low = name == "learning_rate"
    interval = f"{'(' if open_low else '['}{low:g}, {high:g}{']' if closed_high else ')'}"
    allowed = f"a finite number in {interval}"
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{name} must be {allowed}, got {value!r} ({_flag(name)})")
    too_low = value <= low if open_low else value < low
    too_high = value > high if closed_high else value >= high
    if not math.isfinite(value) or too_low or too_high:
        raise ValueError(f"{name} must be {allowed}, got {value!r} ({_flag(name)})")


@dataclass
class TrainConfig:
    """Everything a training run depends on; the presets and the command-line flags fill it."""

    # the model: every GPTConfig setting (vocab_size is replaced by the tokenizer's); the
    # settings read as config.n_layer, config.block_size, ... too
    model: GPTConfig = field(
        default_factory=lambda: GPTConfig(vocab_size=1, n_layer=4, n_head=4, n_embd=128,
                                          block_size=64)
    )  # fmt: skip
    init_from: str | None = None  # gpt2, gpt2-medium, ..., a hub id or a folder: start from it
    # the data
    dataset: str = "tinyshakespeare"
    tokenizer: str = "char"  # "char" or "bpe"
    bpe_vocab_size: int = 512  # only for tokenizer="bpe"
    # the optimisation
    batch_size: int = 12  # windows per step, over all ranks together
    grad_accum: int = 1  # micro-batches per step: batch_size / grad_accum windows at a time
    max_steps: int = 2000
    learning_rate: float = 1e-3  # the peak, reached after warmup_steps
    min_lr: float = 1e-4  # the end of the cosine
    warmup_steps: int = 100
    weight_decay: float = 0.1  # every matrix, wte and wpe too; not biases or norm scales
    beta1: float = 0.9
    beta2: float = 0.99
    grad_clip: float = 1.0  # 0 switches clipping off
    # evaluation and files
    eval_interval: int = 250
    eval_batches: int = 20
    eval_batch_size: int = 0  # 0: the same as batch_size
    out_dir: str | None = None  # where ckpt.pt and log.json go; None: write nothing
    resume: bool = False  # carry on from out_dir/ckpt.pt
    overwrite: bool = False  # start afresh in an out_dir that holds a checkpoint, replacing it
    stop_at: int | None = None  # stop after this step as if killed (the schedule still runs to
    # max_steps); used to test resuming
    # the machine
    device: str = "auto"  # auto picks cuda, then mps, then cpu
    precision: str = "auto"  # auto: bf16 on GPUs that have it, fp16 + GradScaler on older ones
    # (T4, V100), fp32 on CPU and MPS; or "bf16", "fp16", "fp32"
    compile: bool = False
    fused_attention: bool = True  # F.scaled_dot_product_attention instead of the manual path
    fused_norm: bool = True  # torch's one-kernel layer norm instead of the one built by hand
    seed: int = 1337
    data_streams: int = 1  # random streams the batch is drawn from (under DDP: one per rank)
    quiet: bool = False
    preset: str | None = None  # the preset these values started from (for the record)

    def __post_init__(self) -> None:
        self.validate()

    def __getattr__(self, name: str) -> Any:
        """config.n_layer, config.block_size, ...: the settings of `model`."""
        model = self.__dict__.get("model")
        if model is not None and name in MODEL_SETTINGS:
            return getattr(model, name)
        raise AttributeError(f"{type(self).__name__} has no attribute {name!r}")

    def validate(self) -> None:
        """Raise ValueError (TypeError for a wrong type) naming the setting, its flag, the bad
        value and what is allowed."""
        if not isinstance(self.model, GPTConfig):
            raise TypeError(f"model must be a GPTConfig, got {type(self.model).__name__}")
        self.model.validate()
        _check_int("grad_accum", self.grad_accum, 1)
        for name in ("n_layer", "n_head", "n_embd", "block_size", "batch_size", "max_steps"):
            _check_int(name, getattr(self, name), 1)
        for name in ("eval_interval", "eval_batches", "data_streams"):
            _check_int(name, getattr(self, name), 1)
        for name in ("warmup_steps", "eval_batch_size"):
            _check_int(name, getattr(self, name), 0)
        _check_int("seed", self.seed, 0, MAX_SEED)
        if self.stop_at is not None:
            _check_int("stop_at", self.stop_at, 1, self.max_steps)
        for name in BOOL_FIELDS:
            if not isinstance(getattr(self, name), bool):
                raise TypeError(f"{name} must be True or False, got {getattr(self, name)!r}")
        for name, allowed in CHOICES.items():
            if getattr(self, name) not in allowed:
                raise ValueError(
                    f"{name} must be one of {allowed}, got {getattr(self, name)!r} ({_flag(name)})"
                )
        if self.tokenizer == "bpe":
            _check_int("bpe_vocab_size", self.bpe_vocab_size, 257, MAX_BPE_VOCAB)
        for name, (low, high, closed_high) in FLOAT_RANGES.items():
            _check_float(name, getattr(self, name), low, high, closed_high)
        self._check_relations()

    def _check_relations(self) -> None:
        """The checks that tie two settings together."""
        if self.n_embd % self.n_head != 0:
            raise ValueError(
                f"n_embd={self.n_embd} must be divisible by n_head={self.n_head} "
                f"(each head gets n_embd / n_head numbers; --n-embd, --n-head)"
            )
        if self.min_lr > self.learning_rate:
            raise ValueError(
                f"min_lr={self.min_lr!r} must not exceed learning_rate={self.learning_rate!r} "
                f"(--min-lr, --learning-rate)"
            )
        if self.learning_rate * self.weight_decay >= 1:
            raise ValueError(
                f"learning_rate * weight_decay = {self.learning_rate * self.weight_decay:g} "
                f"must be below 1 (each step shrinks the weights by that fraction; "
                f"--learning-rate, --weight-decay)"
            )
        if self.batch_size % (self.data_streams * self.grad_accum) != 0:
            raise ValueError(
                f"batch_size={self.batch_size} must be divisible by grad_accum="
                f"{self.grad_accum} x data_streams={self.data_streams} (--batch-size, "
                f"--grad-accum)"
            )
        if self.batch_size % self.data_streams != 0:
            raise ValueError(
                f"batch_size={self.batch_size} must be divisible by data_streams="
                f"{self.data_streams}"
            )
        if self.out_dir is not None and (
            not isinstance(self.out_dir, str | os.PathLike) or str(self.out_dir).strip() == ""
        ):
            raise ValueError(f"out_dir must be a folder name or None, got {self.out_dir!r}")
        if self.resume and self.out_dir is None:
            raise ValueError("resume needs out_dir, the folder holding the checkpoint")
        if self.resume and self.overwrite:
            raise ValueError(
                "resume and overwrite exclude each other: --resume carries on from the "
                "checkpoint, --overwrite replaces it with a new run"
            )

    def model_config(self, vocab_size: int) -> GPTConfig:
        """The model's GPTConfig with the tokenizer's vocabulary size."""
        return dataclasses.replace(self.model, vocab_size=vocab_size)


PRESETS: dict[str, dict[str, Any]] = {
    # What chapter 13 trains live: under 2 minutes on 2 CPU cores, validation loss below 1.89
    # (1.81 with seed 1337). A high learning rate gets there in 1500 steps instead of 2000.
    "tiny-cpu": dict(
        n_layer=4,
        n_head=4,
        n_embd=128,
        block_size=64,
        batch_size=12,
        dropout=0.0,
        max_steps=1500,
        learning_rate=3e-3,
        min_lr=3e-4,
        warmup_steps=100,
        eval_interval=250,
        eval_batches=8,
        eval_batch_size=32,
    ),
    # nanoGPT's shakespeare_char: 10.7 M parameters, minutes on one GPU.
    "baby-gpu": dict(
        n_layer=6,
        n_head=6,
        n_embd=384,
        block_size=256,
        batch_size=64,
        dropout=0.2,
        max_steps=5000,
        learning_rate=1e-3,
        min_lr=1e-4,
        warmup_steps=100,
        beta1=0.9,
        beta2=0.99,
        eval_interval=250,
        eval_batches=50,
    ),
}


def config_from_preset(preset: str = "tiny-cpu", **overrides: Any) -> TrainConfig:
    """A TrainConfig from a named preset, with any field replaced by `overrides`."""
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; known presets: {sorted(PRESETS)}")
    names = {f.name for f in fields(TrainConfig)} | set(MODEL_SETTINGS)
    unknown = sorted(set(overrides) - names)
    if unknown:
        raise ValueError(f"unknown TrainConfig fields {unknown}")
    settings = {**PRESETS[preset], **overrides, "preset": preset}
    model = settings.pop("model", None) or GPTConfig(vocab_size=1)
    model_settings = {k: settings.pop(k) for k in MODEL_SETTINGS if k in settings}
    try:
        model = dataclasses.replace(model, **model_settings)
    except (TypeError, ValueError) as exc:
        names = ", ".join(_flag(k) for k in model_settings)
        raise type(exc)(f"{exc} ({names})") from exc
    return TrainConfig(model=model, **settings)


# --- the learning-rate schedule --------------------------------------------------------------


def lr_at(step: int, config: TrainConfig) -> float:
    """Linear warm-up to learning_rate over warmup_steps, then a cosine down to min_lr.

    `step` counts from 0; step max_steps - 1, the last, gets (almost) min_lr.
    """
    if step < config.warmup_steps:
        return config.learning_rate * (step + 1) / config.warmup_steps
    decay_steps = max(1, config.max_steps - config.warmup_steps)
    progress = min(1.0, (step - config.warmup_steps) / decay_steps)  # 0 -> 1
    cosine = 0.5 * (1.0 + math.cos(math.pi * progress))  # 1 -> 0
    return config.min_lr + cosine * (config.learning_rate - config.min_lr)


# --- the machine -----------------------------------------------------------------------------


def pick_device(requested: str = "auto") -> torch.device:
    """cuda if present, else mps, else cpu; or the requested one (an error if it is missing)."""
    if requested == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(requested)
    except RuntimeError as exc:
        raise ValueError(f"unknown device {requested!r}: {exc}") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {requested!r} was asked for, but CUDA is not available")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"device {requested!r} was asked for, but MPS is not available")
    return device


@dataclass
class Distributed:
    """Where this process stands: rank r of world_size processes (1 without torchrun)."""

    rank: int = 0
    local_rank: int = 0
    world_size: int = 1

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def read_distributed_env(environ: Mapping[str, str] | None = None) -> Distributed:
    """Rank, local rank and world size from torchrun's variables; ValueError if they are broken.

    Without WORLD_SIZE (or with WORLD_SIZE=1) this is one process. With WORLD_SIZE > 1, RANK
    must be set too (torchrun sets both); a WORLD_SIZE left over in the shell is caught here
    instead of hanging while waiting for processes that never come.
    """
    env = os.environ if environ is None else environ

    def number(name: str, default: str | None) -> int:
        raw = env.get(name, default)
        if raw is None:
            raise ValueError(
                f"WORLD_SIZE={env['WORLD_SIZE']} is set but {name} is not: start several "
                f"processes with torchrun (which sets both), or unset WORLD_SIZE for one"
            )
        try:
            return int(raw)
        except ValueError:
            raise ValueError(
                f"the environment variable {name}={raw!r} must be an integer"
            ) from None

    world_size = number("WORLD_SIZE", "1")
    if world_size < 1:
        raise ValueError(f"the environment variable WORLD_SIZE={world_size} must be >= 1")
    if world_size == 1:
        return Distributed()
    rank, local_rank = number("RANK", None), number("LOCAL_RANK", "0")
    if not 0 <= rank < world_size or not 0 <= local_rank < world_size:
        raise ValueError(
            f"RANK={rank} and LOCAL_RANK={local_rank} must be in 0..{world_size - 1} "
            f"(WORLD_SIZE={world_size})"
        )
    for name in ("MASTER_ADDR", "MASTER_PORT"):
        if not env.get(name):
            raise ValueError(
                f"WORLD_SIZE={world_size} is set but {name} is not: start the processes with "
                f"torchrun, which sets it"
            )
    return Distributed(rank, local_rank, world_size)


def setup_distributed(device: torch.device) -> tuple[Distributed, torch.device]:
    """Join the torchrun process group (nccl on CUDA, gloo on CPU) when WORLD_SIZE > 1."""
    ddp = read_distributed_env()
    if not ddp.enabled:
        return ddp, device
    if device.type == "cuda":
        device = torch.device("cuda", ddp.local_rank)
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return ddp, device


def has_bf16(device: torch.device) -> bool:
    """Whether `device` computes in bf16 natively: CUDA GPUs from Ampere on (compute capability
    8.0: A100, RTX 30xx, H100), not T4 or V100 (7.5, 7.0); and CPUs."""
    if device.type == "cuda":
        return torch.cuda.get_device_capability(device) >= (8, 0)
    return device.type == "cpu"


def resolve_precision(requested: str, device: torch.device) -> str:
    """The precision to train in: "bf16", "fp16" or "fp32".

    auto: bf16 autocast on a GPU that has bf16, fp16 autocast with a GradScaler on one that
    does not (T4, V100), fp32 elsewhere (CPU runs stay exactly repeatable).
    """
    if requested not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {requested!r}")
    if requested == "auto":
        if device.type != "cuda":
            return "fp32"
        return "bf16" if has_bf16(device) else "fp16"
    if requested == "fp16" and device.type != "cuda":
        raise ValueError(
            f"--precision fp16 needs a CUDA GPU, this run is on {device.type}; "
            f"use --precision fp32 (or bf16 on a CPU)"
        )
    if requested == "bf16" and not has_bf16(device):
        where = torch.cuda.get_device_name(device) if device.type == "cuda" else device.type
        raise ValueError(
            f"--precision bf16: {where} has no bf16; use --precision fp16 (GPUs) or fp32"
        )
    return requested


def make_grad_scaler(precision: str) -> Any:
    """A GradScaler for fp16 (its small range needs the loss scaled up); None otherwise."""
    if precision != "fp16":
        return None
    if hasattr(torch.amp, "GradScaler"):
        return torch.amp.GradScaler("cuda")
    return torch.cuda.amp.GradScaler()  # torch < 2.3


def available_memory(device: torch.device) -> int | None:
    """Bytes free for this process on `device`: the GPU's free memory, or the memory Linux can
    hand out (MemAvailable, within any cgroup limit); None where it cannot be told."""
    if device.type == "cuda":
        return torch.cuda.mem_get_info(device)[0]
    if device.type != "cpu":
        return None
    limits = []
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                limits.append(int(line.split()[1]) * 1024)
    with contextlib.suppress(OSError, ValueError):
        cgroup = Path("/sys/fs/cgroup")
        most = (cgroup / "memory.max").read_text().strip()
        if most != "max":
            limits.append(int(most) - int((cgroup / "memory.current").read_text()))
    return min(limits) if limits else None


def memory_needed(config: TrainConfig, vocab_size: int, precision: str, world_size: int) -> int:
    """A lower bound on the bytes one process needs to train: 16 per parameter (fp32 weights,
    gradients and AdamW's two moments) and the activations kept for the backward pass (at
    least 12 numbers per token, layer and unit of n_embd, plus the logits and their gradient).
    """
    n_params = param_count(config.model_config(vocab_size))
    bytes_per_activation = 4 if precision == "fp32" else 2
    tokens = config.batch_size // world_size * config.block_size
    per_token = config.n_layer * 12 * config.n_embd + 2 * vocab_size
    return 16 * n_params + tokens * per_token * bytes_per_activation


def check_memory(
    config: TrainConfig, device: torch.device, precision: str, ddp: Distributed
) -> None:
    """ValueError, before anything is allocated, if the model cannot fit in memory."""
    vocab = config.bpe_vocab_size if config.tokenizer == "bpe" else 1
    needed = memory_needed(config, vocab, precision, ddp.world_size)
    free = available_memory(device)
    if free is None:
        return
    if device.type == "cpu":  # the processes of one machine share its memory
        needed *= int(os.environ.get("LOCAL_WORLD_SIZE", ddp.world_size))
    if needed > free:
        n_params = param_count(config.model_config(vocab))
        raise ValueError(
            f"this model cannot be trained in the memory of {device}: it needs at least "
            f"{_gigabytes(needed)} ({n_params:,} parameters x 16 bytes for the weights, their "
            f"gradients and AdamW's state, plus the activations of a batch), and "
            f"{_gigabytes(free)} is free; make --n-layer, --n-embd, --batch-size or "
            f"--block-size smaller"
        )


def _gigabytes(n_bytes: int) -> str:
    return f"{n_bytes / 1e9:,.1f} GB" if n_bytes >= 1e8 else f"{n_bytes / 1e6:,.1f} MB"


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


# --- data ------------------------------------------------------------------------------------


@dataclass
class Data:
    tokenizer: Tokenizer
    train: Tensor  # 1-D token ids
    val: Tensor


def prepare_data(
    config: TrainConfig, text: str | None = None, tokenizer: Tokenizer | None = None
) -> Data:
    """Tokenize the corpus (or `text`) and split it 90/10 into training and validation ids.

    `tokenizer` (a pretrained model's) replaces the one `config.tokenizer` would build.
    """
    text = load_text(config.dataset) if text is None else text
    train_text, val_text = train_val_split(text)
    if tokenizer is None and config.tokenizer == "char":
        tokenizer = CharTokenizer.from_text(text)
    elif tokenizer is None:  # the merges are learned from the training part only
        tokenizer = BPETokenizer().train(train_text, config.bpe_vocab_size)
    train_ids = torch.tensor(tokenizer.encode(train_text), dtype=torch.long)
    val_ids = torch.tensor(tokenizer.encode(val_text), dtype=torch.long)
    for name, ids in (("training", train_ids), ("validation", val_ids)):
        if len(ids) <= config.block_size:
            raise ValueError(
                f"the {name} split has {len(ids)} tokens, too few for block_size="
                f"{config.block_size}"
            )
    return Data(tokenizer, train_ids, val_ids)


def draw_batch(
    data: Tensor, streams: Sequence[torch.Generator], per_stream: int, block_size: int
) -> tuple[Tensor, Tensor]:
    """`per_stream` random windows from each stream, side by side: x, y (B, T), y = x shifted."""
    starts = torch.cat(
        [torch.randint(len(data) - block_size, (per_stream,), generator=g) for g in streams]
    )  # (B,)
    offsets = torch.arange(block_size)  # (T,)
    index = starts[:, None] + offsets[None, :]  # (B, 1) + (1, T) -> (B, T)
    return data[index], data[index + 1]


def make_streams(seed: int, first: int, count: int) -> list[torch.Generator]:
    """Random streams number first .. first + count - 1 of a run with this seed."""
    return [torch.Generator().manual_seed(seed * 1000 + 1 + k) for k in range(first, first + count)]


# --- the model and the optimiser -------------------------------------------------------------


def make_optimizer(
    model: nn.Module, config: TrainConfig, device: torch.device
) -> torch.optim.AdamW:
    """AdamW with weight decay on the matrices (dim >= 2) and none on biases and norm scales."""
    params = [p for p in model.parameters() if p.requires_grad]
    decay = [p for p in params if p.dim() >= 2]
    no_decay = [p for p in params if p.dim() < 2]
    groups = [
        {"params": decay, "weight_decay": config.weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]
    extra = {"fused": True} if device.type == "cuda" else {}
    return torch.optim.AdamW(
        groups, lr=config.learning_rate, betas=(config.beta1, config.beta2), **extra
    )


def autocast_for(
    device: torch.device, precision: str = "auto"
) -> contextlib.AbstractContextManager:
    """bf16 or fp16 autocast as `precision` says (see resolve_precision); nothing for fp32."""
    precision = resolve_precision(precision, device)
    if precision == "fp32":
        return contextlib.nullcontext()
    dtype = torch.bfloat16 if precision == "bf16" else torch.float16
    return torch.autocast(device_type=device.type, dtype=dtype)


def backward_and_step(
    loss: Tensor, model: nn.Module, optimizer: torch.optim.Optimizer, scaler: Any, grad_clip: float
) -> None:
    """Backpropagate, clip the gradient norm (if grad_clip > 0), take the optimiser step.

    With a GradScaler (fp16) the loss is scaled up before the backward pass so that small
    gradients do not round to 0, and the gradients are scaled back before clipping; a step
    whose gradients overflowed is skipped and the scale lowered.
    """
    if scaler is None:
        loss.backward()
        if grad_clip > 0:
            nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
        optimizer.step()
        return
    scaler.scale(loss).backward()
    if grad_clip > 0:
        scaler.unscale_(optimizer)
        nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
    scaler.step(optimizer)
    scaler.update()


@torch.no_grad()
def estimate_loss(
    model: nn.Module, data: Data, config: TrainConfig, device: torch.device, precision: str = "fp32"
) -> dict[str, float]:
    """Mean loss over the same `eval_batches` batches of each split at every evaluation."""
    model.eval()
    batch = config.eval_batch_size or config.batch_size
    out = {}
    for split, ids in (("train", data.train), ("val", data.val)):
        stream = [torch.Generator().manual_seed(config.seed + (1 if split == "val" else 2))]
        losses = torch.zeros(config.eval_batches)
        for k in range(config.eval_batches):
            x, y = draw_batch(ids, stream, batch, config.block_size)
            with autocast_for(device, precision):
                _, loss = model(x.to(device), y.to(device))
            losses[k] = loss.float().item()
        out[split] = losses.mean().item()
    model.train()
    return out


# --- the result and the log ------------------------------------------------------------------


@dataclass
class TrainResult:
    """What `train` returns: the trained model (on the CPU), its tokenizer and the log."""

    model: GPT
    tokenizer: Tokenizer
    config: TrainConfig
    log: list[dict[str, float]] = field(default_factory=list)  # one entry per evaluation
    step: int = 0  # steps done
    seconds: float = 0.0  # wall time of this call's training loop
    checkpoint: str | None = None

    @property
    def final_val_loss(self) -> float:
        return self.log[-1]["val_loss"]

    @property
    def final_train_loss(self) -> float:
        return self.log[-1]["train_loss"]


def write_log(path: Path, config: TrainConfig, log: list[dict[str, float]]) -> None:
    record = {"config": asdict(config), "evaluations": log}
    write_text_atomic(json.dumps(record, indent=1) + "\n", path)


# --- checkpoints -----------------------------------------------------------------------------


def _gather(value: Any, ddp: Distributed) -> list[Any]:
    if not ddp.enabled:
        return [value]
    gathered: list[Any] = [None] * ddp.world_size
    dist.all_gather_object(gathered, value)
    return gathered


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
) -> None:
    """Every rank sends its RNG states; rank 0 writes the file."""
    local_rng = {**rng_state(), "data": [g.get_state() for g in streams]}
    all_rng = _gather(local_rng, ddp)
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


# --- the loop --------------------------------------------------------------------------------


def _progress(config: TrainConfig, ddp: Distributed, start: int, stop: int) -> Any:
    from tqdm.auto import tqdm

    show = ddp.is_main and not config.quiet and sys.stderr.isatty()
    return tqdm(total=stop, initial=start, disable=not show, unit="step", dynamic_ncols=True)


def _seed_everything(seed: int) -> None:
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)
    random.seed(seed)


class DivergedError(RuntimeError):
    """The loss became nan or inf; training stopped and the last good checkpoint was kept."""


def _any_rank(flag: bool, ddp: Distributed, device: torch.device) -> bool:
    """True on every rank if `flag` is true on any (so that all ranks stop together)."""
    if not ddp.enabled:
        return flag
    value = torch.tensor([int(flag)], device=device)
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return bool(value.item())


def _diverged_message(
    what: str, step: int, config: TrainConfig, ckpt_path: Path | None, last_saved: int | None
) -> str:
    if ckpt_path is None:
        kept = "nothing was saved (no --out-dir)"
    elif last_saved is None:
        kept = f"no checkpoint was written to {ckpt_path}"
    else:
        kept = f"the last good checkpoint, step {last_saved}, is kept in {ckpt_path}"
    return (
        f"training stopped: {what} at step {step} (learning rate {lr_at(step, config):.3g}); "
        f"{kept}. Try a lower --learning-rate (now {config.learning_rate:g}), a smaller "
        f"--grad-clip (now {config.grad_clip:g}) or --precision fp32."
    )


def _load_for_resume(
    ckpt_path: Path, config: TrainConfig, ddp: Distributed, data: Data
) -> dict[str, Any]:
    """The checkpoint to resume, checked against this run; its tokenizer replaces data's."""
    ckpt = load_checkpoint(ckpt_path)
    check_compatible(ckpt, config, ddp, ckpt_path)
    data.tokenizer = tokenizer_from_state(ckpt["tokenizer"], ckpt_path)
    return ckpt


def _restore(
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


def _load_pretrained(name_or_path: str) -> tuple[GPT, Tokenizer]:
    """A pretrained model and its tokenizer (`llmbook.pretrained`) for --init-from."""
    from llmbook.pretrained import (
        PretrainedError,
        checkpoint_folder,
        from_pretrained,
        load_tokenizer,
    )

    try:
        folder = checkpoint_folder(name_or_path)
        tokenizer = load_tokenizer(folder)
        if not isinstance(tokenizer, Tokenizer):
            raise PretrainedError(
                f"--init-from {name_or_path}: training needs GPT-2-format vocab.json and "
                "merges.txt (the book's BPE reads them); this model has only tokenizer.json"
            )
        return from_pretrained(folder), tokenizer
    except ImportError as exc:
        raise ValueError(f"--init-from needs: pip install 'llmbook[pretrained]' ({exc})") from exc


def train(
    config: TrainConfig,
    text: str | None = None,
    callback: Callable[[dict[str, float]], None] | None = None,
) -> TrainResult:
    """Train a GPT as `config` says; return the model, its tokenizer and the evaluation log.

    `text` replaces the corpus (tests use a short one); `callback` receives every log entry.
    Every setting, the environment, the output folder and the memory are checked before any
    work (ValueError, CheckpointError); a loss that becomes nan or inf stops the run
    (DivergedError) without overwriting the last good checkpoint.
    """
    config.validate()
    device = pick_device(config.device)
    world_size = read_distributed_env().world_size
    if config.batch_size % world_size != 0:
        raise ValueError(
            f"batch_size={config.batch_size} must be divisible by the number of processes "
            f"(WORLD_SIZE={world_size})"
        )
    out_dir = check_out_dir(config)
    ddp, device = setup_distributed(device)
    if ddp.enabled:
        config = dataclasses.replace(config, data_streams=ddp.world_size)
    precision = resolve_precision(config.precision, device)
    check_memory(config, device, precision, ddp)
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True

    pretrained_model, pretrained_tokenizer = None, None
    if config.init_from is not None:
        pretrained_model, pretrained_tokenizer = _load_pretrained(config.init_from)
        model_config = dataclasses.replace(pretrained_model.config, dropout=config.dropout)
        config = dataclasses.replace(config, model=model_config)
    data = prepare_data(config, text, pretrained_tokenizer)
    ckpt_path = out_dir / CHECKPOINT_NAME if out_dir else None
    ckpt = None
    if config.resume:
        assert ckpt_path is not None
        ckpt = _load_for_resume(ckpt_path, config, ddp, data)

    _seed_everything(config.seed)  # the same initial weights on every rank
    model = GPT(config.model_config(data.tokenizer.vocab_size))
    if pretrained_model is not None:
        model.load_state_dict(pretrained_model.state_dict())
        del pretrained_model
    model.set_fused_attention(config.fused_attention)
    use_fused_layer_norm(model, config.fused_norm)
    model.to(device)
    optimizer = make_optimizer(model, config, device)
    scaler = make_grad_scaler(precision)
    per_stream = config.batch_size // config.data_streams
    if ddp.enabled:
        streams = make_streams(config.seed, ddp.rank, 1)
    else:
        streams = make_streams(config.seed, 0, config.data_streams)
    _seed_everything(config.seed + 1 + ddp.rank)  # dropout differs from rank to rank
    step, log = 0, []
    last_saved: int | None = None
    best_val = math.inf
    if ckpt is not None:
        model.load_state_dict(ckpt["model"])
        _restore(ckpt, ckpt_path, optimizer, scaler, streams, ddp.rank)
        step, log = ckpt["step"], list(ckpt.get("log", []))
        last_saved = step
        best_val = min((e["val_loss"] for e in log), default=math.inf)

    runner: nn.Module = model
    if config.compile:
        runner = torch.compile(model)
    if ddp.enabled:
        ids = [device.index] if device.type == "cuda" else None
        runner = nn.parallel.DistributedDataParallel(runner, device_ids=ids)

    stop = config.stop_at or config.max_steps
    started = time.perf_counter()
    tokens_per_step = config.batch_size * config.block_size
    # The first step whose loss was not finite, and that loss: kept on the device, so that
    # checking every step costs no wait; read at each evaluation, before anything is saved.
    bad_step = torch.tensor(-1, device=device)
    bad_loss = torch.tensor(0.0, device=device)

    def check_finite_losses(done: int, losses: dict[str, float]) -> None:
        first_bad = int(bad_step.item())
        if first_bad >= 0:
            what = f"the training loss became {bad_loss.item()}"
        else:
            split = next((k for k, v in losses.items() if not math.isfinite(v)), None)
            what = f"the {split} loss became {losses[split]}" if split else ""
        if _any_rank(bool(what), ddp, device):
            step_seen = first_bad if first_bad >= 0 else done
            raise DivergedError(
                _diverged_message(
                    what or "the loss on another rank became nan or inf",
                    step_seen,
                    config,
                    ckpt_path,
                    last_saved,
                )
            )

    def evaluate_and_save(done: int) -> None:
        nonlocal last_saved, best_val
        losses = estimate_loss(model, data, config, device, precision)
        check_finite_losses(done, losses)
        entry = {
            "step": done,
            "train_loss": round(losses["train"], 6),
            "val_loss": round(losses["val"], 6),
            "lr": lr_at(max(done - 1, 0), config),
            "tokens": done * tokens_per_step,
            "seconds": round(time.perf_counter() - started, 3),
        }
        log.append(entry)
        if ckpt_path is not None:
            save_checkpoint(
                ckpt_path,
                model,
                optimizer,
                done,
                config,
                data.tokenizer,
                streams,
                log,
                ddp,
                scaler,
            )
            last_saved = done
            if losses["val"] < best_val:  # the best so far, kept beside the latest
                best_val = losses["val"]
                save_checkpoint(
                    ckpt_path.parent / BEST_NAME,
                    model,
                    optimizer,
                    done,
                    config,
                    data.tokenizer,
                    streams,
                    log,
                    ddp,
                    scaler,
                )
            if ddp.is_main:
                write_log(ckpt_path.parent / LOG_NAME, config, log)
        if callback is not None and ddp.is_main:
            callback(entry)
        bar.set_postfix(train=f"{losses['train']:.3f}", val=f"{losses['val']:.3f}")

    bar = _progress(config, ddp, step, stop)
    model.train()
    if step == 0:
        evaluate_and_save(0)
    for step_now in range(step, stop):
        for group in optimizer.param_groups:
            group["lr"] = lr_at(step_now, config)
        optimizer.zero_grad(set_to_none=True)
        for micro in range(config.grad_accum):  # the gradients of the micro-batches add up
            x, y = draw_batch(data.train, streams, per_stream // config.grad_accum,
                              config.block_size)  # fmt: skip
            x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
            last = micro == config.grad_accum - 1
            sync = contextlib.nullcontext() if last or not ddp.enabled else runner.no_sync()
            with sync:
                with autocast_for(device, precision):
                    _, loss = runner(x, y)
                first = ~torch.isfinite(loss.detach()) & (bad_step < 0)
                bad_step = torch.where(first, step_now, bad_step)
                bad_loss = torch.where(first, loss.detach().float(), bad_loss)
                loss = loss / config.grad_accum  # the mean over the whole batch
                if last:
                    backward_and_step(loss, model, optimizer, scaler, config.grad_clip)
                elif scaler is not None:
                    scaler.scale(loss).backward()
                else:
                    loss.backward()
        bar.update(1)
        done = step_now + 1
        if done % config.eval_interval == 0 or done == stop:
            evaluate_and_save(done)
    bar.close()
    seconds = time.perf_counter() - started
    model.to("cpu").eval()
    if ddp.enabled:
        dist.barrier()
    return TrainResult(
        model=model,
        tokenizer=data.tokenizer,
        config=config,
        log=log,
        step=stop,
        seconds=seconds,
        checkpoint=str(ckpt_path) if ckpt_path is not None else None,
    )


# --- the command line ------------------------------------------------------------------------


HELP = {  # one line per flag: what it does (its default is added by build_parser)
    "init_from": "start from pretrained weights and tokenizer: gpt2, gpt2-medium, gpt2-large, "
    "gpt2-xl, an owner/model hub id, or a folder with config.json, *.safetensors, vocab.json "
    "and merges.txt (the model's shape comes from it; none: random weights)",
    "dataset": "the text to train on",
    "tokenizer": "char: one token per character; bpe: byte-level BPE trained on the training split",
    "bpe_vocab_size": "tokens of the BPE vocabulary (256 bytes + merges), with --tokenizer bpe",
    "batch_size": "windows of block_size tokens per optimiser step, over all processes",
    "grad_accum": "split each step's batch into this many micro-batches whose gradients add up "
    "(the same step in less memory)",
    "max_steps": "optimiser steps; the learning-rate schedule ends here",
    "learning_rate": "the peak learning rate, reached after the warm-up",
    "min_lr": "the learning rate at the end of the cosine decay",
    "warmup_steps": "steps of linear warm-up from 0 to the learning rate",
    "weight_decay": "AdamW's decay on the weight matrices (not on biases or norms)",
    "beta1": "AdamW's averaging factor for the gradient",
    "beta2": "AdamW's averaging factor for the squared gradient",
    "grad_clip": "largest gradient norm before a step (0: no clipping)",
    "eval_interval": "steps between evaluations, log entries and checkpoints",
    "eval_batches": "batches of each split averaged at every evaluation",
    "eval_batch_size": "windows per evaluation batch (0: batch_size)",
    "out_dir": "folder for ckpt.pt (latest), best.pt (lowest validation loss) and log.json "
    "(none: write nothing)",
    "resume": "carry on from out_dir/ckpt.pt",
    "overwrite": "start afresh in an out_dir that holds a checkpoint, replacing it",
    "device": "auto (cuda, then mps, then cpu), cpu, cuda, cuda:N or mps",
    "precision": "auto: bf16 on GPUs that have it, fp16 with a GradScaler on older ones, fp32 "
    "on CPU and MPS",
    "compile": "torch.compile the model (faster steps after a slow start)",
    "fused_attention": "F.scaled_dot_product_attention instead of the manual attention path",
    "fused_norm": "torch's one-kernel LayerNorm instead of the one built by hand",
    "seed": "the seed of the weights, the batches and dropout",
    "data_streams": "random streams the batch is drawn from (under DDP: one per process)",
    "quiet": "no progress bar and no per-evaluation lines",
    # the model (llmbook.gpt.GPTConfig)
    "block_size": "context length: tokens per training window and the most the model sees",
    "n_layer": "transformer blocks",
    "n_head": "attention heads per block",
    "n_embd": "width: numbers per token vector (a multiple of n_head)",
    "dropout": "fraction of activations zeroed during training",
    "bias": "biases in the linear layers and LayerNorms",
    "norm": "layernorm (GPT-2) or rmsnorm (Llama)",
    "mlp": "gelu (GPT-2 style), gelu_tanh (GPT-2's released weights) or swiglu (Llama)",
    "mlp_hidden": "the MLP's hidden width (none: 4 x n_embd for gelu, Llama's rule for swiglu)",
    "position": "learned position vectors (GPT-2) or rope, rotary embeddings (Llama)",
    "rope_base": "RoPE's base (Llama 3: 500000)",
    "rope_scale": "Llama 3.1's RoPE frequency scaling factor (8); 1: no scaling",
    "rope_low_freq_factor": "Llama 3.1 scaling: pairs slower than original context / this are "
    "slowed by rope_scale",
    "rope_high_freq_factor": "Llama 3.1 scaling: pairs faster than original context / this are "
    "kept",
    "rope_original_context": "Llama 3.1 scaling: the context the model was first trained at",
    "n_kv_head": "key/value heads for grouped-query attention (none: n_head, multi-head)",
    "tie_embeddings": "the output layer reuses the token embedding matrix",
    "norm_eps": "the small number added inside every norm's square root",
}
MODEL_CHOICES = {"norm": NORMS, "mlp": MLPS, "position": POSITIONS}


def _default_text(name: str) -> str:
    """The default of a flag: the presets' values when they set it, else the field's."""
    by_preset = {p: v[name] for p, v in PRESETS.items() if name in v}
    if by_preset:
        return "default: the preset's, " + ", ".join(f"{p} {v}" for p, v in by_preset.items())
    value = getattr(config_from_preset("tiny-cpu"), name)
    return f"default: {'none' if value is None else value}"


def build_parser() -> argparse.ArgumentParser:
    """Flags for every TrainConfig setting and every model (GPTConfig) setting."""
    parser = argparse.ArgumentParser(
        prog="python -m llmbook.train",
        description="Train a GPT on Tiny Shakespeare. A preset gives every value; flags "
        "override them. The model flags reach every option of llmbook.gpt.GPTConfig "
        "(chapter 15's Llama-style variants included).",
    )
    parser.add_argument(
        "--preset",
        default="tiny-cpu",
        choices=sorted(PRESETS),
        help="the starting values: tiny-cpu (minutes on a CPU) or baby-gpu (one GPU); "
        "default: tiny-cpu",
    )
    model_fields = [f for f in fields(GPTConfig) if f.name in MODEL_SETTINGS]
    train_fields = [f for f in fields(TrainConfig) if f.name not in ("model", "preset")]
    for f in train_fields + model_fields:
        kind = {"int": int, "float": float, "str": str, "bool": bool}[str(f.type).split(" ")[0]]
        flag = _flag(f.name)
        if f.name == "stop_at":  # for tests of resuming
            parser.add_argument(flag, type=int, default=None, help=argparse.SUPPRESS)
            continue
        text = f"{HELP.get(f.name, f'the model setting {f.name} of llmbook.gpt.GPTConfig')}; "
        text += _default_text(f.name)
        if kind is bool:
            parser.add_argument(
                flag, action=argparse.BooleanOptionalAction, default=None, help=text
            )
        elif f.name in CHOICES or f.name in MODEL_CHOICES:
            choices = CHOICES.get(f.name) or MODEL_CHOICES[f.name]
            parser.add_argument(flag, choices=choices, default=None, help=text)
        else:
            parser.add_argument(flag, type=kind, default=None, help=text)
    return parser


def config_from_args(argv: Sequence[str] | None = None) -> TrainConfig:
    """Parse the command line into a TrainConfig; bad input exits through parser.error."""
    parser = build_parser()
    args = parser.parse_args(argv)
    overrides = {k: v for k, v in vars(args).items() if k != "preset" and v is not None}
    shaped = sorted(k for k in overrides if k in MODEL_SETTINGS and k != "dropout")
    if overrides.get("init_from") is not None and shaped:
        parser.error(
            f"--init-from takes the model's shape from the checkpoint; leave out "
            f"{', '.join(_flag(k) for k in shaped)}"
        )
    try:
        return config_from_preset(args.preset, **overrides)
    except (ValueError, TypeError) as exc:
        parser.error(str(exc))
        raise  # unreachable: parser.error exits


def main(argv: Sequence[str] | None = None) -> int:
    """The command line: 0 after a finished run; 2 (with the usage) for bad input, before any
    work; 1 if training diverged or a file could not be written."""
    parser = build_parser()
    config = config_from_args(argv)
    try:
        result = train(config)
    except (ValueError, CheckpointError) as exc:
        parser.error(str(exc))
    except (DivergedError, DownloadError, OSError) as exc:
        print(f"{parser.prog}: error: {exc}", file=sys.stderr)
        return 1
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()
    if int(os.environ.get("RANK", "0")) == 0:
        last = result.log[-1]
        print(
            f"step {last['step']}: train loss {last['train_loss']:.4f}, val loss "
            f"{last['val_loss']:.4f} ({result.seconds:.1f} s)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
