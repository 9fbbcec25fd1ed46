"""The data's files read ahead on a thread while torch imports: the same bytes, never stale,
and errors left for the reader to say."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys

import pytest
from mlp_tui.core import data, data_files

from tests.conftest import write_dataset


@pytest.fixture
def ahead(tmp_path):
    folder = write_dataset(tmp_path / "d")
    data_files.prefetch(folder)
    data_files._thread.join()
    yield folder
    data_files._ahead.clear()
    data_files._thread, data_files._started_for = None, None


def test_prefetch_reads_the_four_files_inflated(ahead):
    files = data_files.locate(ahead)
    assert set(data_files._ahead) == set(files.values())
    for path in files.values():
        assert data_files._ahead[path][1] == gzip.decompress(path.read_bytes())


def test_what_was_read_ahead_is_what_loading_gives(ahead, tmp_path):
    loaded = data.load(ahead)
    data_files._ahead.clear()
    again = data.load(ahead)  # read now, nothing ahead
    assert loaded.fingerprint == again.fingerprint
    assert not data_files._ahead  # handed over, not kept


def test_a_file_changed_after_it_was_read_ahead_is_read_again(ahead):
    path = data_files.locate(ahead)["test_labels"]
    body = gzip.decompress(path.read_bytes())
    changed = body[:-1] + bytes([(body[-1] + 1) % 10])
    path.write_bytes(gzip.compress(changed))
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert data_files.read_bytes(path) == changed


def test_a_corrupt_file_read_ahead_is_still_named_by_the_loader(tmp_path):
    folder = write_dataset(tmp_path / "d")
    bad = folder / "t10k-images-idx3-ubyte.gz"
    bad.write_bytes(bad.read_bytes()[:100])  # a truncated download
    data_files.prefetch(folder)
    data_files._thread.join()  # the thread met the error and said nothing
    try:
        with pytest.raises(data.DataError, match="t10k-images-idx3-ubyte.gz: cannot be read"):
            data.load(folder)
    finally:
        data_files._ahead.clear()
        data_files._thread, data_files._started_for = None, None


def test_a_missing_folder_is_left_for_the_loader_to_say(tmp_path):
    data_files.prefetch(tmp_path / "nowhere")
    data_files._thread.join()
    with pytest.raises(data.DataError, match="is not a directory"):
        data.load(tmp_path / "nowhere")
    data_files._thread, data_files._started_for = None, None


def test_reading_ahead_needs_no_torch():
    """The point of the module: it runs before torch has loaded."""
    code = "import sys, mlp_tui.core.data_files; print('torch' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.strip() == "False", done.stderr


def test_an_unreadable_folder_is_one_line_and_no_read_ahead_traceback(
    tmp_path, monkeypatch, capsys
):
    """Without read permission on the folder, ``Path.is_file`` raises PermissionError (root
    ignores permissions, so the test makes it raise)."""
    import threading
    from pathlib import Path

    from mlp_tui.core.cli import main

    folder = write_dataset(tmp_path / "d")
    real_is_file = Path.is_file

    def is_file(path: Path) -> bool:
        if folder in path.parents:
            raise PermissionError(13, "Permission denied", str(path))
        return real_is_file(path)

    crashes: list = []
    monkeypatch.setattr(Path, "is_file", is_file)
    monkeypatch.setattr(threading, "excepthook", crashes.append)
    try:
        data_files.prefetch(folder)
        data_files._thread.join()
        assert crashes == []  # the read-ahead thread said nothing
        with pytest.raises(data.DataError) as err:
            data.load(folder)
        assert str(err.value) == f"--data-dir: cannot read {folder}: Permission denied"
        flags = ["--headless", "--epochs", "1", "--no-save", "--no-store"]
        assert main([*flags, "--data-dir", str(folder)]) == 2
    finally:
        data_files._ahead.clear()
        data_files._thread, data_files._started_for = None, None
    assert crashes == []
    said = capsys.readouterr().err
    assert said == f"mlp-tui: --data-dir: cannot read {folder}: Permission denied\n"
