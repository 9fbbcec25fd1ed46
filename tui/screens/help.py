"""Every key of the app on one screen, generated from the bindings so it cannot go stale.

The keys of the screen help is opened from come first, then every other screen's, so the
inspector's or the runs screen's keys are one ``?`` away wherever one is.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Label

from ..widgets.footer import KeyFooter

Section = tuple[str, Sequence[BindingType]]  # where the keys work, and the keys


def section_rows(app: App, where: str, keys: Sequence[BindingType]) -> list[tuple[str, str, str]]:
    """(key, what it does, where) for ``keys``: one row per key, so a key with two actions
    (space: pause, or resume) is one row that says both, and one row per action, so an
    action with two keys (escape, enter) says both keys."""
    by_action: dict[str, tuple[list[str], str]] = {}
    for binding in (b for b in keys if isinstance(b, Binding)):
        what = binding.tooltip or binding.description.lower()
        shown = [app.get_key_display(b) for b in Binding.make_bindings([binding])]
        names, _ = by_action.setdefault(f"{binding.action}\0{what}", ([], what))
        names.extend(name for name in shown if name not in names)
    by_key: dict[str, list[str]] = {}
    for names, what in by_action.values():
        doing = by_key.setdefault(" ".join(names), [])
        if what not in doing:
            doing.append(what)
    return [(key, " / ".join(doing), where) for key, doing in by_key.items()]


def key_rows(
    app: App, sections: Sequence[Section], first: Sequence[str] = ()
) -> list[tuple[str, str, str]]:
    """Every section's rows, the sections named in ``first`` (the screen help opened on's)
    first."""
    ordered = sorted(sections, key=lambda section: section[0] not in first)  # stable
    return [row for where, keys in ordered for row in section_rows(app, where, keys)]


class HelpScreen(ModalScreen[None]):
    APP_ACTIONS: frozenset[str] = frozenset()
    BINDINGS = [Binding("escape,question_mark,q", "dismiss", "Close", priority=True)]

    def __init__(self, rows: list[tuple[str, str, str]], title: str = "Keys") -> None:
        """``rows``: (key, what it does, where it works)."""
        super().__init__()
        self.rows = rows
        self.heading = title

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog help"):
            yield Label(f"{self.heading}  (escape closes)", classes="dialog-title")
            yield DataTable(cursor_type="none", zebra_stripes=True)
        yield KeyFooter(compact=True, show_command_palette=False)  # this dialog's keys

    def on_mount(self) -> None:
        """Two columns, under a heading row for each place the keys work: narrow enough for
        80 columns."""
        table = self.query_one(DataTable)
        table.add_columns("key", "action")
        where = None
        for key, what, place in self.rows:
            if place != where:
                where = place
                table.add_row(Text(place, style="bold underline"), "")
            table.add_row(key, what)
