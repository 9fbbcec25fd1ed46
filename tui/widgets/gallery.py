"""The latest evaluation's misclassified test images, most confident mistakes first, in pages."""

from __future__ import annotations

import textwrap

import torch
from mlp_tui.core.data import CLASS_NAMES
from mlp_tui.core.events import Predictions
from rich.segment import Segment
from textual.binding import Binding
from textual.message import Message
from textual.reactive import reactive
from textual.strip import Strip
from textual.widget import Widget

from ..render import RenderMode, image_rows, image_size
from .render_cost import RenderCost

SCALE = 2  # thumbnails: 28x28 averaged down to 14x14
TILE_WIDTH = 16  # wide enough for "ankle boot ->" and "pullover 100%"
GAP = 1


def caption(true: int, predicted: int, confidence: float) -> tuple[str, str]:
    """The two caption lines of a tile: ``true ->`` and ``predicted confidence``."""
    return f"{CLASS_NAMES[true]} ->", f"{CLASS_NAMES[predicted]} {confidence:.0%}"


class MisclassifiedGallery(RenderCost, Widget, can_focus=True):
    _lines: list[Strip] | None = None  # what render_line shows, built on demand

    COMPONENT_CLASSES = {"gallery--cursor", "gallery--header"}
    DEFAULT_CSS = """
    MisclassifiedGallery { height: 1fr; text-wrap: nowrap; text-overflow: ellipsis; }
    MisclassifiedGallery > .gallery--cursor { text-style: reverse bold; }
    MisclassifiedGallery > .gallery--header { text-style: bold; }
    """
    BROWSE = Binding.Group("Browse", compact=True)
    BINDINGS = [
        Binding("left", "move(-1)", "Previous image", group=BROWSE),
        Binding("right", "move(1)", "Next image", group=BROWSE),
        Binding("up", "move_row(-1)", "Row up", show=False),
        Binding("down", "move_row(1)", "Row down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("enter", "inspect_image", "Image", tooltip="the image large, with probabilities"),
    ]

    class Opened(Message):
        """Enter on a tile: show that image large with its ten probabilities."""

        def __init__(self, position: int) -> None:
            super().__init__()
            self.position = position

    mode: reactive[RenderMode] = reactive("blocks")
    cursor: reactive[int] = reactive(0)

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.predictions: Predictions | None = None
        self.pixels: torch.Tensor | None = None
        self.wrong: list[int] = []  # test-set indices, most confident mistake first
        self._tiles: dict[tuple[int, str], list[list[Segment]]] = {}

    def show(self, predictions: Predictions | None, pixels: torch.Tensor | None) -> None:
        """A new evaluation: keep the cursor's position (thumbnails too, for the same images)."""
        if pixels is not self.pixels:
            self._tiles.clear()
        self.predictions, self.pixels = predictions, pixels
        self.wrong = predictions.misclassified().tolist() if predictions is not None else []
        self.cursor = min(self.cursor, max(len(self.wrong) - 1, 0))
        self.refresh()

    # ------------------------------------------------------------------ layout
    @property
    def tile_size(self) -> tuple[int, int]:
        width, height = image_size(self.mode, SCALE)
        return max(width, TILE_WIDTH), height + 2

    @property
    def grid(self) -> tuple[int, int]:
        """(columns, rows) of tiles that fit, at least one of each."""
        width, height = self.tile_size
        cols = max(1, (self.size.width + GAP) // (width + GAP))
        rows = max(1, (self.size.height - 1 + GAP) // (height + GAP))
        return cols, rows

    @property
    def per_page(self) -> int:
        cols, rows = self.grid
        return cols * rows

    @property
    def page(self) -> int:
        return self.cursor // self.per_page

    @property
    def pages(self) -> int:
        return max(1, -(-len(self.wrong) // self.per_page))

    # ------------------------------------------------------------------ actions
    def _go(self, position: int) -> None:
        if self.wrong:
            self.cursor = max(0, min(position, len(self.wrong) - 1))

    def action_move(self, delta: int) -> None:
        self._go(self.cursor + delta)

    def action_move_row(self, delta: int) -> None:
        self._go(self.cursor + delta * self.grid[0])

    def action_page(self, delta: int) -> None:
        self._go((self.page + delta) * self.per_page)

    def action_inspect_image(self) -> None:
        if self.wrong:
            self.post_message(self.Opened(self.cursor))

    def watch_mode(self) -> None:
        self.refresh()

    def on_resize(self) -> None:
        self.refresh()

    def watch_cursor(self) -> None:
        self.refresh()

    # ------------------------------------------------------------------ drawing
    def header(self) -> str:
        if self.predictions is None:
            return "Misclassified test images: they appear after the first epoch's evaluation"
        total = len(self.predictions.labels)
        if not self.wrong:
            return f"No misclassified test images ({total} right, epoch {self.predictions.epoch})"
        return (
            f"Misclassified {len(self.wrong)} of {total} test images · epoch "
            f"{self.predictions.epoch} · #{self.cursor + 1} · page {self.page + 1}/{self.pages}"
            f" · {self.mode}"
        )

    def _tile(self, index: int) -> list[list[Segment]]:
        """The thumbnail's lines, padded to the tile width; kept for as long as the pixels."""
        key = (index, self.mode)
        if key not in self._tiles:
            width, _ = self.tile_size
            image_width = image_size(self.mode, SCALE)[0]
            left = Segment(" " * ((width - image_width) // 2))
            right = Segment(" " * (width - image_width - len(left.text)))
            self._tiles[key] = [
                [left, *(Segment(chars, style) for chars, style in row), right]
                for row in image_rows(self.pixels[index], self.mode, SCALE)
            ]
        return self._tiles[key]

    def _caption(self, index: int, selected: bool) -> list[list[Segment]]:
        probs = self.predictions.probs[index]
        predicted = int(probs.argmax())
        lines = caption(int(self.predictions.labels[index]), predicted, float(probs[predicted]))
        width, _ = self.tile_size
        style = self.get_component_rich_style("gallery--cursor") if selected else None
        return [[Segment(line[:width].ljust(width), style)] for line in lines]

    def _build_lines(self) -> list[Strip]:
        width, base = self.size.width, self.rich_style
        style = self.get_component_rich_style("gallery--header")
        header = self.header()
        if not self.wrong or self.pixels is None:  # only words: wrap them
            texts = textwrap.wrap(header, max(width, 10))
            return [Strip([Segment(t, style)]).crop_extend(0, width, base) for t in texts]
        if len(header) > width:
            header = header[: max(width - 1, 0)] + "…"
        lines = [Strip([Segment(header, style)])]
        cols, rows = self.grid
        start = self.page * self.per_page
        shown = self.wrong[start : start + self.per_page]
        gap = Segment(" " * GAP)
        for row in range(rows):
            tiles = [
                self._tile(index) + self._caption(index, start + k == self.cursor)
                for k, index in enumerate(shown[row * cols : (row + 1) * cols], row * cols)
            ]
            if not tiles:
                break
            if row:
                lines.append(Strip([]))
            for line in range(len(tiles[0])):
                segments = list(tiles[0][line])
                for tile in tiles[1:]:
                    segments += [gap, *tile[line]]
                lines.append(Strip(segments))
        return [line.crop_extend(0, width, base) for line in lines]

    def render_line(self, y: int) -> Strip:
        """Lines of segments from cached thumbnails: no rich Text to convert on each redraw."""
        if self._lines is None:
            self._lines = self._build_lines()
        if y < len(self._lines):
            return self._lines[y]
        return Strip.blank(self.size.width, self.rich_style)

    def refresh(self, *regions, repaint: bool = True, layout: bool = False, recompose=False):
        self._lines = None  # whatever changed (page, cursor, mode, size, focus): draw again
        return super().refresh(*regions, repaint=repaint, layout=layout, recompose=recompose)

    def text(self) -> str:
        """What the gallery shows, as plain text (for tests and screen readers)."""
        height = max(self.size.height, 1)
        return "\n".join(self.render_line(y).text.rstrip() for y in range(height)).rstrip()
