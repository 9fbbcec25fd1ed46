"""Training health (``h``): the latest epoch's figures per layer, the hints with what to try,
and one layer's weights and activations as histograms over the epochs.

It reads the run's view (``run_view.py``), which the training screen keeps fed from the run's
``Health`` events while this screen is in front, and redraws once a second when they change:
training goes on behind it.
"""

from __future__ import annotations

from collections.abc import Callable

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import Static

from ..render import RenderMode
from ..run_view import RunView
from ..widgets.footer import KeyFooter
from ..widgets.health_table import HealthTable
from ..widgets.hint_list import HintList
from ..widgets.histogram_map import HistogramMap

REFRESH_S = 1.0


class HealthScreen(Screen):
    DEFAULT_CSS = """
    HealthScreen #health-title { height: 1; padding: 0 1; background: $panel; }
    HealthScreen #health-maps { height: 1fr; min-height: 5; }
    """
    APP_ACTIONS = frozenset({"help"})
    BINDINGS = [
        Binding("escape", "close", "Close", tooltip="back to training", priority=True),
        Binding("h", "close", "Close", tooltip="back to training", show=False),
        Binding("left_square_bracket", "layer(-1)", "Layer", tooltip="the previous layer"),
        Binding("right_square_bracket", "layer(1)", "Layer", tooltip="the next layer", show=False),
        Binding("g", "toggle_mode", "Shading", tooltip="shade the heat maps: colours or ASCII"),
    ]

    def __init__(self, run: Callable[[], RunView], mode: RenderMode = "blocks") -> None:
        """``run``: the run on the training screen now (a restart replaces it)."""
        super().__init__()
        self.current_run = run
        self.shown_layer = 0
        self.shading: RenderMode = mode
        self._shown: tuple | None = None

    def compose(self) -> ComposeResult:
        yield Static(id="health-title")
        yield HealthTable(id="health-table")
        yield HintList(id="health-hints")
        with Horizontal(id="health-maps"):
            yield HistogramMap("weights", id="weights-map")
            yield HistogramMap("activations", id="activations-map")
        yield KeyFooter()

    def on_mount(self) -> None:
        for heat_map in self.query(HistogramMap):
            heat_map.mode = self.shading
        self.redraw()
        self.set_interval(REFRESH_S, self.redraw)

    def redraw(self, force: bool = False) -> None:
        run = self.current_run()
        key = (id(run), len(run.health), len(run.hints), self.shown_layer)
        if key == self._shown and not force:
            return
        self._shown = key
        latest = run.health[-1] if run.health else None
        epochs = f"after epoch {latest.epoch}" if latest else "no epoch yet"
        count = len(run.hints)
        hints = f"{count} hint{'' if count == 1 else 's'}" if count else "no hints"
        self.query_one("#health-title", Static).update(
            f"Training health · {run.name} · {epochs} · {hints} · {run.config.architecture}"
        )
        self.query_one(HealthTable).show(latest)
        self.query_one(HintList).show(run.hints)
        layers = latest.layers if latest else ()
        self.shown_layer = min(self.shown_layer, max(len(layers) - 1, 0))
        name = layers[self.shown_layer].name if layers else "1"
        what = f"layer {name}" if name != "output" else "the output layer"
        weights = [(r.epoch, r.layers[self.shown_layer].weights) for r in run.health if r.layers]
        acts = [
            (r.epoch, a)
            for r in run.health
            if (a := r.layers[self.shown_layer].activations if r.layers else None) is not None
        ]
        self.query_one("#weights-map", HistogramMap).show(f"weights of {what}", weights)
        title = f"activations of {what} (test images)" if name != "output" else "no activations"
        self.query_one("#activations-map", HistogramMap).show(title, acts)

    def action_close(self) -> None:
        self.dismiss()

    def action_layer(self, delta: int) -> None:
        run = self.current_run()
        layers = len(run.health[-1].layers) if run.health else 1
        self.shown_layer = (self.shown_layer + delta) % layers
        self.redraw()

    def action_toggle_mode(self) -> None:
        self.shading = "ascii" if self.shading == "blocks" else "blocks"
        for heat_map in self.query(HistogramMap):
            heat_map.mode = self.shading
