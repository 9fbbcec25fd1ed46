"""Training loss of every batch, raw and smoothed, with every setting change marked and past
runs (ghosts) behind it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

from .plot_marks import Ghost, place_labels
from .training_plot import TrainingPlot, downsample, whole_ticks

SMOOTHING = 0.05  # weight of each new batch in the moving average


def smooth(losses: Sequence[float]) -> list[float]:
    """The moving average the plot draws (what a ghost keeps of its run)."""
    out: list[float] = []
    for loss in losses:
        out.append(loss if not out else out[-1] + SMOOTHING * (loss - out[-1]))
    return out


class LossPlot(TrainingPlot):
    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.losses: list[float] = []
        self.smoothed: list[float] = []
        self.markers: list[tuple[int, str]] = []  # (step, "lr 0.5")
        self.rollbacks = 0
        self.ghosts: list[Ghost] = []

    def clear(self) -> None:
        self.losses, self.smoothed, self.markers, self.rollbacks = [], [], [], 0

    def show_ghosts(self, ghosts: Sequence[Ghost]) -> None:
        self.ghosts = list(ghosts)
        self.replot()

    def sync(
        self, losses: Sequence[float], changes: Sequence[tuple[int, str]], rollbacks: int = 0
    ) -> bool:
        """Take the batches not seen yet from the run's history; True when anything is new.

        ``rollbacks`` counts the times the history lost its last losses (a refused batch): the
        batches after one may be as many as the ones they replace, so a new count starts over.
        """
        if len(losses) < len(self.losses) or rollbacks != self.rollbacks:
            self.clear()
            self.rollbacks = rollbacks
        new = losses[len(self.losses) :]
        average = self.smoothed[-1] if self.smoothed else None
        for loss in new:
            average = loss if average is None else average + SMOOTHING * (loss - average)
            self.smoothed.append(average)
        self.losses.extend(new)
        markers = list(changes)
        changed = bool(new) or markers != self.markers
        self.markers = markers
        return changed

    def draw(self) -> None:
        plt = self.plt
        if not self.losses and not self.ghosts:
            plt.title("training loss per batch: waiting for the first batch")
            return
        ghosts = [(g.name, g.short, g.colour) for g in self.ghosts]
        self.key(
            "training loss per batch",
            ("batch", "batch", "gray"),
            ("smoothed", "smooth", "orange"),
            *ghosts,
        )
        bottom = None
        for ghost in self.ghosts:  # behind the live lines: drawn first
            if ghost.smoothed:
                gx, gy = downsample(ghost.smoothed, self.max_points)
                plt.plot(gx, gy, color=ghost.colour)
                bottom = min(gy) if bottom is None else min(bottom, min(gy))
        if self.losses:
            xs, raw = downsample(self.losses, self.max_points)
            _, smoothed = downsample(self.smoothed, self.max_points)
            plt.plot(xs, raw, color="gray")
            plt.plot(xs, smoothed, color="orange")
            bottom = min(raw) if bottom is None else min(bottom, min(raw))
        last = max([len(self.losses), 2, *(len(g.smoothed) for g in self.ghosts)])
        for step, _ in self.markers:
            plt.vline(step + 0.5, color="cyan")
        marks = [(float(step + 1), text) for step, text in self.markers]
        for x, text in place_labels(marks, 1, last, self.size.width or 80):
            plt.text(text, x, bottom, color="cyan", alignment="left")
        plt.xlim(1, last)
        plt.xticks(cast(list[float], whole_ticks(1, last, self.tick_count)))
