"""Train the GPT of `llmbook.gpt` on Tiny Shakespeare: one program for a laptop, a GPU or several.

Built in chapter 13, The GPT architecture.

    python -m llmbook.train --preset tiny-cpu                    # under 2 minutes on one CPU core
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

The program is a small package, one concern per module, read in this order:

    llmbook/training/config.py   TrainConfig: every setting, its checks, the presets
    llmbook/training/runtime.py  device, precision, processes (DDP), memory, seeds
    llmbook/training/batches.py  tokenize and split the text; draw random windows
    llmbook/training/loop.py     train(): set-up, then one step after another; evaluation
    llmbook/training/resume.py   the output folder, checkpoints, log.json, resuming
    llmbook/training/cli.py      the command line, built from TrainConfig's fields

This module is the entry point (`python -m llmbook.train`) and gathers the public names.
"""

from __future__ import annotations

import sys

from llmbook.norm import use_fused_layer_norm
from llmbook.training.batches import Data, draw_batch, make_streams, prepare_data
from llmbook.training.cli import HELP, MODEL_CHOICES, build_parser, config_from_args, main
from llmbook.training.config import (
    BOOL_FIELDS,
    CHOICES,
    DATA_FIELDS,
    FLOAT_RANGES,
    MAX_BPE_VOCAB,
    MAX_SEED,
    MODEL_SETTINGS,
    PRECISIONS,
    PRESETS,
    TrainConfig,
    config_from_preset,
)
from llmbook.training.loop import (
    DivergedError,
    TrainResult,
    backward_and_step,
    estimate_loss,
    lr_at,
    make_optimizer,
    train,
)
from llmbook.training.resume import (
    BEST_NAME,
    CHECKPOINT_NAME,
    LOG_NAME,
    check_compatible,
    check_out_dir,
    save_checkpoint,
    write_log,
)
from llmbook.training.runtime import (
    Distributed,
    autocast_for,
    available_memory,
    check_memory,
    has_bf16,
    make_grad_scaler,
    memory_needed,
    pick_device,
    read_distributed_env,
    resolve_precision,
    setup_distributed,
)

__all__ = [
    "BEST_NAME",
    "BOOL_FIELDS",
    "CHECKPOINT_NAME",
    "CHOICES",
    "DATA_FIELDS",
    "FLOAT_RANGES",
    "HELP",
    "LOG_NAME",
    "MAX_BPE_VOCAB",
    "MAX_SEED",
    "MODEL_CHOICES",
    "MODEL_SETTINGS",
    "PRECISIONS",
    "PRESETS",
    "Data",
    "Distributed",
    "DivergedError",
    "TrainConfig",
    "TrainResult",
    "autocast_for",
    "available_memory",
    "backward_and_step",
    "build_parser",
    "check_compatible",
    "check_memory",
    "check_out_dir",
    "config_from_args",
    "config_from_preset",
    "draw_batch",
    "estimate_loss",
    "has_bf16",
    "lr_at",
    "main",
    "make_grad_scaler",
    "make_optimizer",
    "make_streams",
    "memory_needed",
    "pick_device",
    "prepare_data",
    "read_distributed_env",
    "resolve_precision",
    "save_checkpoint",
    "setup_distributed",
    "train",
    "use_fused_layer_norm",
    "write_log",
]

if __name__ == "__main__":
    sys.exit(main())
