"""The sweep screen's plots: every member's loss while the sweep trains, each named in the
key, and the results' chart (accuracy against the swept value, error bars over seeds)."""

from __future__ import annotations

from collections.abc import Sequence

from mlp_tui.core.sweep_chart import Chart

from ..sweep_view import MemberView
from .runs_plot import colour_of
from .training_plot import TrainingPlot


class MemberCurves(TrainingPlot):
    """Each member's batch loss by epoch, the one training drawn last (on top)."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.members: Sequence[MemberView] = []

    def show(self, members: Sequence[MemberView]) -> None:
        self.members = members
        self.replot()

    def draw(self) -> None:
        plt = self.plt
        drawn = [(i, m) for i, m in enumerate(self.members) if m.losses]
        lines = []
        for index, view in drawn:
            colour = colour_of(index)[0]
            xs, ys = zip(*view.losses)
            plt.plot(list(xs), list(ys), color=colour, marker="braille")
            lines.append((view.member.name, view.run, colour))
        epochs = max((m.member.config.epochs for m in self.members), default=1)
        plt.xlim(0, epochs)
        plt.xlabel("epoch")
        self.key("loss", *lines, short_title="loss")


class SweepChart(TrainingPlot):
    """A ``core.sweep_chart.Chart``: one line (or a random search's points) per series."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.chart: Chart | None = None

    def show(self, chart: Chart | None) -> None:
        self.chart = chart
        self.replot()

    def draw(self) -> None:
        chart, plt = self.chart, self.plt
        if chart is None or not chart.series:
            plt.title("no results yet")
            return
        lines = []
        for index, series in enumerate(chart.series):
            colour = colour_of(index)[0]
            xs, ys = list(series.xs), list(series.ys)
            if any(series.errs):
                plt.error(xs, ys, yerr=list(series.errs), color=colour)
            if chart.points:
                plt.scatter(xs, ys, color=colour, marker="dot")
            else:
                plt.plot(xs, ys, color=colour, marker="braille")
                plt.scatter(xs, ys, color=colour, marker="●")  # where the members are
            lines.append((series.label, series.label[:12], colour))
        plt.xlim(*chart.x_range)
        positions, labels = chart.ticks
        if positions:
            if len(positions) <= self.tick_count:
                plt.xticks(list(positions), list(labels))
        plt.xlabel(chart.xlabel)
        self.key(chart.title, *lines, short_title=chart.title.split(" by ")[0])
