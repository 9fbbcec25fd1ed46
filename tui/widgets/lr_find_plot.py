"""The lr range test's curve: each batch's loss and its moving average against the lr, on a
log lr axis, with the suggested lr marked."""

from __future__ import annotations

import math

from mlp_tui.core.lr_find import RangeTest

from .training_plot import MARKER, TrainingPlot, log_axis


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
        plt.xticks(*log_axis(result.lrs[0], result.lrs[-1], max(2, self.tick_count)))
        plt.xlim(xs[0], xs[-1])
        plt.ylim(min(min(result.smoothed), min(raw)) * 0.95, ceiling)
        plt.xlabel("lr")
