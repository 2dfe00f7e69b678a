"""Files that are either whole or absent: atomic writes, durable renames, no orphan temp files.

Used by `llmbook.checkpoint` (checkpoints, logs) and `llmbook.data` (downloads). A file is
written to a temp file beside its final name, synced to disk, renamed into place with
`os.replace` (atomic), and the rename is synced too. A process killed half way leaves only its
temp file, which the next write of the same file removes (and `llmbook.runlock` when a run
starts in the folder). The finished file gets the user's umask (`default_file_mode`).
"""

from __future__ import annotations

import contextlib
import glob
import os
import socket
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO


def temp_prefix(path: Path) -> str:
    """The start of the names of `path`'s temp files: .NAME.HOST.PID. (see remove_orphans)."""
    return f".{path.name}.{socket.gethostname()}.{os.getpid()}."


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # it exists, owned by someone else (or we cannot tell: keep its file)
    return True


def remove_orphans(
    path: str | os.PathLike, suffix: str = ".tmp", max_age_s: float = 3600
) -> list[Path]:
    """Delete the temp files that killed writes of `path` left beside it; return them.

    A temp file is named .NAME.HOST.PID.RANDOM.tmp. It is an orphan when its process on this
    host is gone (or is this process, which has no write in flight), or when it was written on
    another host and untouched for `max_age_s` seconds; a write in flight is never touched.
    """
    path = Path(path)
    removed = []
    host = socket.gethostname()
    for tmp in path.parent.glob(f".{glob.escape(path.name)}.*{suffix}"):
        parts = tmp.name[len(path.name) + 2 :].split(".")
        with contextlib.suppress(OSError):  # gone meanwhile, or not ours to delete
            if not _is_orphan(tmp, parts, host, max_age_s):
                continue
            tmp.unlink()
            removed.append(tmp)
    return removed


def _is_orphan(tmp: Path, parts: list[str], host: str, max_age_s: float) -> bool:
    """parts: the name after '.NAME.', split at dots: HOST (may hold dots), PID, RANDOM, tmp."""
    if len(parts) >= 4 and parts[-3].isdigit() and ".".join(parts[:-3]) == host:
        pid = int(parts[-3])
        return pid == os.getpid() or not _process_alive(pid)
    return time.time() - tmp.stat().st_mtime > max_age_s  # another host, or an old-style name


def fsync_folder(folder: str | os.PathLike) -> None:
    """Make a rename inside `folder` durable (a no-op where folders cannot be opened)."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def default_file_mode() -> int:
    """The permissions a new file gets from open(): 0o666 less the process's umask (0o644 with
    the usual umask 022). Temp files are made 0o600; the finished file gets these."""
    mask = os.umask(0o022)  # the only way to read the umask is to set it, so set it back
    os.umask(mask)
    return 0o666 & ~mask


def _naming(exc: OSError, path: Path) -> OSError:
    """The same error, its message naming `path` (the user's file, not a temp file)."""
    if str(exc).startswith(f"cannot write {path}"):
        return exc
    error = OSError(f"cannot write {path}: {exc.strerror or exc}")
    error.errno = exc.errno
    return error


def write_atomic(path: str | os.PathLike, write: Callable[[IO[bytes]], None]) -> Path:
    """Call `write` on a temp file beside `path`, fsync it, os.replace it into place, fsync the
    folder. Orphans of earlier killed writes are removed first; a failed write leaves none.

    The file gets the user's usual permissions (`default_file_mode`); an OSError (a full disk,
    no permission) names `path`, not the hidden temp file.
    """
    path = Path(path).expanduser()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        remove_orphans(path)
        fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=temp_prefix(path), suffix=".tmp")
    except OSError as exc:
        raise _naming(exc, path) from None
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp_name, default_file_mode())
        os.replace(tmp_name, path)
    except OSError as exc:
        Path(tmp_name).unlink(missing_ok=True)
        raise _naming(exc, path) from None
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    fsync_folder(path.parent)
    return path
