"""A histogram over the epochs as a heat map: an epoch a row (the oldest on top), a bin a column,
each cell shaded by its count (log scale, against its row's fullest bin)."""

from __future__ import annotations

import math
from collections.abc import Sequence

from mlp_tui.core.health_report import BINS, EDGES
from rich.console import Group, RenderableType
from rich.style import Style
from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from ..render import RenderMode

LABEL = 4  # "e12 "
MAX_ROW_HEIGHT = 3  # lines an epoch's row may take when there is room
# Colours of xterm's 256-colour cube (see confusion_matrix.py): dark blue to pale yellow.
RAMP = ((0, 0, 95), (0, 0, 175), (0, 95, 175), (0, 135, 215), (0, 175, 175), (95, 215, 135),
        (175, 215, 95), (255, 255, 95), (255, 255, 215))  # fmt: skip
EMPTY = (38, 38, 38)
ASCII_RAMP = ".:-=+*#%@"
TICKS = {-10.0: "-10", -0.1: "-.1", -0.001: "", 0.001: "0", 0.1: ".1", 10.0: "10"}

Row = tuple[int, Sequence[int]]  # (epoch, counts in EDGES' bins)


def shade(count: int, fullest: int) -> int | None:
    """The ramp's step for ``count`` (None: empty), on a log scale up to ``fullest``."""
    if count <= 0 or fullest <= 0:
        return None
    share = math.log1p(count) / math.log1p(fullest)
    return min(len(RAMP) - 1, int(share * (len(RAMP) - 1) + 0.5))


def pick(rows: Sequence[Row], room: int) -> list[Row]:
    """At most ``room`` rows, spread evenly over the run, the first and the last among them."""
    if len(rows) <= room:
        return list(rows)
    if room <= 1:
        return list(rows[-1:])
    step = (len(rows) - 1) / (room - 1)
    return [rows[round(i * step)] for i in range(room)]


class HistogramMap(Widget):
    DEFAULT_CSS = """
    HistogramMap { height: 1fr; width: 1fr; padding: 0 1; }
    """

    mode: reactive[RenderMode] = reactive("blocks")

    def __init__(self, title: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.title = title
        self.rows: list[Row] = []

    def show(self, title: str, rows: Sequence[Row]) -> None:
        self.title, self.rows = title, list(rows)
        self.refresh()

    def render(self) -> RenderableType:
        width, height = self.size.width, self.size.height
        cell = max(1, (width - LABEL) // BINS)
        head = Text(self.title, "bold")
        if not self.rows:
            return Group(head, Text("no figures yet: they come at each epoch's end", "dim"))
        lines = [head]
        room = max(1, height - 2)
        shown = pick(self.rows, room)
        tall = max(1, min(MAX_ROW_HEIGHT, room // len(shown)))  # few epochs: taller rows
        for epoch, counts in shown:
            lines.append(self.row(epoch, counts, cell))
            lines += [self.row(None, counts, cell) for _ in range(tall - 1)]
        lines.append(self.axis(cell))
        return Group(*lines)

    def row(self, epoch: int | None, counts: Sequence[int], cell: int) -> Text:
        """One epoch's bins (``epoch`` None: the same row again, unlabelled)."""
        line = Text(("" if epoch is None else f"e{epoch}").ljust(LABEL), "dim")
        fullest = max(counts, default=0)
        for count in counts:
            step = shade(count, fullest)
            if self.mode == "ascii":
                line.append(" " * cell if step is None else ASCII_RAMP[step] * cell)
            else:
                r, g, b = EMPTY if step is None else RAMP[step]
                line.append(" " * cell, Style(bgcolor=f"rgb({r},{g},{b})"))
        return line

    @staticmethod
    def axis(cell: int) -> Text:
        """Labels under the bins where the scale's landmarks are (signed log scale)."""
        chars = [" "] * (LABEL + BINS * cell + 2)  # room for the last label
        for value, label in TICKS.items():
            if not label:
                continue
            at = LABEL + EDGES.index(min(EDGES, key=lambda e: abs(e - value))) * cell
            if value > 0:
                at += cell  # the bin above the edge
            for i, ch in enumerate(label):
                if 0 <= at + i < len(chars):
                    chars[at + i] = ch
        return Text("".join(chars).rstrip(), "dim")
