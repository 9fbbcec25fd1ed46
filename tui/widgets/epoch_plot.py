"""d2l's three curves per epoch: train loss, train accuracy, test accuracy; past runs' test
accuracy behind them, and every setting change marked."""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

from mlp_tui.core.events import EpochReport

from .plot_marks import Ghost, place_labels
from .training_plot import TrainingPlot, whole_ticks


class EpochPlot(TrainingPlot):
    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.history: list[EpochReport] = []
        self.markers: list[tuple[float, str]] = []  # (epochs done, "lr 0.5")
        self.epochs = 1
        self.ghosts: list[Ghost] = []

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
            ("train loss", "loss", "orange"),
            ("train acc", "train acc", "magenta"),
            ("test acc", "test acc", "green"),
        )
        ghosts = [(f"{g.name} test acc", g.short, g.colour) for g in self.ghosts]
        self.key("per epoch", *lines, *ghosts)
        for ghost in self.ghosts:  # behind the live lines: drawn first
            if ghost.history:
                gx = [r.epoch for r in ghost.history]
                plt.plot(gx, [r.test_acc for r in ghost.history], color=ghost.colour)
        xs = [r.epoch for r in self.history]
        for (_, _, colour), field in zip(lines, ("train_loss", "train_acc", "test_acc")):
            plt.plot(xs, [getattr(r, field) for r in self.history], color=colour)
        top = max([1.0, *(r.train_loss for r in self.history)])
        plt.ylim(0, top)
        for epoch, _ in self.markers:
            plt.vline(epoch, color="cyan")
        for x, text in place_labels(self.markers, 0.8, last + 0.2, self.size.width or 80):
            plt.text(text, x, 0, color="cyan", alignment="left")
