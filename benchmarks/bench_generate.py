"""Time greedy generation: the book's GPT against Hugging Face's `generate`, on the same weights.

Run from the repository root:  python benchmarks/bench_generate.py
A randomly initialised Hugging Face GPT-2 of the book's default size (6 layers, width 384,
context 256, Tiny Shakespeare's 65 characters) is saved with `save_pretrained` and built in
`llmbook` both ways a reader meets: loaded with `llmbook.pretrained.from_pretrained`
("llmbook_pretrained"), and as `GPT(config)` filled from a checkpoint by
`llmbook.sample.load_model`, what `python -m llmbook.sample --checkpoint` runs
("llmbook_gpt_config"). All three hold the same numbers. Each round generates the same greedy
continuation with each, KV cache on, in a rotating order (a busy machine slows all alike); the
script asserts that the tokens are identical and reports the median tokens per second of each,
by CPU time (one thread: the work done, steady on a shared machine) and by wall time, and for
each llmbook model the median over rounds of Hugging Face's time / its time within a round.
Weights are random: speed does not depend on them.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

import torch
import transformers
from machine import (  # benchmarks/machine.py, beside this script
    load_average,
    machine_info,
    write_result,
)

from llmbook.checkpoint import FORMAT, VERSION, save_atomic, tokenizer_state
from llmbook.pretrained import from_pretrained
from llmbook.sample import load_model
from llmbook.tokenizer import CharTokenizer

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


def paired_ratio(seconds: dict[str, list[float]], ours: str) -> float:
    """The median over rounds of Hugging Face's time / the `ours` model's time in the same round.

    Pairing by round cancels most of a shared machine's drift: a round that the machine's other
    work slows down slows every model.
    """
    ratios = [h / o for o, h in zip(seconds[ours], seconds["hugging_face"], strict=True)]
    return round(statistics.median(ratios), 2)


def checkpoint_model(pretrained: torch.nn.Module, folder: str) -> torch.nn.Module:
    """The same weights written as a llmbook checkpoint and read back as `sample --checkpoint`
    does: GPT(config) built from the stored config, then load_state_dict."""
    chars = [chr(c) for c in range(32, 32 + pretrained.config.vocab_size)]
    path = Path(folder) / "ckpt.pt"
    save_atomic(
        {
            "format": FORMAT,
            "version": VERSION,
            "model": pretrained.state_dict(),
            "model_config": asdict(pretrained.config),
            "tokenizer": tokenizer_state(CharTokenizer(chars)),
            "step": 0,
        },
        path,
    )
    return load_model(str(path))[0]


OURS = ("llmbook_pretrained", "llmbook_gpt_config")


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
        pretrained = from_pretrained(folder)
        models = {
            "llmbook_pretrained": pretrained,
            "llmbook_gpt_config": checkpoint_model(pretrained, folder),
            "hugging_face": hf,
        }
    timers = {
        "llmbook_pretrained": time_ours,
        "llmbook_gpt_config": time_ours,
        "hugging_face": time_hf,
    }
    prompt = torch.randint(HF_CONFIG["vocab_size"], (1, args.prompt_tokens))
    for name, model in models.items():  # warm-up
        timers[name](model, prompt, 8)
    seconds: dict[str, list[float]] = {name: [] for name in models}
    cpu_seconds: dict[str, list[float]] = {name: [] for name in models}
    names = list(models)
    for r in range(args.rounds):
        outputs = {}
        for name in names[r % 3 :] + names[: r % 3]:  # each model first in turn
            s, c, outputs[name] = timers[name](models[name], prompt, args.new_tokens)
            seconds[name].append(s)
            cpu_seconds[name].append(c)
        for name in OURS:
            assert torch.equal(outputs[name], outputs["hugging_face"]), f"{name}: other tokens"
    cpu_rate = {k: args.new_tokens / statistics.median(v) for k, v in cpu_seconds.items()}
    rate = {k: args.new_tokens / statistics.median(v) for k, v in seconds.items()}
    result = {
        "benchmark": "greedy generation with the KV cache, batch 1: llmbook vs Hugging Face",
        "command": "python benchmarks/bench_generate.py " + " ".join(sys.argv[1:]),
        "model": {**HF_CONFIG, "parameters": pretrained.num_params()},
        "constructions": {
            "llmbook_pretrained": "llmbook.pretrained.from_pretrained(folder)",
            "llmbook_gpt_config": "GPT(config) + load_state_dict, by llmbook.sample.load_model",
        },
        "prompt_tokens": args.prompt_tokens,
        "new_tokens": args.new_tokens,
        "rounds": args.rounds,
        "same_tokens": True,
        "tokens_per_cpu_second": {k: round(v, 1) for k, v in cpu_rate.items()},
        "speed_ratio_cpu_time": {name: paired_ratio(cpu_seconds, name) for name in OURS},
        "tokens_per_second": {k: round(v, 1) for k, v in rate.items()},
        "speed_ratio_wall_time": {name: paired_ratio(seconds, name) for name in OURS},
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
