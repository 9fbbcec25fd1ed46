"""Elapsed training time, throughput and time left, as the status line shows them.

The trainer reports the elapsed time at each epoch's end; between those the app keeps its own
stopwatch. The speed is measured here, on the wall clock, from the examples each batch report
brings over the last ``WINDOW`` seconds of training: slow motion's waits count, paused time does
not. (The trainer's own per-report figure is compute speed: the first report after a start or a
resume has no wait before it, and under slow motion an average of those stayed in the thousands
while 0.2 batches a second trained.) The clock is injectable so that tests and snapshots can
freeze every number that depends on time.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

WINDOW = 10.0  # s of training time the speed is measured over
MIN_SPAN = 0.2  # s: a shorter measurement gives no speed (one report is none)


class RunProgress:
    def __init__(self, elapsed: float = 0.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._base = elapsed
        self._since: float | None = None  # clock reading when the run last started running
        # Training seconds on the app's clock, never synced to the trainer's (the speed's clock).
        self._trained = 0.0
        self._trained_since: float | None = None
        self._samples: deque[tuple[float, int]] = deque()  # (training seconds, examples so far)
        self._examples = 0
        self.examples_per_s: float | None = None  # the last measured speed; None before one

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
            self._since = self._trained_since = self.clock()

    def stop(self) -> None:
        if self._since is not None:
            self._base = self.elapsed
            self._trained = self._training_time()
            self._since = self._trained_since = None

    def _training_time(self) -> float:
        if self._trained_since is None:
            return self._trained
        return self._trained + max(0.0, self.clock() - self._trained_since)

    def sync(self, elapsed: float) -> None:
        """Take the trainer's own count (at an epoch's end) as the truth from now on."""
        self._base = elapsed
        if self._since is not None:
            self._since = self.clock()

    def record(self, examples: int) -> None:
        """A batch report of ``examples`` more trained examples came in, now."""
        if not self.running:
            # Trained while shown paused (a step): no training time to set it against.
            self._samples.clear()
            return
        self._examples += examples
        now = self._training_time()
        samples = self._samples
        samples.append((now, self._examples))
        while len(samples) > 2 and samples[1][0] <= now - WINDOW:
            samples.popleft()  # the oldest left is the last at or before the window's start
        first, count = samples[0]
        if now - first >= MIN_SPAN:  # the first report's examples trained before it: not counted
            self.examples_per_s = (self._examples - count) / (now - first)

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
