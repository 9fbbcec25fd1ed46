"""The training loop's inbox: commands from any thread, read once per batch.

A command is a tuple, ``("pause",)`` or ``("save", path, future)``. While a loop serves the inbox
the command waits there for the loop's next look; while none does, the sender's own handler
carries it out at once, under the same lock, so a loop cannot start halfway through it.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable

Command = tuple


class CommandInbox:
    def __init__(self) -> None:
        self._lock = threading.RLock()  # a listener may send from inside a command's events
        self._queue: deque[Command] = deque()
        self._wake = threading.Event()
        self._server: threading.Thread | None = None

    def __bool__(self) -> bool:
        """Whether commands wait: the loop's check before every batch, without the lock."""
        return bool(self._queue)

    @property
    def served(self) -> bool:
        return self._server is not None

    def send(self, command: Command, otherwise: Callable[[Command], None]) -> None:
        """Queue ``command`` for the loop, or, with no loop serving, call ``otherwise`` now."""
        with self._lock:
            if self._server is None:
                otherwise(command)
                return
            self._queue.append(command)
        self._wake.set()

    def take(self) -> list[Command]:
        """The commands queued so far, oldest first; a ``wait`` after this waits for new ones."""
        with self._lock:
            commands = list(self._queue)
            self._queue.clear()
            self._wake.clear()
        return commands

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for a command (at most ``timeout`` seconds); whether one came."""
        return self._wake.wait(timeout)

    def serve(self) -> None:
        """The calling thread's loop reads the inbox from now on."""
        with self._lock:
            if self._server is not None:
                raise RuntimeError("this trainer is already running")
            self._server = threading.current_thread()

    def close(self) -> list[Command]:
        """No loop reads the inbox any more; returns what was still queued."""
        with self._lock:
            self._server = None
            leftovers = list(self._queue)
            self._queue.clear()
        return leftovers
