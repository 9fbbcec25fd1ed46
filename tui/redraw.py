"""When the screen redraws: on a 15 Hz tick, only what changed, heavy widgets by their cost.

Handlers ``mark`` parts ("status", "panel", "loss", "epochs", "gallery") and a tick follows
within TICK_S; batches only note that they went by (``progressed``), for the tick that runs every
PROGRESS_INTERVAL_S. Heavy parts (the plots and the gallery, 5-30 ms each) wait
``heavy_interval`` while training. The training thread stalls whenever the UI thread holds the
GIL, so the UI's time is what training loses: this keeps it to a few percent at any batch rate.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

from textual.message_pump import MessagePump
from textual.timer import Timer

from .widgets.render_cost import RenderCost

TICK_S = 1 / 15  # redraws are at least this far apart: a key shows within one
PROGRESS_INTERVAL_S = 0.25  # the status line follows the batches 4 times a second
HEAVY_INTERVAL_S = 1.0  # while training, the most often a plot or the gallery is redrawn...
HEAVY_CPU_SHARE = 0.01  # ...and each waits so that it takes about this share of one core


class RedrawSchedule:
    """Collects what changed and calls ``draw(parts)`` with what is due, on ``host``'s timers.

    ``running``: whether training competes for the CPU now; ``heavy``: the costly widgets by
    the names of their parts (they time their draws).
    """

    def __init__(
        self,
        host: MessagePump,
        draw: Callable[[set[str]], None],
        running: Callable[[], bool],
        heavy: Mapping[str, RenderCost],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.host, self.heavy, self.draw = host, heavy, draw
        self.running, self.clock = running, clock
        self.dirty: set[str] = set()
        self._progressed = False  # batches went by: the status line is due, but not urgent
        self._last_progress = 0.0
        self._last_tick = 0.0
        self._drawn_at: dict[str, float] = {}  # heavy part -> when it was last redrawn
        self._soon: Timer | None = None  # a one-shot timer for the next tick, once marked

    def start(self) -> None:
        self.host.set_interval(PROGRESS_INTERVAL_S, self.tick)

    def mark(self, *parts: str) -> None:
        """Draw these parts soon: at the next tick, at most TICK_S after the last one."""
        self.dirty.update(parts)
        if self._soon is None:
            # Never 0: Textual's timers divide by their delay when stopped at exit.
            delay = max(0.001, self._last_tick + TICK_S - self.clock())
            self._soon = self.host.set_timer(delay, self._soon_tick)

    def progressed(self, *parts: str) -> None:
        """Batches went by: these parts and the status line, at the next periodic tick."""
        self.dirty.update(parts)
        self._progressed = True

    def _soon_tick(self) -> None:
        self._soon = None
        self.tick()

    def tick(self) -> None:
        now = self._last_tick = self.clock()
        moved = self._progressed or self.running()  # new batches, or elapsed time moves on
        if moved and now - self._last_progress >= PROGRESS_INTERVAL_S:
            self.dirty.add("status")
        if not self.dirty:
            return
        if "status" in self.dirty:
            self._progressed, self._last_progress = False, now
        due = set()
        for part in self.dirty:
            widget = self.heavy.get(part)
            if widget is None:
                due.add(part)
            elif now - self._drawn_at.get(part, 0.0) >= self.heavy_interval(widget):
                due.add(part)
                self._drawn_at[part] = now
        self.dirty -= due
        if due:
            self.draw(due)

    def heavy_interval(self, widget: RenderCost) -> float:
        """Seconds between redraws of a plot or the gallery while training: their last cost
        over the CPU share they may take, and never more often than HEAVY_INTERVAL_S."""
        if not self.running():
            return 0.0  # nothing competes: at the next tick
        return max(HEAVY_INTERVAL_S, widget.render_seconds / HEAVY_CPU_SHARE)
