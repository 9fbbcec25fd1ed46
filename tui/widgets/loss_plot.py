"""Training loss of every batch, raw and smoothed, with the learning-rate changes marked."""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

from .training_plot import TrainingPlot, downsample, whole_ticks

SMOOTHING = 0.05  # weight of each new batch in the moving average
MAX_MARKERS = 12  # the most recent learning-rate changes drawn


def lr_markers(changes: Sequence[tuple[int, float]]) -> list[tuple[int, float]]:
    """Changes after the first setting, one per step (the last one wins), effective ones only."""
    by_step: dict[int, float] = {}
    for step, lr in changes:
        by_step[step] = lr
    markers, previous = [], None
    for step, lr in sorted(by_step.items()):
        if previous is not None and lr != previous:
            markers.append((step, lr))
        previous = lr
    return markers[-MAX_MARKERS:]


class LossPlot(TrainingPlot):
    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.losses: list[float] = []
        self.smoothed: list[float] = []
        self.markers: list[tuple[int, float]] = []
        self.rollbacks = 0

    def clear(self) -> None:
        self.losses, self.smoothed, self.markers, self.rollbacks = [], [], [], 0

    def sync(
        self, losses: Sequence[float], lr_changes: Sequence[tuple[int, float]], rollbacks: int = 0
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
        markers = lr_markers(lr_changes)
        changed = bool(new) or markers != self.markers
        self.markers = markers
        return changed

    def draw(self) -> None:
        plt = self.plt
        if not self.losses:
            plt.title("training loss per batch: waiting for the first batch")
            return
        self.key(
            "training loss per batch", ("batch", "batch", "gray"), ("smoothed", "smooth", "orange")
        )
        xs, raw = downsample(self.losses, self.max_points)
        _, smooth = downsample(self.smoothed, self.max_points)
        plt.plot(xs, raw, color="gray")
        plt.plot(xs, smooth, color="orange")
        bottom = min(raw)
        for step, lr in self.markers:
            plt.vline(step + 0.5, color="cyan")
            plt.text(f"lr {lr:g}", step + 1, bottom, color="cyan", alignment="left")
        last = max(len(self.losses), 2)
        plt.xlim(1, last)
        plt.xticks(cast(list[float], whole_ticks(1, last, self.tick_count)))
