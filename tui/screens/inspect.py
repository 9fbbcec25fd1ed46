"""The prediction inspector: the current model's view of every test image, in four tabs.

Opened on a paused, finished or freshly loaded run. It works on one evaluation, made when it
opens (``trainer.predict()``), so what it shows is consistent even if training goes on later.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from mlp_tui.core import export
from mlp_tui.core.analysis import PerClassHistory, accuracy, confusion_matrix
from mlp_tui.core.events import EpochReport
from mlp_tui.tui.render import RenderMode
from mlp_tui.tui.widgets.confusion_matrix import ConfusionMatrix
from mlp_tui.tui.widgets.explorer_panel import ExplorerPanel
from mlp_tui.tui.widgets.footer import KeyFooter
from mlp_tui.tui.widgets.per_class_panel import PerClassPanel
from mlp_tui.tui.widgets.weights_view import WeightsView
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Static, TabbedContent, TabPane

from .export_prompt import ExportPrompt

TABS: dict[str, str | type[Widget]] = {
    "explorer": "#explorer-grid",
    "confusion": ConfusionMatrix,
    "per-class": "#per-class-table",
    "weights": WeightsView,
}


class InspectScreen(Screen):
    DEFAULT_CSS = """
    InspectScreen #inspect-title { height: 1; padding: 0 1; background: $panel; }
    InspectScreen TabbedContent { height: 1fr; }
    InspectScreen TabPane { padding: 0; }
    """
    APP_ACTIONS = frozenset({"help"})  # ? works here too
    BINDINGS = [
        Binding("escape", "close", "Close", priority=True),
        Binding("e", "export", "Export"),
        Binding("g", "toggle_mode", "Image mode"),
        Binding("1", "tab('explorer')", "Explorer", show=False),
        Binding("2", "tab('confusion')", "Confusion", show=False),
        Binding("3", "tab('per-class')", "Per-class", show=False),
        Binding("4", "tab('weights')", "Weights", show=False),
    ]

    def __init__(
        self,
        trainer,
        per_class: PerClassHistory | Sequence[Sequence[float]] | None = None,
        export_dir: str | os.PathLike | None = None,
        history: Sequence[EpochReport] | None = None,
    ) -> None:
        """``per_class``: the per-epoch per-class accuracies the app collected (a
        PerClassHistory fed from Predictions events, or rows for epochs 1, 2, ...); without
        it the curves start at the evaluation made here. ``export_dir``: the default answer
        of the export prompt (the app's save dir), else the working directory. ``history``:
        the epochs the app collected, which the export writes; else the trainer's own."""
        super().__init__()
        self.trainer = trainer
        self.history = list(trainer.history if history is None else history)
        self.predictions = trainer.predict()
        self.matrix = confusion_matrix(self.predictions)
        if isinstance(per_class, PerClassHistory):
            classes = per_class.copy()
        else:
            classes = PerClassHistory.from_rows([list(row) for row in per_class or []])
        if self.predictions.epoch not in classes.epochs:
            classes.add(self.predictions)
        self.per_class = classes
        self.export_dir = str(export_dir) if export_dir else os.getcwd()
        self.mode: RenderMode = "blocks"

    def compose(self) -> ComposeResult:
        pixels = self.trainer.data.test_pixels
        yield Static(self.title_text(self.app.size.width - 2), id="inspect-title")
        with TabbedContent(initial="explorer"):
            with TabPane("Explorer", id="explorer"):
                yield ExplorerPanel(self.predictions, pixels)
            with TabPane("Confusion", id="confusion"):
                yield ConfusionMatrix(self.matrix)
            with TabPane("Per-class", id="per-class"):
                yield PerClassPanel(self.matrix, self.per_class)
            with TabPane("Weights", id="weights"):
                yield WeightsView(self.trainer.net)
        yield KeyFooter()

    def title_text(self, width: int = 1000) -> str:
        """Where the run stands, its accuracy and its network; shorter forms where the long
        one does not fit (at 80 columns the accuracy and the network were cut off)."""
        trainer = self.trainer
        where = f"after epoch {trainer.epoch}"
        batches = f" + {trainer.batch}/{trainer.batches_per_epoch}" if trainer.batch else ""
        state, images = trainer.state.label, f"{len(self.predictions.labels):,}"
        acc, net = f"{accuracy(self.matrix):.2%}", trainer.config.architecture
        for form in (
            f"Inspector · {state} {where}{batches and batches + ' batches'} · "
            f"{images} test images · accuracy {acc} · {net}",
            f"Inspector · {state} {where}{batches} · accuracy {acc} · {images} images · {net}",
            f"Inspector · {state} {where}{batches} · acc {acc} · {net}",
            f"{state} epoch {trainer.epoch}{batches} · acc {acc} · {net}",
        ):
            if len(form) <= width:
                return form
        return form

    def on_resize(self) -> None:
        title = self.query_one("#inspect-title", Static)
        title.update(self.title_text(max(self.size.width - 2, 1)))  # its padding

    def on_mount(self) -> None:
        self.focus_tab("explorer")

    def focus_tab(self, tab: str) -> None:
        # At once, not via Widget.focus (a queued callback): keys typed right after a tab
        # switch must already reach the new tab.
        target = TABS[tab]
        widget = self.query_one(target) if isinstance(target, str) else self.query_one(target)
        self.set_focus(widget)

    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        if event.pane.id in TABS:
            self.focus_tab(event.pane.id)

    def on_confusion_matrix_pair_chosen(self, event: ConfusionMatrix.PairChosen) -> None:
        self.query_one(ExplorerPanel).show_pair(event.true, event.predicted)
        self.action_tab("explorer")

    # -------------------------------------------------------------------------- actions
    def action_close(self) -> None:
        self.dismiss()

    def action_tab(self, tab: str) -> None:
        self.query_one(TabbedContent).active = tab
        self.focus_tab(tab)

    def action_toggle_mode(self) -> None:
        self.mode = "ascii" if self.mode == "blocks" else "blocks"
        self.query_one(ExplorerPanel).set_mode(self.mode)
        self.query_one(WeightsView).mode = self.mode

    def action_export(self) -> None:
        self.app.push_screen(ExportPrompt(self.export_dir), self.export_to)

    def export_to(self, directory: str | None) -> None:
        if directory:
            self.export_dir = directory
            self.write_exports(Path(directory).expanduser())

    @work(thread=True, exclusive=True, group="export", exit_on_error=False)
    def write_exports(self, directory: Path) -> None:
        try:
            written = export.export(
                directory,
                self.history,
                self.predictions,
                self.trainer.data.test_pixels,
                self.per_class,
                list(self.trainer.batch_losses),
            )
        except export.ExportError as exc:
            self.app.call_from_thread(
                self.notify, str(exc), title="Export failed", severity="error", timeout=10
            )
            return
        self.app.call_from_thread(
            self.notify, f"{len(written)} files in {directory}", title="Exported"
        )
