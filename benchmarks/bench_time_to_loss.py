"""Time to loss: how long a training preset takes to reach a validation loss.

    python benchmarks/bench_time_to_loss.py --preset tiny-cpu --target 1.898 --repeats 3
    python benchmarks/bench_time_to_loss.py --recipe nanogpt-cpu --target 1.898   # the reference
    python benchmarks/bench_time_to_loss.py --short --out /tmp/short.json         # a smoke test

It trains with `llmbook.train.train` and, at every evaluation of the run, measures the loss on
the whole validation split (the last 10% of Tiny Shakespeare, cut into consecutive windows of
64 tokens, every token predicted once) off the clock: the time it takes is subtracted. It
reports the wall time, from the call to `train` (tokenizing and building the model included),
at which that loss first reaches `--target`, the final loss, and the whole run's time; with
`--repeats` each repetition, and the median. The process's CPU time is given beside each wall
time: on a machine that others keep busy it grows less than the wall time does (with
`--threads 1` it is what the wall time would be on an idle machine). The result, with the
command, the versions, the machine and its load average before and after every run, goes to
benchmarks/results/time_to_loss_<name>.json.

The target 1.898 is the full-validation loss of nanoGPT's CPU recipe for this data (4 layers,
width 128, context 64, batch 12, 2,000 iterations, learning rate 1e-3, no biases), which took
70-75 s on a 2-core Xeon; `--recipe nanogpt-cpu` trains those settings with this program, so
that the two can be timed side by side on the same machine. On a shared machine every time
moves with the load of the others' work: compare runs made together, and read the load
averages recorded beside each.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from machine import load_average, machine_info, write_result  # benchmarks/machine.py

from llmbook.data import load_text, train_val_split
from llmbook.gpt import GPT
from llmbook.tokenizer import CharTokenizer
from llmbook.train import PRESETS, config_from_preset, train

RESULTS = Path(__file__).resolve().parent / "results"
WINDOW = 64  # tokens per window of the full-validation loss
TARGET = 1.898  # nanoGPT's CPU recipe, full validation split, measured
REFERENCE_SECONDS = 70.0  # nanoGPT's CPU recipe on 2 Xeon cores: 70-75 s
# nanoGPT's README recipe for a CPU ("baby GPT" of shakespeare_char, shrunk), in this program.
RECIPES: dict[str, tuple[str, dict[str, Any]]] = {
    "nanogpt-cpu": (
        "tiny-cpu",
        {
            "max_steps": 2000,
            "learning_rate": 1e-3,
            "min_lr": 1e-4,
            "warmup_steps": 100,
            "bias": False,
            "eval_interval": 250,
            "eval_batches": 20,
            "eval_batch_size": 12,
        },
    ),
}
SHORT = {"max_steps": 20, "eval_interval": 10, "warmup_steps": 5}  # a few steps: a smoke test
SHORT_TEXT = 100_000  # characters of the corpus in the short mode (10,000 for validation)


@torch.no_grad()
def full_validation_loss(model: GPT, val_ids: torch.Tensor, batch: int = 256) -> float:
    """Mean cross-entropy over the whole validation split in consecutive windows of WINDOW
    tokens (the last, incomplete window is left out): every token predicted once."""
    was_training = model.training
    model.eval()
    windows = (len(val_ids) - 1) // WINDOW
    x = val_ids[: windows * WINDOW].view(windows, WINDOW)  # (N, T)
    y = val_ids[1 : windows * WINDOW + 1].view(windows, WINDOW)  # (N, T), x shifted by one
    device = next(model.parameters()).device
    total = 0.0
    for start in range(0, windows, batch):
        logits, _ = model(x[start : start + batch].to(device))  # (b, T, V)
        targets = y[start : start + batch].to(device)
        total += F.cross_entropy(logits.flatten(0, 1).float(), targets.flatten(), reduction="sum")
    model.train(was_training)
    return float(total) / (windows * WINDOW)


def run_once(overrides: dict[str, Any], preset: str, text: str, target: float) -> dict[str, Any]:
    """One training run, its full-validation loss at every evaluation, and when it first
    reached `target` (None if it never did)."""
    config = config_from_preset(preset, **{"quiet": True, **overrides})
    _, val_text = train_val_split(text)
    val_ids = torch.tensor(CharTokenizer.from_text(text).encode(val_text))
    points: list[dict[str, Any]] = []
    off_clock = [0.0, 0.0]  # wall and CPU seconds spent measuring, subtracted afterwards
    load_before = load_average()
    started, cpu_started = time.perf_counter(), time.process_time()

    def measure(entry: dict[str, float], model: GPT) -> None:
        paused, cpu_paused = time.perf_counter(), time.process_time()
        loss = full_validation_loss(model, val_ids)
        points.append(
            {
                "step": int(entry["step"]),
                "seconds": round(paused - started - off_clock[0], 2),
                "cpu_seconds": round(cpu_paused - cpu_started - off_clock[1], 2),
                "full_val_loss": round(loss, 4),
                "val_loss_estimate": entry["val_loss"],  # the run's own, on a few batches
            }
        )
        off_clock[0] += time.perf_counter() - paused
        off_clock[1] += time.process_time() - cpu_paused

    result = train(config, text=text, on_eval=measure)
    total = time.perf_counter() - started - off_clock[0]
    reached = next((p for p in points if p["full_val_loss"] <= target), None)
    return {
        "seconds_to_target": None if reached is None else reached["seconds"],
        "cpu_seconds_to_target": None if reached is None else reached["cpu_seconds"],
        "step_at_target": None if reached is None else reached["step"],
        "final_full_val_loss": points[-1]["full_val_loss"],
        "seconds_total": round(total, 2),
        "loop_seconds": round(result.seconds - off_clock[0], 2),
        "cpu_seconds_total": round(time.process_time() - cpu_started - off_clock[1], 2),
        "load_average_before": load_before,
        "load_average_after": load_average(),
        "evaluations": points,
    }


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--preset", choices=sorted(PRESETS), default="tiny-cpu")
    source.add_argument("--recipe", choices=sorted(RECIPES), help="a reference recipe")
    parser.add_argument(
        "--set",
        nargs="*",
        default=[],
        metavar="NAME=VALUE",
        help="TrainConfig overrides, e.g. max_steps=900 learning_rate=4e-3",
    )
    parser.add_argument("--target", type=float, default=TARGET)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--short",
        action="store_true",
        help=f"a smoke test: {SHORT['max_steps']} steps on the first {SHORT_TEXT:,} characters",
    )
    parser.add_argument("--out", type=Path, default=None, help="the result file")
    args = parser.parse_args(argv)
    if args.repeats < 1 or args.threads < 1:
        parser.error(f"--repeats and --threads must be >= 1, got {args.repeats}, {args.threads}")
    return args


def overrides_from(args: argparse.Namespace) -> tuple[str, dict[str, Any]]:
    """The preset to start from and the settings that replace its values."""
    preset, overrides = RECIPES[args.recipe] if args.recipe else (args.preset, {})
    overrides = dict(overrides)
    for item in args.set:
        name, _, value = item.partition("=")
        overrides[name] = json.loads(value) if value not in ("True", "False") else value == "True"
    if args.short:
        overrides.update(SHORT)
    return preset, overrides


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    preset, overrides = overrides_from(args)
    torch.set_num_threads(args.threads)
    text = load_text("tinyshakespeare")
    text = text[:SHORT_TEXT] if args.short else text
    load_at_start = load_average()
    runs = [run_once(overrides, preset, text, args.target) for _ in range(args.repeats)]
    times = [r["seconds_to_target"] for r in runs]
    reached = [t for t in times if t is not None]
    median = statistics.median(reached) if len(reached) == len(runs) else None
    name = args.recipe or preset
    result = {
        "benchmark": "time to a full-validation loss (windows of 64 tokens)",
        "command": "python benchmarks/bench_time_to_loss.py " + " ".join(argv or sys.argv[1:]),
        "trained": {"preset": preset, "overrides": overrides},
        "target": args.target,
        "repeats": args.repeats,
        "median_seconds_to_target": median,
        "seconds_to_target_all": times,
        "cpu_seconds_to_target_all": [r["cpu_seconds_to_target"] for r in runs],
        "final_full_val_loss_all": [r["final_full_val_loss"] for r in runs],
        "seconds_total_all": [r["seconds_total"] for r in runs],
        "reference_seconds": REFERENCE_SECONDS,
        "ratio_to_reference": None if median is None else round(median / REFERENCE_SECONDS, 2),
        "runs": runs,
        "versions": {"python": sys.version.split()[0], "torch": torch.__version__},
        "machine": machine_info(args.threads, load_at_start),
    }
    out = args.out or RESULTS / f"time_to_loss_{name}{'_short' if args.short else ''}.json"
    write_result(result, out)
    print(json.dumps({k: v for k, v in result.items() if k != "runs"}, indent=1))
    return result


if __name__ == "__main__":
    main()
