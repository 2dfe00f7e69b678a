"""Train three sizes of the book's GPT on Tiny Shakespeare; write benchmarks/results/scaling.json.

Run from the repository root:  python benchmarks/bench_scaling.py
(the text comes from llmbook.data.load_text: set LLMBOOK_DATA_DIR to a folder holding
tinyshakespeare.txt to run without a network).

A small, honest version of a scaling experiment: character-level models of width 32, 64 and 128
(2 layers, 4 heads, context 64), each trained with the same seed, batch and learning rate for the
same number of steps, with the validation loss measured every `--eval-every` steps. Each row is
one (parameters N, training tokens D, loss L) point of the surface L(N, D) that scaling laws fit.
Everything is seeded; the losses repeat on the same machine and library versions.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch
from machine import machine_info, write_result  # benchmarks/machine.py, beside this script

from llmbook.data import get_batch, load_text, train_val_split
from llmbook.gpt import GPT, GPTConfig, param_count
from llmbook.tokenizer import CharTokenizer

RESULTS = Path(__file__).resolve().parent / "results" / "scaling.json"
WIDTHS = (32, 64, 128)


@torch.no_grad()
def val_loss(model: GPT, val: torch.Tensor, args: argparse.Namespace) -> float:
    model.eval()
    g = torch.Generator().manual_seed(1234)  # the same validation batches at every evaluation
    losses = []
    for _ in range(args.eval_batches):
        x, y = get_batch(val, args.batch_size, args.block_size, generator=g)
        losses.append(model(x, y)[1].item())
    model.train()
    return sum(losses) / len(losses)


def train_one(width: int, train: torch.Tensor, val: torch.Tensor, vocab: int, args) -> dict:
    config = GPTConfig(
        vocab_size=vocab, block_size=args.block_size, n_layer=2, n_head=4, n_embd=width
    )
    torch.manual_seed(0)
    model = GPT(config)
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.1)
    g = torch.Generator().manual_seed(0)
    tokens_per_step = args.batch_size * args.block_size
    curve = [{"step": 0, "tokens": 0, "val_loss": round(val_loss(model, val, args), 4)}]
    start = time.perf_counter()
    for step in range(1, args.steps + 1):
        x, y = get_batch(train, args.batch_size, args.block_size, generator=g)
        _, loss = model(x, y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if step % args.eval_every == 0:
            point = {"step": step, "tokens": step * tokens_per_step}
            curve.append({**point, "val_loss": round(val_loss(model, val, args), 4)})
    return {
        "n_embd": width,
        "parameters": param_count(config),
        "non_embedding_parameters": model.num_params(non_embedding=True)
        - config.vocab_size * width,
        "curve": curve,
        "final_val_loss": curve[-1]["val_loss"],
        "train_seconds": round(time.perf_counter() - start, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--eval-every", type=int, default=250)
    parser.add_argument("--eval-batches", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--block-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--threads", type=int, default=1)  # 1: steadier on a busy machine
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    text = load_text("tinyshakespeare")
    tok = CharTokenizer.from_text(text)
    train, val = train_val_split(torch.tensor(tok.encode(text), dtype=torch.long))
    runs = [train_one(w, train, val, tok.vocab_size, args) for w in WIDTHS]
    result = {
        "benchmark": "three GPT sizes on Tiny Shakespeare (characters), same data and steps",
        "command": "python benchmarks/bench_scaling.py",
        "settings": {
            k: getattr(args, k)
            for k in ("steps", "eval_every", "eval_batches", "batch_size", "block_size", "lr")
        }
        | {"n_layer": 2, "n_head": 4, "optimizer": "AdamW, weight_decay 0.1", "seed": 0},
        "vocab_size": tok.vocab_size,
        "train_tokens_available": len(train),
        "runs": runs,
        "versions": {"python": sys.version.split()[0], "torch": torch.__version__},
        "machine": machine_info(args.threads),
    }
    write_result(result, args.out)
    print(json.dumps({r["n_embd"]: r["final_val_loss"] for r in runs}))


if __name__ == "__main__":
    main()
