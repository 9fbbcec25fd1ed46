"""The base of the app's plots: a PlotextPlot that owns its data and rebuilds on ``replot()``."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import ClassVar

import plotext
from rich.text import Text
from textual.app import RenderResult
from textual_plotext import PlotextPlot

from .render_cost import RenderCost

MIN_WIDTH, MIN_HEIGHT = 20, 6  # plotext draws nonsense (or fails) on smaller canvases
Colour = str | tuple[int, int, int]  # as plotext takes them: a name or RGB
LOG_FLOOR = 1e-12  # what a log axis draws a loss of 0 at
MARKER = "braille"  # 2x4 dots a cell: thin lines where blocks read like steps


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


def log_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round values for a log axis from ``low`` to ``high``: 1, 2, 5 x 10^k, or only the powers
    of ten (then every other one...) where those would be more than ``count``."""
    if not (0 < low <= high) or not math.isfinite(high):
        return []
    first, last = math.floor(math.log10(low)), math.ceil(math.log10(high))
    for mantissas in ((1, 2, 5), (1, 3), (1,)):
        ticks = [m * 10.0**k for k in range(first, last + 1) for m in mantissas]
        ticks = [t for t in ticks if low <= t <= high]
        if len(ticks) <= count:
            break
    else:
        every = math.ceil(len(ticks) / count)
        ticks = ticks[::every]
    if len(ticks) < 2:  # a narrow range: its ends
        ticks = [low, high]
    return ticks


def log_scaled(values: Sequence[float], log: bool) -> list[float]:
    """``values`` as drawn on a log axis (their log10) or a linear one.

    The plots take logs themselves: plotext's own log scale transforms its data in place at
    each build, so the second render of a figure took logs of logs (and failed on negatives).
    """
    if not log:
        return list(values)
    return [math.log10(max(v, LOG_FLOOR)) if math.isfinite(v) else v for v in values]


def log_axis(low: float, high: float, count: int) -> tuple[list[float], list[str]]:
    """Ticks for a log axis drawn with ``log_scaled`` values: where, and what they read."""
    ticks = log_ticks(max(low, LOG_FLOOR), max(high, LOG_FLOOR), count)
    return log_scaled(ticks, True), [tick_label(t) for t in ticks]


def tick_label(value: float) -> str:
    return f"{value:.3g}"


def key_line(
    title: str, lines: Sequence[tuple[str, str, Colour]], width: int, short_title: str = ""
) -> Text:
    """``title`` and a key to the plot's lines, (label, short label, plotext colour) each,
    centred in ``width``. Where that does not fit: ``short_title`` and the key, the key alone,
    then with the short labels, then cut at the end."""

    def key(labels: Sequence[str], swatch: str, gap: str) -> Text:
        return Text(gap).join(
            Text.from_ansi(plotext.colorize(swatch, colour)) + f" {label}"
            for label, (_, _, colour) in zip(labels, lines)
        )

    full = key([label for label, _, _ in lines], "━━", "  ")
    titled = [Text(t) + "   " + full for t in (title, short_title) if t]
    for line in (*titled, full, key([s for _, s, _ in lines], "━", " ")):
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

    _key: tuple[str, Sequence[tuple[str, str, Colour]], str] | None = None
    # Below this height the frame's top line goes, its row given to the curves (0: never). The
    # training screen's plots have 10 rows at 80x24, of which the key, the frame and the x
    # labels took 4.
    OPEN_TOP_BELOW: ClassVar[int] = 0

    def draw(self) -> None:
        raise NotImplementedError

    def key(self, title: str, *lines: tuple[str, str, Colour], short_title: str = "") -> None:
        """Title the plot and list its lines as (label, short label, plotext colour), on one
        row (see ``key_line``)."""
        self.plt.title(title)  # keeps the row free; render() writes the key over it
        self._key = (title, lines, short_title)

    def replot(self) -> None:
        self.plt.clear_figure()  # settings too: each draw() sets all it needs
        self._key = None
        self.draw()
        if 0 < self.size.height < self.OPEN_TOP_BELOW:
            self.plt.xaxes(True, False)  # the key's row takes the top line's place
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
        """Buckets a long series is drawn in: one a cell, whose low and high points fill its
        two braille columns. More would not show, and each point costs build time."""
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
        title, lines, short_title = self._key
        row = key_line(title, lines, self.size.width, short_title)
        if backdrop is not None and backdrop.bgcolor is not None:
            row.stylize_before(f"on {backdrop.bgcolor.name}")
        rows[0] = row
        return Text("\n").join(rows)
