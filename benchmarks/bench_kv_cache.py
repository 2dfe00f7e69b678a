"""Time generation with and without the KV cache; write benchmarks/results/kv_cache.json.

Run from the repository root:  python benchmarks/bench_kv_cache.py
Two randomly initialised models of the book's default size (6 layers, width 384, context 256):
the GPT-2-style GPT and its Llama-style variant (RMSNorm, SwiGLU, RoPE, 2 key/value heads).
Each generates the same greedy continuation with `use_cache=False` (every step recomputes the
whole window) and `use_cache=True` (every step feeds only the newest token); the script asserts
that the tokens are identical, then reports the median wall time over the repeats. Weights are
random: the speed of a forward pass does not depend on what the weights are.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch
from machine import (  # benchmarks/machine.py, beside this script
    load_average,
    machine_info,
    write_result,
)

from llmbook.gpt import GPT, GPTConfig, param_count

RESULTS = Path(__file__).resolve().parent / "results" / "kv_cache.json"
VARIANTS = {
    "gpt2-style": {},
    "llama-style": {
        "norm": "rmsnorm",
        "mlp": "swiglu",
        "position": "rope",
        "n_kv_head": 2,
        "bias": False,
        "tie_embeddings": False,
    },
}


def time_generation(
    model: GPT, prompt: torch.Tensor, new_tokens: int, use_cache: bool
) -> tuple[float, float, torch.Tensor]:
    """Wall-clock and CPU seconds (the CPU time varies less on a busy machine), and the tokens."""
    wall, cpu = time.perf_counter(), time.process_time()
    out = model.generate(prompt, new_tokens, top_k=1, use_cache=use_cache)  # greedy
    return time.perf_counter() - wall, time.process_time() - cpu, out


def bench_variant(name: str, args: argparse.Namespace) -> dict[str, object]:
    config = GPTConfig(**VARIANTS[name])  # the defaults: 6 layers, 6 heads, width 384, T 256
    torch.manual_seed(0)
    model = GPT(config).eval()
    prompt = torch.randint(config.vocab_size, (1, args.prompt_tokens))
    time_generation(model, prompt, 5, use_cache=False)  # warm-up
    seconds: dict[str, list[float]] = {"recompute": [], "kv_cache": []}
    cpu_seconds: dict[str, list[float]] = {"recompute": [], "kv_cache": []}
    outputs = {}
    for _ in range(args.repeats):
        for label, use_cache in (("recompute", False), ("kv_cache", True)):
            s, c, outputs[label] = time_generation(model, prompt, args.new_tokens, use_cache)
            seconds[label].append(s)
            cpu_seconds[label].append(c)
    assert torch.equal(outputs["recompute"], outputs["kv_cache"]), "the cache changed the tokens"
    medians = {k: statistics.median(v) for k, v in seconds.items()}
    cpu = {k: statistics.median(v) for k, v in cpu_seconds.items()}
    return {
        "config": {k: v for k, v in vars(config).items()},
        "parameters": param_count(config),
        "same_tokens": True,
        "recompute_seconds_median": round(medians["recompute"], 3),
        "recompute_seconds_all": [round(s, 3) for s in seconds["recompute"]],
        "kv_cache_seconds_median": round(medians["kv_cache"], 3),
        "kv_cache_seconds_all": [round(s, 3) for s in seconds["kv_cache"]],
        "recompute_tokens_per_second": round(args.new_tokens / medians["recompute"], 1),
        "kv_cache_tokens_per_second": round(args.new_tokens / medians["kv_cache"], 1),
        "speedup": round(medians["recompute"] / medians["kv_cache"], 2),
        "recompute_cpu_seconds_median": round(cpu["recompute"], 3),
        "kv_cache_cpu_seconds_median": round(cpu["kv_cache"], 3),
        "speedup_cpu_time": round(cpu["recompute"] / cpu["kv_cache"], 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompt-tokens", type=int, default=16)
    parser.add_argument("--new-tokens", type=int, default=240)  # 16 + 240 = the full context 256
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)  # 1: steadier on a busy machine
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    load_at_start = load_average()

    results = {name: bench_variant(name, args) for name in VARIANTS}
    result = {
        "benchmark": "greedy generation, batch 1: recomputing the window vs the KV cache",
        "command": "python benchmarks/bench_kv_cache.py",
        "prompt_tokens": args.prompt_tokens,
        "new_tokens": args.new_tokens,
        "repeats": args.repeats,
        "variants": results,
        "versions": {
            "python": sys.version.split()[0],
            "torch": torch.__version__,
        },
        "machine": machine_info(args.threads, load_at_start),
    }
    write_result(result, args.out)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
