"""The settings of a training run: `TrainConfig`, its checks, and the presets.

Every setting is a field of `TrainConfig`, checked when the config is made (a bad value is
refused with a message naming it, its flag and what is allowed). The model's settings are a
`GPTConfig` inside it (`model`), so a new GPTConfig field becomes a flag, goes into checkpoints
and is checked on resume without being declared again. `llmbook.training.cli` builds the
command line from these fields.
"""

from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass, field, fields
from typing import Any

from llmbook.data import CORPORA
from llmbook.gpt import GPTConfig

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


def flag_of(name: str) -> str:
    """The command-line flag of a setting: learning_rate -> --learning-rate."""
    return "--" + name.replace("_", "-")


def _check_int(name: str, value: Any, low: int, high: int | None = None) -> None:
    """TypeError unless `value` is an int, ValueError unless low <= value <= high."""
    allowed = f"an integer >= {low}" if high is None else f"an integer in {low}..{high}"
    if low == 1 and high is None:
        allowed = "a positive integer"
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be {allowed}, got {value!r} ({flag_of(name)})")
    if value < low or (high is not None and value > high):
        raise ValueError(f"{name} must be {allowed}, got {value!r} ({flag_of(name)})")


def _check_float(name: str, value: Any, low: float, high: float, closed_high: bool) -> None:
    """TypeError unless `value` is a real number, ValueError unless finite and in range."""
    open_low = name == "learning_rate"
    interval = f"{'(' if open_low else '['}{low:g}, {high:g}{']' if closed_high else ')'}"
    allowed = f"a finite number in {interval}"
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{name} must be {allowed}, got {value!r} ({flag_of(name)})")
    too_low = value <= low if open_low else value < low
    too_high = value > high if closed_high else value >= high
    if not math.isfinite(value) or too_low or too_high:
        raise ValueError(f"{name} must be {allowed}, got {value!r} ({flag_of(name)})")


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
    init_block_size: int | None = None  # with init_from: crop its context to this (None: keep)
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
        if self.init_block_size is not None:
            _check_int("init_block_size", self.init_block_size, 1)
        for name in BOOL_FIELDS:
            if not isinstance(getattr(self, name), bool):
                raise TypeError(f"{name} must be True or False, got {getattr(self, name)!r}")
        for name, allowed in CHOICES.items():
            value = getattr(self, name)
            if value not in allowed:
                raise ValueError(
                    f"{name} must be one of {allowed}, got {value!r} ({flag_of(name)})"
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
    # A laptop's CPU: chapter 13's model, to a loss on the whole validation split of 1.88
    # (seed 1337), below the 1.898 of nanoGPT's CPU recipe (2,000 steps of 12 windows at
    # learning rate 1e-3) with 60% of its tokens: batches of 16, a learning rate of 6e-3
    # reached in 50 steps and decayed to a hundredth of it. benchmarks/bench_time_to_loss.py
    # measures it: 85 s on one thread of a 2-core machine, 0.53 of the time nanoGPT's recipe
    # takes there to reach 1.898 (benchmarks/results/time_to_loss_*_1thread.json).
    "tiny-cpu": dict(
        n_layer=4,
        n_head=4,
        n_embd=128,
        block_size=64,
        batch_size=16,
        dropout=0.0,
        max_steps=900,
        learning_rate=6e-3,
        min_lr=6e-5,
        warmup_steps=50,
        eval_interval=300,
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
        names = ", ".join(flag_of(k) for k in model_settings)
        raise type(exc)(f"{exc} ({names})") from exc
    return TrainConfig(model=model, **settings)
