"""The runs screen (``R``): every run in the store, to sort, filter, compare, rename, delete or
continue.

The store is read in a thread worker, so a store locked by another program never freezes the
app: when the screen opens, then every second while it is open (``RunsWatch`` asks whether
anything was committed, and reads again only the runs that may have changed), so that a run
training behind it, the app's or a headless one, updates its row. The table
(``widgets/runs_table.py``) sorts and filters in memory.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from mlp_tui.core.checkpoint import CheckpointError
from mlp_tui.core.config import ConfigError
from mlp_tui.core.data import FashionMNIST
from mlp_tui.core.runs_watch import RunsWatch
from mlp_tui.core.store import RunStore, RunSummary, StoreError, short_id
from mlp_tui.core.trainer import Trainer
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Input, Static

from .. import files
from ..widgets.footer import KeyFooter
from ..widgets.runs_table import RunsTable, column_label
from .compare import CompareScreen
from .confirm import ConfirmDialog
from .prompt import ValuePrompt

REFRESH_S = 1.0  # how often the store is asked whether anything changed


class RunsScreen(Screen):
    DEFAULT_CSS = """
    RunsScreen #runs-title { height: 1; padding: 0 1; background: $panel; }
    RunsScreen #runs-filter { height: 3; margin: 0 1; }
    RunsScreen DataTable { height: 1fr; }
    """
    APP_ACTIONS = frozenset({"help"})  # ? works here too
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
        live: Callable[[], int | None] = lambda: None,
        deleted: Callable[[list[int]], object] = lambda ids: None,
    ) -> None:
        """``opened`` takes the trainer of a continued run (as the open key's does);
        ``unsaved()`` says whether the run on screen would lose progress; ``live()`` is the
        id of the run on screen, which is being recorded (not to be deleted); ``deleted``
        hears the ids of the runs deleted here (their ghosts go)."""
        super().__init__()
        self.store, self.data, self.device = store, data, device
        self.unsaved, self.opened = unsaved, opened
        self.live, self.deleted = live, deleted
        self.summaries: list[RunSummary] | None = None  # None until the store is read
        self.selected: set[int] = set()
        self.follow = RunsWatch(store)
        self._reading = self._again = False
        self._problem = ""  # why the store could not be read, once said

    def compose(self) -> ComposeResult:
        yield Static("runs: reading the store…", id="runs-title")
        yield Input(placeholder="filter: id, name, status or a value ( / )", id="runs-filter")
        yield RunsTable(id="runs-table")
        yield KeyFooter(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self.query_one(Input).cursor_blink = getattr(self.app, "cursor_blink", True)
        self.table.focus()
        self.load()
        self.set_interval(REFRESH_S, self.load)  # a run trains behind: its row follows it

    @property
    def table(self) -> RunsTable:
        return self.query_one(RunsTable)

    @property
    def shown(self) -> list[RunSummary]:
        return self.table.shown

    # ------------------------------------------------------------------ reading
    def load(self) -> None:
        """Read what changed in the store, in a thread; one read at a time."""
        if self._reading:
            self._again = True  # a change made now may be newer than that read saw
            return
        self._reading, self._again = True, False
        self._read()

    @work(thread=True, group="runs", exit_on_error=False)
    def _read(self) -> None:
        try:
            summaries, problem = self.follow.poll(), ""
        except StoreError as exc:
            summaries, problem = None, str(exc)
        self.app.call_from_thread(self._loaded, summaries, problem)

    def _loaded(self, summaries: list[RunSummary] | None, problem: str = "") -> None:
        """``summaries``: every run when something changed, else None."""
        self._reading = False
        if not self.is_attached:
            return
        if self._again:
            self.load()
        if problem:
            if problem != self._problem:  # said once, not at every poll
                self.query_one("#runs-title", Static).update(f"runs: {problem}")
                self.notify(problem, severity="error")
            self._problem = problem
            return
        if summaries is None and not self._problem:
            return  # nothing changed: nothing redrawn
        self._problem = ""
        if summaries is not None:
            self.summaries = summaries
            self.selected &= {s.id for s in summaries}
        self.show()

    # ------------------------------------------------------------------ the table
    def show(self) -> None:
        """Bring the table up to date with the runs and the filter, the cursor on its run."""
        if self.summaries is None:
            return
        words = self.query_one(Input).value.lower().split()
        self.table.show(self.summaries, words, self.selected)
        self._title()

    def _title(self) -> None:
        if self._problem:
            return
        total = len(self.summaries or [])
        parts = [f"runs in {self.store.path}", f"{len(self.shown)} of {total} shown"]
        if self.selected:
            parts.append(f"{len(self.selected)} selected")
        table = self.table
        direction = "descending" if table.reverse else "ascending"
        parts.append(f"sorted by {column_label(table.sort_column)}, {direction}")
        title = self.query_one("#runs-title", Static)
        if str(title.content) != (text := " · ".join(parts)):
            title.update(text)

    def cursor_run(self) -> int | None:
        return self.table.cursor_run()

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
        table = self.table
        sortable = table.keys[1:]
        if not sortable:
            return
        at = sortable.index(table.sort_column) if table.sort_column in sortable else -1
        table.sort_column, table.reverse = sortable[(at + 1) % len(sortable)], False
        self.show()

    def action_reverse(self) -> None:
        self.table.reverse = not self.table.reverse
        self.show()

    @on(DataTable.HeaderSelected)
    def header_clicked(self, event: DataTable.HeaderSelected) -> None:
        column, table = str(event.column_key.value), self.table
        if column == "mark":
            return
        if column == table.sort_column:
            table.reverse = not table.reverse
        else:
            table.sort_column, table.reverse = column, False
        self.show()

    def action_select(self) -> None:
        table = self.table
        at = table.cursor_run()
        if at is None:
            return
        self.selected ^= {at}
        table.set_mark(at, at in self.selected)
        self._title()
        if table.cursor_row < table.row_count - 1:
            table.move_cursor(row=table.cursor_row + 1, animate=False)

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
        """Delete the picked runs, never the one on the training screen: it is being recorded,
        and its recording would stop without a word."""
        ids, live = self.picked(), self.live()
        if live is not None and live in ids:
            ids.remove(live)
            kept = f"{short_id(live)} is the run on the training screen, being recorded"
            if not ids:
                self.notify(f"{kept}: not deleted (r or o replaces it; then it can go)",
                            title="not deleted", severity="warning")  # fmt: skip
                return
            kept = f" ({kept}: it stays.)"
        else:
            kept = ""
        if not ids:
            return
        names = ", ".join(map(short_id, ids))
        records = "Its record is" if len(ids) == 1 else "Their records are"
        question = f"Delete {names} from the run store? {records} lost (checkpoints stay).{kept}"

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
            self.deleted(ids)
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
