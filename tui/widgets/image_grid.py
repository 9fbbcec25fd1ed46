"""Test images as pages of cards with a cursor: the gallery's and the explorer's shared grid."""

from __future__ import annotations

from typing import ClassVar

import torch
from mlp_tui.core.events import Predictions
from rich.segment import Segment
from textual.reactive import reactive
from textual.strip import Strip
from textual.widget import Widget

from ..render import RenderMode, image_rows

SCALE = 2  # 28 px shrunk to 14, so a page holds a dozen or more cards
CACHED_IMAGES = 512  # drawn thumbnails kept, so moving the cursor on a page redraws cheaply


class PagedImageGrid(Widget, can_focus=True):
    """A pager, not a list of widgets: only the page holding the cursor is drawn, so 10,000
    images cost as much as the dozen on screen.

    The page's lines are built from cached thumbnails and kept until something changes, so the
    many redraws that change nothing here (focus, the footer, a neighbour) cost nothing. A
    subclass says which images (``indices``), how big a card is and what it shows around its
    thumbnail, and binds its keys to the actions here.
    """

    GAP: ClassVar[int] = 0  # blank cells between cards, across and down
    HEADER_LINES: ClassVar[int] = 0  # lines above the cards (``header_lines``)
    _lines: list[Strip] | None = None  # what render_line shows, built on demand

    cursor: reactive[int] = reactive(0)
    mode: reactive[RenderMode] = reactive("blocks")

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.predictions: Predictions | None = None
        self.pixels: torch.Tensor | None = None
        self.indices: list[int] = []  # test-set indices, in the order the cards are laid out
        self._images: dict[tuple[int, RenderMode], list[list[Segment]]] = {}
        self._images_of: torch.Tensor | None = None  # the pixels the cached thumbnails show

    # -------------------------------------------------------------------------- subclass
    @property
    def card_size(self) -> tuple[int, int]:
        """(width, height) in cells of one card, captions and border included."""
        raise NotImplementedError

    def card(self, index: int, selected: bool) -> list[list[Segment]]:
        """Test image ``index``'s card as ``card_size`` lines of segments."""
        raise NotImplementedError

    def empty_lines(self, width: int) -> list[Strip]:
        """What to say when there is no image to show."""
        raise NotImplementedError

    def header_lines(self, width: int) -> list[Strip]:
        return []

    # -------------------------------------------------------------------------- layout
    @property
    def columns(self) -> int:
        return max(1, (self.size.width + self.GAP) // (self.card_size[0] + self.GAP))

    @property
    def header_height(self) -> int:
        """Lines above the cards now: ``HEADER_LINES``, unless a subclass moves them."""
        return self.HEADER_LINES

    @property
    def rows(self) -> int:
        height = self.size.height - self.header_height + self.GAP
        return max(1, height // (self.card_size[1] + self.GAP))

    @property
    def page_size(self) -> int:
        return self.columns * self.rows

    @property
    def page(self) -> int:
        return self.cursor // self.page_size

    @property
    def pages(self) -> int:
        return max(1, -(-len(self.indices) // self.page_size))

    @property
    def on_page(self) -> range:
        """Positions in ``indices`` of the cards on the cursor's page."""
        start = self.page * self.page_size
        return range(start, min(start + self.page_size, len(self.indices)))

    @property
    def selected(self) -> int | None:
        return self.indices[self.cursor] if self.indices else None

    def validate_cursor(self, cursor: int) -> int:
        return max(0, min(cursor, len(self.indices) - 1))

    # -------------------------------------------------------------------------- keys
    def action_move(self, delta: int) -> None:
        self.cursor += delta

    def action_move_rows(self, delta: int) -> None:
        self.cursor += delta * self.columns

    def action_move_pages(self, delta: int) -> None:
        self.cursor += delta * self.page_size

    def action_jump(self, position: int) -> None:
        self.cursor = position if position >= 0 else len(self.indices) - 1

    # -------------------------------------------------------------------------- drawing
    def thumbnail(self, index: int) -> list[list[Segment]]:
        """Test image ``index`` in the current mode, ``image_size(mode, SCALE)`` cells."""
        assert self.pixels is not None, "shown only with images"
        if self._images_of is not self.pixels or len(self._images) >= CACHED_IMAGES:
            self._images.clear()
            self._images_of = self.pixels
        key = (index, self.mode)
        if key not in self._images:
            rows = image_rows(self.pixels[index], self.mode, SCALE)
            self._images[key] = [[Segment(text, style) for text, style in row] for row in rows]
        return self._images[key]

    def _build_lines(self) -> list[Strip]:
        """The page's lines; Textual pads each to the widget's width, as for ``render()``."""
        width = self.size.width
        if not self.indices or self.pixels is None:
            return [line.crop(0, width) for line in self.empty_lines(width)]
        lines = self.header_lines(width)
        columns, (card_width, card_height) = self.columns, self.card_size
        gap = [Segment(" " * self.GAP)] if self.GAP else []
        cards = [self.card(self.indices[i], i == self.cursor) for i in self.on_page]
        for start in range(0, len(cards), columns):
            row = cards[start : start + columns]
            if start:
                lines += [Strip([])] * self.GAP
            # a short last row ends in blank cards, so the grid is a rectangle on the background
            missing = (columns - len(row)) * (self.GAP + card_width)
            blank = [Segment(" " * missing, self.rich_style)] if missing else []
            for y in range(card_height):
                segments = list(row[0][y])
                for card in row[1:]:
                    segments += [*gap, *card[y]]
                lines.append(Strip(segments + blank))
        return [line.crop(0, width) for line in lines]

    def render_line(self, y: int) -> Strip:
        if self._lines is None:
            self._lines = self._build_lines()
        if y < len(self._lines):
            return self._lines[y]
        return Strip.blank(self.size.width, self.rich_style)

    def refresh(self, *regions, repaint: bool = True, layout: bool = False, recompose=False):
        self._lines = None  # whatever changed (page, cursor, mode, size, focus): draw again
        return super().refresh(*regions, repaint=repaint, layout=layout, recompose=recompose)

    def on_resize(self) -> None:
        self.refresh()  # a resize repaints without calling refresh: the lines are stale

    def text(self) -> str:
        """What the grid shows, as plain text (for tests and screen readers)."""
        height = max(self.size.height, 1)
        return "\n".join(self.render_line(y).text.rstrip() for y in range(height)).rstrip()
