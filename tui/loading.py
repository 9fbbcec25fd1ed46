"""The loading frame: what a launch on a terminal shows at once, while Textual and the app
import (0.3 s), before the app draws its own first frame (``screens/starting.py``), which then
shows torch, the data and the run loading.

It is a few escape codes, not Textual, so that it costs nothing to draw. The frame takes the
alternate screen, says what is loading on the row where the app's status line will be, and
turns the terminal's echo off so that keys typed meanwhile do not scribble on it.

Everything written to stderr while it is up (argparse's errors, a data folder without the
files, a warning) is held back and written once the terminal is restored, so a bad input still
reads as one line on the shell's screen and the app never starts. Only the standard library
here: importing this must cost nothing.
"""

from __future__ import annotations

import os
import signal
import sys
import tempfile
import termios
from typing import IO

ENTER = "\x1b[?1049h\x1b[?25l\x1b[2J\x1b[H"  # alternate screen, cursor hidden, cleared
LEAVE = "\x1b[2J\x1b[?25h\x1b[?1049l"  # cleared, cursor shown, the shell's screen back
STATUS = "  Loading   torch, the data and the run…"  # where the app's status line goes
MARKER = "Loading"  # what benchmarks/first_frame.py watches for


class Terminated(BaseException):
    """SIGTERM while the frame is up: raised so that the terminal is restored on the way out
    (the default action would kill the process on the alternate screen, echo off)."""


def _terminated(signum: int, frame: object) -> None:
    raise Terminated


class LoadingFrame:
    """A context: the frame from ``__enter__`` until ``hand_over`` (the app is about to draw)
    or the end of the block (something failed: the shell's screen comes back, then what was
    written to stderr meanwhile). Off unless stdin and stderr (where Textual draws) are a
    terminal, so a pipe or a test's captured output sees exactly what it saw before."""

    def __init__(self, fd: int = 2) -> None:
        self.fd = fd
        self.active = False
        self._termios: list | None = None
        self._saved_fd: int | None = None
        self._held: IO[bytes] | None = None
        self._sigterm: object = None

    def __enter__(self) -> LoadingFrame:
        try:
            if not (os.isatty(0) and os.isatty(self.fd)):
                return self
            cols = os.get_terminal_size(self.fd).columns or len(STATUS)  # 0: not told
            self._termios = termios.tcgetattr(0)
        except OSError:
            return self
        quiet = list(self._termios)
        quiet[3] &= ~termios.ECHO
        termios.tcsetattr(0, termios.TCSANOW, quiet)
        sys.stderr.flush()
        held = self._held = tempfile.TemporaryFile()
        self._saved_fd = os.dup(2)
        os.dup2(held.fileno(), 2)
        self.active = True
        # SIGTERM's handler goes in before the frame is drawn: a SIGTERM sent on seeing the
        # frame must find it (before, one sent at once killed the process on the alternate
        # screen, echo off); one that lands in here restores the terminal on its way out
        self._sigterm = signal.getsignal(signal.SIGTERM)
        try:
            signal.signal(signal.SIGTERM, _terminated)
            os.write(self._saved_fd, (ENTER + f"\x1b[1m{STATUS[:cols]}\x1b[0m").encode())
        except Terminated:
            self._release(leave=True)
            raise
        return self

    def hand_over(self) -> None:
        """The app draws next: give the terminal back as it was (echo on: Textual saves the
        terminal's modes and restores them at its end), staying on the alternate screen,
        which Textual takes over, unless something was written to stderr meanwhile: that is
        shown on the shell's screen, where it would have been before."""
        if self.active:
            self._release(leave=bool(self._held and self._held.tell()))

    def __exit__(self, *exc: object) -> None:
        if self.active:
            self._release(leave=True)

    def _release(self, leave: bool) -> None:
        self.active = False
        signal.signal(signal.SIGTERM, self._sigterm)  # type: ignore[arg-type]
        sys.stderr.flush()
        assert self._saved_fd is not None and self._held is not None
        os.dup2(self._saved_fd, 2)
        os.close(self._saved_fd)
        if leave:
            os.write(self.fd, LEAVE.encode())
        if self._termios is not None:
            termios.tcsetattr(0, termios.TCSANOW, self._termios)
        self._held.seek(0)
        held = self._held.read()
        self._held.close()
        if held:
            os.write(2, held)
