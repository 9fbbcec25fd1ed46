"""The runs screen (``R``): every run in the store, to sort, filter, compare, rename, delete or
continue.

The store is read in a thread worker when the screen opens (and after a rename or delete), so
a store locked by another program never freezes the app. The rows are then sorted and filtered
here, in memory; the columns are the summary's plus each hyperparameter that differs between
the runs listed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from mlp_tui.core.checkpoint import CheckpointError
from mlp_tui.core.config import ConfigError
from mlp_tui.core.data import FashionMNIST
from mlp_tui.core.runs_cli import COLUMNS, differing, summary_row
from mlp_tui.core.store import RunStore, RunSummary, StoreError, short_id
from mlp_tui.core.trainer import Trainer
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Input, Static

from .. import files
from ..widgets.footer import KeyFooter
from .compare import CompareScreen, setting_label
from .confirm import ConfirmDialog
from .prompt import ValuePrompt

MARK = "●"
SETTING = "set:"  # a hyperparameter's column key: "epochs" is also a summary column
SUMMARY_KEYS: dict[str, Callable[[RunSummary], object]] = {  # COLUMNS' sort values
    "id": lambda s: s.id,
    "name": lambda s: s.name.lower(),
    "status": lambda s: s.status,
    "epochs": lambda s: s.epochs,
    "best acc": lambda s: s.best_test_acc,
    "final acc": lambda s: s.final_test_acc,
    "final loss": lambda s: s.final_train_loss,
    "time": lambda s: s.seconds,
}


def sort_value(value: object) -> tuple[int, float | str]:
    """Numbers by value, then text, then the missing, so that any column sorts."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return (0, float(value))
    return (2, "") if value is None else (1, str(value).lower())


class RunsScreen(Screen):
    DEFAULT_CSS = """
    RunsScreen #runs-title { height: 1; padding: 0 1; background: $panel; }
    RunsScreen #runs-filter { height: 3; margin: 0 1; }
    RunsScreen DataTable { height: 1fr; }
    """
    BINDINGS = [
        Binding("escape", "close", "Back"),
        Binding("slash", "filter", "Filter"),
        Binding("space", "select", "Select"),
        Binding("enter", "compare", "Compare", show=True),
        Binding("s", "sort", "Sort"),
        Binding("S", "reverse", "Reverse"),
        Binding("n", "rename", "Rename"),
        Binding("d", "delete", "Delete"),
        Binding("c", "continue", "Continue"),
        Binding("v", "overlay", "Overlay"),
    ]

    def __init__(
        self,
        store: RunStore,
        data: FashionMNIST,
        device: str,
        unsaved: Callable[[], bool],
        opened: Callable[[Trainer], object],
    ) -> None:
        """``opened`` takes the trainer of a continued run (as the open key's does);
        ``unsaved()`` says whether the run on screen would lose progress."""
        super().__init__()
        self.store, self.data, self.device = store, data, device
        self.unsaved, self.opened = unsaved, opened
        self.summaries: list[RunSummary] | None = None  # None until the store is read
        self.shown: list[RunSummary] = []  # sorted and filtered: the table's rows
        self.selected: set[int] = set()
        self.sort_column, self.reverse = "id", False
        self.columns: list[str] = []  # the table's column keys, the marker's first

    def compose(self) -> ComposeResult:
        yield Static("runs: reading the store…", id="runs-title")
        yield Input(placeholder="filter: id, name, status or a value ( / )", id="runs-filter")
        yield DataTable(cursor_type="row", zebra_stripes=True, id="runs-table")
        yield KeyFooter(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self.query_one(Input).cursor_blink = getattr(self.app, "cursor_blink", True)
        self.table.focus()
        self.load()

    @property
    def table(self) -> DataTable:
        return self.query_one(DataTable)

    # ------------------------------------------------------------------ reading
    @work(thread=True, exclusive=True, group="runs")
    def load(self) -> None:
        try:
            summaries = self.store.runs()
        except StoreError as exc:
            self.app.call_from_thread(self._failed, str(exc))
            return
        self.app.call_from_thread(self._loaded, summaries)

    def _failed(self, text: str) -> None:
        self.query_one("#runs-title", Static).update(f"runs: {text}")
        self.notify(text, severity="error")

    def _loaded(self, summaries: list[RunSummary]) -> None:
        self.summaries = summaries
        known = {s.id for s in summaries}
        self.selected &= known
        self.show()

    # ------------------------------------------------------------------ the table
    def show(self) -> None:
        """Rebuild the table from the runs: filtered, sorted, the cursor kept on its run."""
        if self.summaries is None:
            return
        everything = self.summaries
        all_fields = differing(everything)
        words = self.query_one(Input).value.lower().split()

        def matches(s: RunSummary) -> bool:
            text = " ".join(summary_row(s, all_fields)).lower()
            return all(word in text for word in words)

        shown = [s for s in everything if matches(s)]
        fields = differing(shown)
        self.columns = ["mark", *COLUMNS, *(SETTING + f for f in fields)]
        if self.sort_column not in self.columns:
            self.sort_column, self.reverse = "id", False
        key = SUMMARY_KEYS.get(self.sort_column)
        column = self.sort_column.removeprefix(SETTING)

        def value(s: RunSummary) -> tuple[int, float | str]:
            return sort_value(key(s) if key else s.config.get(column))

        ordered = sorted(shown, key=value)
        if self.reverse:  # the missing stay last
            ordered = [s for s in ordered if value(s)[0] != 2][::-1] + [
                s for s in ordered if value(s)[0] == 2
            ]
        self.shown = ordered
        self._fill(fields)
        self._title()

    def _fill(self, fields: Sequence[str]) -> None:
        table = self.table
        at = self.cursor_run()
        table.clear(columns=True)
        arrow = " ▼" if self.reverse else " ▲"
        for name in self.columns:
            if name == "mark":
                table.add_column("", key=name, width=1)
                continue
            label = setting_label(name.removeprefix(SETTING)) if name.startswith(SETTING) else name
            table.add_column(label + (arrow if name == self.sort_column else ""), key=name)
        for s in self.shown:
            mark = Text(MARK, style="bold yellow") if s.id in self.selected else ""
            table.add_row(mark, *summary_row(s, fields), key=str(s.id))
        if at is not None and at in {s.id for s in self.shown}:
            table.move_cursor(row=table.get_row_index(str(at)), animate=False)

    def _title(self) -> None:
        total = len(self.summaries or [])
        parts = [f"runs in {self.store.path}", f"{len(self.shown)} of {total} shown"]
        if self.selected:
            parts.append(f"{len(self.selected)} selected")
        direction = "descending" if self.reverse else "ascending"
        by = self.sort_column
        by = setting_label(by.removeprefix(SETTING)) if by.startswith(SETTING) else by
        parts.append(f"sorted by {by}, {direction}")
        self.query_one("#runs-title", Static).update(" · ".join(parts))

    def cursor_run(self) -> int | None:
        table = self.table
        if not self.shown or table.row_count == 0:
            return None
        row = min(table.cursor_row, len(self.shown) - 1)
        return self.shown[row].id

    def picked(self) -> list[int]:
        """The selected runs in the table's order, else the cursor's."""
        if self.selected:
            return [s.id for s in self.shown if s.id in self.selected] or sorted(self.selected)
        at = self.cursor_run()
        return [] if at is None else [at]

    # ------------------------------------------------------------------ keys
    def action_close(self) -> None:
        if self.query_one(Input).has_focus:
            self.table.focus()
        else:
            self.dismiss()

    def action_filter(self) -> None:
        self.query_one(Input).focus()

    @on(Input.Changed)
    def filtered(self) -> None:
        self.show()

    @on(Input.Submitted)
    def filter_done(self) -> None:
        self.table.focus()

    def action_sort(self) -> None:
        if not self.columns:
            return
        sortable = self.columns[1:]
        at = sortable.index(self.sort_column) if self.sort_column in sortable else -1
        self.sort_column, self.reverse = sortable[(at + 1) % len(sortable)], False
        self.show()

    def action_reverse(self) -> None:
        self.reverse = not self.reverse
        self.show()

    @on(DataTable.HeaderSelected)
    def header_clicked(self, event: DataTable.HeaderSelected) -> None:
        column = str(event.column_key.value)
        if column == "mark":
            return
        if column == self.sort_column:
            self.reverse = not self.reverse
        else:
            self.sort_column, self.reverse = column, False
        self.show()

    def action_select(self) -> None:
        at = self.cursor_run()
        if at is None:
            return
        self.selected ^= {at}
        mark = Text(MARK, style="bold yellow") if at in self.selected else ""
        self.table.update_cell(str(at), "mark", mark)
        self._title()
        if self.table.cursor_row < self.table.row_count - 1:
            self.table.move_cursor(row=self.table.cursor_row + 1, animate=False)

    @on(DataTable.RowSelected)
    def action_compare(self) -> None:
        ids = self.picked()
        if not ids:
            return
        try:
            records = self.store.records(ids, losses=False)
        except StoreError as exc:
            self.notify(str(exc), severity="error")
            return
        self.app.push_screen(CompareScreen(records))

    def action_overlay(self) -> None:
        """Back to the training screen with the chosen runs drawn behind the current one:
        the screen is dismissed with their records (curves included)."""
        ids = self.picked()
        if not ids:
            return
        try:
            records = self.store.records(ids)
        except StoreError as exc:
            self.notify(str(exc), severity="error")
            return
        self.dismiss(records)

    def action_rename(self) -> None:
        at = self.cursor_run()
        if at is None:
            return
        run = next(s for s in self.shown if s.id == at)

        def rename(text: str) -> str:
            self.store.rename(at, text)  # StoreError: the prompt shows it and stays open
            return text

        def renamed(name: object) -> None:
            if isinstance(name, str):
                self.notify(f"{short_id(at)} is now {name!r}")
                self.load()

        self.app.push_screen(ValuePrompt(f"Rename {short_id(at)}", run.name, rename), renamed)

    def action_delete(self) -> None:
        ids = self.picked()
        if not ids:
            return
        names = ", ".join(map(short_id, ids))
        question = f"Delete {names} from the run store? Their records are lost (checkpoints stay)."

        def answer(yes: bool | None) -> None:
            if not yes:
                return
            try:
                self.store.delete(ids)
            except StoreError as exc:
                self.notify(str(exc), severity="error")
                return
            self.selected -= set(ids)
            self.notify(f"deleted {names}")
            self.load()

        self.app.push_screen(ConfirmDialog(question, yes="Delete"), answer)

    def action_continue(self) -> None:
        at = self.cursor_run()
        if at is None:
            return
        run = next(s for s in self.shown if s.id == at)
        if not run.checkpoint:
            text = f"{run.short_id} has no checkpoint to continue from (s saves one)"
            self.notify(text, severity="warning")
            return
        path = Path(run.checkpoint).expanduser()
        if not path.is_file():
            self.notify(f"{run.short_id}'s checkpoint {path} no longer exists", severity="error")
            return

        def go(yes: bool | None) -> None:
            if not yes:
                return
            try:
                trainer = files.load_checkpoint(str(path), self.data, self.device)
            except (ValueError, CheckpointError, ConfigError) as exc:
                self.notify(str(exc), title="cannot continue", severity="error")
                return
            self.dismiss()
            self.opened(trainer)

        if self.unsaved():
            question = f"Continue {run.short_id} from {path}? This run's unsaved progress is lost."
            self.app.push_screen(ConfirmDialog(question, yes="Continue"), go)
        else:
            go(True)
