"""Ten class probabilities as horizontal bars, the true class and the prediction marked."""

from __future__ import annotations

import torch
from mlp_tui.core.data import CLASS_NAMES
from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from ..render import RenderMode, confidence
from .bars import bar

NAME_WIDTH = max(len(name) for name in CLASS_NAMES)


class ClassBars(Widget):
    DEFAULT_CSS = """
    ClassBars { height: 10; width: 1fr; text-wrap: nowrap; }
    """
    mode: reactive[RenderMode] = reactive("blocks")

    def __init__(self, probs: torch.Tensor, label: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.probs, self.label = probs, label

    def show(self, probs: torch.Tensor, label: int) -> None:
        self.probs, self.label = probs, label
        self.refresh()

    def render(self) -> Text:
        predicted = int(self.probs.argmax())
        width = max(self.size.width - NAME_WIDTH - 12, 4)
        text = Text(no_wrap=True, overflow="crop")
        for c, name in enumerate(CLASS_NAMES):
            p = float(self.probs[c])
            mark = "✓" if c == self.label else ("✗" if c == predicted else " ")
            if self.mode == "ascii":
                mark = {"✓": "*", "✗": "x"}.get(mark, " ")
            style = "bold green" if c == self.label else ("bold red" if c == predicted else "")
            if c:
                text.append("\n")
            text.append(f"{mark} {name:<{NAME_WIDTH}} ", style)
            text.append(bar(p, width, self.mode), style or "dim")
            text.append(f" {confidence(p, 1):>6}", style)
        return text
