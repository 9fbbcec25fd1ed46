"""The run's hints, newest first: what shows, and what to try."""

from __future__ import annotations

from collections.abc import Sequence

from mlp_tui.core.health_report import Hint
from rich.text import Text
from textual.widgets import Static

HEALTHY = "No hints: nothing looks wrong (dead units, update sizes, accuracy, overfitting)."


def hint_text(hints: Sequence[Hint]) -> Text:
    if not hints:
        return Text(HEALTHY, "green")
    text = Text()
    for i, hint in enumerate(reversed(hints)):
        if i:
            text.append("\n")
        text.append("! ", "bold yellow")
        text.append(f"epoch {hint.epoch}: ", "bold")
        text.append(hint.text)
        text.append("\n  try: ", "bold green")
        text.append(hint.advice)
    return text


class HintList(Static):
    DEFAULT_CSS = """
    HintList { height: auto; max-height: 50%; padding: 0 1; overflow-y: auto; }
    """

    def show(self, hints: Sequence[Hint]) -> None:
        self.update(hint_text(hints))
