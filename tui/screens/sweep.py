"""The sweep screen (``w``): set a sweep up from the keyboard, watch its members train, and
read the results.

Three views of one screen. The form takes the fields to sweep as on the command line
(``lr=0.03,0.1,0.3 hidden=64,256``) and the settings for every member (``--epochs 3 --val
5000 --seeds 2``); a mistake is one line under it and starts nothing. While it trains, in a
thread worker (``core.sweep_run``) whose events are posted as messages, the members train
together as populations where their shapes allow, else one after the other
(``core.sweep_mode``; ``--solo`` / ``--together`` in the settings choose), and the title says
which; every member's loss is drawn on one plot, named in its key, beside the members' table.
The results rank the configurations (``core.sweep_results``), draw the accuracy against the
swept value and, for two swept values, the heat map. Each member is a run in the store;
leaving, or ``s``, stops the sweep, and starting the same sweep again resumes it with the
members done kept.
"""

from __future__ import annotations

import time

from mlp_tui.core import sweep_chart, sweep_results
from mlp_tui.core.config import ConfigError, TrainConfig
from mlp_tui.core.data import FashionMNIST
from mlp_tui.core.events import BatchReport
from mlp_tui.core.store import RunStore, StoreError
from mlp_tui.core.sweep import SweepSpec
from mlp_tui.core.sweep_cli import parse_typed
from mlp_tui.core.sweep_mode import plan
from mlp_tui.core.sweep_run import MemberEnded, MemberEvent, SweepEnded, SweepEvent, SweepRun
from rich import box
from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.coordinate import Coordinate
from textual.screen import Screen
from textual.widgets import DataTable, Input, Static
from textual.worker import Worker, WorkerState

from ..messages import SweepMessage
from ..sweep_view import SweepView
from ..widgets.footer import KeyFooter
from ..widgets.sweep_plots import MemberCurves, SweepChart

REPORT_S = 0.25  # batch reports posted at most this often (the rest thin the live curves)
POPULATION_REPORT_S = 0.3  # a population's members report this often: just over REPORT_S
SPEC = "lr=0.03,0.1,0.3"
SETTINGS = "--epochs 3 --val 5000"
FORM_HELP = (
    "Fields: any setting, values with commas (lr=0.03,0.1,0.3; a stack of layers is one "
    "value, layers=256,512x256), or a range to draw from with --trials N: log:LOW:HIGH, "
    "int:LOW:HIGH, uni:LOW:HIGH. Settings: as for a run (--epochs, --val, --batch-size...), "
    "--seeds K repeats each configuration; members train together as populations where their "
    "shapes allow (--solo: one by one). Enter starts; the same sweep again resumes it."
)
# The figures before the names: at 80 columns the long member names are what is cut.
MEMBER_COLUMNS = ("#", "acc", "epochs", "status", "run", "member")


class SweepScreen(Screen):
    DEFAULT_CSS = """
    SweepScreen #sweep-title { height: 1; padding: 0 1; background: $panel; }
    SweepScreen #sweep-form { height: 1fr; padding: 0 1; }
    SweepScreen #sweep-form Input { margin: 0 0 1 0; }
    SweepScreen #sweep-error { color: $error; height: auto; }
    SweepScreen #sweep-help { color: $text-muted; height: auto; margin-top: 1; }
    SweepScreen #sweep-live, SweepScreen #sweep-results { height: 1fr; }
    SweepScreen #sweep-curves { width: 3fr; }
    SweepScreen #sweep-members { width: 2fr; }
    SweepScreen #sweep-ranking { height: auto; max-height: 12; }
    SweepScreen #sweep-note { height: auto; padding: 0 1; color: $text-muted; }
    SweepScreen #sweep-bottom { height: 1fr; min-height: 8; }
    SweepScreen #sweep-chart { width: 1fr; }
    SweepScreen #sweep-heat { width: auto; max-width: 50%; padding: 0 1; }
    SweepScreen.-form #sweep-live, SweepScreen.-form #sweep-results { display: none; }
    SweepScreen.-live #sweep-form, SweepScreen.-live #sweep-results { display: none; }
    SweepScreen.-results #sweep-form, SweepScreen.-results #sweep-live { display: none; }
    SweepScreen.-plain #sweep-heat { display: none; }
    """
    APP_ACTIONS = frozenset({"help"})
    BINDINGS = [
        Binding("escape", "close", "Back", tooltip="back (a sweep under way stops; resumable)"),
        Binding("s", "stop", "Stop", tooltip="stop the sweep (the members done are kept)"),
        Binding("r", "results", "Results", tooltip="the results so far, or the live view"),
        Binding("n", "new", "New", tooltip="set up another sweep"),
    ]

    def __init__(
        self,
        store: RunStore,
        data: FashionMNIST,
        base: TrainConfig | None = None,
        *,
        spec: str = SPEC,
        settings: str = SETTINGS,
    ) -> None:
        """``base``: the run on screen's settings (its device is the members'); ``spec`` and
        ``settings``: what the form starts with."""
        super().__init__()
        self.store, self.data, self.base = store, data, base or TrainConfig()
        self.initial = (spec, settings)
        self.view = SweepView()
        self.sweep: SweepRun | None = None
        self.spec: SweepSpec | None = None
        self.results: sweep_results.SweepResults | None = None
        self._posted: dict[int, float] = {}  # member index -> when its last report was posted
        self._told: set[str] = set()  # the failures said in a toast (each once)

    def compose(self) -> ComposeResult:
        yield Static("sweep: set one up", id="sweep-title")
        with Vertical(id="sweep-form"):
            yield Static("Fields to sweep")
            yield Input(self.initial[0], id="sweep-spec")
            yield Static("Settings of every member")
            yield Input(self.initial[1], id="sweep-settings")
            yield Static("", id="sweep-error")
            yield Static(FORM_HELP, id="sweep-help")
        with Horizontal(id="sweep-live"):
            yield MemberCurves(id="sweep-curves")
            yield DataTable(id="sweep-members", cursor_type="row", zebra_stripes=True)
        with Vertical(id="sweep-results"):
            yield DataTable(id="sweep-ranking", cursor_type="row", zebra_stripes=True)
            yield Static("", id="sweep-note")
            with Horizontal(id="sweep-bottom"):
                yield SweepChart(id="sweep-chart")
                yield Static("", id="sweep-heat")
        yield KeyFooter(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        for field in self.query(Input):
            field.cursor_blink = getattr(self.app, "cursor_blink", True)
        self.set_mode("form")
        self.query_one("#sweep-members", DataTable).add_columns(*MEMBER_COLUMNS)

    def set_mode(self, mode: str) -> None:
        for name in ("form", "live", "results"):
            self.set_class(name == mode, f"-{name}")
        self.mode = mode
        if mode == "form":
            self.query_one("#sweep-spec", Input).focus()
        elif mode == "live":
            self.query_one("#sweep-members", DataTable).focus()
        else:
            self.query_one("#sweep-ranking", DataTable).focus()
        self.refresh_bindings()

    @property
    def running(self) -> bool:
        return self.sweep is not None and self.view.status in ("starting", "running")

    # ------------------------------------------------------------------ the form
    @on(Input.Submitted)
    def start(self) -> None:
        text = " ".join(self.query_one(f"#sweep-{n}", Input).value for n in ("spec", "settings"))
        error = self.query_one("#sweep-error", Static)
        try:
            spec, mode = parse_typed(text, self.base)
            sweep = SweepRun(spec, self.store, self.data, self._post, self._problem)
        except (ConfigError, StoreError) as exc:
            error.update(str(exc))
            return
        error.update("")
        how = plan(sweep.pending(), mode)
        sweep.training = how.training(report_s=POPULATION_REPORT_S)
        self.spec, self.sweep, self.view, self.results = spec, sweep, SweepView(), None
        self.view.mode, self._posted, self._told = how.text, {}, set()
        self.query_one("#sweep-members", DataTable).clear()
        self.set_mode("live")
        self._train(sweep)

    @work(thread=True, exclusive=True, exit_on_error=False, group="sweep")
    def _train(self, sweep: SweepRun) -> str:
        return sweep.run()

    def _post(self, event: SweepEvent) -> None:
        """On the training thread: post the event; each member's batch reports a few times a
        second (members trained together report at once: each is thinned on its own)."""
        if isinstance(event, MemberEvent) and isinstance(event.event, BatchReport):
            now, index = time.monotonic(), event.member.index
            if now - self._posted.get(index, -REPORT_S) < REPORT_S:
                return
            self._posted[index] = now
        self.post_message(SweepMessage(event))

    def _problem(self, text: str) -> None:
        self.app.call_from_thread(self.notify, text, title="run store", severity="warning")

    # ------------------------------------------------------------------ the sweep's events
    def on_sweep_message(self, message: SweepMessage) -> None:
        event = message.event
        if not self.is_attached:
            return
        self.view.apply(event)  # type: ignore[arg-type]
        self.query_one("#sweep-title", Static).update(self.view.headline())
        if isinstance(event, MemberEvent) and isinstance(event.event, BatchReport):
            if self.mode == "live":
                self.query_one(MemberCurves).show(self.view.members)
            return
        self.show_members()
        if isinstance(event, MemberEnded) and event.status == "failed":
            self._tell(event.reason or f"{event.member.name} failed")
        if isinstance(event, SweepEnded):
            self.show_results()
            self.refresh_bindings()

    def _tell(self, problem: str) -> None:
        """An error toast, once for the same problem (every member may fail alike)."""
        if problem not in self._told:
            self._told.add(problem)
            self.notify(problem, title="sweep", severity="error")

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """A sweep whose thread died (a bug, a full memory): said, and left as stopped, not
        shown as running for ever."""
        if event.worker.group != "sweep" or event.state is not WorkerState.ERROR:
            return
        self.view.status = "failed"
        error = event.worker.error
        self._tell(f"the sweep failed: {error}" if error else "the sweep failed")
        if self.is_attached:
            self.query_one("#sweep-title", Static).update(self.view.headline())
            self.refresh_bindings()

    def show_members(self) -> None:
        table = self.query_one("#sweep-members", DataTable)
        rows = [
            (str(v.member.index + 1),
             f"{100 * v.accuracies[-1][1]:.2f}%" if v.accuracies else "-",
             str(v.epoch), v.status, v.run, v.member.name)
            for v in self.view.members
        ]  # fmt: skip
        if table.row_count != len(rows):
            table.clear()
            table.add_rows(rows)
        else:
            for at, row in enumerate(rows):
                for column, value in enumerate(row):
                    table.update_cell_at(Coordinate(at, column), value, update_width=True)
        self.query_one(MemberCurves).show(self.view.members)

    # ------------------------------------------------------------------ the results
    def show_results(self) -> None:
        if self.sweep is None or self.spec is None:
            return
        try:
            results = sweep_results.load(self.store, self.spec, self.sweep.number)
        except StoreError as exc:
            self.notify(str(exc), severity="error")
            return
        self.show(results)
        if self.view.failures:  # the ranking alone would only say no member trained
            title = self.query_one("#sweep-title", Static)
            title.update(f"sweep {results.sweep}: {results.spec.text} · {self.view.failures}")

    def show(self, results: sweep_results.SweepResults) -> None:
        """The results view of ``results`` (also for a sweep read from the store)."""
        self.results = results
        table = self.query_one("#sweep-ranking", DataTable)
        header, rows = sweep_results.table(results)
        table.clear(columns=True)
        table.add_columns(*header)
        table.add_rows(rows)
        self.query_one("#sweep-note", Static).update(results.note)
        self.query_one(SweepChart).show(sweep_chart.chart_of(results))
        heat = sweep_chart.heat_map(results)
        self.set_class(heat is None, "-plain")
        if heat is not None:
            self.query_one("#sweep-heat", Static).update(heat_table(heat, results.metric))
        self.query_one("#sweep-title", Static).update(f"sweep {results.sweep}: {results.spec.text}")
        self.set_mode("results")

    # ------------------------------------------------------------------ keys
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "stop":
            return self.running
        if action == "results":
            return self.sweep is not None or self.results is not None
        if action == "new":
            return not self.running and self.mode != "form"
        return True

    def action_stop(self) -> None:
        if self.sweep is not None:
            self.sweep.stop()
            self.notify("stopping: the members done are kept; start it again to resume")

    def action_results(self) -> None:
        if self.mode == "results" and self.running:
            self.set_mode("live")
            self.show_members()
        else:
            self.show_results()

    def action_new(self) -> None:
        self.set_mode("form")

    def action_close(self) -> None:
        if self.running and self.sweep is not None:
            self.sweep.stop()
            self.notify("sweep stopped: the members done are kept; start it again to resume")
        self.dismiss()

    def on_unmount(self) -> None:
        if self.sweep is not None:
            self.sweep.stop()  # no training thread outlives the screen (or the app)


def heat_table(heat: sweep_chart.HeatMap, metric: str) -> Table:
    """The heat map as a Rich table, each cell shaded from the worst (red) to the best
    (green) of the sweep's scores."""
    scores = [c.score for row in heat.cells for c in row if c is not None and c.score is not None]
    low, high = min(scores, default=0.0), max(scores, default=1.0)
    table = Table(title=f"{metric} %", box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    table.add_column(f"{heat.rows_label} \\ {heat.columns_label}", justify="right")
    for column in heat.columns:
        table.add_column(column, justify="right")
    for label, row in zip(heat.rows, heat.cells):
        cells = []
        for config in row:
            text = Text(sweep_chart.cell_text(config))
            if config is not None and config.score is not None:
                share = (config.score - low) / (high - low) if high > low else 1.0
                red, green = int(200 * (1 - share)), int(160 * share + 40)
                text.stylize(f"black on rgb({red},{green},60)")
            cells.append(text)
        table.add_row(label, *cells)
    return table
