"""One metric of several stored runs by epoch, each run in its own colour (the comparison)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast

import plotext
from rich.text import Text
from textual.app import RenderResult

from .training_plot import TrainingPlot, key_line, whole_ticks

# (plotext's name, Rich's name) of each run's colour, in the order runs are given; they repeat
# after the eighth run.
COLOURS = (
    ("cyan", "cyan"),
    ("orange", "dark_orange"),
    ("magenta", "magenta"),
    ("green", "green"),
    ("blue", "blue"),
    ("red", "red"),
    ("yellow", "yellow"),
    ("white", "white"),
)


def colour_of(index: int) -> tuple[str, str]:
    return COLOURS[index % len(COLOURS)]


@dataclass(frozen=True)
class RunCurve:
    label: str  # in the key: id and name
    short: str  # in the key when the labels do not fit: the id
    colour: str  # plotext's
    points: Sequence[tuple[int, float]]  # (epoch, value); a diverged epoch's value is absent


class RunsPlot(TrainingPlot):
    def __init__(self, title: str, curves: Sequence[RunCurve], *, unit: bool, **kwargs) -> None:
        """``unit``: the values are fractions (accuracies), drawn from 0 to 1."""
        super().__init__(**kwargs)
        self.title, self.curves, self.unit = title, list(curves), unit

    def on_mount(self) -> None:
        self.replot()

    def draw(self) -> None:
        plt = self.plt
        last = max((p[0] for c in self.curves for p in c.points), default=1)
        last = max(last, 2)
        plt.xlim(0.8, last + 0.2)
        fits = last <= self.tick_count
        ticks = range(1, last + 1) if fits else whole_ticks(1, last, self.tick_count)
        plt.xticks(cast(list[float], list(ticks)))
        full = [(c.label, c.short, c.colour) for c in self.curves]
        fits = key_line(self.title, full, self.size.width).plain.strip().startswith(self.title)
        # Without its title a plot does not say which metric it shows: ids alone, then.
        self.key(
            self.title, *(full if fits else [(c.short, c.short, c.colour) for c in self.curves])
        )
        values = [v for c in self.curves for _, v in c.points]
        for curve in self.curves:
            if curve.points:
                xs, ys = zip(*curve.points)
                plt.plot(list(xs), list(ys), color=curve.colour, marker="braille")
        if not values:
            plt.ylim(0, 1)
        elif self.unit:  # the runs' differences, not the whole 0-1 range
            plt.ylim(max(0.0, min(values) - 0.02), min(1.0, max(values) + 0.02))
        else:  # the same for a loss: from 0, close runs share a row of a small plot
            pad = max((max(values) - min(values)) * 0.1, abs(max(values)) * 0.01, 1e-6)
            plt.ylim(max(0.0, min(values) - pad), max(values) + pad)

    def render(self) -> RenderResult:
        """As drawn, but where the key pushed the title off its row (a plot a third of 80
        columns wide): the title, then each run's id after a dash of its colour."""
        figure = super().render()
        if not isinstance(figure, Text) or not figure.plain.strip():
            return figure
        rows = figure.split("\n", allow_blank=True)
        if rows[0].plain.strip().startswith(self.title):
            return figure
        backdrop = rows[0].get_style_at_offset(self.app.console, 0)
        rows[0] = compact_key(self.title, self.curves, self.size.width)
        if backdrop.bgcolor is not None:
            rows[0].stylize_before(f"on {backdrop.bgcolor.name}")
        return Text("\n").join(rows)


def compact_key(title: str, curves: Sequence[RunCurve], width: int) -> Text:
    """``title ━r1 ━r2 ━r3`` centred in ``width``: the title always, then as many runs as
    fit with a column to spare, so that side by side one plot's key never runs into the next
    one's title (the comparison's table above names the rest, each column in its run's colour)."""
    line = Text(title)
    for curve in curves:
        entry = Text.from_ansi(plotext.colorize("━", curve.colour)) + curve.short
        if line.cell_len + 1 + entry.cell_len > width - 1:  # a column apart from the next plot
            break
        line += Text(" ") + entry
    line.truncate(width, overflow="ellipsis")
    line.align("center", width)
    return line
