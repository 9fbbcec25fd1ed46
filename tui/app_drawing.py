"""How the app redraws: on a 15 Hz tick, only what changed, heavy widgets by their cost.

Handlers ``mark`` parts ("status", "panel", "loss", "epochs", "gallery") and a tick follows
within TICK_S; batches only note that they happened, for the tick that runs every
PROGRESS_INTERVAL_S while training. Heavy parts (the plots and the gallery, 5-30 ms each) wait
``heavy_interval`` while training. The training thread stalls whenever the UI thread holds the
GIL, so the UI's time is what training loses: this keeps it to a few percent at any batch rate.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import TYPE_CHECKING

from mlp_tui.core.events import RunState

from .widgets.render_cost import RenderCost
from .widgets.status_bar import status_of

if TYPE_CHECKING:
    from .app import MLPApp

    _Base = MLPApp
else:
    _Base = object

TICK_S = 1 / 15  # redraws are at least this far apart: a key shows within one
PROGRESS_INTERVAL_S = 0.25  # the status line follows the batches 4 times a second
HEAVY_INTERVAL_S = 1.0  # while training, the most often a plot or the gallery is redrawn...
HEAVY_CPU_SHARE = 0.01  # ...and each waits so that it takes about this share of one core


class ScreenUpdates(_Base):
    """Mixed into ``MLPApp``: ``mark`` what changed; ``redraw`` draws parts at once."""

    _soon = None  # a one-shot timer for the next tick, once something is marked
    _last_tick = 0.0

    def start_ticking(self) -> None:
        self.set_interval(PROGRESS_INTERVAL_S, self._tick)

    def mark(self, *parts: str) -> None:
        """Draw these parts soon: at the next tick, at most TICK_S after the last one."""
        self._dirty.update(parts)
        if self._soon is None:
            # Never 0: Textual's timers divide by their delay when stopped at exit.
            delay = max(0.001, self._last_tick + TICK_S - time.monotonic())
            self._soon = self.set_timer(delay, self._soon_tick)

    def _soon_tick(self) -> None:
        self._soon = None
        self._tick()

    def _tick(self) -> None:
        now = self._last_tick = time.monotonic()
        running = self.run_state is RunState.RUNNING
        if (self._progressed or running) and now - self._last_progress >= PROGRESS_INTERVAL_S:
            self._dirty.add("status")  # new batches, and elapsed time moves on
        if not self._dirty:
            return
        if "status" in self._dirty:
            self._progressed, self._last_progress = False, now
        heavy = {"loss": self.loss_plot, "epochs": self.epoch_plot, "gallery": self.gallery}
        due = set()
        for part in self._dirty:
            widget = heavy.get(part)
            if widget is None:
                due.add(part)
            elif now - self._drawn_at.get(part, 0.0) >= self.heavy_interval(widget):
                due.add(part)
                self._drawn_at[part] = now
        self._dirty -= due
        if due:
            self.redraw(due)

    def heavy_interval(self, widget: RenderCost) -> float:
        """Seconds between redraws of a plot or the gallery while training: their last cost
        over the CPU share they may take, and never more often than HEAVY_INTERVAL_S."""
        if self.run_state is not RunState.RUNNING:
            return 0.0  # nothing competes: at the next tick
        return max(HEAVY_INTERVAL_S, widget.render_seconds / HEAVY_CPU_SHARE)

    def redraw(self, parts: Iterable[str] = ("status", "panel", "loss", "epochs", "gallery")):
        """Bring the named parts up to date with the run now."""
        trainer, parts = self.trainer, set(parts)
        with self.batch_update():
            if "status" in parts:
                self.status_bar.show(
                    status_of(self.trainer, self.config, self.run_state, self.reason, self.progress)
                )
            if "panel" in parts:
                pending = self.config.batch_size
                pending = pending if pending != trainer.epoch_batch_size else None
                self.panel.show(self.config, pending)
            if "loss" in parts and self.loss_plot.sync(trainer.batch_losses, trainer.lr_changes):
                self.loss_plot.replot()
            if "epochs" in parts and self.epoch_plot.sync(
                trainer.history, trainer.lr_changes, trainer.batches_per_epoch, self.config.epochs
            ):
                self.epoch_plot.replot()
            if "gallery" in parts and self.gallery.predictions is not self._predictions:
                self.gallery.show(self._predictions, trainer.data.test_pixels)
