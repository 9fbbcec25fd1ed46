"""d2l's three curves per epoch: train loss, train accuracy, test accuracy."""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

from mlp_tui.core.events import EpochReport

from .loss_plot import lr_markers
from .training_plot import TrainingPlot, whole_ticks


class EpochPlot(TrainingPlot):
    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.history: list[EpochReport] = []
        self.markers: list[tuple[float, float]] = []  # (epochs done, new lr)
        self.epochs = 1

    def sync(
        self,
        history: Sequence[EpochReport],
        lr_changes: Sequence[tuple[int, float]],
        batches_per_epoch: int,
        epochs: int,
    ) -> bool:
        markers = [(step / batches_per_epoch, lr) for step, lr in lr_markers(lr_changes)]
        changed = (list(history), markers, epochs) != (self.history, self.markers, self.epochs)
        self.history, self.markers, self.epochs = list(history), markers, epochs
        return changed

    def draw(self) -> None:
        plt = self.plt
        last = max(self.epochs, len(self.history), 2)
        plt.xlim(0.8, last + 0.2)
        fits = last <= self.tick_count
        plt.xticks(
            cast(
                list[float],
                list(range(1, last + 1)) if fits else whole_ticks(1, last, self.tick_count),
            )
        )
        if not self.history:
            plt.title("per epoch: waiting for the first epoch")
            plt.ylim(0, 1)
            return
        lines = (
            ("train loss", "loss", "orange"),
            ("train acc", "train acc", "magenta"),
            ("test acc", "test acc", "green"),
        )
        self.key("per epoch", *lines)
        xs = [r.epoch for r in self.history]
        for (_, _, colour), field in zip(lines, ("train_loss", "train_acc", "test_acc")):
            plt.plot(xs, [getattr(r, field) for r in self.history], color=colour)
        top = max(1.0, max(r.train_loss for r in self.history))
        plt.ylim(0, top)
        for epoch, lr in self.markers:
            plt.vline(epoch, color="cyan")
            plt.text(f"lr {lr:g}", epoch, 0, color="cyan", alignment="left")
