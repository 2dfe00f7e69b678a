"""Train the GPT of `llmbook.gpt` on Tiny Shakespeare: one program for a laptop, a GPU or several.

Built in chapter 13, The GPT architecture.

    python -m llmbook.train --preset tiny-cpu                    # about 2 minutes on 2 CPU cores
    python -m llmbook.train --preset baby-gpu --out-dir out      # one GPU, checkpoints in out/
    python -m llmbook.train --preset baby-gpu --out-dir out --resume      # after a kill
    torchrun --standalone --nproc_per_node=4 -m llmbook.train --preset baby-gpu --out-dir out

What it does, in order: tokenize the text (characters by default, `--tokenizer bpe` for byte-level
BPE trained on the training split), cut the first 90% for training and the rest for validation,
and repeat `max_steps` times: draw `batch_size` random windows of `block_size` tokens, compute the
loss, backpropagate, clip the gradient norm, take an AdamW step with a learning rate that rises
linearly for `warmup_steps` and then follows a cosine down to `min_lr`. Every `eval_interval`
steps it measures the mean loss on `eval_batches` fixed batches of each split, logs it (a JSON
file, rewritten atomically) and writes a checkpoint (atomically, see `llmbook.checkpoint`).

On CUDA it uses bf16 autocast, TF32 matrix products and the fused AdamW; `--compile` adds
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
import time
from collections.abc import Callable, Sequence
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
from llmbook.data import load_text, train_val_split
from llmbook.gpt import GPT, GPTConfig
from llmbook.norm import LayerNorm
from llmbook.tokenizer import BPETokenizer, CharTokenizer, Tokenizer

CHECKPOINT_NAME = "ckpt.pt"
LOG_NAME = "log.json"

# Fields that fix the shape of the model and the meaning of the token ids: a checkpoint can
# only be resumed by a run that agrees on all of them.
MODEL_FIELDS = ("n_layer", "n_head", "n_embd", "block_size", "bias", "tokenizer", "bpe_vocab_size")


@dataclass
class TrainConfig:
    """Everything a training run depends on; the presets and the command-line flags fill it."""

    # the model (see llmbook.gpt.GPTConfig; vocab_size comes from the tokenizer)
    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 128
    block_size: int = 64
    dropout: float = 0.0
    bias: bool = True
    # the data
    dataset: str = "tinyshakespeare"
    tokenizer: str = "char"  # "char" or "bpe"
    bpe_vocab_size: int = 512  # only for tokenizer="bpe"
    # the optimisation
    batch_size: int = 12  # windows per step, over all ranks together
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
    resume: bool = False
    stop_at: int | None = None  # stop after this step as if killed (the schedule still runs to
    # max_steps); used to test resuming
    # the machine
    device: str = "auto"  # auto picks cuda, then mps, then cpu
    compile: bool = False
    fused_attention: bool = True  # F.scaled_dot_product_attention instead of the manual path
    fused_norm: bool = True  # torch's one-kernel layer norm instead of the one built by hand
    seed: int = 1337
    data_streams: int = 1  # random streams the batch is drawn from (under DDP: one per rank)
    quiet: bool = False
    preset: str | None = None  # the preset these values started from (for the record)

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise ValueError naming the bad setting."""
        positive = ("n_layer", "n_head", "n_embd", "block_size", "batch_size", "max_steps")
        for name in (*positive, "eval_interval", "eval_batches", "data_streams"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        for name in ("warmup_steps", "eval_batch_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be an integer >= 0, got {value!r}")
        if self.n_embd % self.n_head != 0:
            raise ValueError(
                f"n_embd={self.n_embd} must be divisible by n_head={self.n_head} "
                f"(each head gets n_embd / n_head numbers)"
            )
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout!r}")
        if self.tokenizer not in ("char", "bpe"):
            raise ValueError(f"tokenizer must be 'char' or 'bpe', got {self.tokenizer!r}")
        if self.tokenizer == "bpe" and self.bpe_vocab_size < 257:
            raise ValueError(f"bpe_vocab_size must be above 256, got {self.bpe_vocab_size}")
        if not self.learning_rate > 0 or not 0 <= self.min_lr <= self.learning_rate:
            raise ValueError(
                f"need 0 <= min_lr <= learning_rate and learning_rate > 0, got "
                f"learning_rate={self.learning_rate!r}, min_lr={self.min_lr!r}"
            )
        for name in ("beta1", "beta2"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ValueError(f"{name} must be in [0, 1), got {getattr(self, name)!r}")
        if self.weight_decay < 0 or self.grad_clip < 0:
            raise ValueError(
                f"weight_decay and grad_clip must be >= 0, got {self.weight_decay}, "
                f"{self.grad_clip}"
            )
        if self.batch_size % self.data_streams != 0:
            raise ValueError(
                f"batch_size={self.batch_size} must be divisible by data_streams="
                f"{self.data_streams}"
            )
        if self.stop_at is not None and not 0 < self.stop_at <= self.max_steps:
            raise ValueError(
                f"stop_at must be in 1..max_steps={self.max_steps}, got {self.stop_at}"
            )
        if self.resume and self.out_dir is None:
            raise ValueError("resume needs out_dir, the folder holding the checkpoint")

    def model_config(self, vocab_size: int) -> GPTConfig:
        return GPTConfig(
            vocab_size=vocab_size,
            block_size=self.block_size,
            n_layer=self.n_layer,
            n_head=self.n_head,
            n_embd=self.n_embd,
            dropout=self.dropout,
            bias=self.bias,
        )


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
    names = {f.name for f in fields(TrainConfig)}
    unknown = sorted(set(overrides) - names)
    if unknown:
        raise ValueError(f"unknown TrainConfig fields {unknown}")
    return TrainConfig(**{**PRESETS[preset], **overrides, "preset": preset})


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


def setup_distributed(device: torch.device) -> tuple[Distributed, torch.device]:
    """Join the torchrun process group (nccl on CUDA, gloo on CPU) when WORLD_SIZE > 1."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return Distributed(), device
    rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    if device.type == "cuda":
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return Distributed(rank, local_rank, world_size), device


# --- data ------------------------------------------------------------------------------------


@dataclass
class Data:
    tokenizer: Tokenizer
    train: Tensor  # 1-D token ids
    val: Tensor


def prepare_data(config: TrainConfig, text: str | None = None) -> Data:
    """Tokenize the corpus (or `text`) and split it 90/10 into training and validation ids."""
    text = load_text(config.dataset) if text is None else text
    train_text, val_text = train_val_split(text)
    if config.tokenizer == "char":
        tokenizer: Tokenizer = CharTokenizer.from_text(text)
    else:  # the merges are learned from the training part only
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


def use_fused_layer_norm(model: nn.Module) -> nn.Module:
    """Swap every hand-built LayerNorm (chapter 9) for nn.LayerNorm holding the same numbers.

    The two compute the same function (to float rounding); torch's runs as one kernel, which
    saves about 5% of a CPU training step. The parameter names stay weight and bias, so
    checkpoints are the same either way.
    """
    for module in list(model.modules()):
        for name, child in list(module.named_children()):
            if isinstance(child, LayerNorm):
                fused = nn.LayerNorm(
                    child.weight.numel(), eps=child.eps, bias=child.bias is not None
                )
                fused.to(child.weight.device)
                fused.load_state_dict(child.state_dict())
                setattr(module, name, fused)
    return model


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


def autocast_for(device: torch.device) -> contextlib.AbstractContextManager:
    """bf16 autocast on CUDA; nothing elsewhere (fp32 on CPU keeps runs exactly repeatable)."""
    if device.type == "cuda":
        return torch.autocast(device_type="cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


@torch.no_grad()
def estimate_loss(
    model: nn.Module, data: Data, config: TrainConfig, device: torch.device
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
            with autocast_for(device):
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
    save_atomic(ckpt, path)


def check_compatible(ckpt: dict, config: TrainConfig, ddp: Distributed, path: Path) -> None:
    """CheckpointError naming every setting where the run and the checkpoint disagree."""
    saved = ckpt.get("config", {})
    wrong = [
        f"{name}: checkpoint {saved.get(name)!r}, this run {getattr(config, name)!r}"
        for name in MODEL_FIELDS
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


def train(
    config: TrainConfig,
    text: str | None = None,
    callback: Callable[[dict[str, float]], None] | None = None,
) -> TrainResult:
    """Train a GPT as `config` says; return the model, its tokenizer and the evaluation log.

    `text` replaces the corpus (tests use a short one); `callback` receives every log entry.
    """
    config.validate()
    device = pick_device(config.device)
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if config.batch_size % world_size != 0:
        raise ValueError(
            f"batch_size={config.batch_size} must be divisible by the number of processes "
            f"(WORLD_SIZE={world_size})"
        )
    ddp, device = setup_distributed(device)
    if ddp.enabled:
        config = dataclasses.replace(config, data_streams=ddp.world_size)
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True

    data = prepare_data(config, text)
    out_dir = Path(config.out_dir) if config.out_dir else None
    ckpt_path = out_dir / CHECKPOINT_NAME if out_dir else None
    ckpt = None
    if config.resume:
        assert ckpt_path is not None
        ckpt = load_checkpoint(ckpt_path)
        check_compatible(ckpt, config, ddp, ckpt_path)
        data.tokenizer = tokenizer_from_state(ckpt["tokenizer"])

    _seed_everything(config.seed)  # the same initial weights on every rank
    model = GPT(config.model_config(data.tokenizer.vocab_size))
    model.set_fused_attention(config.fused_attention)
    if config.fused_norm:
        use_fused_layer_norm(model)
    model.to(device)
    optimizer = make_optimizer(model, config, device)
    per_stream = config.batch_size // config.data_streams
    if ddp.enabled:
        streams = make_streams(config.seed, ddp.rank, 1)
    else:
        streams = make_streams(config.seed, 0, config.data_streams)
    _seed_everything(config.seed + 1 + ddp.rank)  # dropout differs from rank to rank
    step, log = 0, []
    if ckpt is not None:
        model.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        step, log = ckpt["step"], list(ckpt.get("log", []))
        mine = ckpt["rng"][ddp.rank]
        set_rng_state(mine)
        for g, state in zip(streams, mine["data"], strict=True):
            g.set_state(state)

    runner: nn.Module = model
    if config.compile:
        runner = torch.compile(model)
    if ddp.enabled:
        ids = [device.index] if device.type == "cuda" else None
        runner = nn.parallel.DistributedDataParallel(runner, device_ids=ids)

    stop = config.stop_at or config.max_steps
    started = time.perf_counter()
    tokens_per_step = config.batch_size * config.block_size

    def evaluate_and_save(done: int) -> None:
        losses = estimate_loss(model, data, config, device)
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
                ckpt_path, model, optimizer, done, config, data.tokenizer, streams, log, ddp
            )
            if ddp.is_main:
                write_log(out_dir / LOG_NAME, config, log)
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
        x, y = draw_batch(data.train, streams, per_stream, config.block_size)
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        with autocast_for(device):
            _, loss = runner(x, y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if config.grad_clip > 0:
            nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
        optimizer.step()
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


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m llmbook.train",
        description="Train a GPT on Tiny Shakespeare. A preset gives every value; flags "
        "override them.",
    )
    parser.add_argument("--preset", default="tiny-cpu", choices=sorted(PRESETS))
    for f in fields(TrainConfig):
        if f.name == "preset":
            continue
        kind = {"int": int, "float": float, "str": str, "bool": bool}.get(str(f.type).split(" ")[0])
        if f.name in ("out_dir",):
            parser.add_argument(_flag(f.name), default=None, help="folder for ckpt.pt and log.json")
        elif f.name == "stop_at":
            parser.add_argument(_flag(f.name), type=int, default=None, help=argparse.SUPPRESS)
        elif kind is bool:
            parser.add_argument(_flag(f.name), action=argparse.BooleanOptionalAction, default=None)
        elif f.name == "tokenizer":
            parser.add_argument(_flag(f.name), choices=("char", "bpe"), default=None)
        else:
            parser.add_argument(_flag(f.name), type=kind, default=None)
    return parser


def config_from_args(argv: Sequence[str] | None = None) -> TrainConfig:
    """Parse the command line into a TrainConfig; bad input exits through parser.error."""
    parser = build_parser()
    args = parser.parse_args(argv)
    overrides = {k: v for k, v in vars(args).items() if k != "preset" and v is not None}
    try:
        return config_from_preset(args.preset, **overrides)
    except ValueError as exc:
        parser.error(str(exc))
        raise  # unreachable: parser.error exits


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    config = config_from_args(argv)
    try:
        result = train(config)
    except (ValueError, CheckpointError) as exc:
        parser.error(str(exc))
    if int(os.environ.get("RANK", "0")) == 0:
        last = result.log[-1]
        print(
            f"step {last['step']}: train loss {last['train_loss']:.4f}, val loss "
            f"{last['val_loss']:.4f} ({result.seconds:.1f} s)"
        )
    if dist.is_initialized():
        dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main())
