"""d2l's ``Accumulator`` for one epoch, and a stopwatch that leaves out paused time."""

from __future__ import annotations

import time
from dataclasses import dataclass


@dataclass
class Accumulator:
    """d2l's ``Accumulator(3)``: loss sum, correct predictions and examples of this epoch.

    It also remembers the sums before the last ``add``, since a divergence undoes the update
    that caused it, and with it that batch's share of the sums."""

    loss_sum: float = 0.0
    correct: float = 0.0
    seen: int = 0
    _before: tuple[float, float, int] | None = None

    def add(self, loss_sum: float, correct: float, count: int) -> None:
        self._before = (self.loss_sum, self.correct, self.seen)
        self.loss_sum += loss_sum
        self.correct += correct
        self.seen += count

    @property
    def can_undo(self) -> bool:
        return self._before is not None

    def undo(self) -> None:
        """Take back the last ``add`` (once)."""
        assert self._before is not None, "nothing to undo"
        self.loss_sum, self.correct, self.seen = self._before
        self._before = None

    def forget_undo(self) -> None:
        """An evaluated epoch is not undone."""
        self._before = None


class Stopwatch:
    """Seconds of training in the current epoch: ``paused()`` is left out."""

    def __init__(self, seconds: float = 0.0) -> None:
        self._seconds = seconds
        self._since: float | None = None

    @property
    def seconds(self) -> float:
        if self._since is None:
            return self._seconds
        return self._seconds + time.perf_counter() - self._since

    def reset(self, seconds: float = 0.0) -> None:
        self._seconds, self._since = seconds, None

    def start(self) -> None:
        if self._since is None:
            self._since = time.perf_counter()

    def stop(self) -> None:
        if self._since is not None:
            self._seconds += time.perf_counter() - self._since
            self._since = None
