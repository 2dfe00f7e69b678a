"""Time greedy generation: the book's GPT against Hugging Face's `generate`, on the same weights.

Run from the repository root:  python benchmarks/bench_generate.py
A randomly initialised Hugging Face GPT-2 of the book's default size (6 layers, width 384,
context 256, Tiny Shakespeare's 65 characters) is saved with `save_pretrained` and loaded into
`llmbook` with `llmbook.pretrained.from_pretrained`, so both models hold the same numbers.
Each round generates the same greedy continuation with both, KV cache on, in alternating order
(a busy machine slows both alike); the script asserts that the tokens are identical and reports
the median tokens per second of each, by CPU time (one thread: the work done, steady on a shared
machine) and by wall time, and the median over rounds of the speed ratio within a round.
Weights are random: speed does not depend on them.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
import transformers
from machine import (  # benchmarks/machine.py, beside this script
    load_average,
    machine_info,
    write_result,
)

from llmbook.pretrained import from_pretrained

RESULTS = Path(__file__).resolve().parent / "results" / "generate.json"
HF_CONFIG = {
    "vocab_size": 65,
    "n_positions": 256,
    "n_embd": 384,
    "n_layer": 6,
    "n_head": 6,
    "bos_token_id": None,
    "eos_token_id": None,
    "pad_token_id": None,
}


def time_ours(model, prompt: torch.Tensor, new_tokens: int) -> tuple[float, float, torch.Tensor]:
    """Wall-clock and CPU seconds, and the tokens."""
    wall, cpu = time.perf_counter(), time.process_time()
    out = model.generate(prompt, new_tokens, top_k=1, use_cache=True)  # greedy
    return time.perf_counter() - wall, time.process_time() - cpu, out


def time_hf(model, prompt: torch.Tensor, new_tokens: int) -> tuple[float, float, torch.Tensor]:
    """Wall-clock and CPU seconds, and the tokens."""
    wall, cpu = time.perf_counter(), time.process_time()
    with torch.no_grad():
        out = model.generate(
            prompt,
            attention_mask=torch.ones_like(prompt),
            max_new_tokens=new_tokens,
            min_new_tokens=new_tokens,
            do_sample=False,
            use_cache=True,
        )
    return time.perf_counter() - wall, time.process_time() - cpu, out


def paired_ratio(seconds: dict[str, list[float]]) -> float:
    """The median over rounds of Hugging Face's time / llmbook's time in the same round.

    Pairing by round cancels most of a shared machine's drift: a round that the machine's other
    work slows down slows both models.
    """
    ratios = [h / o for o, h in zip(seconds["llmbook"], seconds["hugging_face"], strict=True)]
    return round(statistics.median(ratios), 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompt-tokens", type=int, default=16)
    parser.add_argument("--new-tokens", type=int, default=240)  # 16 + 240 = the full context
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)  # 1: steadier on a busy machine
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    load_at_start = load_average()

    torch.manual_seed(0)
    hf = transformers.GPT2LMHeadModel(transformers.GPT2Config(**HF_CONFIG)).eval()
    with tempfile.TemporaryDirectory() as folder:
        hf.save_pretrained(folder)
        ours = from_pretrained(folder)
    prompt = torch.randint(HF_CONFIG["vocab_size"], (1, args.prompt_tokens))
    time_ours(ours, prompt, 8), time_hf(hf, prompt, 8)  # warm-up
    seconds: dict[str, list[float]] = {"llmbook": [], "hugging_face": []}
    cpu_seconds: dict[str, list[float]] = {"llmbook": [], "hugging_face": []}
    for r in range(args.rounds):
        order = (("llmbook", time_ours, ours), ("hugging_face", time_hf, hf))
        outputs = {}
        for name, timer, model in order if r % 2 == 0 else order[::-1]:
            s, c, outputs[name] = timer(model, prompt, args.new_tokens)
            seconds[name].append(s)
            cpu_seconds[name].append(c)
        assert torch.equal(outputs["llmbook"], outputs["hugging_face"]), "different tokens"
    cpu_rate = {k: args.new_tokens / statistics.median(v) for k, v in cpu_seconds.items()}
    rate = {k: args.new_tokens / statistics.median(v) for k, v in seconds.items()}
    result = {
        "benchmark": "greedy generation with the KV cache, batch 1: llmbook vs Hugging Face",
        "command": "python benchmarks/bench_generate.py",
        "model": {**HF_CONFIG, "parameters": ours.num_params()},
        "prompt_tokens": args.prompt_tokens,
        "new_tokens": args.new_tokens,
        "rounds": args.rounds,
        "same_tokens": True,
        "llmbook_tokens_per_cpu_second": round(cpu_rate["llmbook"], 1),
        "hugging_face_tokens_per_cpu_second": round(cpu_rate["hugging_face"], 1),
        "speed_ratio_cpu_time": paired_ratio(cpu_seconds),
        "llmbook_tokens_per_second": round(rate["llmbook"], 1),
        "hugging_face_tokens_per_second": round(rate["hugging_face"], 1),
        "speed_ratio_wall_time": paired_ratio(seconds),
        "cpu_seconds_all": {k: [round(s, 3) for s in v] for k, v in cpu_seconds.items()},
        "seconds_all": {k: [round(s, 3) for s in v] for k, v in seconds.items()},
        "versions": {
            "python": sys.version.split()[0],
            "torch": torch.__version__,
            "transformers": transformers.__version__,
        },
        "machine": machine_info(args.threads, load_at_start),
    }
    write_result(result, args.out)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
