"""The explorer: every test prediction, filtered and sorted from the keyboard."""

from __future__ import annotations

from dataclasses import replace
from typing import cast

from mlp_tui.core.analysis import PREDICT_CH3, SORTS, Filter, Selection, select
from mlp_tui.core.data import NUM_CLASSES
from mlp_tui.core.events import Predictions
from mlp_tui.tui.render import RenderMode
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Static

from .explorer_detail import PredictionDetail
from .explorer_grid import PredictionGrid


class ExplorerPanel(Vertical):
    DEFAULT_CSS = """
    ExplorerPanel { height: 1fr; }
    ExplorerPanel #explorer-status { height: 1; padding: 0 1; background: $boost; }
    ExplorerPanel Horizontal { height: 1fr; }
    """
    BINDINGS = [
        Binding("a", "filter('all')", "All", tooltip="show every test image"),
        Binding("m", "filter('misclassified')", "Wrong", tooltip="show the misclassified only"),
        Binding("t", "filter('true')", "True", tooltip="only the selected image's true class"),
        Binding("p", "filter('predicted')", "Pred", tooltip="only its predicted class"),
        Binding("c", "filter('pair')", "Pair", tooltip="only its (true, predicted) pair"),
        Binding("d", "predict_ch3", "First 6", tooltip="d2l's predict_ch3: the first 6 images"),
        Binding("s", "sort", "Sort", tooltip="sort by index, confidence or loss, in turn"),
        Binding("r", "reverse", "Reverse", tooltip="reverse the order"),
    ]

    def __init__(self, predictions: Predictions, pixels, **kwargs) -> None:
        super().__init__(**kwargs)
        self.predictions = predictions
        self.pixels = pixels
        self.selection = Selection()
        self.mode: RenderMode = "blocks"

    def compose(self) -> ComposeResult:
        yield Static(id="explorer-status")
        with Horizontal():
            yield PredictionGrid(self.predictions, self.pixels, id="explorer-grid")
            yield PredictionDetail(self.predictions, self.pixels, id="explorer-detail")

    @property
    def grid(self) -> PredictionGrid:
        return self.query_one(PredictionGrid)

    def on_mount(self) -> None:
        self.apply(self.selection)

    def apply(self, selection: Selection, keep: bool = True) -> None:
        """Show ``selection``; a new order (``keep`` False) starts at its top."""
        self.selection = selection
        self.grid.show(select(self.predictions, selection).tolist(), keep)

    def show_pair(self, true: int, predicted: int) -> None:
        """Filter to one cell of the confusion matrix."""
        self.apply(replace(self.selection, filter="pair", true=true, predicted=predicted))

    def set_mode(self, mode: RenderMode) -> None:
        self.mode = mode
        self.grid.mode = mode
        self.query_one(PredictionDetail).show(self.grid.selected, mode)

    # -------------------------------------------------------------------------- keys
    def action_filter(self, kind: str) -> None:
        """``t``/``p`` pick the selected image's class; pressed again they step to the next."""
        current, index = self.selection, self.grid.selected
        true = self.predictions.labels[index].item() if index is not None else 0
        predicted = self.predictions.predicted[index].item() if index is not None else 0
        if kind == "true" and current.filter == "true":
            true = (current.true + 1) % NUM_CLASSES
        if kind == "predicted" and current.filter == "predicted":
            predicted = (current.predicted + 1) % NUM_CLASSES
        if kind == "pair" and index is None:
            true, predicted = current.true, current.predicted
        choice = cast(Filter, kind)  # the bindings pass only Filter's names
        self.apply(replace(current, filter=choice, true=int(true), predicted=int(predicted)))

    def action_predict_ch3(self) -> None:
        self.apply(PREDICT_CH3, keep=False)

    def action_sort(self) -> None:
        following = SORTS[(SORTS.index(self.selection.sort) + 1) % len(SORTS)]
        self.apply(self.selection.with_sort(following), keep=False)

    def action_reverse(self) -> None:
        self.apply(replace(self.selection, reverse=not self.selection.reverse), keep=False)

    # -------------------------------------------------------------------------- updates
    def on_prediction_grid_moved(self, message: PredictionGrid.Moved) -> None:
        self.query_one(PredictionDetail).show(message.index, self.mode)
        page = message.page
        where = f"{page.start + 1}–{page.stop} of {message.total:,}" if message.total else "none"
        self.query_one("#explorer-status", Static).update(
            Text.assemble(("Showing ", "dim"), self.selection.describe(), ("  ·  ", "dim"), where)
        )
