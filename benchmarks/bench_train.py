"""Training throughput of llmbook's GPT against the same shape built from torch.nn built-ins.

    python benchmarks/bench_train.py --preset tiny-cpu
    python benchmarks/bench_train.py --preset baby-gpu --device cuda

Both models get the preset's shape and the training step of `llmbook.train` (AdamW, gradient
clipping, bf16 autocast on CUDA). The reference is token + position embeddings, a stack of
`nn.TransformerEncoderLayer(norm_first=True, activation="gelu")` run with a causal mask, a
final `nn.LayerNorm` and an output layer tied to the token embedding: the architecture of
chapter 13, written only with PyTorch's own modules. The two are timed in alternating rounds
(ours, reference, ours, ...) so that any drift of the machine hits both. The result, with the
exact command and the versions, goes to benchmarks/results/train_<preset>_<device>.json.

Reported per model: median milliseconds per step, tokens per second, peak memory (CUDA: the
allocator's peak; CPU: not separable per model, the process's peak RSS is given once), and the
model FLOPs utilisation (6 N + 12 L T C FLOPs per token, as in the PaLM paper) against the
device's peak where it is known.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from llmbook.gpt import GPT  # noqa: E402
from llmbook.train import (  # noqa: E402
    PRESETS,
    TrainConfig,
    autocast_for,
    config_from_preset,
    make_optimizer,
    pick_device,
    use_fused_layer_norm,
)

VOCAB = 65  # Tiny Shakespeare's characters
# Dense bf16 peak FLOP/s of some GPUs (vendor data sheets); MFU is left out for other devices.
PEAK_FLOPS = {
    "H100": 989e12,
    "H200": 989e12,
    "A100": 312e12,
    "L4": 121e12,
    "A10G": 125e12,
    "RTX 4090": 165e12,
}


class ReferenceGPT(nn.Module):
    """The chapter 13 architecture from torch.nn built-ins only (pre-norm, GELU, tied head)."""

    def __init__(self, vocab: int, block_size: int, n_layer: int, n_head: int, n_embd: int,
                 dropout: float) -> None:  # fmt: skip
        super().__init__()
        self.wte = nn.Embedding(vocab, n_embd)
        self.wpe = nn.Embedding(block_size, n_embd)
        self.drop = nn.Dropout(dropout)
        layer = nn.TransformerEncoderLayer(
            n_embd,
            n_head,
            dim_feedforward=4 * n_embd,
            dropout=dropout,
            activation="gelu",
            batch_first=True,
            norm_first=True,
        )
        self.blocks = nn.TransformerEncoder(layer, n_layer, enable_nested_tensor=False)
        self.ln_f = nn.LayerNorm(n_embd)
        self.head = nn.Linear(n_embd, vocab, bias=False)
        self.head.weight = self.wte.weight
        for p in self.parameters():
            if p.dim() >= 2:
                nn.init.normal_(p, std=0.02)
        self.register_buffer("mask", nn.Transformer.generate_square_subsequent_mask(block_size))

    def forward(self, idx: Tensor, targets: Tensor) -> tuple[Tensor, Tensor]:
        B, T = idx.shape
        x = self.drop(self.wte(idx) + self.wpe(torch.arange(T, device=idx.device)))  # (B, T, C)
        x = self.blocks(x, mask=self.mask[:T, :T], is_causal=True)  # (B, T, C)
        logits = self.head(self.ln_f(x))  # (B, T, V)
        loss = nn.functional.cross_entropy(logits.view(B * T, -1), targets.reshape(B * T))
        return logits, loss


def device_peak(device: torch.device) -> tuple[str, float | None]:
    if device.type != "cuda":
        return platform.processor() or platform.machine(), None
    name = torch.cuda.get_device_name(device)
    peak = next((v for k, v in PEAK_FLOPS.items() if k in name), None)
    return name, peak


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def step_fn(model: nn.Module, config: TrainConfig, device: torch.device) -> Callable[[], float]:
    optimizer = make_optimizer(model, config, device)
    gen = torch.Generator().manual_seed(0)

    def step() -> float:
        x = torch.randint(VOCAB, (config.batch_size, config.block_size), generator=gen)
        y = torch.randint(VOCAB, (config.batch_size, config.block_size), generator=gen)
        x, y = x.to(device), y.to(device)
        sync(device)
        start = time.perf_counter()
        with autocast_for(device):
            _, loss = model(x, y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
        optimizer.step()
        sync(device)
        return time.perf_counter() - start

    return step


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="tiny-cpu", choices=sorted(PRESETS))
    parser.add_argument("--device", default="auto")
    parser.add_argument("--rounds", type=int, default=6, help="alternations of the two models")
    parser.add_argument("--steps", type=int, default=10, help="timed steps per model per round")
    parser.add_argument("--warmup", type=int, default=5, help="untimed steps per model first")
    parser.add_argument("--compile", action="store_true", help="torch.compile both models")
    parser.add_argument("--out", default=None, help="JSON path (default benchmarks/results/)")
    args = parser.parse_args(argv)
    device = pick_device(args.device)
    config = config_from_preset(args.preset, device=str(device))
    torch.manual_seed(0)
    ours = GPT(config.model_config(VOCAB))
    use_fused_layer_norm(ours)
    ref = ReferenceGPT(VOCAB, config.block_size, config.n_layer, config.n_head, config.n_embd,
                       config.dropout)  # fmt: skip
    n_ours = sum(p.numel() for p in ours.parameters())
    n_ref = sum(p.numel() for p in ref.parameters())
    models = {"llmbook": ours.to(device).train(), "torch.nn reference": ref.to(device).train()}
    if args.compile:
        models = {k: torch.compile(m) for k, m in models.items()}
    steps = {name: step_fn(m, config, device) for name, m in models.items()}
    times: dict[str, list[float]] = {name: [] for name in models}
    peak_mem: dict[str, int | None] = dict.fromkeys(models)
    for step in steps.values():
        for _ in range(args.warmup):
            step()
    for _ in range(args.rounds):
        for name, step in steps.items():
            if device.type == "cuda":
                torch.cuda.reset_peak_memory_stats(device)
            times[name].extend(step() for _ in range(args.steps))
            if device.type == "cuda":
                peak_mem[name] = max(peak_mem[name] or 0, torch.cuda.max_memory_allocated(device))
    tokens = config.batch_size * config.block_size
    L, T, C = config.n_layer, config.block_size, config.n_embd
    flops_per_token = 6 * (n_ours - T * C) + 12 * L * T * C  # position embedding left out
    device_name, peak = device_peak(device)
    results = {}
    for name, ts in times.items():
        median = statistics.median(ts)
        results[name] = {
            "ms_per_step_median": round(1000 * median, 3),
            "ms_per_step_min": round(1000 * min(ts), 3),
            "tokens_per_s": round(tokens / median, 1),
            "peak_memory_bytes": peak_mem[name],
            "mfu": None if peak is None else round(flops_per_token * tokens / median / peak, 4),
        }
    ratio = (
        results["torch.nn reference"]["ms_per_step_median"]
        / results["llmbook"]["ms_per_step_median"]
    )
    peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB
    record = {
        "command": " ".join(
            [f"{k}={os.environ[k]}" for k in ("OMP_NUM_THREADS",) if k in os.environ]
            + [Path(sys.executable).name, *sys.argv]
        ),
        "preset": args.preset,
        "config": asdict(config),
        "device": str(device),
        "device_name": device_name,
        "device_peak_flops": peak,
        "threads": torch.get_num_threads(),
        "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS"),
        "parameters": {"llmbook": n_ours, "torch.nn reference": n_ref},
        "flops_per_token": flops_per_token,
        "rounds": args.rounds,
        "steps_per_round": args.steps,
        "results": results,
        "speed_ratio_llmbook_over_reference": round(ratio, 3),
        "process_peak_rss_bytes": peak_rss if device.type == "cpu" else None,
        "versions": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "numpy": np.__version__,
            "platform": platform.platform(),
            "cpu_count": os.cpu_count(),
        },
        "note": "timings on a machine shared with other jobs vary; compare the two models of "
        "one run (they alternate), not runs with each other",
    }
    print(f"{args.preset} on {device_name} ({torch.get_num_threads()} threads), "
          f"{n_ours:,} parameters, {tokens} tokens per step")  # fmt: skip
    for name, r in results.items():
        mfu = "" if r["mfu"] is None else f", MFU {r['mfu']:.1%}"
        print(f"  {name:<20} {r['ms_per_step_median']:9.2f} ms/step  "
              f"{r['tokens_per_s']:10.0f} tokens/s{mfu}")  # fmt: skip
    print(f"  llmbook / reference speed: {ratio:.2f}x")
    out = Path(args.out) if args.out else (
        ROOT / "benchmarks" / "results" / f"train_{args.preset}_{device.type}.json"
    )  # fmt: skip
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {out.relative_to(ROOT) if out.is_relative_to(ROOT) else out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
