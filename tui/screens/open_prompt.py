"""Open a checkpoint: the save dir's, newest first, with where each run stood, or any path,
typed with completion. A bad file is told under the field, as in every prompt."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from mlp_tui.core.checkpoint import SUFFIX
from mlp_tui.core.checkpoint_index import CheckpointSummary, checkpoints_in
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.suggester import Suggester
from textual.widgets import DataTable, Input, Label

from ..widgets.footer import KeyFooter
from .prompt import ValuePrompt


class PathSuggester(Suggester):
    """Completes the last part of a typed path from the folder's entries (→ takes it)."""

    def __init__(self) -> None:
        super().__init__(use_cache=False, case_sensitive=True)

    async def get_suggestion(self, value: str) -> str | None:
        if not value:
            return None
        typed = Path(value).expanduser()
        folder, start = (typed, "") if value.endswith(os.sep) else (typed.parent, typed.name)
        try:
            names = sorted(
                entry.name + (os.sep if entry.is_dir() else "")
                for entry in os.scandir(folder)
                if entry.name.startswith(start) and not entry.name.startswith(".")
            )
        except OSError:
            return None
        if not names:
            return None
        return value + names[0][len(start) :]


# What tells runs apart, first; the settings, longest, last, where a narrow dialog cuts them.
# (With the file last, 80 columns showed ``mlp-h`` of it: two saves of a run looked alike.)
COLUMNS = ("epoch", "test acc", "saved", "file", "settings")
DIALOG_WIDTH = 110  # app.tcss's .dialog.open, at most 95% of the screen


def file_name(path: Path) -> str:
    """Without the usual suffix: the field shows the whole path."""
    return path.name[: -len(SUFFIX)] if path.name.endswith(SUFFIX) else path.name


def row(summary: CheckpointSummary) -> tuple[str, str, str, str, str]:
    name = file_name(summary.path)
    if not summary.readable:
        return ("?", "?", summary.saved_at, name, "not readable")
    acc = "-" if summary.test_acc is None else f"{summary.test_acc:.2%}"
    return (str(summary.epoch), acc, summary.saved_at, name, summary.settings)


def fitted(cells: tuple[str, ...], room: int) -> tuple[str, ...]:
    """The last cell (the settings) cut with an ellipsis to ``room`` cells."""
    *first, last = cells
    if len(last) > room:
        last = last[: max(room - 1, 1)] + "…"
    return (*first, last)


class OpenPrompt(ValuePrompt):
    """A ValuePrompt for a checkpoint's path, with the save dir's checkpoints listed above the
    field: ↑/↓ in the list put a file in the field, enter opens it."""

    BINDINGS = [
        Binding("escape", "cancel", "Cancel", priority=True),
        Binding("down", "to_list", "Saved runs", show=False),
    ]

    def __init__(self, title: str, save_dir: Path, check: Callable[[str], object]) -> None:
        self.found = checkpoints_in(save_dir)
        readable = [summary.path for summary in self.found if summary.readable]
        value = str(readable[0]) if readable else f"{save_dir}{os.sep}"
        hint = "enter open · ↓ the list · → completes a path · escape cancel"
        super().__init__(title, value, check, hint)
        self.save_dir = save_dir

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog open"):
            yield Label(self.title_text, classes="dialog-title")
            if self.found:
                yield Label(f"in {self.save_dir}, newest first", classes="dialog-hint")
                yield DataTable(cursor_type="row", zebra_stripes=True, id="checkpoints")
            else:
                yield Label(f"no checkpoints in {self.save_dir} yet", classes="dialog-hint")
            yield Input(self.value, id="value", suggester=PathSuggester())
            yield Label("", id="error", classes="dialog-error")
            yield Label(self.hint, classes="dialog-hint")
        yield KeyFooter(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        super().on_mount()
        if self.found:
            table = self.query_one("#checkpoints", DataTable)
            table.add_columns(*COLUMNS)
            rows = [row(summary) for summary in self.found]
            # Each column takes its widest cell and a cell of padding each side; the settings
            # get what is left of the dialog (its border and padding 4 cells, a scrollbar 2).
            inner = min(DIALOG_WIDTH, self.app.size.width * 95 // 100) - 6
            widths = [max(len(c), *(len(r[i]) for r in rows)) + 2 for i, c in enumerate(COLUMNS)]
            room = max(inner - sum(widths[:-1]) - 2, len(COLUMNS[-1]))
            for summary, cells in zip(self.found, rows):
                table.add_row(*fitted(cells, room), key=str(summary.path))

    browsing = False  # the user has moved into the list: its highlight fills the field

    def action_to_list(self) -> None:
        if self.found:
            self.browsing = True
            # at once, not queued as Widget.focus is: the next ↓ must reach the list
            self.set_focus(self.query_one("#checkpoints", DataTable))

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.row_key.value is not None and self.browsing:  # not the highlight at mount
            self.query_one(Input).value = event.row_key.value

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if event.row_key.value is not None:
            field = self.query_one(Input)
            field.value = event.row_key.value
            field.post_message(Input.Submitted(field, field.value))
