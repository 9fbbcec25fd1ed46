"""Launch to the first frame: the real ``mlp-tui`` on a 120x40 pseudo-terminal, over several
turns, this checkout against another tree (``--old``, e.g. ``git archive main``) in alternating
turns, so that a busy machine slows both alike.

Four figures per launch: the first frame (the first thing drawn: the loading frame, or the
app's own frame in a tree without one), the app's frame (its first: the starting screen's
``LOADING`` badge, drawn before torch has loaded, or in a tree without one the training
screen), the app ready (the training screen's status line, ``epoch ...``, once torch, the
data, the store and the trainer have loaded) and the first batch (the status line's
``batch N/...`` past 0: training under way).

    python benchmarks/first_frame.py [--old DIR] [--turns N] [--data-dir DIR]

``DIR`` is a tree with the project's ``core/`` and ``tui/``: it runs from there with this venv.
"""

from __future__ import annotations

import argparse
import fcntl
import os
import pty
import re
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
STARTING = b" LOADING "  # the starting screen's badge (tui/screens/starting.py)
READY = re.compile(rb"epoch \d+/\d+")  # the training screen's status line
TRAINING = re.compile(rb"batch +[1-9][0-9]*/")  # the status line once a batch has been shown


def launch(pythonpath: str | None, args: list[str], timeout_s: float = 60.0):
    """Seconds from the fork to the first frame, to the app's first frame, to the training
    screen and to the first batch shown, on a 120x40 pty (None for what did not come)."""
    started = time.perf_counter()
    pid, fd = pty.fork()
    if pid == 0:  # the child: a terminal of the designed size, then the app
        fcntl.ioctl(sys.stdout.fileno(), termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
        os.environ["TERM"] = "xterm-256color"
        if pythonpath:
            os.environ["PYTHONPATH"] = pythonpath
        os.execv(sys.executable, [sys.executable, "-m", "mlp_tui.tui.main", *args])
    seen, first, frame, app = b"", None, None, None
    try:
        while time.perf_counter() - started < timeout_s:
            ready, _, _ = select.select([fd], [], [], 0.02)
            if not ready:
                continue
            try:
                seen = (seen + os.read(fd, 65536))[-8192:]
            except OSError:
                return first, frame, app, None  # the app exited
            now = time.perf_counter() - started
            if first is None and (LOADING in seen or STARTING in seen or READY.search(seen)):
                first = now
            if frame is None and (STARTING in seen or READY.search(seen)):
                frame = now
            if app is None and READY.search(seen):
                app = now
            if app is not None and TRAINING.search(seen):
                return first, frame, app, now
        return first, frame, app, None
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
        figures: dict[str, list[list]] = {name: [[], [], [], []] for name in trees}
        for turn in range(args.turns):
            for name, path in trees.items():
                got = launch(path, extra)
                for column, value in zip(figures[name], got, strict=True):
                    column.append(value)
                first, frame, ready, batch = (f"{v:.2f}" if v is not None else "-" for v in got)
                print(f"turn {turn + 1}  {name:10} first frame {first} s  app's frame {frame} s"
                      f"  ready {ready} s  first batch {batch} s")  # fmt: skip
    print()
    heads = ("first frame (s)", "app's frame (s)", "app ready (s)", "first batch (s)")
    print(f"{'':12}" + "".join(f" {head:>15}" for head in heads))
    print(f"{'':12}" + f" {'median':>7} {'min':>7}" * 4)
    for name in trees:
        print(f"{name:12} " + " ".join(summary(column) for column in figures[name]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
