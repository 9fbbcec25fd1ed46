"""Launch to the first frame: the real ``mlp-tui`` on a 120x40 pseudo-terminal, over several
turns, this checkout against another tree (``--old``, e.g. ``git archive main``) in alternating
turns, so that a busy machine slows both alike.

Two figures per launch: the first frame (the first thing drawn: the loading frame, or the
app's own frame in a tree without one) and the app ready (its status line, ``epoch ...``, drawn
with the app's first frame once torch, the data, the store and the trainer have loaded).

    python benchmarks/first_frame.py [--old DIR] [--turns N] [--data-dir DIR]

``DIR`` is a tree with the project's ``core/`` and ``tui/``: it runs from there with this venv.
"""

from __future__ import annotations

import argparse
import fcntl
import os
import pty
import select
import signal
import statistics
import struct
import sys
import tempfile
import termios
import time
from pathlib import Path

LOADING = b"Loading"  # tui/loading.py's MARKER
READY = b"epoch "  # in the status line, drawn with the app's first frame


def launch(pythonpath: str | None, args: list[str], timeout_s: float = 60.0):
    """Seconds from the fork to the first frame and to the app's, on a 120x40 pty."""
    started = time.perf_counter()
    pid, fd = pty.fork()
    if pid == 0:  # the child: a terminal of the designed size, then the app
        fcntl.ioctl(sys.stdout.fileno(), termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
        os.environ["TERM"] = "xterm-256color"
        if pythonpath:
            os.environ["PYTHONPATH"] = pythonpath
        os.execv(sys.executable, [sys.executable, "-m", "mlp_tui.tui.main", *args])
    seen, first = b"", None
    try:
        while time.perf_counter() - started < timeout_s:
            ready, _, _ = select.select([fd], [], [], 0.02)
            if not ready:
                continue
            try:
                seen = (seen + os.read(fd, 65536))[-8192:]
            except OSError:
                return first, None  # the app exited
            now = time.perf_counter() - started
            if first is None and (LOADING in seen or READY in seen):
                first = now
            if READY in seen:
                return first, now
        return first, None
    finally:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        os.close(fd)


def shim(tree: Path, into: Path) -> str:
    """A folder that makes ``mlp_tui.core``/``mlp_tui.tui`` the tree's (ahead of the editable
    install, whose finder comes after the path)."""
    package = into / "mlp_tui"
    package.mkdir()
    for part in ("core", "tui"):
        (package / part).symlink_to((tree / part).resolve())
    return str(into)


def summary(values: list[float | None]) -> str:
    got = [v for v in values if v is not None]
    if not got:
        return f"{'-':>7} {'-':>7}"
    return f"{statistics.median(got):7.2f} {min(got):7.2f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--old", type=Path, help="a tree to launch in turns with this one")
    parser.add_argument("--turns", type=int, default=5, help="launches of each (default 5)")
    parser.add_argument("--data-dir", help="the Fashion-MNIST folder (else mlp-tui finds it)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        trees: dict[str, str | None] = {"this tree": None}
        if args.old is not None:
            trees = {"old": shim(args.old, Path(tmp)), **trees}
        extra = ["--store", str(Path(tmp) / "runs.db")]  # the store's open is part of a launch
        if args.data_dir:
            extra += ["--data-dir", args.data_dir]
        firsts: dict[str, list] = {name: [] for name in trees}
        readies: dict[str, list] = {name: [] for name in trees}
        for turn in range(args.turns):
            for name, path in trees.items():
                first, ready = launch(path, extra)
                firsts[name].append(first)
                readies[name].append(ready)
                shown = [f"{v:.2f}" if v is not None else "-" for v in (first, ready)]
                print(f"turn {turn + 1}  {name:10} first frame {shown[0]} s  ready {shown[1]} s")
    print()
    print(f"{'':12} {'first frame (s)':>15} {'app ready (s)':>15}")
    print(f"{'':12} {'median':>7} {'min':>7} {'median':>7} {'min':>7}")
    for name in trees:
        print(f"{name:12} {summary(firsts[name])} {summary(readies[name])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
