"""The health figures of the latest epoch, a row per layer, the worrying ones in colour."""

from __future__ import annotations

from mlp_tui.core.health_report import HealthReport, LayerHealth
from mlp_tui.core.hints import RATIO_HIGH, RATIO_LOW
from rich.console import RenderableType
from rich.table import Table
from rich.text import Text
from textual.widgets import Static

COLUMNS = ("layer", "units", "dead", "saturated", "‖W‖", "‖∇W‖", "‖ΔW‖/‖W‖", "max")


def share(value: float | None, warn: float = 0.5) -> Text:
    if value is None:
        return Text("–", "dim")
    style = "bold red" if value >= 0.999 else ("yellow" if value >= warn else "")
    return Text(f"{value:.1%}", style)


def number(value: float | None) -> Text:
    return Text("–", "dim") if value is None else Text(f"{value:.3g}")


def ratio(value: float | None) -> Text:
    if value is None:
        return Text("–", "dim")
    if value == 0:
        return Text("0: none", "yellow")  # no gradient reached the layer
    bad = value > RATIO_HIGH or 0 < value < RATIO_LOW
    return Text(f"{value:.1e}", "bold red" if bad else "green")


def row(layer: LayerHealth) -> list[Text]:
    name = layer.name + (" alike" if layer.alike else "")
    return [
        Text(name + " ", "bold red" if layer.alike else "bold"),  # the space: see COLUMNS
        Text(str(layer.units), "bold red" if layer.units == 1 else ""),
        share(layer.dead),
        share(layer.saturated),
        number(layer.weight_norm),
        number(layer.grad_norm),
        ratio(layer.update_ratio),
        ratio(layer.max_update_ratio),
    ]


class HealthTable(Static):
    DEFAULT_CSS = """
    HealthTable { height: auto; padding: 0 1; }
    """

    def show(self, report: HealthReport | None) -> None:
        self.update(self.table(report))

    @staticmethod
    def table(report: HealthReport | None) -> RenderableType:
        if report is None:
            return Text("no figures yet: they come at each epoch's end", "dim")
        where = "as initialised" if report.epoch == 0 else f"after epoch {report.epoch}"
        steps = "step" if report.samples == 1 else "steps"
        sampled = f", {report.samples} {steps} measured" if report.samples else ""
        table = Table(
            *COLUMNS,
            title=f"{where} (batch {report.step}{sampled})",
            title_justify="left",
            box=None,
            padding=(0, 2, 0, 0),
            pad_edge=False,
            header_style="bold",
        )
        for layer in report.layers:
            table.add_row(*row(layer))
        return table
