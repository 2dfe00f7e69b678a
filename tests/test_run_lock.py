"""One run per output folder, and a clean stop: a second training into a folder in use is
refused and leaves the first's files alone; a stale lock is taken over; Ctrl-C and SIGTERM stop
a run with one line saying the step, the checkpoint kept and the command that resumes it, which
works; orphaned temp files go when a run starts; files get the user's umask."""

from __future__ import annotations

import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from tiny_training import TINY, flags, tiny  # tests/tiny_training.py

from llmbook import runlock, train
from llmbook.checkpoint import load_checkpoint
from llmbook.files import default_file_mode

REPO = Path(__file__).resolve().parents[1]
# A run that goes on until it is stopped: the tiny model, an evaluation every 5 steps.
ENDLESS = flags(**{**TINY, "max_steps": 1_000_000, "eval_interval": 5, "warmup_steps": 2})


def _start(out: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    command = [sys.executable, "-m", "llmbook.train", *ENDLESS, "--out-dir", str(out)]
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)  # fmt: skip


def _wait_for_checkpoint(run: subprocess.Popen, out: Path, timeout: float = 180) -> None:
    """Until the run has written a checkpoint past step 0 (it holds the lock by then)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert run.poll() is None, run.communicate()
        log = out / "log.json"
        if log.is_file() and len(json.loads(log.read_text())["evaluations"]) >= 2:
            return
        time.sleep(0.2)
    run.kill()
    pytest.fail("the run wrote no checkpoint in time")


@pytest.mark.slow  # two processes train the tiny model for a few seconds each
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_second_run_is_refused_and_a_stopped_run_says_how_to_resume(
    signum: int, tmp_path: Path, text: str, capsys: pytest.CaptureFixture
) -> None:
    out = tmp_path / "run"
    first = _start(out)
    try:
        _wait_for_checkpoint(first, out)
        lock = json.loads((out / runlock.LOCK_NAME).read_text())
        assert (lock["pid"], lock["host"]) == (first.pid, socket.gethostname())

        # a second run into the folder in use is refused, whatever its flags
        for extra in (["--overwrite"], ["--resume"], []):
            args = [*flags(**TINY), "--out-dir", str(out), "--seed", "7", *extra]
            assert train.main(args) == 1
            err = capsys.readouterr().err
            assert f"{out} is in use by another training run (process {first.pid} on" in err
            assert "Traceback" not in err
        first.send_signal(signum)
        _, err = first.communicate(timeout=120)
    finally:
        first.kill()
    assert first.returncode == {signal.SIGTERM: 143, signal.SIGINT: 130}[signum]
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    line = lines[0]
    how = "Ctrl-C (SIGINT)" if signum == signal.SIGINT else "SIGTERM"
    assert line.startswith(f"python -m llmbook.train: training stopped by {how} after step ")
    ckpt = load_checkpoint(out / "ckpt.pt")
    assert f"{out / 'ckpt.pt'} holds step {ckpt['step']}; resume with: python" in line
    assert ckpt["config"]["seed"] == 1337 and ckpt["step"] % 5 == 0  # the first run's own
    assert not (out / runlock.LOCK_NAME).exists()  # released

    # the command in the message resumes the run (stopped again a few steps on)
    command = shlex.split(line.split("resume with: ")[1])
    assert command[:3] == ["python", "-m", "llmbook.train"] and command[-1] == "--resume"
    target = ckpt["step"] + 5
    assert train.main([*command[3:], "--stop-at", str(target)]) == 0
    assert load_checkpoint(out / "ckpt.pt")["step"] == target


def test_a_stale_lock_is_taken_over_and_another_hosts_lock_refuses(
    tmp_path: Path, text: str, capsys: pytest.CaptureFixture
) -> None:
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    dead_pid = int(gone.stdout)
    lock = tmp_path / runlock.LOCK_NAME
    lock.write_text(json.dumps({"pid": dead_pid, "host": socket.gethostname(), "started": "x"}))
    result = train.train(tiny(out_dir=str(tmp_path)), text)
    assert result.step == TINY["max_steps"]
    err = capsys.readouterr().err
    assert f"taking over the lock of {tmp_path} from process {dead_pid} on" in err
    assert "no longer running" in err and not lock.exists()

    lock.write_text(json.dumps({"pid": 1, "host": "elsewhere.example", "started": "x"}))
    before = (tmp_path / "ckpt.pt").read_bytes()
    with pytest.raises(runlock.FolderLockedError, match=r"process 1 on elsewhere\.example"):
        train.train(tiny(out_dir=str(tmp_path), resume=True, max_steps=9), text)
    assert (tmp_path / "ckpt.pt").read_bytes() == before and lock.exists()


def test_a_run_removes_orphaned_temp_files_and_writes_with_the_umask(
    tmp_path: Path, text: str
) -> None:
    orphans = [
        tmp_path / ".ckpt.pt.otherhost.123.abcd.tmp",  # another host's, however recent
        tmp_path / f".log.json.{socket.gethostname()}.{os.getpid()}.x1.tmp",
        tmp_path / ".best.pt.abc.tmp",  # an old-style name
    ]
    for orphan in orphans:
        orphan.write_bytes(b"half a file")
    mine = tmp_path / "notes.tmp"
    mine.write_text("not the run's")
    old = os.umask(0o022)
    try:
        train.train(tiny(out_dir=str(tmp_path)), text)
        assert default_file_mode() == 0o644
    finally:
        os.umask(old)
    assert not any(o.exists() for o in orphans) and mine.exists()
    for name in ("ckpt.pt", "best.pt", "log.json"):
        assert (tmp_path / name).stat().st_mode & 0o777 == 0o644, name


def test_a_refused_run_leaves_no_empty_folder(tmp_path: Path, text: str) -> None:
    out = tmp_path / "new"
    with pytest.raises(ValueError, match="split has"):
        train.train(tiny(out_dir=str(out), block_size=64), text[:100])
    assert not out.exists()


def test_resume_command_drops_stop_at_and_overwrite() -> None:
    argv = ["--out-dir", "my run", "--overwrite", "--stop-at", "5", "--max-steps", "9"]
    assert runlock.resume_command(argv) == (
        "python -m llmbook.train --out-dir 'my run' --max-steps 9 --resume"
    )
