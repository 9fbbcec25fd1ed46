"""Quitting with unsaved progress: save first, quit anyway, or stay."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Label

from ..widgets.footer import KeyFooter


class QuitDialog(ModalScreen[str]):
    """Dismisses with "save", "discard" or "cancel"."""

    APP_ACTIONS: frozenset[str] = frozenset()
    # Save has the focus (Textual's own: no lookup of a child that a quick exit may have taken)
    AUTO_FOCUS = "#save"
    BINDINGS = [
        Binding("s", "answer('save')", "Save", priority=True),
        Binding("d", "answer('discard')", "Quit without saving", priority=True),
        Binding("escape,c", "answer('cancel')", "Cancel", priority=True),
    ]

    def __init__(self, progress: str) -> None:
        super().__init__()
        self.progress = progress

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(
                f"Unsaved progress: {self.progress}. Save it first?", classes="dialog-title"
            )
            with Horizontal(classes="dialog-buttons"):
                yield Button("Save… (s)", id="save", variant="primary")
                yield Button("Quit without saving (d)", id="discard", variant="error")
                yield Button("Cancel (esc)", id="cancel")
        yield KeyFooter(compact=True, show_command_palette=False)  # this dialog's keys

    @on(Button.Pressed)
    def pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id)

    def action_answer(self, answer: str) -> None:
        self.dismiss(answer)
