"""Each class's test accuracy after every epoch, one line per class."""

from __future__ import annotations

import math
from typing import cast

from mlp_tui.core.analysis import PerClassHistory
from mlp_tui.core.data import CLASS_NAMES
from textual_plotext import PlotextPlot

COLOURS = (
    (230, 85, 70), (240, 170, 50), (230, 230, 90), (120, 210, 90), (60, 190, 170),
    (80, 160, 240), (150, 110, 240), (230, 110, 220), (190, 190, 190), (160, 120, 80),
)  # fmt: skip


class PerClassPlot(PlotextPlot):
    """Owns its data; ``only`` narrows the plot to one class so its line can be read."""

    def __init__(self, history: PerClassHistory, **kwargs) -> None:
        super().__init__(**kwargs)
        self.history = history
        self.only: int | None = None

    def on_mount(self) -> None:
        self.replot()

    def show(self, only: int | None) -> None:
        self.only = only
        self.replot()

    def replot(self) -> None:
        plt = self.plt
        plt.clear_figure()
        epochs = self.history.epochs
        classes = range(len(CLASS_NAMES)) if self.only is None else [self.only]
        for c in classes:
            points = [
                (e, 100 * a) for e, a in zip(epochs, self.history.series(c)) if not math.isnan(a)
            ]
            if points:
                xs, ys = zip(*points)
                plt.plot(xs, ys, color=COLOURS[c], marker="hd")  # the table is the key
        which = "all classes" if self.only is None else CLASS_NAMES[self.only]
        plt.title(f"Test accuracy per class (%), {which}")
        plt.xlabel("epoch")
        plt.ylim(0, 100)
        if epochs:
            plt.xticks(cast(list[float], epochs))
            plt.xlim(min(epochs) - 0.5, max(epochs) + 0.5)
        self.refresh()
