"""A yes/no question (frogmouth's YesNoDialog): y says yes, n or escape says no; enter
presses the focused button, the safe "No" until tab moves to the other one."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Label

from ..widgets.footer import KeyFooter


class ConfirmDialog(ModalScreen[bool]):
    APP_ACTIONS: frozenset[str] = frozenset()
    BINDINGS = [
        Binding("y", "answer(True)", "Yes", priority=True),
        Binding("n,escape", "answer(False)", "No", priority=True),
    ]

    def __init__(self, question: str, yes: str = "Yes") -> None:
        super().__init__()
        self.question, self.yes = question, yes

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self.question, classes="dialog-title")
            with Horizontal(classes="dialog-buttons"):
                yield Button(f"{self.yes} (y)", id="yes", variant="primary")
                yield Button("No (n)", id="no")
        yield KeyFooter(compact=True, show_command_palette=False)  # this dialog's keys

    def on_mount(self) -> None:
        # Each question guards something lost (a run's progress, a run's record): an enter
        # or a space typed on into it must not say yes.
        self.query_one("#no", Button).focus()

    @on(Button.Pressed)
    def pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)
