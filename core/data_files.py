"""Where Fashion-MNIST's four IDX files lie, and their bytes read ahead: torch-free.

The launch imports torch (1.6 s for the CPU build, 2.3-4.6 s for the CUDA build on the 2-core
CI machine) before it can read the data; ``prefetch`` reads and decompresses the files on a
thread meanwhile (zlib lets go of the GIL while it inflates), and ``read_bytes`` hands them
over, or reads them itself when nothing was read ahead. Errors are never raised on the
thread: the reader meets them again and says them as it always does.
"""

from __future__ import annotations

import gzip
import os
import threading
from pathlib import Path

DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}


class DataError(RuntimeError):
    """The data cannot be found or read; the message names the file and says what to do."""


def cache_dir() -> Path:
    """The user cache dir where a download lands (``$XDG_CACHE_HOME/mlp-tui``)."""
    import platformdirs

    return Path(platformdirs.user_cache_dir("mlp-tui")) / "fashion-mnist"


def _layouts(directory: Path) -> tuple[Path, Path]:
    """Where the files may lie: flat in ``directory``, or torchvision's ``FashionMNIST/raw``."""
    return directory, directory / "FashionMNIST" / "raw"


def _is_file(path: Path, label: str, directory: Path) -> bool:
    """``path.is_file()``, or the DataError of a folder that cannot be searched: a folder
    without read or search permission makes ``is_file`` raise (PermissionError), which would
    otherwise come out as a traceback."""
    try:
        return path.is_file()
    except OSError as exc:
        where = f"{label}: " if label else ""
        raise DataError(f"{where}cannot read {directory}: {exc.strerror or exc}") from None


def _find_in(directory: Path, label: str = "") -> dict[str, Path] | None:
    """The four files in ``directory`` (flat, or torchvision's ``FashionMNIST/raw``), .gz or raw.
    Raises DataError when the folder cannot be read."""
    for base in _layouts(directory):
        found = {}
        for key, stem in FILES.items():
            for name in (stem, stem + ".gz"):
                if _is_file(base / name, label, directory):
                    found[key] = base / name
                    break
        if len(found) == len(FILES):
            return found
    return None


def how_to_provide() -> str:
    return (
        "Fashion-MNIST was not found. Provide it in one of these ways:\n"
        "  - pass --data-dir DIR (a folder with the four IDX files, .gz or not)\n"
        "  - set MLP_TUI_DATA=DIR\n"
        f"  - put the files in {cache_dir()}\n"
        "  - on Debian/Ubuntu: sudo apt-get install dataset-fashion-mnist\n"
        "  - go online with a working torchvision: mlp-tui downloads it into the cache dir"
    )


def locate(data_dir: str | os.PathLike | None = None) -> dict[str, Path] | None:
    """Search ``data_dir``, ``$MLP_TUI_DATA``, the cache dir, then Debian's dir, in that order.

    A directory the user named explicitly must exist and hold the files: silently falling back
    to another copy would hide a typo.
    """
    explicit = [("--data-dir", data_dir), ("MLP_TUI_DATA", os.environ.get("MLP_TUI_DATA"))]
    for label, value in explicit:
        if value:
            path = Path(value).expanduser()
            if not path.is_dir():
                raise DataError(f"{label}: {path} is not a directory")
            found = _find_in(path, label)
            if found is None:
                # Only the two layouts: a recursive search of --data-dir ~ or / could take minutes.
                missing = [
                    stem
                    for stem in FILES.values()
                    if not any(
                        _is_file(b / n, label, path)
                        for b in _layouts(path)
                        for n in (stem, stem + ".gz")
                    )
                ]
                raise DataError(
                    f"{label}: {path} does not hold the Fashion-MNIST files"
                    + (f" (missing: {', '.join(missing)})" if missing else "")
                )
            return found
    for path in (cache_dir(), DEBIAN_DIR):
        found = _find_in(path)
        if found is not None:
            return found
    return None


_ahead: dict[Path, tuple[tuple[int, int], bytes]] = {}  # path -> ((mtime_ns, size), bytes)
_thread: threading.Thread | None = None
_started_for: str | os.PathLike | None = None


def _stamp(path: Path) -> tuple[int, int]:
    info = path.stat()
    return info.st_mtime_ns, info.st_size


def _decompressed(path: Path) -> bytes:
    raw = path.read_bytes()
    return gzip.decompress(raw) if path.suffix == ".gz" else raw


def prefetch(data_dir: str | os.PathLike | None = None) -> None:
    """Start reading the files ``locate(data_dir)`` finds, on a daemon thread (once: a second
    call for the same folder does nothing)."""
    global _thread, _started_for
    if _thread is not None and _started_for == data_dir:
        return
    _started_for = data_dir
    _ahead.clear()  # nothing left over from an earlier launch in this process

    def read_all() -> None:
        try:
            files = locate(data_dir)
        except Exception:  # the reader meets it again and says it in one line
            return
        for path in (files or {}).values():
            try:
                stamp = _stamp(path)
                _ahead[path] = (stamp, _decompressed(path))
            except Exception:  # OSError, EOFError, zlib.error, MemoryError...
                continue  # the reader meets the error again and names the file

    _thread = threading.Thread(target=read_all, name="mlp-tui data prefetch", daemon=True)
    _thread.start()


def read_bytes(path: Path) -> bytes:
    """The file's decompressed bytes: read ahead when ``prefetch`` got them and the file has
    not changed since, else read now. Raises OSError, EOFError or zlib.error."""
    if _thread is not None:
        _thread.join()
    ahead = _ahead.pop(path, None)
    if ahead is not None:
        stamp, body = ahead
        try:
            if _stamp(path) == stamp:
                return body
        except OSError:
            pass
    return _decompressed(path)
