"""The 10x10 confusion matrix as a coloured grid; Enter on a cell lists its images."""

from __future__ import annotations

import torch
from mlp_tui.core.analysis import accuracy
from mlp_tui.core.data import CLASS_NAMES, NUM_CLASSES
from rich.console import Group, RenderableType
from rich.style import Style
from rich.text import Text
from textual.binding import Binding
from textual.message import Message
from textual.reactive import reactive
from textual.widget import Widget

LABEL_WIDTH = 11  # "ankle boot" and a space
NUMBERED_LABEL_WIDTH = 13  # "9 ankle boot" and a space, when columns are numbered
WIDE_CELL = 9  # room for "pullover" as a column heading
NARROW_CELL = 6


def cell_style(count: int, row_total: int, diagonal: bool, selected: bool) -> Style:
    """Green for the diagonal, red for mistakes, brighter with a larger share of the row."""
    share = count / row_total if row_total else 0.0
    if diagonal:
        colour = (20, int(60 + 150 * share), 40)
    else:
        strength = share**0.5
        colour = (int(40 + 180 * strength), 30, 35)
    style = Style(
        color="white" if count else "grey50",
        bgcolor=f"rgb({colour[0]},{colour[1]},{colour[2]})",
        bold=selected,
    )
    return style + Style(reverse=True, underline=True) if selected else style


class ConfusionMatrix(Widget, can_focus=True):
    """Rows are true classes, columns predicted ones; arrows move, Enter opens the cell."""

    DEFAULT_CSS = """
    ConfusionMatrix { width: 1fr; height: 1fr; padding: 1 2; }
    """
    BINDINGS = [
        Binding("up", "move(-1, 0)", "Up", show=False),
        Binding("down", "move(1, 0)", "Down", show=False),
        Binding("left", "move(0, -1)", "Left", show=False),
        Binding("right", "move(0, 1)", "Right", show=False),
        Binding("enter", "choose", "Show images"),
    ]

    row: reactive[int] = reactive(0)
    column: reactive[int] = reactive(0)

    class PairChosen(Message):
        def __init__(self, true: int, predicted: int) -> None:
            super().__init__()
            self.true, self.predicted = true, predicted

    def __init__(self, matrix: torch.Tensor, **kwargs) -> None:
        super().__init__(**kwargs)
        self.matrix = matrix
        self.counts = matrix.tolist()

    def validate_row(self, row: int) -> int:
        return row % NUM_CLASSES

    def validate_column(self, column: int) -> int:
        return column % NUM_CLASSES

    def action_move(self, rows: int, columns: int) -> None:
        self.row += rows
        self.column += columns

    def action_choose(self) -> None:
        self.post_message(self.PairChosen(self.row, self.column))

    def render(self) -> RenderableType:
        wide = self.size.width >= LABEL_WIDTH + NUM_CLASSES * WIDE_CELL
        cell = WIDE_CELL if wide else NARROW_CELL
        label_width = LABEL_WIDTH if wide else NUMBERED_LABEL_WIDTH
        top = Text("predicted →", "dim")
        bottom = Text(("true ↓" if wide else "true ↓ pred →").ljust(label_width), "dim")
        for p, name in enumerate(CLASS_NAMES):
            first, _, rest = name.partition(" ")
            upper, lower = (first, rest) if rest else ("", first)
            if not wide:
                upper, lower = "", str(p)
            style = "bold yellow" if p == self.column else "bold"
            top.append(upper.rjust(cell), style)
            bottom.append(lower.rjust(cell), style)
        lines = [top, bottom] if wide else [bottom]
        for t, counts in enumerate(self.counts):
            label = CLASS_NAMES[t] if wide else f"{t} {CLASS_NAMES[t]}"
            label_style = "bold yellow" if t == self.row else "bold"
            line = Text(label.ljust(label_width), label_style)
            total = sum(counts)
            for p, count in enumerate(counts):
                selected = (t, p) == (self.row, self.column)
                line.append(" ")
                line.append(f"{count:>{cell - 1}}", cell_style(count, total, t == p, selected))
            lines.append(line)
        return Group(*lines, Text(), self.describe())

    def describe(self) -> Text:
        t, p = self.row, self.column
        count, total = self.counts[t][p], sum(self.counts[t])
        share = f"{count / total:.1%}" if total else "–"
        what = "correctly" if t == p else f"as {CLASS_NAMES[p]}"
        diagonal = int(self.matrix.diagonal().sum())
        return Text.assemble(
            (f"{count:,}", "bold"),
            f" of {total:,} {CLASS_NAMES[t]} images classified {what} ({share}).  ",
            ("Enter", "bold"),
            " lists them in the explorer.\n",
            f"Diagonal: {diagonal:,} of {int(self.matrix.sum()):,} correct, "
            f"test accuracy {accuracy(self.matrix):.2%}.",
        )
