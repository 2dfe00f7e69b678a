"""benchmarks/bench_time_to_loss.py: its loss on the whole validation split, and a short run that
writes a complete result (no time is asserted: the machine may be busy)."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

import bench_time_to_loss as bench  # noqa: E402  (benchmarks/, put on the path above)

from llmbook.gpt import GPT, GPTConfig  # noqa: E402


def test_full_validation_loss_predicts_every_token_once_in_windows_of_64() -> None:
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=7, block_size=64, n_layer=1, n_head=2, n_embd=8))
    val_ids = torch.randint(7, (64 * 3 + 5,), generator=torch.Generator().manual_seed(1))
    x = val_ids[: 3 * 64].view(3, 64)  # three whole windows; the last 5 ids are left out
    y = val_ids[1 : 3 * 64 + 1].view(3, 64)
    model.eval()
    _, expected = model(x, y)  # the mean over 3 x 64 predictions
    got = bench.full_validation_loss(model.train(), val_ids, batch=2)  # batches of 2 and 1
    assert got == pytest.approx(expected.item(), abs=1e-6)
    assert model.training  # left as it was


def test_short_mode_writes_the_result_with_command_versions_and_machine(
    tmp_path: Path, shared_data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LLMBOOK_DATA_DIR", str(shared_data_dir))
    out = tmp_path / "short.json"
    threads = torch.get_num_threads()
    try:
        bench.main(["--short", "--threads", "1", "--target", "3.5", "--out", str(out)])
    finally:
        torch.set_num_threads(threads)
    result = json.loads(out.read_text())
    assert result["command"].endswith(f"--short --threads 1 --target 3.5 --out {out}")
    assert result["trained"] == {"preset": "tiny-cpu", "overrides": bench.SHORT}
    assert set(result["versions"]) == {"python", "torch"}
    assert {"processor", "cpu_count", "load_average_at_start"} <= set(result["machine"])
    (run,) = result["runs"]
    assert [p["step"] for p in run["evaluations"]] == [0, 10, 20]
    first, last = run["evaluations"][0], run["evaluations"][-1]
    vocab = len(set(bench.load_text("tinyshakespeare")[: bench.SHORT_TEXT]))
    assert first["full_val_loss"] == pytest.approx(math.log(vocab), abs=0.1)  # knows nothing
    assert last["full_val_loss"] < first["full_val_loss"] - 0.5  # 20 steps teach something
    # the first evaluation at or below the target is the one reported
    reached = next(p for p in run["evaluations"] if p["full_val_loss"] <= 3.5)
    assert (
        run["step_at_target"] == reached["step"] and run["seconds_to_target"] == reached["seconds"]
    )
    assert result["seconds_to_target_all"] == [reached["seconds"]]
    assert [p["seconds"] for p in run["evaluations"]] == sorted(
        p["seconds"] for p in run["evaluations"]
    )
