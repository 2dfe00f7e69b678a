"""The training loop: set-up, then one optimiser step after another, with evaluations.

`train(config)` reads top to bottom: check everything before any work (settings, device,
processes, output folder, memory); build the data, the model and AdamW, or read them back from
a checkpoint; then repeat `max_steps` times: set the learning rate (`lr_at`: a linear warm-up,
then a cosine down to min_lr), draw a batch, compute the loss, backpropagate, clip the gradient
norm, take the step. Every `eval_interval` steps `evaluate_and_save` measures the loss on the
same fixed batches of each split, logs it and writes the checkpoints.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor, nn

from llmbook.checkpoint import data_fingerprint
from llmbook.gpt import GPT
from llmbook.norm import use_fused_layer_norm
from llmbook.runlock import guarded_run, note_saved, note_step
from llmbook.tokenizer import Tokenizer
from llmbook.training.batches import Data, draw_batch, make_streams, prepare_data
from llmbook.training.config import TrainConfig
from llmbook.training.resume import (
    BEST_NAME,
    CHECKPOINT_NAME,
    LOG_NAME,
    check_out_dir,
    load_for_resume,
    restore,
    save_checkpoint,
    write_log,
)
from llmbook.training.runtime import (
    Distributed,
    any_rank,
    autocast_for,
    check_memory,
    make_grad_scaler,
    pick_device,
    read_distributed_env,
    resolve_precision,
    seed_everything,
    setup_distributed,
)

EntryCallback = Callable[[dict[str, float]], None]


# --- the learning-rate schedule, the optimiser, one step -------------------------------------


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
    # one kernel for the whole update instead of a few per tensor: on a CPU it halves the
    # optimiser's share of a tiny-cpu step
    extra = {"fused": True} if device.type in ("cuda", "cpu") else {}
    return torch.optim.AdamW(
        groups, lr=config.learning_rate, betas=(config.beta1, config.beta2), **extra
    )


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


# --- what a run holds and returns --------------------------------------------------------------


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


class DivergedError(RuntimeError):
    """The loss became nan or inf; training stopped and the last good checkpoint was kept."""


@dataclass
class Run:
    """Everything the loop works on, made by the set-up of `train`."""

    config: TrainConfig
    device: torch.device
    precision: str
    ddp: Distributed
    data: Data
    model: GPT
    optimizer: torch.optim.AdamW
    scaler: Any  # a GradScaler for fp16, else None
    streams: list[torch.Generator]  # this process's random streams of training windows
    ckpt_path: Path | None  # None: write nothing
    data_sha256: str | None = None  # the token ids trained on: a resumed run must match them
    step: int = 0  # steps done
    log: list[dict[str, float]] = field(default_factory=list)
    last_saved: int | None = None  # the step of the latest checkpoint
    best_val: float = math.inf
    started: float = field(default_factory=time.perf_counter)
    # The first step whose training loss was not finite (-1: none yet) and that loss: kept on
    # the device so that watching every step costs no wait; read at each evaluation.
    bad_step: Tensor = field(default_factory=lambda: torch.tensor(-1))
    bad_loss: Tensor = field(default_factory=lambda: torch.tensor(0.0))

    def watch(self, loss: Tensor, step: int) -> None:
        """Remember `step` if its loss is the first that is not finite."""
        first = ~torch.isfinite(loss.detach()) & (self.bad_step < 0)
        self.bad_step = torch.where(first, step, self.bad_step)
        self.bad_loss = torch.where(first, loss.detach().float(), self.bad_loss)


# --- evaluation, the log and the checkpoints ---------------------------------------------------


def evaluate_and_save(
    run: Run,
    done: int,
    callback: EntryCallback | None = None,
    on_eval: Callable[[dict[str, float], GPT], None] | None = None,
) -> dict[str, float]:
    """Measure both losses after `done` steps, stop if any is not finite, log, checkpoint."""
    config = run.config
    losses = estimate_loss(run.model, run.data, config, run.device, run.precision)
    check_finite_losses(run, done, losses)
    entry = {
        "step": done,
        "train_loss": round(losses["train"], 6),
        "val_loss": round(losses["val"], 6),
        "lr": lr_at(max(done - 1, 0), config),
        "tokens": done * config.batch_size * config.block_size,
        "seconds": round(time.perf_counter() - run.started, 3),
    }
    run.log.append(entry)
    if run.ckpt_path is not None:
        save_checkpoint(run.ckpt_path, run.model, run.optimizer, done, config,
                        run.data.tokenizer, run.streams, run.log, run.ddp, run.scaler,
                        data_sha256=run.data_sha256)  # fmt: skip
        run.last_saved = done
        note_saved(done)  # what an interrupted run's message names as kept
        if losses["val"] < run.best_val:  # the best so far, kept beside the latest
            run.best_val = losses["val"]
            save_checkpoint(run.ckpt_path.parent / BEST_NAME, run.model, run.optimizer, done,
                            config, run.data.tokenizer, run.streams, run.log, run.ddp,
                            run.scaler, data_sha256=run.data_sha256)  # fmt: skip
        if run.ddp.is_main:
            write_log(run.ckpt_path.parent / LOG_NAME, config, run.log)
    if run.ddp.is_main:
        if callback is not None:
            callback(entry)
        if on_eval is not None:
            on_eval(entry, run.model)
    return entry


def check_finite_losses(run: Run, done: int, losses: dict[str, float]) -> None:
    """DivergedError, on every rank, if any rank saw a loss that is nan or inf."""
    first_bad = int(run.bad_step.item())
    if first_bad >= 0:
        what = f"the training loss became {run.bad_loss.item()}"
    else:
        split = next((k for k, v in losses.items() if not math.isfinite(v)), None)
        what = f"the {split} loss became {losses[split]}" if split else ""
    if any_rank(bool(what), run.ddp, run.device):
        step = first_bad if first_bad >= 0 else done
        raise DivergedError(
            diverged_message(what or "the loss on another rank became nan or inf", step, run)
        )


def diverged_message(what: str, step: int, run: Run) -> str:
    config, path = run.config, run.ckpt_path
    if path is None:
        kept = "nothing was saved (no --out-dir)"
    elif run.last_saved is None:
        kept = f"no checkpoint was written to {path}"
    else:
        kept = f"the last good checkpoint, step {run.last_saved}, is kept in {path}"
    return (
        f"training stopped: {what} at step {step} (learning rate {lr_at(step, config):.3g}); "
        f"{kept}. Try a lower --learning-rate (now {config.learning_rate:g}), a smaller "
        f"--grad-clip (now {config.grad_clip:g}) or --precision fp32."
    )


# --- set-up ------------------------------------------------------------------------------------


def check_world_size(config: TrainConfig) -> None:
    """ValueError unless the batch divides among the processes torchrun starts."""
    world_size = read_distributed_env().world_size
    if config.batch_size % world_size != 0:
        raise ValueError(
            f"batch_size={config.batch_size} must be divisible by the number of processes "
            f"(WORLD_SIZE={world_size})"
        )


def load_pretrained(config: TrainConfig) -> tuple[GPT, Any]:
    """The --init-from model (its context cropped to `init_block_size`) and its tokenizer."""
    from llmbook.pretrained import load_for_training

    return load_for_training(config.init_from, config.init_block_size, config.dropout)


def build_model(config: TrainConfig, vocab_size: int, pretrained: GPT | None) -> GPT:
    """The GPT of `config`, seeded (the same weights on every rank), or the pretrained one
    itself (one copy of the weights)."""
    seed_everything(config.seed)
    model = pretrained if pretrained is not None else GPT(config.model_config(vocab_size))
    model.set_fused_attention(config.fused_attention)
    use_fused_layer_norm(model, config.fused_norm)
    return model


def progress_bar(config: TrainConfig, ddp: Distributed, start: int, stop: int) -> Any:
    from tqdm.auto import tqdm

    show = ddp.is_main and not config.quiet and sys.stderr.isatty()
    return tqdm(total=stop, initial=start, disable=not show, unit="step", dynamic_ncols=True)


# --- the loop ----------------------------------------------------------------------------------


def train(
    config: TrainConfig,
    text: str | None = None,
    callback: EntryCallback | None = None,
    on_eval: Callable[[dict[str, float], GPT], None] | None = None,
    argv: Sequence[str] | None = None,
) -> TrainResult:
    """`run_training` holding the output folder's lock (`llmbook.runlock`): a second run into
    the folder is refused (FolderLockedError), and Ctrl-C or SIGTERM stops the run with
    RunInterrupted, whose message says what is kept and how to resume (`argv`: the command
    line's flags)."""
    config.validate()
    is_main = read_distributed_env().is_main
    with guarded_run(config.out_dir, config.stop_at or config.max_steps, argv, is_main):
        return run_training(config, text, callback, on_eval)


def run_training(
    config: TrainConfig,
    text: str | None = None,
    callback: EntryCallback | None = None,
    on_eval: Callable[[dict[str, float], GPT], None] | None = None,
) -> TrainResult:
    """Train a GPT as `config` says; return the model, its tokenizer and the evaluation log.

    `text` replaces the corpus (tests use a short one); `callback` receives every log entry,
    `on_eval` the entry and the model (for measurements of one's own, which count in the
    run's time). Every setting, the environment, the output folder and the memory are checked
    before any work (ValueError, CheckpointError); a loss that becomes nan or inf stops the run
    (DivergedError) without overwriting the last good checkpoint.
    """
    # --- check everything before any work ---
    config.validate()
    device = pick_device(config.device)
    check_world_size(config)
    out_dir = check_out_dir(config)
    ddp, device = setup_distributed(device)
    if ddp.enabled:
        config = dataclasses.replace(config, data_streams=ddp.world_size)
    precision = resolve_precision(config.precision, device)
    if config.init_from is not None:  # the memory check sizes the pretrained model
        from llmbook.pretrained import training_config

        model_config = training_config(config.init_from, config.init_block_size, config.dropout)
        config = dataclasses.replace(config, model=model_config)
    check_memory(config, device, precision, ddp)
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True

    # --- the data, the model and the optimiser, or the checkpoint's ---
    pretrained, pretrained_tokenizer = None, None
    if config.init_from is not None:
        pretrained, pretrained_tokenizer = load_pretrained(config)
        config = dataclasses.replace(config, model=pretrained.config)
    data = prepare_data(config, text, pretrained_tokenizer)
    ckpt_path = out_dir / CHECKPOINT_NAME if out_dir else None
    ckpt = load_for_resume(ckpt_path, config, ddp, data) if config.resume else None
    model = build_model(config, data.tokenizer.vocab_size, pretrained).to(device)
    del pretrained
    optimizer = make_optimizer(model, config, device)
    first, count = (ddp.rank, 1) if ddp.enabled else (0, config.data_streams)
    run = Run(config, device, precision, ddp, data, model, optimizer,
              scaler=make_grad_scaler(precision), streams=make_streams(config.seed, first, count),
              ckpt_path=ckpt_path,
              data_sha256=data_fingerprint(data.train, data.val))  # fmt: skip
    seed_everything(config.seed + 1 + ddp.rank)  # dropout differs from rank to rank
    if ckpt is not None:
        assert ckpt_path is not None
        model.load_state_dict(ckpt["model"])
        restore(ckpt, ckpt_path, optimizer, run.scaler, run.streams, ddp.rank)
        run.step, run.log = ckpt["step"], list(ckpt.get("log", []))
        run.last_saved = run.step
        run.best_val = min((e["val_loss"] for e in run.log), default=math.inf)
    run.bad_step, run.bad_loss = run.bad_step.to(device), run.bad_loss.to(device)
    runner: nn.Module = torch.compile(model) if config.compile else model
    if ddp.enabled:
        ids = [device.index] if device.type == "cuda" else None
        runner = nn.parallel.DistributedDataParallel(runner, device_ids=ids)

    # --- the loop: one optimiser step per iteration ---
    stop = config.stop_at or config.max_steps
    micro_batch = config.batch_size // config.data_streams // config.grad_accum  # per stream
    bar = progress_bar(config, ddp, run.step, stop)
    run.started = time.perf_counter()
    note_step(run.step)
    if run.step == 0 and not run.log:  # a checkpoint of step 0 already holds its evaluation
        evaluate_and_save(run, 0, callback, on_eval)
    for step in range(run.step, stop):
        for group in optimizer.param_groups:
            group["lr"] = lr_at(step, config)
        optimizer.zero_grad(set_to_none=True)
        for micro in range(config.grad_accum):  # the gradients of the micro-batches add up
            x, y = draw_batch(data.train, run.streams, micro_batch, config.block_size)
            x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
            last = micro == config.grad_accum - 1
            sync = contextlib.nullcontext() if last or not ddp.enabled else runner.no_sync()
            with sync:
                with autocast_for(device, precision):
                    _, loss = runner(x, y)
                run.watch(loss, step)
                loss = loss / config.grad_accum  # the mean over the whole batch
                if last:
                    backward_and_step(loss, model, optimizer, run.scaler, config.grad_clip)
                elif run.scaler is not None:
                    run.scaler.scale(loss).backward()
                else:
                    loss.backward()
        bar.update(1)
        run.step = step + 1
        note_step(run.step)
        if run.step % config.eval_interval == 0 or run.step == stop:
            entry = evaluate_and_save(run, run.step, callback, on_eval)
            bar.set_postfix(train=f"{entry['train_loss']:.3f}", val=f"{entry['val_loss']:.3f}")
    bar.close()
    seconds = time.perf_counter() - run.started
    model.to("cpu").eval()
    if ddp.enabled:
        dist.barrier()
    return TrainResult(model, data.tokenizer, config, run.log, step=stop, seconds=seconds,
                       checkpoint=str(ckpt_path) if ckpt_path is not None else None)  # fmt: skip
