"""The chart a sweep's exercise asks for, and the heat map of two swept values.

The accuracy that ranks the sweep (validation, else test) against the first swept value, one
line per value of the others, error bars over seeds; the x axis is logarithmic for a
learning rate or a log-uniform draw, and values that are not numbers (a stack of layers, an
activation) sit at evenly spaced ticks. ``Chart`` is plain data: the app draws it in a
PlotextPlot, ``text`` draws it for a terminal with plotext, imported only then (the engine
otherwise never loads a UI package).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from .config import show_stored
from .sweep_results import ConfigResult, SweepResults

ANSI = re.compile(r"\x1b\[[0-9;]*m")
MARKERS = ("●", "■", "▲", "◆", "x", "+", "o", "*")  # each series' points, in plain text


@dataclass(frozen=True)
class Series:
    label: str
    xs: tuple[float, ...]
    ys: tuple[float, ...]  # in %
    errs: tuple[float, ...]  # one std over seeds, in % (0 with one seed)


@dataclass(frozen=True)
class Chart:
    title: str
    xlabel: str
    ylabel: str
    log_x: bool  # the xs are log10 of the values; the ticks say the values
    ticks: tuple[tuple[float, ...], tuple[str, ...]]  # positions and their labels
    series: tuple[Series, ...]
    points: bool  # a random search: markers, no lines between draws

    @property
    def x_range(self) -> tuple[float, float]:
        """The points and ticks with room at both ends, so the end points' error bars are
        not drawn on the frame."""
        xs = [x for series in self.series for x in series.xs] + list(self.ticks[0])
        low, high = (min(xs), max(xs)) if xs else (0.0, 1.0)
        pad = 0.08 * (high - low) or 0.5
        return low - pad, high + pad


def chart_of(results: SweepResults) -> Chart:
    spec = results.spec
    axis, others = spec.axes[0], spec.axes[1:]
    scored = [c for c in results.ranked if c.score is not None]
    values = sorted({c.values[0] for c in scored}, key=_order) if axis.numeric else list(
        dict.fromkeys(axis.values)
    )  # fmt: skip

    def x_of(value: object) -> float:
        """Where a value sits: log10 of it on a log axis (labelled with the values)."""
        if not axis.numeric:
            return float(values.index(value))
        x = float(value)  # type: ignore[arg-type]
        return math.log10(x) if axis.log_scale else x

    lines: dict[str, list[ConfigResult]] = {}  # in the spec's order of the other values
    for config in sorted(scored, key=lambda c: c.group):
        label = (
            "draws"
            if spec.trials
            else ", ".join(f"{a.label} {show_stored(v)}" for a, v in zip(others, config.values[1:]))
        )
        lines.setdefault(label or results.metric, []).append(config)
    for configs in lines.values():
        configs.sort(key=lambda c: x_of(c.values[0]))
    series = tuple(
        Series(
            label,
            tuple(x_of(c.values[0]) for c in configs),
            tuple(100 * (c.score or 0.0) for c in configs),
            tuple(100 * (c.score_std or 0.0) for c in configs),
        )
        for label, configs in lines.items()
    )
    ticks = (tuple(x_of(v) for v in values), tuple(show_stored(v) for v in values))
    if spec.trials and axis.numeric:  # draws are many and uneven: round values instead
        ticks = _log_ticks(values) if axis.log_scale else ((), ())
    metric = "best val acc" if results.by_val else "best test acc"
    seeds = f" (± std, {spec.seeds} seeds)" if spec.seeds > 1 else ""
    return Chart(
        f"{metric} by {axis.label}{seeds}",
        axis.label + (" (log)" if axis.log_scale else ""),
        "%",
        axis.log_scale,
        ticks,
        series,
        bool(spec.trials),
    )


def _log_ticks(values: list) -> tuple[tuple[float, ...], tuple[str, ...]]:
    """1, 2, 5 x 10^k (or the powers of ten alone, when those are many) across ``values``."""
    if not values:
        return (), ()
    low, high = min(values), max(values)
    for mantissas in ((1, 2, 5), (1,)):
        found = [
            m * 10.0**k
            for k in range(math.floor(math.log10(low)), math.ceil(math.log10(high)) + 1)
            for m in mantissas
            if low <= m * 10.0**k <= high
        ]
        if len(found) <= 6:
            break
    return tuple(math.log10(v) for v in found), tuple(f"{v:g}" for v in found)


def _order(value: object) -> float:
    return float(value) if isinstance(value, (int, float)) else 0.0


def draw(plt, chart: Chart) -> None:
    """Draw ``chart`` with ``plt``: plotext's module, or a PlotextPlot's ``plt``."""
    for index, series in enumerate(chart.series):
        xs, ys, marker = list(series.xs), list(series.ys), MARKERS[index % len(MARKERS)]
        if any(series.errs):
            plt.error(xs, ys, yerr=list(series.errs))
        if not chart.points:
            plt.plot(xs, ys, marker="braille")
        plt.scatter(xs, ys, label=f"{series.label}", marker=marker)  # without colour: the marker
    plt.xlim(*chart.x_range)
    positions, labels = chart.ticks
    if positions:
        plt.xticks(list(positions), list(labels))
    plt.title(chart.title)
    plt.xlabel(chart.xlabel)
    plt.ylabel(chart.ylabel)


def text(chart: Chart, width: int = 80, height: int = 20) -> str:
    """The chart as plain text for a terminal or a file."""
    import plotext as plt

    plt.clear_figure()
    plt.plotsize(width, height)
    plt.theme("clear")
    draw(plt, chart)
    drawn = ANSI.sub("", plt.build())
    plt.clear_figure()
    return "\n".join(line.rstrip() for line in drawn.splitlines())


@dataclass(frozen=True)
class HeatMap:
    """The ranking metric for each pair of two swept values: rows the first, columns the
    second."""

    rows_label: str
    columns_label: str
    rows: tuple[str, ...]
    columns: tuple[str, ...]
    cells: tuple[tuple[ConfigResult | None, ...], ...]


def heat_map(results: SweepResults) -> HeatMap | None:
    """For a grid of exactly two swept values; None otherwise."""
    spec = results.spec
    if spec.trials or len(spec.axes) != 2:
        return None
    first, second = spec.axes
    found = {c.values: c for c in results.ranked}
    cells = tuple(tuple(found.get((a, b)) for b in second.values) for a in first.values)
    return HeatMap(
        first.label,
        second.label,
        tuple(show_stored(v) for v in first.values),
        tuple(show_stored(v) for v in second.values),
        cells,
    )


def cell_text(config: ConfigResult | None) -> str:
    if config is None or config.score is None:
        return "-"
    spread = "" if config.score_std is None else f" ±{100 * config.score_std:.1f}"
    return f"{100 * config.score:.2f}{spread}"


def heat_text(heat: HeatMap, metric: str) -> str:
    """The heat map as a text table, the best cell starred."""
    scores = [c.score for row in heat.cells for c in row if c is not None and c.score is not None]
    best = max(scores, default=None)
    corner = f"{heat.rows_label} \\ {heat.columns_label}"
    header = [corner, *heat.columns]
    rows = [
        [label, *(cell_text(c) + ("*" if c is not None and c.score == best else "") for c in row)]
        for label, row in zip(heat.rows, heat.cells)
    ]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(c.rjust(w) for c, w in zip(line, widths)) for line in [header, *rows]]
    return f"{metric} in % (* the best)\n" + "\n".join(lines)
