"""Two or more stored runs side by side: the settings that differ and the figures that matter
(as ``mlp-tui runs compare`` prints them), then their curves by epoch, one plot per metric."""

from __future__ import annotations

from collections.abc import Sequence

from mlp_tui.core.runs_cli import comparison_rows
from mlp_tui.core.store import RunRecord
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import DataTable, Static

from ..widgets.footer import KeyFooter
from ..widgets.runs_plot import RunCurve, RunsPlot, colour_of
from ..widgets.runs_table import setting_label

METRICS = (  # (epoch field, plot title, a fraction?)
    ("train_loss", "train loss", False),
    ("train_acc", "train acc", True),
    ("test_acc", "test acc", True),
)


class CompareScreen(Screen):
    DEFAULT_CSS = """
    CompareScreen #compare-title { height: 1; padding: 0 1; background: $panel; }
    CompareScreen #compare-table { height: auto; max-height: 50%; }
    CompareScreen #compare-plots { height: 1fr; min-height: 6; }
    CompareScreen RunsPlot { width: 1fr; }
    """
    APP_ACTIONS = frozenset({"help"})  # ? works here too
    BINDINGS = [Binding("escape", "app.pop_screen", "Back")]

    def __init__(self, records: Sequence[RunRecord]) -> None:
        super().__init__()
        self.records = list(records)

    def compose(self) -> ComposeResult:
        ids = ", ".join(r.summary.short_id for r in self.records)
        yield Static(f"comparing {ids}", id="compare-title")
        yield DataTable(cursor_type="none", zebra_stripes=True, id="compare-table")
        with Horizontal(id="compare-plots"):
            for field, title, unit in self.metrics():
                yield RunsPlot(title, self.curves(field), unit=unit, id=f"compare-{field}")
        yield KeyFooter(compact=True, show_command_palette=False)

    def metrics(self) -> tuple[tuple[str, str, bool], ...]:
        """d2l's three curves, and the validation accuracy's where a run holds a split out."""
        if any(e.get("val_acc") is not None for r in self.records for e in r.epochs):
            return (*METRICS, ("val_acc", "val acc", True))
        return METRICS

    def curves(self, field: str) -> list[RunCurve]:
        out = []
        for index, record in enumerate(self.records):
            s = record.summary
            points = [(e["epoch"], e[field]) for e in record.epochs if e.get(field) is not None]
            out.append(RunCurve(f"{s.short_id} {s.name}", s.short_id, colour_of(index)[0], points))
        return out

    def on_mount(self) -> None:
        header, rows = comparison_rows(self.records)
        table = self.query_one(DataTable)
        table.add_column("")
        for index, run_id in enumerate(header[1:]):  # each run's column in its curves' colour
            table.add_column(Text(run_id, style=f"bold {colour_of(index)[1]}"))
        fields = [row[0] for row in rows].index("best test acc") - 1  # the settings' rows
        for row in rows[1 : 1 + fields]:
            row[0] = setting_label(row[0].replace(" ", "_"))
        table.add_rows(rows)
