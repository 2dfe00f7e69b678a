from __future__ import annotations

import contextlib
import hashlib
import shutil
import socket
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import torch

from llmbook import data
from llmbook.data import CORPORA, DownloadError, Limits, get_batch, load_text, train_val_split

SHA = "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed"
SIZE = 1_115_394


@pytest.fixture(scope="module")
def good_bytes(shared_data_dir: Path) -> bytes:
    return (shared_data_dir / "tinyshakespeare.txt").read_bytes()


@pytest.fixture(scope="module")
def server(good_bytes: bytes):
    """A local HTTP server: /good, /truncated, /altered, /cut-off, /error500; counts requests."""
    altered = bytearray(good_bytes)
    altered[1000] ^= 0x20  # flip the case of one letter: same size, other sha256
    bodies = {
        "/good": good_bytes,
        "/truncated": good_bytes[: len(good_bytes) // 2],
        "/altered": bytes(altered),
    }
    hits: Counter[str] = Counter()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hits[self.path] += 1
            if self.path in ("/slow-drip", "/stall"):
                self.send_slowly(good_bytes, 0 if self.path == "/stall" else 200)
                return
            if self.path == "/cut-off":  # promises the whole file, sends half, hangs up
                self.send_response(200)
                self.send_header("Content-Length", str(len(good_bytes)))
                self.end_headers()
                self.wfile.write(good_bytes[: len(good_bytes) // 2])
                self.close_connection = True
                return
            body = bodies.get(self.path)
            if body is None:
                self.send_error(500 if self.path == "/error500" else 404)
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def send_slowly(self, body: bytes, chunk: int) -> None:
            """Promise the whole file, then send `chunk` bytes every 0.1 s (none: stall) until
            the client gives up or 3 s have passed; the server stops by itself."""
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.close_connection = True
            stop = time.monotonic() + 3.0
            with contextlib.suppress(OSError):  # the client hung up: what the test wants
                sent = 0
                while time.monotonic() < stop:
                    self.wfile.write(body[sent : sent + chunk])
                    self.wfile.flush()
                    sent += chunk
                    time.sleep(0.1)

        def log_message(self, *args: object) -> None:  # keep test output quiet
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{httpd.server_address[1]}"
    yield base, hits
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("LLMBOOK_DATA_DIR", str(tmp_path))
    return tmp_path


def test_registry_knows_tinyshakespeare():
    corpus = CORPORA["tinyshakespeare"]
    assert corpus.sha256 == SHA
    assert corpus.size == SIZE
    assert corpus.urls[0] == (
        "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt"
    )
    assert len(corpus.urls) >= 2


def test_cache_folder_follows_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.setenv("LLMBOOK_DATA_DIR", str(tmp_path / "d"))
    assert data.data_dir() == tmp_path / "d"
    monkeypatch.delenv("LLMBOOK_DATA_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert data.data_dir() == tmp_path / "xdg" / "llmbook"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert data.data_dir() == Path.home() / ".cache" / "llmbook"


def test_unknown_corpus_lists_known_names():
    with pytest.raises(ValueError, match=r"unknown corpus 'nope'.*tinyshakespeare"):
        load_text("nope")


def test_shared_copy_loads_without_network(shared_data_dir: Path, tmp_path, monkeypatch):
    copy = tmp_path / "data"
    shutil.copytree(shared_data_dir, copy)
    monkeypatch.setenv("LLMBOOK_DATA_DIR", str(copy))
    text = load_text(urls=["http://127.0.0.1:9/never-asked"])
    assert len(text) == SIZE
    assert len(set(text)) == 65
    assert text.startswith("First Citizen:\nBefore we proceed any further, hear me speak.")
    assert hashlib.sha256(text.encode("utf-8")).hexdigest() == SHA


def test_good_download_is_cached_and_equals_shared_copy(server, cache: Path, good_bytes: bytes):
    base, _ = server
    text = load_text(urls=[f"{base}/good"])
    assert text.encode("utf-8") == good_bytes
    assert [p.name for p in cache.iterdir()] == ["tinyshakespeare.txt"]
    assert (cache / "tinyshakespeare.txt").read_bytes() == good_bytes


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/truncated", f"expected {SIZE:,} bytes, got {SIZE // 2:,} bytes"),
        ("/altered", f"expected sha256 {SHA}, got [0-9a-f]{{64}}"),
    ],
)
def test_bad_download_raises_and_leaves_nothing(server, cache: Path, path: str, message: str):
    base, _ = server
    with pytest.raises(DownloadError, match=message) as info:
        load_text(urls=[f"{base}{path}"])
    assert "LLMBOOK_DATA_DIR" in str(info.value)
    assert list(cache.iterdir()) == []


def test_http_error_falls_back_to_next_mirror(server, cache: Path, good_bytes: bytes):
    base, hits = server
    before = hits.copy()
    text = load_text(urls=[f"{base}/error500", f"{base}/good"])
    assert text.encode("utf-8") == good_bytes
    assert hits["/error500"] - before["/error500"] == 1
    assert hits["/good"] - before["/good"] == 1


def test_all_mirrors_failing_lists_what_was_tried(server, cache: Path):
    base, _ = server
    with pytest.raises(DownloadError) as info:
        load_text(urls=[f"{base}/error500", f"{base}/truncated"])
    message = str(info.value)
    assert f"{base}/error500: HTTP Error 500" in message
    assert f"{base}/truncated: expected {SIZE:,} bytes" in message
    assert "LLMBOOK_DATA_DIR" in message
    assert list(cache.iterdir()) == []


def test_cache_hit_makes_no_request(server, cache: Path):
    base, hits = server
    load_text(urls=[f"{base}/good"])
    before = sum(hits.values())
    assert len(load_text(urls=[f"{base}/good"])) == SIZE
    assert sum(hits.values()) == before


def test_bad_cached_file_is_replaced(server, cache: Path, good_bytes: bytes):
    base, hits = server
    (cache / "tinyshakespeare.txt").write_bytes(good_bytes[:100])
    before = hits["/good"]
    with pytest.warns(UserWarning, match=r"is not the right 'tinyshakespeare' \(expected"):
        text = load_text(urls=[f"{base}/good"])
    assert hits["/good"] == before + 1
    assert text.encode("utf-8") == good_bytes
    assert (cache / "tinyshakespeare.txt").read_bytes() == good_bytes


def test_split_matches_nanogpt():
    text = "a" * SIZE
    train, val = train_val_split(text)
    assert (len(train), len(val)) == (1_003_854, 111_540)
    ids = torch.arange(10)
    train_ids, val_ids = train_val_split(ids, fraction=0.8)
    assert train_ids.tolist() == list(range(8))
    assert val_ids.tolist() == [8, 9]


@pytest.mark.parametrize("fraction", [0.0, 1.0, -0.5, 1.5])
def test_split_rejects_bad_fraction(fraction: float):
    with pytest.raises(ValueError, match="fraction"):
        train_val_split("abcdef", fraction)


def test_get_batch_targets_are_inputs_shifted_by_one():
    ids = torch.arange(100) * 3
    g = torch.Generator().manual_seed(0)
    x, y = get_batch(ids, batch_size=4, block_size=8, generator=g)
    assert x.shape == y.shape == (4, 8)
    assert torch.equal(y[:, :-1], x[:, 1:])
    assert torch.equal(y[:, -1], x[:, -1] + 3)
    starts = x[:, 0] // 3
    assert torch.equal(x, ids[starts[:, None] + torch.arange(8)])  # real windows of the data


def test_get_batch_is_reproducible_and_reaches_the_last_token():
    ids = torch.arange(5)
    x1, _ = get_batch(ids, 64, 4, generator=torch.Generator().manual_seed(1))
    x2, _ = get_batch(ids, 64, 4, generator=torch.Generator().manual_seed(1))
    assert torch.equal(x1, x2)
    _, y = get_batch(ids, 1, 4)
    assert y.tolist() == [[1, 2, 3, 4]]  # the only window that fits


@pytest.mark.parametrize(
    ("length", "batch_size", "block_size", "message"),
    [
        (8, 2, 8, "data has 8 tokens; a block of 8 needs at least 9"),
        (20, 0, 4, "must be positive"),
        (20, 2, 0, "must be positive"),
    ],
)
def test_get_batch_rejects_bad_sizes(length, batch_size, block_size, message):
    with pytest.raises(ValueError, match=message):
        get_batch(torch.arange(length), batch_size, block_size)


def test_connection_cut_off_mid_file_leaves_nothing(server, cache: Path):
    base, _ = server
    with pytest.raises(DownloadError, match="/cut-off: "):
        load_text(urls=[f"{base}/cut-off"])
    assert list(cache.iterdir()) == []


def test_download_shows_a_progress_bar(server, cache: Path, capsys: pytest.CaptureFixture):
    base, _ = server
    load_text(urls=[f"{base}/good"])
    bar = capsys.readouterr().err
    assert "tinyshakespeare.txt" in bar
    assert "100%" in bar and "1.12M/1.12M" in bar


def test_cache_hit_shows_no_progress_bar(server, cache: Path, capsys: pytest.CaptureFixture):
    base, _ = server
    load_text(urls=[f"{base}/good"])
    capsys.readouterr()
    load_text(urls=[f"{base}/good"])
    assert capsys.readouterr().err == ""


# --- slow, stalled and unreachable mirrors; a bad cache folder --------------------------------


def test_slow_drip_mirror_is_dropped_at_its_deadline_for_the_next(
    server, cache: Path, good_bytes: bytes
):
    """200 bytes every 0.1 s never trips the per-read timeout; the deadline per mirror does."""
    base, _ = server
    limits = Limits(deadline_s=0.5, min_bytes_per_s=0, grace_s=10)
    started = time.monotonic()
    text = load_text(urls=[f"{base}/slow-drip", f"{base}/good"], limits=limits)
    assert time.monotonic() - started < 2.5
    assert text.encode("utf-8") == good_bytes
    assert [p.name for p in cache.iterdir()] == ["tinyshakespeare.txt"]


def test_a_mirror_below_the_minimum_rate_is_dropped(server, cache: Path):
    base, _ = server
    limits = Limits(deadline_s=60, min_bytes_per_s=100_000, grace_s=0.3, read_timeout_s=0.3)
    started = time.monotonic()
    with pytest.raises(DownloadError) as info:
        load_text(urls=[f"{base}/slow-drip", f"{base}/stall"], limits=limits)
    assert time.monotonic() - started < 2.5
    message = str(info.value)
    assert f"{base}/slow-drip: too slow: " in message
    assert "below the minimum of 100,000 bytes/s" in message
    assert f"{base}/stall: no data for 0.3 s (timed out)" in message
    assert f"save the file (sha256 {SHA}, {SIZE:,} bytes) as {cache / 'tinyshakespeare.txt'}" in (
        message
    )
    assert list(cache.iterdir()) == []


def test_an_unreachable_mirror_says_it_cannot_connect(cache: Path):
    with socket.socket() as s:  # a port that nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(DownloadError, match=f"127.0.0.1:{port}/x: cannot connect: "):
        load_text(urls=[f"http://127.0.0.1:{port}/x"])


def test_temp_files_of_a_killed_download_are_removed(server, cache: Path):
    base, _ = server
    orphan = cache / f".tinyshakespeare.txt.{socket.gethostname()}.{2**22 + 7}.abc.part"
    orphan.write_bytes(b"half a file")
    load_text(urls=[f"{base}/good"])
    assert [p.name for p in cache.iterdir()] == ["tinyshakespeare.txt"]


def test_data_dir_that_is_a_file_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    the_file = tmp_path / "tinyshakespeare.txt"
    the_file.write_text("x")
    monkeypatch.setenv("LLMBOOK_DATA_DIR", str(the_file))
    hint = f"is a file, not a folder; set it to the folder that holds the file, {tmp_path}"
    with pytest.raises(ValueError, match=hint):
        load_text()
    monkeypatch.setenv("LLMBOOK_DATA_DIR", "~/llmbook-data")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert data.data_dir() == tmp_path / "llmbook-data"


def test_a_data_dir_that_cannot_be_written_is_refused(cache: Path, monkeypatch: pytest.MonkeyPatch):
    def read_only(*args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(data.tempfile, "TemporaryFile", read_only)
    with pytest.raises(
        ValueError, match=r"cannot write to the data folder .* \(Permission denied\)"
    ):
        load_text(urls=["http://127.0.0.1:9/never-asked"])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"deadline_s": 0}, "deadline_s must be a finite number > 0, got 0"),
        ({"deadline_s": float("inf")}, "deadline_s must be a finite number > 0, got inf"),
        ({"min_bytes_per_s": -1}, "min_bytes_per_s must be a finite number"),
        ({"grace_s": float("nan")}, "grace_s must be a finite number > 0, got nan"),
    ],
)
def test_bad_limits_are_refused(kwargs: dict, message: str):
    with pytest.raises(ValueError, match=message):
        Limits(**kwargs)
