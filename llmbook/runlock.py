"""One training run per output folder, and a clean stop on Ctrl-C or SIGTERM.

Used by `llmbook.train`. While a run writes into a folder it holds the lock file `LOCK_NAME`
there, which names its process id, host and start time. A second run into the same folder is
refused with a message naming the holder; a lock left by a process that no longer runs (killed
with SIGKILL, or a machine that rebooted) is taken over, with a message. A run stopped by
Ctrl-C (SIGINT) or SIGTERM raises `RunInterrupted`, whose one-line message says at which step it
stopped, which checkpoint is kept and how to resume; the program exits with 130 or 143, as a
shell reports a process ended by those signals.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import signal
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llmbook.files import _process_alive, default_file_mode

LOCK_NAME = "train.lock"
# The files a run writes into its folder; their temp files are orphans once the lock is held.
RUN_FILES = ("ckpt.pt", "best.pt", "log.json")
EXIT_CODES = {signal.SIGINT: 130, signal.SIGTERM: 143}  # 128 + the signal's number
SIGNAL_NAMES = {signal.SIGINT: "Ctrl-C (SIGINT)", signal.SIGTERM: "SIGTERM"}


class FolderLockedError(RuntimeError):
    """Another run, still alive (or on another host), holds the output folder."""


class RunInterrupted(KeyboardInterrupt):
    """Training stopped by a signal; `str()` says where it stopped and what is kept."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code

    def __str__(self) -> str:
        return str(self.args[0])


# --- the lock -----------------------------------------------------------------------------


def _holder(lock: Path) -> dict[str, Any] | None:
    """What the lock file says (pid, host, started, command), or None if it is unreadable."""
    try:
        info = json.loads(lock.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    ok = isinstance(info, dict) and isinstance(info.get("pid"), int)
    return info if ok and isinstance(info.get("host"), str) else None


def _describe(info: dict[str, Any]) -> str:
    started = info.get("started", "?")
    return f"process {info['pid']} on {info['host']}, started {started}"


def acquire(folder: str | os.PathLike, command: Sequence[str] = ()) -> Path:
    """Take the lock of `folder` (made if missing) for this process; return the lock's path.

    FolderLockedError naming the holder if a live process holds it, or one on another host
    (whose liveness cannot be seen from here). A lock whose process on this host is gone is
    taken over, and a line on stderr says so.
    """
    folder = Path(folder).expanduser()
    folder.mkdir(parents=True, exist_ok=True)
    lock = folder / LOCK_NAME
    info = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "started": time.strftime("%Y-%m-%d %H:%M:%S"),
        "command": list(command),
    }
    for _ in range(3):  # a stale lock removed, then one more try (twice if another run races)
        if _create_exclusive(lock, json.dumps(info) + "\n"):
            return lock
        holder = _holder(lock)
        if holder is None:
            if time.time() - _mtime(lock) < 10:  # being written right now: wait for it
                time.sleep(0.2)
                continue
            print(f"llmbook: removing the unreadable lock {lock}", file=sys.stderr)
        elif holder["host"] != info["host"]:
            raise FolderLockedError(
                f"{folder} is in use by another training run ({_describe(holder)}); if that "
                f"run is over, delete {lock} and start again, or pick another --out-dir"
            )
        elif _process_alive(holder["pid"]) and holder["pid"] != os.getpid():
            raise FolderLockedError(
                f"{folder} is in use by another training run ({_describe(holder)}); wait for it "
                f"to finish, stop it, or pick another --out-dir"
            )
        else:
            print(
                f"llmbook: taking over the lock of {folder} from {_describe(holder)}, which is "
                f"no longer running",
                file=sys.stderr,
            )
        with contextlib.suppress(FileNotFoundError):
            lock.unlink()
    raise FolderLockedError(f"could not take the lock {lock}: other runs keep taking it")


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def _create_exclusive(lock: Path, text: str) -> bool:
    """Create `lock` holding `text` unless it exists (atomic: written aside, then hard-linked,
    so that no reader ever sees it empty); True if this call made it."""
    fd, tmp = tempfile.mkstemp(dir=lock.parent, prefix=f".{lock.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(tmp, default_file_mode())
        try:
            os.link(tmp, lock)
        except FileExistsError:
            return False
        except OSError:  # a file system without hard links: O_EXCL, then write
            try:
                fd2 = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, default_file_mode())
            except FileExistsError:
                return False
            with os.fdopen(fd2, "w", encoding="utf-8") as f:
                f.write(text)
        return True
    finally:
        Path(tmp).unlink(missing_ok=True)


def release(lock: Path) -> None:
    """Remove `lock` if this process still holds it."""
    holder = _holder(lock)
    if holder is not None and holder["pid"] == os.getpid():
        with contextlib.suppress(OSError):
            lock.unlink()


def remove_run_orphans(folder: Path) -> list[Path]:
    """Delete the temp files of writes that a killed run left in `folder`; return them.

    Call it while holding the lock: then no other run writes there, so every temp file of a
    run's file (whatever process made it) is an orphan.
    """
    removed = []
    for name in RUN_FILES:
        for tmp in folder.glob(f".{name}.*.tmp"):
            with contextlib.suppress(OSError):
                tmp.unlink()
                removed.append(tmp)
    return removed


# --- where the run stands, for the message when it is stopped --------------------------------


@dataclass
class Progress:
    """Updated by the training loop: the steps done and the step of the last checkpoint."""

    out_dir: Path | None = None
    step: int = 0
    saved: int | None = None
    max_steps: int = 0


ACTIVE: list[Progress] = []  # the run in progress in this process (innermost last)


def note_step(done: int) -> None:
    """The training loop finished step `done`."""
    if ACTIVE:
        ACTIVE[-1].step = done


def note_saved(done: int) -> None:
    """The checkpoint of step `done` is on disk."""
    if ACTIVE:
        ACTIVE[-1].saved = done


def resume_command(argv: Sequence[str]) -> str:
    """The command that carries on the run started with `argv` (python -m llmbook.train ...):
    the same flags without --overwrite and --stop-at, with --resume."""
    args: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
            continue
        if arg in ("--overwrite", "--resume", "--no-resume", "--no-overwrite"):
            continue
        if arg == "--stop-at":
            skip = True
            continue
        if arg.startswith("--stop-at="):
            continue
        args.append(arg)
    return shlex.join(["python", "-m", "llmbook.train", *args, "--resume"])


def interrupted_message(progress: Progress, signum: int, argv: Sequence[str] | None) -> str:
    """One line: the signal, the step, the checkpoint kept, and how to resume."""
    what = f"training stopped by {SIGNAL_NAMES.get(signum, f'signal {signum}')}"
    where = f"{what} after step {progress.step} of {progress.max_steps}"
    if progress.out_dir is None:
        return f"{where}; nothing is kept (no --out-dir)"
    ckpt = progress.out_dir / RUN_FILES[0]
    if progress.saved is None:
        kept = f"no checkpoint was written to {progress.out_dir} in this run"
        if ckpt.is_file():
            kept = f"{ckpt} is as it was before this run"
    else:
        kept = f"{ckpt} holds step {progress.saved}"
    if argv is None:
        how = "to carry on, train again with resume=True"
    elif progress.saved is None and not ckpt.is_file():
        how = "start it again with: " + shlex.join(["python", "-m", "llmbook.train", *argv])
    else:
        how = f"resume with: {resume_command(argv)}"
    return f"{where}; {kept}; {how}"


class _Terminated(BaseException):
    """Raised in the main thread by the SIGTERM handler."""


@contextlib.contextmanager
def guarded_run(
    out_dir: str | os.PathLike | None,
    max_steps: int,
    argv: Sequence[str] | None = None,
    is_main: bool = True,
) -> Iterator[Progress]:
    """Hold the output folder's lock (rank 0 only), remove its orphaned temp files, and turn
    Ctrl-C and SIGTERM into `RunInterrupted` with the one-line message.

    `argv`: the command-line flags, for the resume command in the message (None from Python).
    """
    folder = None if out_dir is None else Path(out_dir).expanduser()
    lock = None
    made = folder is not None and not folder.exists()
    if folder is not None and is_main and _can_hold(folder):
        lock = acquire(folder, list(argv or ()))
        remove_run_orphans(folder)
    progress = Progress(folder, 0, None, max_steps)
    ACTIVE.append(progress)
    previous = _catch_sigterm()
    try:
        yield progress
    except (KeyboardInterrupt, _Terminated) as exc:
        if isinstance(exc, RunInterrupted):
            raise
        signum = signal.SIGTERM if isinstance(exc, _Terminated) else signal.SIGINT
        message = interrupted_message(progress, signum, argv)
        raise RunInterrupted(message, EXIT_CODES[signum]) from None
    finally:
        ACTIVE.remove(progress)
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
        if lock is not None:
            release(lock)
            if made:  # a run refused before writing anything leaves no empty folder
                with contextlib.suppress(OSError):
                    lock.parent.rmdir()


def _can_hold(folder: Path) -> bool:
    """Whether a lock can be made in `folder`; if not, the run's own checks say why."""
    existing = folder
    while not existing.exists():
        existing = existing.parent
    return existing.is_dir() and os.access(existing, os.W_OK)


def _catch_sigterm() -> Any:
    """Make SIGTERM raise in the main thread (it would end the process at once); return the
    handler it replaced, or None where none was changed (another thread, or no SIGTERM)."""
    if threading.current_thread() is not threading.main_thread():
        return None

    def on_term(signum: int, frame: Any) -> None:
        raise _Terminated

    return signal.signal(signal.SIGTERM, on_term)
