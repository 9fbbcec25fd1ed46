"""The app's first frame: the training screen's layout, drawn before torch has loaded.

torch's import alone takes 1.0-1.5 s; the launch draws this screen first and loads torch, the
data, the run store and the trainer on a thread meanwhile (``MLPApp``'s ``load``). It shows
what is loading in the status line, the run's hyperparameters in their panel and empty plots
where the training screen has them, so that the run arrives in a frame that is already there.
Only ``q`` and ctrl+c work meanwhile: every other key acts on the run.

Torch-free, as is every module it imports (``tests/test_import_hygiene.py`` holds that).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from mlp_tui.core.config import TrainConfig
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Static

from ..widgets.epoch_plot import EpochPlot
from ..widgets.footer import KeyFooter
from ..widgets.hyperparameters import HyperparameterPanel
from ..widgets.loss_plot import LossPlot
from ..widgets.run_numbers import RunNumbers

BADGE = "bold black on grey70"  # the status line's idle badge
PHASES = {  # what the loading thread says it is doing, in the order it does it
    "torch": "torch",
    "data": "the Fashion-MNIST data",
    "download": "downloading Fashion-MNIST (not found on this machine)",
    "run": "the run",
}


class StartingScreen(Screen[None]):
    """Until the run has loaded. ``config``: the hyperparameters to show (None for a run
    resumed from ``resume``, whose own are read from its checkpoint)."""

    DEFAULT_CSS = """
    StartingScreen #status { height: 1; padding: 0 1; background: $boost; }
    StartingScreen #numbers { background: $boost; }
    StartingScreen #gallery { height: 1fr; text-style: bold; }
    StartingScreen #panel-placeholder {
        width: 38;
        height: 1fr;
        border: round $panel;
        border-title-color: $text-muted;
        padding: 0 1;
        color: $text-muted;
    }
    """
    BINDINGS = [Binding("q", "app.quit", "Quit", tooltip="quit (nothing has trained yet)")]
    APP_ACTIONS = frozenset({"quit"})  # the app's keys that work over this screen
    VERTICAL_BREAKPOINTS = [(0, "-short"), (30, "-tall")]  # the training screen's (app.tcss)

    def __init__(
        self,
        config: TrainConfig | None,
        resume: str | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self.config, self.resume, self.clock = config, resume, clock
        self.started = clock()
        self.phase = "torch"
        self.timer: Timer | None = None

    def compose(self) -> ComposeResult:
        yield Static(self.status_text(), id="status")
        yield RunNumbers(id="numbers")
        with Horizontal(id="plots"):
            yield LossPlot(id="loss-plot")
            yield EpochPlot(id="epoch-plot")
        with Horizontal(id="bottom"):
            yield Static(
                "Misclassified test images: they appear after the first epoch's evaluation",
                id="gallery",
            )
            if self.config is not None:
                panel = HyperparameterPanel(self.config, id="panel")
                panel.can_focus = False  # its keys change the run's settings: not here yet
                yield panel
            else:
                yield Static(f"read from {self.resume}", id="panel-placeholder")
        yield KeyFooter(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        for panel in self.query("#panel, #panel-placeholder"):
            panel.border_title = "hyperparameters"
        self.timer = self.set_interval(0.5, self.tick)  # the seconds: twice a second is free

    def status_text(self) -> Text:
        seconds = self.clock() - self.started
        return Text.assemble((" LOADING ", BADGE), f"  {PHASES[self.phase]}…  {seconds:.1f} s")

    def tick(self) -> None:
        self.query_one("#status", Static).update(self.status_text())

    def now_loading(self, phase: str) -> None:
        """The loading thread moved on to ``phase`` (a key of PHASES)."""
        self.phase = phase
        if self.is_mounted:
            self.tick()

    def loaded(self) -> None:
        """The run is here: the training screen goes over this one, which stops counting."""
        if self.timer is not None:
            self.timer.stop()
