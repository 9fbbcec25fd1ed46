"""The lr range test's curve: each batch's loss and its moving average against the lr, on a
log lr axis, with the suggested lr marked."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mlp_tui.core.lr_find import RangeTest

from .training_plot import MARKER, TrainingPlot, log_axis

Y_LABELS = 12  # columns the y axis's labels and the frame may take: the canvas is no wider


def lr_axis(low: float, high: float, width: int) -> tuple[list[float], list[str]]:
    """The lr axis's ticks for a plot ``width`` columns wide: the most ``log_axis`` gives
    with each label at least half its width again from its neighbours.

    plotext inserts tick labels in the order of a set of (tick, label) pairs
    (``plotext._utility.brush``), which follows the strings' hashes and so changes from
    process to process, and a label within its width of one already drawn moves aside or is
    dropped. With the base plot's 6 columns a tick, the 1, 3 x 10^k ticks 8 columns apart at
    120x40 came out one of two ways, 1 run in 3. Apart like this, the order does not matter.
    """
    canvas = max(width - Y_LABELS, 1)
    lo, hi = math.log10(low), math.log10(high)
    for count in range(max(2, canvas // 6), 2, -1):
        ticks, labels = log_axis(low, high, count)
        cols = [(t - lo) / (hi - lo) * canvas for t in ticks] if hi > lo else []
        gaps = zip(cols, cols[1:], labels, labels[1:])
        if all(b - a >= 1.5 * max(len(x), len(y)) + 1 for a, b, x, y in gaps):
            return ticks, labels
    return log_axis(low, high, 2)


class LrFindPlot(TrainingPlot):
    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.result: RangeTest | None = None

    def show(self, result: RangeTest | None) -> None:
        self.result = result
        self.replot()

    def draw(self) -> None:
        plt, result = self.plt, self.result
        if result is None or not result.lrs:
            plt.title("loss against lr: testing...")
            return
        lines = [("batch loss", "batch", "gray"), ("smoothed", "smooth", "orange")]
        if result.suggested_lr is not None:
            lines.append((f"suggested {result.suggested_lr:.3g}", "lr", "cyan"))
        self.key("loss against lr (log)", *lines, short_title="loss / lr")
        xs = [math.log10(lr) for lr in result.lrs]
        # Past the blow-up the raw losses dwarf the curve: draw up to a bit over its start.
        ceiling = 1.5 * max(result.smoothed[0], min(result.smoothed))
        raw = [min(loss, ceiling) for loss in result.losses]
        plt.plot(xs, raw, color="gray", marker=MARKER)
        plt.plot(xs, list(result.smoothed), color="orange", marker=MARKER)
        if result.suggested_lr is not None:
            plt.vline(math.log10(result.suggested_lr), color="cyan")
        plt.xticks(*lr_axis(result.lrs[0], result.lrs[-1], self.size.width))
        plt.xlim(xs[0], xs[-1])
        plt.ylim(min(min(result.smoothed), min(raw)) * 0.95, ceiling)
        plt.xlabel("lr")
