"""The command line of the training program, built from `TrainConfig`'s fields.

    python -m llmbook.train --preset tiny-cpu --out-dir runs/tiny --max-steps 500

A preset gives every value; each field of `TrainConfig` and of the model's `GPTConfig` is a
flag that overrides it (`--n-layer 2`, `--no-bias`, ...), with its help and its default.
Bad input exits with status 2 and the usage before any work; a run that diverged or could not
write its files exits with 1.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from dataclasses import fields

import torch.distributed as dist

from llmbook.checkpoint import CheckpointError
from llmbook.data import DownloadError
from llmbook.gpt import MLPS, NORMS, POSITIONS, GPTConfig
from llmbook.runlock import FolderLockedError, RunInterrupted
from llmbook.training.config import (
    CHOICES,
    MODEL_SETTINGS,
    PRESETS,
    TrainConfig,
    config_from_preset,
    flag_of,
)
from llmbook.training.loop import DivergedError, train

HELP = {  # one line per flag: what it does (its default is added by build_parser)
    "init_from": "start from pretrained weights and tokenizer: gpt2, gpt2-medium, gpt2-large, "
    "gpt2-xl, an owner/model hub id, or a folder with config.json, *.safetensors, vocab.json "
    "and merges.txt (the model's shape comes from it; none: random weights)",
    "init_block_size": "with --init-from: shorten the pretrained model's context to this many "
    "positions (--block-size with --init-from does the same; none: keep it)",
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
        flag = flag_of(f.name)
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
    shaped = sorted(
        k for k in overrides if k in MODEL_SETTINGS and k not in ("dropout", "block_size")
    )
    if overrides.get("init_from") is not None and "block_size" in overrides:
        overrides.setdefault("init_block_size", overrides["block_size"])  # crop the context
    if overrides.get("init_from") is not None and shaped:
        parser.error(
            f"--init-from takes the model's shape from the checkpoint; leave out "
            f"{', '.join(flag_of(k) for k in shaped)}"
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
        result = train(config, argv=sys.argv[1:] if argv is None else argv)
    except (ValueError, CheckpointError) as exc:
        parser.error(str(exc))
    except (DivergedError, DownloadError, OSError, FolderLockedError) as exc:
        print(f"{parser.prog}: error: {exc}", file=sys.stderr)
        return 1
    except RunInterrupted as exc:  # Ctrl-C or SIGTERM: one line, exit 130 or 143
        print(f"{parser.prog}: {exc}", file=sys.stderr)
        return exc.exit_code
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
