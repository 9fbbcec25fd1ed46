"""A page of prediction cards: only what fits on screen is drawn, however many images match."""

from __future__ import annotations

from mlp_tui.core.data import CLASS_NAMES
from mlp_tui.core.events import Predictions
from mlp_tui.tui.render import RenderMode, image_size, render_image
from rich import box
from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text
from textual.binding import Binding
from textual.message import Message
from textual.reactive import reactive
from textual.widget import Widget

from .probability_bars import RIGHT, WRONG, probability_spark

CARD_SCALE = 2  # 28 px shrunk to 14, so a page holds a dozen or more cards
CACHED_IMAGES = 512  # drawn thumbnails kept, so moving the cursor on a page redraws cheaply


class PredictionGrid(Widget, can_focus=True):
    """Cards of test images with their true and predicted labels and ten probability bars.

    The grid is a pager, not a list of widgets: ``render`` draws the page holding the cursor,
    so 10,000 predictions cost as much as the dozen on screen.
    """

    DEFAULT_CSS = """
    PredictionGrid { width: 1fr; height: 1fr; }
    """
    BINDINGS = [
        Binding("left", "move(-1)", "Previous", show=False),
        Binding("right", "move(1)", "Next", show=False),
        Binding("up", "move_rows(-1)", "Up", show=False),
        Binding("down", "move_rows(1)", "Down", show=False),
        Binding("pageup", "move_pages(-1)", "Page up", show=False),
        Binding("pagedown", "move_pages(1)", "Page down", show=False),
        Binding("home", "jump(0)", "First", show=False),
        Binding("end", "jump(-1)", "Last", show=False),
    ]

    cursor: reactive[int] = reactive(0)
    mode: reactive[RenderMode] = reactive("blocks")

    class Moved(Message):
        """The selected card changed (``index`` is the test image, None when nothing matches)."""

        def __init__(self, index: int | None, position: int, total: int, page: range) -> None:
            super().__init__()
            self.index, self.position, self.total, self.page = index, position, total, page

    def __init__(self, predictions: Predictions, pixels, **kwargs) -> None:
        super().__init__(**kwargs)
        self.predictions = predictions
        self.pixels = pixels
        self.indices: list[int] = []
        self.probs = predictions.probs
        self.predicted = predictions.predicted.tolist()
        self.labels = predictions.labels.tolist()
        self._thumbnails: dict[tuple[int, RenderMode], Text] = {}

    # -------------------------------------------------------------------------- layout
    @property
    def card_size(self) -> tuple[int, int]:
        width, height = image_size(self.mode, CARD_SCALE)
        return width + 2, height + 3 + 2  # border, three lines of labels

    @property
    def columns(self) -> int:
        return max(1, self.size.width // self.card_size[0])

    @property
    def rows(self) -> int:
        return max(1, self.size.height // self.card_size[1])

    @property
    def page_size(self) -> int:
        return self.columns * self.rows

    @property
    def page(self) -> range:
        start = self.cursor // self.page_size * self.page_size
        return range(start, min(start + self.page_size, len(self.indices)))

    @property
    def selected(self) -> int | None:
        return self.indices[self.cursor] if self.indices else None

    # -------------------------------------------------------------------------- data
    def show(self, indices: list[int], keep: bool = True) -> None:
        """List ``indices`` from the top, or, with ``keep``, at the selected image when it is
        among them (narrowing to its class keeps it in view)."""
        selected = self.selected if keep else None
        self.indices = indices
        position = indices.index(selected) if selected in indices else 0
        if position == self.cursor:
            self._announce()
        self.cursor = position
        self.refresh()

    def validate_cursor(self, cursor: int) -> int:
        return max(0, min(cursor, len(self.indices) - 1))

    def watch_cursor(self) -> None:
        self._announce()

    def on_resize(self) -> None:
        self._announce()  # the page, and so the "x-y of n" line, depends on the size

    def _announce(self) -> None:
        self.post_message(self.Moved(self.selected, self.cursor, len(self.indices), self.page))

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
    def card(self, index: int, selected: bool) -> Panel:
        width = self.card_size[0] - 2
        true, predicted = self.labels[index], self.predicted[index]
        probs = self.probs[index].tolist()
        guess = Text(f"→{CLASS_NAMES[predicted]}", RIGHT if predicted == true else WRONG)
        spark = probability_spark(probs, true, predicted)
        spark.append(f"{probs[predicted]:>{width - 10}.0%}")
        body = Group(
            self.thumbnail(index),
            Text(CLASS_NAMES[true], RIGHT, no_wrap=True, overflow="crop"),
            guess,
            spark,
        )
        return Panel(
            body,
            title=f"#{index}",
            title_align="left",
            box=box.HEAVY if selected else box.ROUNDED,
            border_style="bold yellow" if selected else "grey35",
            width=width + 2,
            padding=0,
        )

    def thumbnail(self, index: int) -> Text:
        key = (index, self.mode)
        if key not in self._thumbnails:
            if len(self._thumbnails) >= CACHED_IMAGES:
                self._thumbnails.clear()
            self._thumbnails[key] = render_image(self.pixels[index], self.mode, CARD_SCALE)
        return self._thumbnails[key]

    def render(self) -> RenderableType:
        if not self.indices:
            return Text("No test image matches this filter.", style="italic")
        grid = Table.grid()
        for _ in range(self.columns):
            grid.add_column(width=self.card_size[0])
        cards = [self.card(self.indices[i], i == self.cursor) for i in self.page]
        for start in range(0, len(cards), self.columns):
            grid.add_row(*cards[start : start + self.columns])
        return grid
