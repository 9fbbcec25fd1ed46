"""Every key of the app on one screen, generated from the bindings so it cannot go stale."""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import DataTable, Label


def key_rows(
    app: App, keys: list[Binding], widgets: list[tuple[type[Widget], str]]
) -> list[tuple[str, str, str]]:
    """(key, what it does, where) for the main screen's ``keys``, then each widget's, then tab
    and ctrl+p."""
    rows = [(app.get_key_display(b), b.tooltip, "main screen") for b in keys]
    for widget, where in widgets:
        for binding in (b for b in widget.BINDINGS if isinstance(b, Binding)):
            row = (app.get_key_display(binding), binding.tooltip or binding.description.lower())
            if (*row, where) not in rows:
                rows.append((*row, where))
    rows.append(("tab", "move between the gallery and the hyperparameters", "main screen"))
    rows.append(("ctrl+p", "command palette: every action by name", "main screen"))
    rows.append(("ctrl+c", "quit now, saving unsaved progress (as on SIGTERM)", "anywhere"))
    return rows


class HelpScreen(ModalScreen[None]):
    APP_ACTIONS: frozenset[str] = frozenset()
    BINDINGS = [Binding("escape,question_mark,q", "dismiss", "Close")]

    def __init__(self, rows: list[tuple[str, str, str]]) -> None:
        """``rows``: (key, what it does, where it works)."""
        super().__init__()
        self.rows = rows

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog help"):
            yield Label("Keys  (escape closes)", classes="dialog-title")
            yield DataTable(cursor_type="none", zebra_stripes=True)

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("key", "action", "where")
        table.add_rows(self.rows)
