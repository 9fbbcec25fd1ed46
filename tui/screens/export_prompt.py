"""Ask where to write the exports; the answer is a folder, or None when cancelled."""

from __future__ import annotations

from mlp_tui.core.export import FILES
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label

from ..widgets.footer import KeyFooter


class ExportPrompt(ModalScreen[str | None]):
    DEFAULT_CSS = """
    ExportPrompt { align: center middle; }
    ExportPrompt > Vertical {
        width: 72; height: auto; padding: 1 2; border: thick $primary; background: $surface;
    }
    ExportPrompt Label { width: 1fr; }
    ExportPrompt .hint { color: $text-muted; }
    """
    # priority: handled as the key arrives, so keys typed right after it reach the screen
    # below instead of this one, which they would find still focused (and be lost in)
    BINDINGS = [Binding("escape", "cancel", "Cancel", priority=True)]

    def __init__(self, default: str) -> None:
        super().__init__()
        self.default = default

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("[b]Export to folder[/b]")
            yield Label(", ".join(FILES), classes="hint")
            yield Input(value=self.default, id="export-dir")
            yield Label("Enter: export   Escape: cancel", classes="hint")
        yield KeyFooter(compact=True, show_command_palette=False)  # this dialog's keys

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value.strip() or None)

    def action_cancel(self) -> None:
        self.dismiss(None)
