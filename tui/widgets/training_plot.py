"""The base of the app's plots: a PlotextPlot that owns its data and rebuilds on ``replot()``."""

from __future__ import annotations

from collections.abc import Sequence

import plotext
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


def key_line(title: str, lines: Sequence[tuple[str, str, str]], width: int) -> Text:
    """``title`` and a key to the plot's lines, (label, short label, plotext colour) each,
    centred in ``width``. Where that does not fit: the key alone, then with the short labels,
    then cut at the end."""

    def key(labels: Sequence[str], swatch: str, gap: str) -> Text:
        return Text(gap).join(
            Text.from_ansi(plotext.colorize(swatch, colour)) + f" {label}"
            for label, (_, _, colour) in zip(labels, lines)
        )

    full = key([label for label, _, _ in lines], "━━", "  ")
    for line in (Text(title) + "   " + full, full, key([s for _, s, _ in lines], "━", " ")):
        if line.cell_len <= width:
            break
    line.truncate(width, overflow="ellipsis")
    line.align("center", width)
    return line


class TrainingPlot(RenderCost, PlotextPlot):
    """Subclasses implement ``draw()`` with ``self.plt``; ``replot()`` redraws from their data.

    ``draw()`` names its lines with ``key()``, not plotext's labels: plotext draws its legend
    inside the canvas, at the top left, where a falling loss starts and the first epochs'
    accuracies sit (at 80x24 it hid the per-epoch curves for the first half of a run). The key
    goes on the title's row instead."""

    _key: tuple[str, Sequence[tuple[str, str, str]]] | None = None

    def draw(self) -> None:
        raise NotImplementedError

    def key(self, title: str, *lines: tuple[str, str, str]) -> None:
        """Title the plot and list its lines as (label, short label, plotext colour), on one
        row (see ``key_line``)."""
        self.plt.title(title)  # keeps the row free; render() writes the key over it
        self._key = (title, lines)

    def replot(self) -> None:
        self.plt.clear_figure()  # settings too: each draw() sets all it needs
        self._key = None
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
        figure = super().render()
        if self._key is None or not isinstance(figure, Text):
            return figure
        rows = figure.split("\n", allow_blank=True)
        title_row = rows[0]
        backdrop = title_row.get_style_at_offset(self.app.console, 0) if title_row else None
        row = key_line(*self._key, self.size.width)
        if backdrop is not None and backdrop.bgcolor is not None:
            row.stylize_before(f"on {backdrop.bgcolor.name}")
        rows[0] = row
        return Text("\n").join(rows)
