"""The machine a training run uses: device, precision, processes, memory, random seeds.

`pick_device` chooses cuda, then mps, then cpu. `resolve_precision` turns `--precision auto`
into bf16 on GPUs that have it, fp16 with a GradScaler on older ones (T4, V100) and fp32 on
CPUs and MPS; `autocast_for` applies it. Under `torchrun`, `setup_distributed` joins the
process group (nccl on CUDA, gloo on CPU) after `read_distributed_env` has checked torchrun's
variables. `check_memory` refuses, before anything is allocated, a model that cannot fit.
"""

from __future__ import annotations

import contextlib
import os
import random
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist

from llmbook.gpt import param_count
from llmbook.training.config import PRECISIONS, TrainConfig


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
    if device.type == "meta":
        raise ValueError(f"device {requested!r} holds shapes but no numbers; use cpu, cuda or mps")
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


def autocast_for(
    device: torch.device, precision: str = "auto"
) -> contextlib.AbstractContextManager:
    """bf16 or fp16 autocast as `precision` says (see resolve_precision); nothing for fp32."""
    precision = resolve_precision(precision, device)
    if precision == "fp32":
        return contextlib.nullcontext()
    dtype = torch.bfloat16 if precision == "bf16" else torch.float16
    return torch.autocast(device_type=device.type, dtype=dtype)


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
    vocab = config.model.vocab_size if config.init_from is not None else vocab
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


def any_rank(flag: bool, ddp: Distributed, device: torch.device) -> bool:
    """True on every rank if `flag` is true on any (so that all ranks stop together)."""
    if not ddp.enabled:
        return flag
    value = torch.tensor([int(flag)], device=device)
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return bool(value.item())


def gather(value: Any, ddp: Distributed) -> list[Any]:
    """`value` from every rank, in rank order (all ranks take part)."""
    if not ddp.enabled:
        return [value]
    gathered: list[Any] = [None] * ddp.world_size
    dist.all_gather_object(gathered, value)
    return gathered


def seed_everything(seed: int) -> None:
    """Seed torch, NumPy and Python's random module."""
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)
    random.seed(seed)
