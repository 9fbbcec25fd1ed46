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


# Shades that are colours of xterm's 256-colour cube, so a 256-colour terminal (tmux's default)
# shows the same steps as a true-colour one: an RGB ramp downgraded there fell onto one or two
# colours, and 199 mistakes looked like 2. (share of the row at least, colour)
MISTAKE_SHADES = ((0.15, (255, 0, 0)), (0.06, (215, 0, 0)), (0.02, (175, 0, 0)),
                  (0.005, (135, 0, 0)), (0.0, (95, 0, 0)))  # fmt: skip
CORRECT_SHADES = ((0.9, (0, 215, 0)), (0.8, (0, 175, 0)), (0.65, (0, 135, 0)), (0.0, (0, 95, 0)))
EMPTY = (38, 38, 38)  # grey 235: no image in the cell
DARK_TEXT_FROM = 175  # black on the brightest shades, white on the others


def shade(count: int, row_total: int, diagonal: bool) -> tuple[int, int, int]:
    """The cell's background: green steps for the diagonal, red steps for mistakes, by the
    share of the row they hold."""
    if count == 0:
        return EMPTY
    share = count / row_total if row_total else 0.0
    for at_least, colour in CORRECT_SHADES if diagonal else MISTAKE_SHADES:
        if share >= at_least:
            return colour
    return EMPTY  # not reached: the last step is 0


def cell_style(count: int, row_total: int, diagonal: bool, selected: bool) -> Style:
    r, g, b = shade(count, row_total, diagonal)
    text = "grey50" if not count else ("black" if max(r, g) >= DARK_TEXT_FROM else "white")
    style = Style(color=text, bgcolor=f"rgb({r},{g},{b})", bold=selected)
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
