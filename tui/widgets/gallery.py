"""The latest evaluation's misclassified test images, most confident mistakes first, in pages."""

from __future__ import annotations

import textwrap

import torch
from mlp_tui.core.data import CLASS_NAMES
from mlp_tui.core.events import Predictions
from rich.segment import Segment
from textual.binding import Binding
from textual.message import Message
from textual.strip import Strip

from ..render import confidence as confidence_text
from ..render import image_size
from .image_grid import SCALE, PagedImageGrid
from .render_cost import RenderCost

TILE_WIDTH = 16  # wide enough for "ankle boot ->" and "ankle boot 99.8%"


def caption(
    true: int, predicted: int, confidence: float, width: int = TILE_WIDTH
) -> tuple[str, str]:
    """The two caption lines of a tile: ``true ->`` and ``predicted confidence``; where the
    confidence would not fit whole (``ankle boot >99.9%``), it says ``>99%``, still true."""
    second = f"{CLASS_NAMES[predicted]} {confidence_text(confidence)}"
    if len(second) > width and confidence >= 0.99:
        second = f"{CLASS_NAMES[predicted]} >99%"
    return f"{CLASS_NAMES[true]} ->", second


class MisclassifiedGallery(RenderCost, PagedImageGrid):
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
        Binding("up", "move_rows(-1)", "Row up", show=False),
        Binding("down", "move_rows(1)", "Row down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("enter", "inspect_image", "Image", tooltip="the image large, with probabilities"),
    ]
    GAP = 1
    HEADER_LINES = 1

    class Opened(Message):
        """Enter on a tile: show that image large with its ten probabilities."""

        def __init__(self, position: int) -> None:
            super().__init__()
            self.position = position

    @property
    def wrong(self) -> list[int]:
        """Test-set indices, most confident mistake first."""
        return self.indices

    def show(self, predictions: Predictions | None, pixels: torch.Tensor | None) -> None:
        """A new evaluation: keep the cursor's position (thumbnails too, for the same images)."""
        self.predictions, self.pixels = predictions, pixels
        self.indices = predictions.misclassified().tolist() if predictions is not None else []
        self.cursor = self.validate_cursor(self.cursor)
        self.refresh()

    # ------------------------------------------------------------------ layout
    @property
    def card_size(self) -> tuple[int, int]:
        width, height = image_size(self.mode, SCALE)
        return max(width, TILE_WIDTH), height + 2

    @property
    def grid(self) -> tuple[int, int]:
        """(columns, rows) of tiles that fit, at least one of each."""
        return self.columns, self.rows

    @property
    def per_page(self) -> int:
        return self.page_size

    # ------------------------------------------------------------------ actions
    def action_page(self, delta: int) -> None:
        """To the first image of another page, where the header's count starts."""
        self.cursor = (self.page + delta) * self.page_size

    def action_inspect_image(self) -> None:
        if self.indices:
            self.post_message(self.Opened(self.cursor))

    # ------------------------------------------------------------------ drawing
    def header(self, width: int = 1000) -> str:
        """The line above the images; shorter forms where the long one does not fit."""
        if self.predictions is None:
            return "Misclassified test images: they appear after the first epoch's evaluation"
        total = len(self.predictions.labels)
        if not self.indices:
            return f"No misclassified test images ({total} right, epoch {self.predictions.epoch})"
        wrong, epoch, page = len(self.indices), self.predictions.epoch, self.page + 1
        for form in (
            f"Misclassified {wrong} of {total} test images · epoch {epoch} · "
            f"#{self.cursor + 1} · page {page}/{self.pages} · {self.mode}",
            f"Misclassified {wrong} of {total} · epoch {epoch} · #{self.cursor + 1} · "
            f"page {page}/{self.pages}",
            f"{wrong}/{total} wrong · epoch {epoch} · #{self.cursor + 1} · p{page}/{self.pages}",
            f"{wrong} wrong · epoch {epoch} · #{self.cursor + 1} · p{page}/{self.pages}",
        ):
            if len(form) <= width:
                return form
        return form

    @property
    def header_in_border(self) -> bool:
        """Too short for the header line and a row of cards (80x24): the header goes into the
        top border, as the hyperparameters panel's title does, and the plots above get the row."""
        return 0 < self.size.height < self.HEADER_LINES + self.card_size[1]

    @property
    def header_height(self) -> int:
        return 0 if self.header_in_border else self.HEADER_LINES

    def header_lines(self, width: int) -> list[Strip]:
        if self.header_in_border:
            return []
        header = self.header(width)
        if len(header) > width:
            header = header[: max(width - 1, 0)] + "…"
        return [Strip([Segment(header, self.get_component_rich_style("gallery--header"))])]

    def empty_lines(self, width: int) -> list[Strip]:
        """Only words: wrap them."""
        style = self.get_component_rich_style("gallery--header")
        return [Strip([Segment(t, style)]) for t in textwrap.wrap(self.header(), max(width, 10))]

    def _build_lines(self) -> list[Strip]:
        """Padded to the full width in the gallery's own style, not left for Textual to pad."""
        width, base = self.size.width, self.rich_style
        cards = bool(self.indices) and self.pixels is not None
        # in the border, which keeps 2 cells of its width for its corners' dashes; none where
        # the words fill the gallery
        self.border_title = self.header(width - 2) if cards and self.header_in_border else None
        return [line.extend_cell_length(width, base) for line in super()._build_lines()]

    def card(self, index: int, selected: bool) -> list[list[Segment]]:
        """The thumbnail centred over two caption lines, reversed under the cursor."""
        width, _ = self.card_size
        image_width = image_size(self.mode, SCALE)[0]
        left = Segment(" " * ((width - image_width) // 2))
        right = Segment(" " * (width - image_width - len(left.text)))
        image = [[left, *row, right] for row in self.thumbnail(index)]
        assert self.predictions is not None, "cards are drawn only for predictions"
        probs = self.predictions.probs[index]
        predicted = int(probs.argmax())
        true = int(self.predictions.labels[index])
        lines = caption(true, predicted, float(probs[predicted]), width)
        style = self.get_component_rich_style("gallery--cursor") if selected else None
        return image + [[Segment(line[:width].ljust(width), style)] for line in lines]
