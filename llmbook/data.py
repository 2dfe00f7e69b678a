"""Text corpora: download once, check, cache; split into train/val; cut random batches.

Used from chapter 5 on; the GPT of chapter 13 trains on it.

`load_text()` returns Tiny Shakespeare (1,115,394 characters of Shakespeare's plays). The file is
kept in a cache folder: `$LLMBOOK_DATA_DIR` when set, otherwise `$XDG_CACHE_HOME/llmbook` or
`~/.cache/llmbook`. A cached file is used only when its sha256 matches; a download is checked
(size and sha256) before it is moved into place, so the cache never holds a partial or altered
file. Each mirror gets an overall deadline and must keep up a minimum rate, so a server that
trickles bytes is dropped for the next one; when all fail, the error names every URL with its
reason and says how to place the file by hand.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import socket
import tempfile
import time
import urllib.error
import urllib.request
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import torch
from tqdm.auto import tqdm

from llmbook.files import default_file_mode, fsync_folder, remove_orphans, temp_prefix

_CHUNK_BYTES = 1 << 16
_TIMEOUT_S = 30  # the longest wait for any one reply or block
DEADLINE_S = 300.0  # the longest time one mirror is given for the whole file
MIN_BYTES_PER_S = 8_000  # slower than this on average (after GRACE_S) and the next mirror is tried
GRACE_S = 10.0


@dataclass(frozen=True)
class Corpus:
    """A text file we know how to fetch and check."""

    name: str
    filename: str  # name of the file in the cache folder
    urls: tuple[str, ...]  # tried in order; the first that gives the right bytes wins
    sha256: str
    size: int  # bytes


CORPORA: dict[str, Corpus] = {
    "tinyshakespeare": Corpus(
        name="tinyshakespeare",
        filename="tinyshakespeare.txt",
        urls=(
            # The original: karpathy/char-rnn, the file nanoGPT's shakespeare_char downloads.
            "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt",
            # The same file through github.com's /raw/ path (a different host, which then
            # redirects), in case raw.githubusercontent.com is blocked.
            "https://github.com/karpathy/char-rnn/raw/master/data/tinyshakespeare/input.txt",
            # torch-rnn ships a copy of it; we could not compare it byte for byte, but the
            # sha256 check below rejects it if it differs.
            "https://raw.githubusercontent.com/jcjohnson/torch-rnn/master/data/tiny-shakespeare.txt",
        ),
        sha256="86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed",
        size=1_115_394,
    ),
}


class DownloadError(RuntimeError):
    """No URL gave the right file."""


def data_dir() -> Path:
    """The cache folder: $LLMBOOK_DATA_DIR, else $XDG_CACHE_HOME/llmbook, else ~/.cache/llmbook.

    ValueError if that path exists and is not a folder.
    """
    if os.environ.get("LLMBOOK_DATA_DIR"):
        folder = Path(os.environ["LLMBOOK_DATA_DIR"]).expanduser()
        where = f"LLMBOOK_DATA_DIR={os.environ['LLMBOOK_DATA_DIR']}"
    else:
        cache_home = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
        folder = Path(cache_home).expanduser() / "llmbook"
        where = f"the cache folder {folder}"
    if folder.exists() and not folder.is_dir():
        hint = ""
        if folder.name in {c.filename for c in CORPORA.values()}:
            hint = f"; set it to the folder that holds the file, {folder.parent}"
        raise ValueError(f"{where} is a file, not a folder{hint}")
    return folder


@dataclass(frozen=True)
class Limits:
    """How long one mirror may take: an overall deadline, and a minimum average rate that is
    enforced once `grace_s` seconds have passed (a server that trickles bytes never trips the
    per-read timeout, but it does trip these)."""

    deadline_s: float = DEADLINE_S
    min_bytes_per_s: float = MIN_BYTES_PER_S
    grace_s: float = GRACE_S
    read_timeout_s: float = _TIMEOUT_S

    def __post_init__(self) -> None:
        for name in ("deadline_s", "min_bytes_per_s", "grace_s", "read_timeout_s"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise TypeError(f"{name} must be a number, got {value!r}")
            if not 0 <= value < float("inf") or (name != "min_bytes_per_s" and value == 0):
                raise ValueError(f"{name} must be a finite number > 0, got {value!r}")

    def check(self, received: int, elapsed: float) -> None:
        """TimeoutError if the deadline has passed or the rate is too low."""
        if elapsed > self.deadline_s:
            raise TimeoutError(
                f"gave up after the deadline of {self.deadline_s:g} s per mirror, with "
                f"{received:,} bytes received"
            )
        rate = received / elapsed if elapsed > 0 else float("inf")
        if elapsed > self.grace_s and rate < self.min_bytes_per_s:
            raise TimeoutError(
                f"too slow: {received:,} bytes in {elapsed:.1f} s ({rate:,.0f} bytes/s), below "
                f"the minimum of {self.min_bytes_per_s:,.0f} bytes/s"
            )


def _corpus(name: str) -> Corpus:
    if not isinstance(name, str):
        raise TypeError(f"corpus name must be a string, got {name!r}")
    if name not in CORPORA:
        raise ValueError(f"unknown corpus {name!r}; known corpora: {sorted(CORPORA)}")
    return CORPORA[name]


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(_CHUNK_BYTES), b""):
            digest.update(block)
    return digest.hexdigest()


def _check(path: Path, corpus: Corpus) -> str | None:
    """None if the file is the right one, else what is wrong with it (expected vs got)."""
    size = path.stat().st_size
    if size != corpus.size:
        return f"expected {corpus.size:,} bytes, got {size:,} bytes"
    digest = sha256_of(path)
    if digest != corpus.sha256:
        return f"expected sha256 {corpus.sha256}, got {digest}"
    return None


def _download_one(url: str, folder: Path, corpus: Corpus, limits: Limits) -> Path:
    """Stream `url` to a temp file in `folder` and check it; return the temp path.

    Raises OSError or http.client.HTTPException (network, HTTP, TimeoutError for the deadline
    or the minimum rate) or ValueError (wrong size or sha256); the temp file is removed on any
    failure.
    """
    started = time.monotonic()
    target = folder / corpus.filename
    fd, tmp_name = tempfile.mkstemp(dir=folder, prefix=temp_prefix(target), suffix=".part")
    tmp = Path(tmp_name)
    try:
        timeout = min(limits.read_timeout_s, limits.deadline_s)
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as response:
            total = _content_length(response.headers.get("Content-Length"), corpus.size)
            with tqdm(total=total, unit="B", unit_scale=True, desc=corpus.filename) as bar:
                written = 0
                # read1: whatever has arrived (at most one network read), so that the clock
                # is looked at often even when the server trickles
                while block := response.read1(_CHUNK_BYTES):
                    written += len(block)
                    if written > corpus.size:  # never stream an endless or wrong file to disk
                        raise ValueError(f"expected {corpus.size:,} bytes, got more")
                    out.write(block)
                    bar.update(len(block))
                    limits.check(written, time.monotonic() - started)
        problem = _check(tmp, corpus)
        if problem:
            raise ValueError(problem)
        return tmp
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _content_length(header: str | None, expected: int) -> int:
    """The size a server announces, for the progress bar only (the file is checked by its own
    size and sha256): `expected` when the header is missing or not a number of bytes."""
    try:
        size = int(header or expected)
    except ValueError:
        return expected
    return size if 0 < size < 1 << 40 else expected


def _reason(exc: BaseException, limits: Limits) -> str:
    """Why one URL failed, in words: 'HTTP Error 404: Not Found', 'no data for 30 s', ..."""
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP Error {exc.code}: {exc.reason}"
    if isinstance(exc, urllib.error.URLError):
        reason = exc.reason
        if isinstance(reason, TimeoutError | socket.timeout):
            return f"no answer for {limits.read_timeout_s:g} s (timed out)"
        return f"cannot connect: {getattr(reason, 'strerror', None) or reason}"
    if isinstance(exc, TimeoutError) and str(exc) in ("", "timed out"):  # a socket timeout
        return f"no data for {limits.read_timeout_s:g} s (timed out)"
    return str(exc) or type(exc).__name__


def _check_writable(folder: Path) -> None:
    """ValueError unless files can be made in `folder` (made if missing)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise ValueError(
            f"cannot write to the data folder {folder} ({exc.strerror or exc}); set the "
            f"environment variable LLMBOOK_DATA_DIR to a folder you can write to"
        ) from None


def download(
    corpus: Corpus, folder: Path, urls: Sequence[str] | None = None, limits: Limits | None = None
) -> Path:
    """Fetch `corpus` into `folder`, trying each URL in turn; return the checked file's path.

    Each URL gets `limits` (an overall deadline and a minimum rate); then the next is tried.
    The file appears in `folder` only after its size and sha256 are right (atomic os.replace);
    temp files of earlier downloads that were killed are removed first.
    """
    urls = list(corpus.urls if urls is None else urls)
    if not urls:
        raise ValueError(f"no URL to download {corpus.name!r} from")
    limits = Limits() if limits is None else limits
    _check_writable(folder)
    target = folder / corpus.filename
    remove_orphans(target, suffix=".part")
    tried = []
    for url in urls:
        try:
            tmp = _download_one(url, folder, corpus, limits)
        except (OSError, http.client.HTTPException, ValueError) as exc:  # HTTPError is an OSError
            tried.append(f"  {url}: {_reason(exc, limits)}")
            continue
        os.chmod(tmp, default_file_mode())  # mkstemp made it 0600; the cache is the user's
        os.replace(tmp, target)
        fsync_folder(folder)
        return target
    raise DownloadError(
        f"could not download {corpus.name!r}; tried:\n"
        + "\n".join(tried)
        + f"\nTo place it by hand, save the file (sha256 {corpus.sha256}, {corpus.size:,} bytes)"
        f" as {target}, or put it in any folder as {corpus.filename} and set the environment"
        " variable LLMBOOK_DATA_DIR to that folder."
    )


def fetch(
    name: str = "tinyshakespeare", urls: Sequence[str] | None = None, limits: Limits | None = None
) -> Path:
    """Path of the checked, cached file for corpus `name`, downloading it if needed."""
    corpus = _corpus(name)
    folder = data_dir()
    path = folder / corpus.filename
    if path.is_file():
        problem = _check(path, corpus)
        if problem is None:
            return path
        warnings.warn(
            f"cached file {path} is not the right {name!r} ({problem}); downloading it again",
            stacklevel=2,
        )
    return download(corpus, folder, urls, limits)


def load_text(
    name: str = "tinyshakespeare", urls: Sequence[str] | None = None, limits: Limits | None = None
) -> str:
    """The text of corpus `name` (default Tiny Shakespeare), from the cache or the network.

    `urls` replaces the corpus's own list of mirrors (tests point it at a local server);
    `limits` the time each mirror is given.
    """
    return fetch(name, urls, limits).read_text(encoding="utf-8")


T = TypeVar("T", str, list, torch.Tensor)


def train_val_split(data: T, fraction: float = 0.9) -> tuple[T, T]:
    """First `fraction` of `data` for training, the rest for validation (no shuffling).

    As in nanoGPT: Tiny Shakespeare gives 1,003,854 training and 111,540 validation characters.
    """
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"fraction must be between 0 and 1 (exclusive), got {fraction!r}")
    n = int(fraction * len(data))
    return data[:n], data[n:]


def get_batch(
    data: torch.Tensor,
    batch_size: int,
    block_size: int,
    generator: torch.Generator | None = None,
    device: str | torch.device = "cpu",
) -> tuple[torch.Tensor, torch.Tensor]:
    """`batch_size` random windows of `block_size` tokens, and the same windows shifted by one.

    y[b, t] is the token that follows x[b, t]: the target the model must predict there.
    """
    if not isinstance(data, torch.Tensor) or data.dim() != 1:
        raise TypeError(f"data must be a 1-D tensor of token ids, got {type(data).__name__}")
    if batch_size <= 0 or block_size <= 0:
        raise ValueError(
            f"batch_size and block_size must be positive, got {batch_size} and {block_size}"
        )
    if len(data) < block_size + 1:
        raise ValueError(
            f"data has {len(data)} tokens; a block of {block_size} needs at least {block_size + 1}"
        )
    starts = torch.randint(len(data) - block_size, (batch_size,), generator=generator)  # (B,)
    x = torch.stack([data[i : i + block_size] for i in starts.tolist()])  # (B, T)
    y = torch.stack([data[i + 1 : i + 1 + block_size] for i in starts.tolist()])  # (B, T)
    return x.to(device), y.to(device)
