"""Time BPE training and encoding on Tiny Shakespeare; write benchmarks/results/tokenizer.json.

Run from the repository root:  python benchmarks/bench_tokenizer.py
(the text comes from llmbook.data.load_text: set LLMBOOK_DATA_DIR to a folder holding
tinyshakespeare.txt to run without a network).
The tokenizer is pure Python, so it uses one core whatever OMP_NUM_THREADS says.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

from machine import cpu_model, write_result  # benchmarks/machine.py, beside this script

from llmbook.data import load_text
from llmbook.tokenizer import BPETokenizer

RESULTS = Path(__file__).resolve().parent / "results" / "tokenizer.json"


def timed(fn) -> tuple[float, object]:
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vocab-size", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()

    text = load_text("tinyshakespeare")
    load_before = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    train_s, encode_s = [], []
    for _ in range(args.repeats):
        seconds, tok = timed(lambda: BPETokenizer().train(text, args.vocab_size))
        train_s.append(seconds)
        seconds, ids = timed(lambda tok=tok: tok.encode(text))  # fresh tokenizer: empty cache
        encode_s.append(seconds)
    assert tok.decode(ids) == text

    words = len(text.split())
    result = {
        "benchmark": "BPE tokenizer: train on all of Tiny Shakespeare, then encode all of it",
        "command": "python benchmarks/bench_tokenizer.py",
        "corpus": {"name": "tinyshakespeare", "chars": len(text), "bytes": len(text.encode())},
        "vocab_size": args.vocab_size,
        "repeats": args.repeats,
        "train_seconds_median": round(statistics.median(train_s), 3),
        "train_seconds_all": [round(s, 3) for s in train_s],
        "encode_seconds_median": round(statistics.median(encode_s), 3),
        "encode_seconds_all": [round(s, 3) for s in encode_s],
        "tokens": len(ids),
        "words": words,
        "tokens_per_word": round(len(ids) / words, 3),
        "compression_bytes_per_token": round(len(text.encode()) / len(ids), 3),
        "machine": {
            "cpu_count": os.cpu_count(),
            "note": f"{os.cpu_count()} CPU cores (shared); pure Python, so one core used",
            # other work on the machine slows the run down: 1-minute load average at the start
            "load_average_1min": None if load_before is None else round(load_before, 2),
            "processor": cpu_model(),
            "platform": platform.platform(),
            "python": sys.version.split()[0],
        },
    }
    write_result(result, args.out)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
