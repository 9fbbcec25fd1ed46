"""Elapsed training time, throughput and time left, as the status line shows them.

The trainer reports examples per second per batch report and the elapsed time at each epoch's
end; between those the app keeps its own stopwatch. The clock is injectable so that tests and
snapshots can freeze every number that depends on time.
"""

from __future__ import annotations

import time
from collections.abc import Callable

SMOOTHING = 0.3  # weight of the newest examples-per-second reading


class RunProgress:
    def __init__(self, elapsed: float = 0.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._base = elapsed
        self._since: float | None = None  # clock reading when the run last started running
        self.examples_per_s: float | None = None

    @property
    def running(self) -> bool:
        return self._since is not None

    @property
    def elapsed(self) -> float:
        """Seconds spent training (paused time does not count)."""
        if self._since is None:
            return self._base
        return self._base + max(0.0, self.clock() - self._since)

    def start(self) -> None:
        if self._since is None:
            self._since = self.clock()

    def stop(self) -> None:
        if self._since is not None:
            self._base = self.elapsed
            self._since = None

    def sync(self, elapsed: float) -> None:
        """Take the trainer's own count (at an epoch's end) as the truth from now on."""
        self._base = elapsed
        if self._since is not None:
            self._since = self.clock()

    def record(self, examples_per_s: float) -> None:
        if examples_per_s <= 0:
            return
        if self.examples_per_s is None:
            self.examples_per_s = examples_per_s
        else:
            self.examples_per_s += SMOOTHING * (examples_per_s - self.examples_per_s)

    def eta(self, examples_left: int) -> float | None:
        """Seconds until the last epoch ends at the current rate; None while it is unknown."""
        if not self.examples_per_s:
            return None
        return examples_left / self.examples_per_s


def clock_text(seconds: float | None) -> str:
    """1:05, 12:34, 1:02:03; a dash when unknown."""
    if seconds is None:
        return "–"
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def rate_text(examples_per_s: float | None) -> str:
    if not examples_per_s:
        return "–"
    if examples_per_s >= 10_000:
        return f"{examples_per_s / 1000:,.0f}k"
    return f"{examples_per_s:,.0f}"
