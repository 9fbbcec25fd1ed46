"""The runs screen's table: the store's runs filtered and sorted, with a column for each
hyperparameter that differs between the runs listed, brought up to date as they change.

It is refreshed every second while a run trains behind it, so an update costs what changed:
a run's cells are made again only when its summary did, and replaced in place; the table is
filled again only when its rows, their order or its columns change, keeping the cursor on its
run and the scroll where it was. Columns are sized from the rows they are given, so no frame
shows them cut to their labels.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence

from mlp_tui.core.runs_cli import COLUMNS, columns, differing, summary_row
from mlp_tui.core.store import RunSummary
from rich.cells import cell_len
from rich.text import Text
from textual.widgets import DataTable

MARK = "●"
SETTING = "set:"  # a hyperparameter's column key: "epochs" is also a summary column
SUMMARY_KEYS: dict[str, Callable[[RunSummary], object]] = {  # COLUMNS' sort values
    "id": lambda s: s.id,
    "name": lambda s: s.name.lower(),
    "status": lambda s: s.status,
    "epochs": lambda s: s.epochs,
    "best acc": lambda s: s.best_test_acc,
    "final acc": lambda s: s.final_test_acc,
    "best val": lambda s: s.best_val_acc,
    "final val": lambda s: s.final_val_acc,
    "final loss": lambda s: s.final_train_loss,
    "time": lambda s: s.seconds,
}


def setting_label(field: str) -> str:
    """A hyperparameter's label: the ``epochs`` planned are not the epochs done."""
    return "epochs planned" if field == "epochs" else field.replace("_", " ")


def column_label(key: str) -> str:
    return setting_label(key.removeprefix(SETTING)) if key.startswith(SETTING) else key


def sort_value(value: object) -> tuple[int, float | str]:
    """Numbers by value, then text, then the missing, so that any column sorts."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return (0, float(value))
    return (2, "") if value is None else (1, str(value).lower())


def mark(selected: bool) -> Text | str:
    return Text(MARK, style="bold yellow") if selected else ""


class RunsTable(DataTable):
    def __init__(self, **kwargs) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)
        self.shown: list[RunSummary] = []  # the rows, in the table's order
        self.keys: list[str] = []  # the column keys, the marker's first
        self.labels: list[str] = []  # their headers
        self.cells: list[list[str]] = []  # each row's cells but the mark
        self.sort_column, self.reverse = "id", False
        self.val = False  # whether the validation columns are shown
        self._made: dict[int, tuple[RunSummary, tuple[str, ...], bool, list[str]]] = {}

    def show(
        self, runs: Sequence[RunSummary], words: Sequence[str], selected: Collection[int]
    ) -> None:
        """The runs matching every word, sorted; ``selected`` are marked when filled again."""
        at = self.cursor_run()
        fields = all_fields = differing(runs)
        shown = runs
        if words:
            shown = [s for s in runs if _matches(self._row(s, all_fields), words)]
            fields = differing(shown)
        names = columns(shown)
        self.val = names != COLUMNS
        keys = ["mark", *names, *(SETTING + f for f in fields)]
        if self.sort_column not in keys:
            self.sort_column, self.reverse = "id", False
        ordered = self._sorted(shown)
        labels = [self._label(key) for key in keys]
        cells = [self._row(s, fields) for s in ordered]
        changed = [i for i, (row, old) in enumerate(zip(cells, self.cells)) if row is not old]
        same = (
            (keys, labels) == (self.keys, self.labels)
            and [s.id for s in ordered] == [s.id for s in self.shown]
            and self._fits([cells[i] for i in changed])
        )
        self.shown, self.keys, self.labels = list(ordered), keys, labels
        if same:
            self._update(cells, changed)
        else:
            self._fill(cells, at, selected)
        self.cells = cells

    def _sorted(self, runs: Sequence[RunSummary]) -> list[RunSummary]:
        key = SUMMARY_KEYS.get(self.sort_column)
        column = self.sort_column.removeprefix(SETTING)

        def value(s: RunSummary) -> tuple[int, float | str]:
            return sort_value(key(s) if key else s.config.get(column))

        ordered = sorted(runs, key=value)
        if not self.reverse:
            return ordered
        missing = [s for s in ordered if value(s)[0] == 2]  # they stay last
        return [s for s in ordered if value(s)[0] != 2][::-1] + missing

    def _row(self, s: RunSummary, fields: Sequence[str]) -> list[str]:
        """``summary_row``, made again only for a run that changed: for a thousand runs at
        every refresh it would cost the UI thread milliseconds."""
        made = self._made.get(s.id)
        if made is None or made[0] is not s or made[1:3] != (tuple(fields), self.val):
            row = summary_row(s, fields, self.val)
            made = self._made[s.id] = (s, tuple(fields), self.val, row)
        return made[3]

    def _label(self, key: str) -> str:
        if key == "mark":
            return ""
        arrow = (" ▼" if self.reverse else " ▲") if key == self.sort_column else ""
        return column_label(key) + arrow

    def _fits(self, rows: Sequence[Sequence[str]]) -> bool:
        widths = [column.width for column in self.ordered_columns[1:]]
        return all(cell_len(cell) <= w for row in rows for cell, w in zip(row, widths))

    def _update(self, cells: Sequence[Sequence[str]], changed: Sequence[int]) -> None:
        for index in changed:
            row = str(self.shown[index].id)
            for key, cell, old in zip(self.keys[1:], cells[index], self.cells[index]):
                if cell != old:
                    self.update_cell(row, key, cell)

    def _fill(
        self, cells: Sequence[Sequence[str]], at: int | None, selected: Collection[int]
    ) -> None:
        scrolled = self.scroll_y
        self.clear(columns=True)
        for index, (key, label) in enumerate(zip(self.keys, self.labels)):
            # Sized from the data now: a table left to measure its rows does it on the frame
            # after they arrive, and that frame shows every column cut to its label.
            width = max([cell_len(label), *(cell_len(row[index - 1]) for row in cells)])
            self.add_column(label, key=key, width=1 if key == "mark" else width)
        for s, row in zip(self.shown, cells):
            self.add_row(mark(s.id in selected), *row, key=str(s.id))
        if at is not None and at in {s.id for s in self.shown}:
            # Where it was scrolled to, then only as far as the cursor's row needs.
            self.call_after_refresh(self.scroll_to, y=scrolled, animate=False)
            self.move_cursor(row=self.get_row_index(str(at)), animate=False)

    def cursor_run(self) -> int | None:
        if not self.shown or self.row_count == 0:
            return None
        return self.shown[min(self.cursor_row, len(self.shown) - 1)].id

    def set_mark(self, run_id: int, selected: bool) -> None:
        self.update_cell(str(run_id), "mark", mark(selected))


def _matches(row: Sequence[str], words: Sequence[str]) -> bool:
    text = " ".join(row).lower()
    return all(word in text for word in words)
