"""The latest evaluation's misclassified test images, most confident mistakes first, in pages."""

from __future__ import annotations

import torch
from mlp_tui.core.data import CLASS_NAMES
from mlp_tui.core.events import Predictions
from rich.text import Text
from textual.binding import Binding
from textual.message import Message
from textual.reactive import reactive
from textual.widget import Widget

from ..render import RenderMode, image_size, render_image

SCALE = 2  # thumbnails: 28x28 averaged down to 14x14
TILE_WIDTH = 16  # wide enough for "ankle boot ->" and "pullover 100%"
GAP = 1


def caption(true: int, predicted: int, confidence: float) -> tuple[str, str]:
    """The two caption lines of a tile: ``true ->`` and ``predicted confidence``."""
    return f"{CLASS_NAMES[true]} ->", f"{CLASS_NAMES[predicted]} {confidence:.0%}"


class MisclassifiedGallery(Widget, can_focus=True):
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
        self._tiles: dict[tuple[int, str], list[Text]] = {}

    def show(self, predictions: Predictions | None, pixels: torch.Tensor | None) -> None:
        """A new evaluation: keep the cursor's page position, drop cached thumbnails."""
        self.predictions, self.pixels = predictions, pixels
        self.wrong = predictions.misclassified().tolist() if predictions is not None else []
        self._tiles.clear()
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

    def _tile(self, index: int) -> list[Text]:
        key = (index, self.mode)
        if key not in self._tiles:
            width, _ = self.tile_size
            image = render_image(self.pixels[index], self.mode, SCALE)
            pad = (width - image_size(self.mode, SCALE)[0]) // 2
            lines = [Text(" " * pad) + line for line in image.split("\n")]
            for line in lines:
                line.pad_right(width - line.cell_len)
            self._tiles[key] = lines
        return self._tiles[key]

    def _caption(self, index: int, selected: bool) -> list[Text]:
        probs = self.predictions.probs[index]
        predicted = int(probs.argmax())
        lines = caption(int(self.predictions.labels[index]), predicted, float(probs[predicted]))
        width, _ = self.tile_size
        style = self.get_component_rich_style("gallery--cursor") if selected else ""
        return [Text(line[:width].ljust(width), style=style) for line in lines]

    def render(self) -> Text:
        out = Text(self.header(), style=self.get_component_rich_style("gallery--header"))
        out.no_wrap, out.overflow = True, "crop"
        if not self.wrong or self.pixels is None:
            return out
        cols, rows = self.grid
        start = self.page * self.per_page
        shown = self.wrong[start : start + self.per_page]
        for row in range(rows):
            tiles = [
                self._tile(index) + self._caption(index, start + k == self.cursor)
                for k, index in enumerate(shown[row * cols : (row + 1) * cols], row * cols)
            ]
            if not tiles:
                break
            for line in range(len(tiles[0])):
                out.append("\n")
                out.append(Text(" " * GAP).join(tile[line] for tile in tiles))
            out.append("\n")
        out.rstrip()
        return out
