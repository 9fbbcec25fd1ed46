"""Training loss of every batch, raw and smoothed, with every setting change and refused batch
marked and past runs (ghosts) behind it; linear or log.

The plot keeps the run's batches as envelopes (``curves.Envelope``): taking new batches costs
their number, a redraw a bounded number of points however long the run, and the curve's last
point is the last batch's loss.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import cast

from ..curves import DEFAULT_SMOOTHING, DebiasedEma, Envelope, envelope_of
from .plot_marks import Ghost, place_labels
from .training_plot import MARKER, TrainingPlot, log_axis, log_scaled, whole_ticks

REFUSED = "red"
# A refused loss this many times the curves' top (linear, log) is drawn at that top, labelled
# with its value: one exploded batch must not flatten the curves.
CLAMP = {False: 4.0, True: 100.0}


class LossPlot(TrainingPlot):
    OPEN_TOP_BELOW = 12  # at 80x24: 7 rows of curves, not 6

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.smoothing = DEFAULT_SMOOTHING
        self.log_y = False
        self.ghosts: list[Ghost] = []
        self._ghost_points: dict[tuple[int, float, int], tuple[list[float], list[float]]] = {}
        self.clear()

    def clear(self) -> None:
        self.seen = 0  # batches taken from the run's history
        self._stale = False  # the smoothing changed: the next sync takes them all again
        self.rollbacks = 0
        self.raw, self.smooth = Envelope(), Envelope()
        self.ema = DebiasedEma(self.smoothing)
        self.markers: list[tuple[int, str]] = []  # (step, "lr 0.5")
        self.refused: list[tuple[int, float]] = []  # (batch, loss)

    def show_ghosts(self, ghosts: Sequence[Ghost]) -> None:
        self.ghosts = list(ghosts)
        self._ghost_points.clear()
        self.replot()

    def set_smoothing(self, smoothing: float) -> None:
        """Smooth with this weight of the past from the next ``sync``, which starts over."""
        self.smoothing = smoothing
        self._stale = True

    def sync(
        self,
        losses: Sequence[float],
        changes: Sequence[tuple[int, str]],
        rollbacks: int = 0,
        refused: Sequence[tuple[int, float]] = (),
    ) -> bool:
        """Take the batches not seen yet from the run's history; True when anything is new.

        ``rollbacks`` counts the times the history lost its last losses (a refused batch): the
        batches after one may be as many as the ones they replace, so a new count starts over.
        """
        if self._stale or len(losses) < self.seen or rollbacks != self.rollbacks:
            self.clear()
            self.rollbacks = rollbacks
        new = losses[self.seen :]
        for x, loss in enumerate(new, self.seen + 1):
            self.raw.add(x, loss)
            self.smooth.add(x, self.ema.add(loss))
        self.seen = len(losses)
        markers, marks = list(changes), list(refused)
        changed = bool(new) or (markers, marks) != (self.markers, self.refused)
        self.markers, self.refused = markers, marks
        return changed

    def raw_points(self) -> tuple[list[float], list[float]]:
        """The raw batch losses as drawn: (batch, loss), about a point per braille column."""
        return self.raw.points(self.max_points)

    def smoothed_points(self) -> tuple[list[float], list[float]]:
        """The moving average as drawn: a point a cell, the last the last batch's average."""
        return self.smooth.points(self.max_points, extremes=False)

    def _ghost_curve(self, i: int, ghost: Ghost) -> tuple[list[float], list[float]]:
        """A ghost's smoothed curve as drawn, computed once per smoothing and width."""
        key = (i, self.smoothing, self.max_points)
        if key not in self._ghost_points:
            curve = envelope_of(*ghost.curve(self.smoothing))
            self._ghost_points[key] = curve.points(self.max_points, extremes=False)
        return self._ghost_points[key]

    def draw(self) -> None:
        plt = self.plt
        title = "training loss per batch" + (" (log)" if self.log_y else "")
        if not self.raw.count and not self.ghosts:
            plt.title(f"{title}: waiting for the first batch")
            return
        lines = [("batch", "batch", "gray"), (f"smoothed {self.smoothing:g}", "smooth", "orange")]
        if self.refused:
            lines.append(("refused", "refused", REFUSED))
        ghosts = [(g.name, g.short, g.colour) for g in self.ghosts]
        short = "loss per batch" + (" (log)" if self.log_y else "")
        self.key(title, *lines, *ghosts, short_title=short)
        log = self.log_y
        drawn: list[float] = []  # the lowest and highest loss of each line
        # A cell shows the colour drawn last: the raw batches at the back, as the noise they
        # are, then the ghosts, then this run's average over them all.
        if self.raw.count:
            xs, raw = self.raw_points()
            plt.plot(xs, log_scaled(raw, log), color="gray", marker=MARKER)
            drawn += (min(raw), max(raw))
        for i, ghost in enumerate(self.ghosts):
            gx, gy = self._ghost_curve(i, ghost)
            if gx:
                plt.plot(gx, log_scaled(gy, log), color=ghost.colour, marker=MARKER)
                drawn += (min(gy), max(gy))
        if self.raw.count:
            sx, smoothed = self.smoothed_points()
            plt.plot(sx, log_scaled(smoothed, log), color="orange", marker=MARKER)
        last = max([self.seen, 2, *(g.batches for g in self.ghosts), *(x for x, _ in self.refused)])
        bottom, top = min(drawn, default=1.0), max(drawn, default=1.0)
        top = self._mark_refused(top)
        if log:
            plt.yticks(*log_axis(bottom, top, max(2, self.size.height // 2)))
        for step, _ in self.markers:
            plt.vline(step + 0.5, color="cyan")
        marks = [(float(step + 1), text) for step, text in self.markers]
        for x, text in place_labels(marks, 1, last, self.size.width or 80):
            plt.text(text, x, self._y(bottom), color="cyan", alignment="left")
        plt.xlim(1, last)
        plt.xticks(cast(list[float], whole_ticks(1, last, self.tick_count)))

    def _mark_refused(self, top: float) -> float:
        """An x at each refused batch's loss; a loss that is not a number, or far above the
        curves, at their top with its value beside it. The top of what is drawn."""
        cap = top * CLAMP[self.log_y]
        shown = [loss for _, loss in self.refused if math.isfinite(loss) and loss <= cap]
        new_top = max([top, *shown])
        for x, loss in self.refused:
            if math.isfinite(loss) and loss <= cap:
                self.plt.scatter([x], [self._y(loss)], marker="×", color=REFUSED)
                continue
            y = self._y(new_top)
            self.plt.text(f"{loss:.3g} ×", x, y, color=REFUSED, alignment="right")
        return new_top

    def _y(self, value: float) -> float:
        return log_scaled([value], self.log_y)[0]
