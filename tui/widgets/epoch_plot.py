"""d2l's three curves per epoch: train loss on the left axis, train and test accuracy on the
right one (in %), the best test accuracy marked; past runs' test accuracy behind them, and every
setting change marked.

Two axes, because a loss and an accuracy share no scale: with init scale 1 the first epoch's
loss is in the hundreds, and on one axis both accuracies lay flat along the bottom.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, cast

from mlp_tui.core.events import EpochReport

from .plot_marks import Ghost, place_labels
from .training_plot import MARKER, TrainingPlot, log_axis, log_scaled, whole_ticks

BEST = "★"
# textual-plotext's stub types ``yside`` as a number; plotext takes "left" or "right".
LEFT: Any = "left"
RIGHT: Any = "right"
ACC_STEP = 0.05  # the accuracy axis spans whole steps of 5% around the curves


def accuracy_range(values: Sequence[float]) -> tuple[float, float]:
    """Whole 5% steps around ``values``, within 0-100%, at least 10% apart."""
    finite = [v for v in values if math.isfinite(v)] or [0.0, 1.0]
    low = math.floor(min(finite) / ACC_STEP) * ACC_STEP
    high = math.ceil(max(finite) / ACC_STEP) * ACC_STEP
    if high - low < 2 * ACC_STEP:
        low, high = max(0.0, high - 2 * ACC_STEP), max(high, 2 * ACC_STEP)
    return max(0.0, low), min(1.0, high)


def percent_ticks(low: float, high: float, count: int) -> tuple[list[float], list[str]]:
    """About ``count`` ticks from ``low`` to ``high`` at a round step of percents."""
    span = max(high - low, 1e-9)
    step = next((s for s in (0.05, 0.1, 0.2, 0.25, 0.5) if span / s <= count), 1.0)
    first = math.ceil(low / step - 1e-9) * step
    ticks = [first + i * step for i in range(int((high - first) / step + 1e-9) + 1)]
    return ticks, [f"{t:.0%}" for t in ticks]


class EpochPlot(TrainingPlot):
    OPEN_TOP_BELOW = 12  # at 80x24: 7 rows of curves, not 6

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.history: list[EpochReport] = []
        self.markers: list[tuple[float, str]] = []  # (epochs done, "lr 0.5")
        self.epochs = 1
        self.ghosts: list[Ghost] = []
        self.log_y = False

    def show_ghosts(self, ghosts: Sequence[Ghost]) -> None:
        self.ghosts = list(ghosts)
        self.replot()

    def sync(
        self,
        history: Sequence[EpochReport],
        changes: Sequence[tuple[int, str]],
        batches_per_epoch: int,
        epochs: int,
    ) -> bool:
        markers = [(step / batches_per_epoch, text) for step, text in changes]
        changed = (list(history), markers, epochs) != (self.history, self.markers, self.epochs)
        self.history, self.markers, self.epochs = list(history), markers, epochs
        return changed

    def draw(self) -> None:
        plt = self.plt
        last = max([self.epochs, len(self.history), 2, *(len(g.history) for g in self.ghosts)])
        plt.xlim(0.8, last + 0.2)
        fits = last <= self.tick_count
        plt.xticks(
            cast(
                list[float],
                list(range(1, last + 1)) if fits else whole_ticks(1, last, self.tick_count),
            )
        )
        if not self.history and not self.ghosts:
            plt.title("per epoch: waiting for the first epoch")
            plt.ylim(0, 1)
            return
        lines = (
            ("train loss (log)" if self.log_y else "train loss", "loss", "orange"),
            ("train acc", "train acc", "magenta"),
            ("test acc", "test acc", "green"),
        )
        ghosts = [(f"{g.name} test acc", g.short, g.colour) for g in self.ghosts]
        self.key("per epoch", *lines, *ghosts)
        accuracies: list[float] = []
        for ghost in self.ghosts:  # behind the live lines: drawn first
            if ghost.history:
                gx = [r.epoch for r in ghost.history]
                gy = [r.test_acc for r in ghost.history]
                plt.plot(gx, gy, color=ghost.colour, marker=MARKER, yside=RIGHT)
                accuracies += gy
        xs = [r.epoch for r in self.history]
        losses = [r.train_loss for r in self.history]
        if xs:
            drawn = log_scaled(losses, self.log_y)
            plt.plot(xs, drawn, color="orange", marker=MARKER, yside=LEFT)
            for (_, _, colour), field in zip(lines[1:], ("train_acc", "test_acc")):
                ys = [getattr(r, field) for r in self.history]
                plt.plot(xs, ys, color=colour, marker=MARKER, yside=RIGHT)
                accuracies += ys
            best = max(self.history, key=lambda r: r.test_acc)
            plt.scatter([best.epoch], [best.test_acc], marker=BEST, color="green+", yside=RIGHT)
        low, high = accuracy_range(accuracies)
        plt.ylim(low, high, yside=RIGHT)
        plt.yticks(*percent_ticks(low, high, max(2, self.size.height // 3)), yside=RIGHT)
        finite = [v for v in losses if math.isfinite(v) and v > 0]
        if self.log_y and finite:
            axis = log_axis(min(finite), max(finite), max(2, self.size.height // 2))
            plt.yticks(*axis, yside=LEFT)
        elif finite:
            plt.ylim(0, max(finite) * 1.05, yside=LEFT)  # a loss's floor is 0: its scale
        for epoch, _ in self.markers:
            plt.vline(epoch, color="cyan")
        for x, text in place_labels(self.markers, 0.8, last + 0.2, self.size.width or 80):
            plt.text(text, x, low, color="cyan", alignment="left", yside=RIGHT)
