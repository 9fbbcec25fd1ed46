"""Ask for one value. Bad input shows why under the field and changes nothing."""

from __future__ import annotations

from collections.abc import Callable

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label

from ..widgets.footer import KeyFooter


class ValuePrompt(ModalScreen[object]):
    """``check`` turns the typed text into the result, or raises with a one-line reason.

    The prompt stays open on an error, so the user can fix the value or leave with escape;
    it dismisses with the checked result, or None when cancelled.
    """

    APP_ACTIONS: frozenset[str] = frozenset()
    # priority: handled as the key arrives, so keys typed right after it reach the screen
    # below instead of this one, which they would find still focused (and be lost in)
    BINDINGS = [Binding("escape", "cancel", "Cancel", priority=True)]

    def __init__(
        self, title: str, value: str, check: Callable[[str], object], hint: str = ""
    ) -> None:
        super().__init__()
        self.title_text, self.value, self.check, self.hint = title, value, check, hint

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self.title_text, classes="dialog-title")
            yield Input(self.value, id="value")
            yield Label("", id="error", classes="dialog-error")
            yield Label(self.hint or "enter apply · escape cancel", classes="dialog-hint")
        yield KeyFooter(compact=True, show_command_palette=False)  # this dialog's keys

    def on_mount(self) -> None:
        field = self.query_one(Input)
        field.cursor_blink = getattr(self.app, "cursor_blink", True)
        field.focus()

    @property
    def error(self) -> str:
        """The message shown for the last bad input ('' when none)."""
        return str(self.query_one("#error", Label).content)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        try:
            result = self.check(event.value)
        except (ValueError, RuntimeError, OSError) as exc:
            self.query_one("#error", Label).update(str(exc))
            self.add_class("-invalid")
            return
        self.dismiss(result)

    def action_cancel(self) -> None:
        self.dismiss(None)
