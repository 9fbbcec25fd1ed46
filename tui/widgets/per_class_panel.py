"""Per-class accuracy: a table of the latest evaluation and each class's curve over epochs."""

from __future__ import annotations

import math

import torch
from mlp_tui.core.analysis import PerClassHistory, per_class_accuracy
from mlp_tui.core.data import CLASS_NAMES
from rich.color import Color
from rich.style import Style
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import DataTable

from .per_class_plot import COLOURS, PerClassPlot


def percent(value: float) -> str:
    return "–" if math.isnan(value) else f"{value:.1%}"


class PerClassPanel(Horizontal):
    DEFAULT_CSS = """
    PerClassPanel { height: 1fr; }
    PerClassPanel DataTable { width: auto; max-width: 70; height: 1fr; }
    PerClassPanel PerClassPlot { width: 1fr; height: 1fr; }
    """
    BINDINGS = [Binding("o", "only", "One class / all")]

    def __init__(self, matrix: torch.Tensor, history: PerClassHistory, **kwargs) -> None:
        super().__init__(**kwargs)
        self.matrix = matrix
        self.history = history

    def compose(self) -> ComposeResult:
        yield DataTable(id="per-class-table", cursor_type="row", zebra_stripes=True)
        yield PerClassPlot(self.history, id="per-class-plot")

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        previous = self.history.accuracies[-2] if len(self.history) > 1 else None
        # The last column is the class's colour in the plot beside the table: a key that needs
        # no room on the plot (plotext's legend would sit over the first epochs' points).
        table.add_columns("class", "correct", "images", "accuracy", "change", "", "line")
        for c, acc in enumerate(per_class_accuracy(self.matrix).tolist()):
            change = Text("–", "dim", justify="right")
            if previous is not None and not math.isnan(previous[c]) and not math.isnan(acc):
                delta = acc - previous[c]
                style = "green" if delta > 0 else "red" if delta else ""
                change = Text(f"{delta:+.1%}", style, justify="right")
            bar = "█" * round(0 if math.isnan(acc) else acc * 12)
            table.add_row(
                CLASS_NAMES[c],
                Text(f"{int(self.matrix[c, c]):,}", justify="right"),
                Text(f"{int(self.matrix[c].sum()):,}", justify="right"),
                Text(percent(acc), justify="right"),
                change,
                Text(bar, "green"),
                Text("━━━━", Style(color=Color.from_rgb(*COLOURS[c]))),
                key=str(c),
            )

    @property
    def plot(self) -> PerClassPlot:
        return self.query_one(PerClassPlot)

    def action_only(self) -> None:
        table = self.query_one(DataTable)
        self.plot.show(None if self.plot.only is not None else table.cursor_row)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if self.plot.only is not None:
            self.plot.show(event.cursor_row)
