"""The base of the app's plots: a PlotextPlot that owns its data and rebuilds on ``replot()``."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.app import RenderResult
from textual_plotext import PlotextPlot

from .render_cost import RenderCost

MIN_WIDTH, MIN_HEIGHT = 20, 6  # plotext draws nonsense (or fails) on smaller canvases


def downsample(ys: Sequence[float], max_points: int) -> tuple[list[float], list[float]]:
    """(x, y) with at most ``max_points`` points: means of equal runs of consecutive values.

    x is 1-based (batch numbers). Every rebuild draws the whole figure, so a long history is
    reduced to about what the plot's width can show anyway.
    """
    n = len(ys)
    if n <= max_points:
        return [float(i + 1) for i in range(n)], list(ys)
    xs, out = [], []
    size = n / max_points
    for k in range(max_points):
        lo, hi = int(k * size), max(int((k + 1) * size), int(k * size) + 1)
        chunk = ys[lo:hi]
        xs.append((lo + hi + 1) / 2)
        out.append(sum(chunk) / len(chunk))
    return xs, out


def whole_ticks(first: float, last: float, count: int = 5) -> list[int]:
    """About ``count`` round whole numbers from ``first`` to ``last`` (1, 2, 5 x 10^k apart)."""
    span = max(last - first, 1)
    step = 1
    while span / step > count:
        for factor in (2, 5 / 2, 2):
            step = int(step * factor)
            if span / step <= count:
                break
    start = -(-int(first) // step) * step
    return list(range(max(start, step if first > 0 else 0), int(last) + 1, step)) or [int(first)]


class TrainingPlot(RenderCost, PlotextPlot):
    """Subclasses implement ``draw()`` with ``self.plt``; ``replot()`` redraws from their data."""

    def draw(self) -> None:
        raise NotImplementedError

    def replot(self) -> None:
        self.plt.clear_figure()  # settings too: each draw() sets all it needs
        self.draw()
        self.refresh()

    def on_resize(self) -> None:
        self.replot()  # ticks are chosen for the width (see tick_count)

    @property
    def tick_count(self) -> int:
        """As many x ticks as fit with room for their labels: plotext would otherwise drop
        colliding labels, and which one it drops changes from run to run."""
        return max(2, (self.size.width - 10) // 6) if self.size.width else 5

    @property
    def max_points(self) -> int:
        """A point per column: more would not show, and each costs build time."""
        return max(self.size.width, 40)

    def render(self) -> RenderResult:
        if self.size.width < MIN_WIDTH or self.size.height < MIN_HEIGHT:
            return Text("")
        return super().render()
