"""A page of prediction cards: only what fits on screen is drawn, however many images match."""

from __future__ import annotations

import torch
from mlp_tui.core.data import CLASS_NAMES
from mlp_tui.core.events import Predictions
from rich import box
from rich.console import Group, JustifyMethod, RenderableType
from rich.panel import Panel
from rich.segment import Segment, SegmentLines
from rich.text import Text
from textual.binding import Binding
from textual.message import Message
from textual.strip import Strip

from ..render import confidence_in, image_size
from .image_grid import SCALE, PagedImageGrid
from .probability_bars import RIGHT, WRONG, probability_spark


class PredictionGrid(PagedImageGrid):
    """Cards of test images with their true and predicted labels and ten probability bars."""

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

    class Moved(Message):
        """The selected card changed (``index`` is the test image, None when nothing matches)."""

        def __init__(self, index: int | None, position: int, total: int, page: range) -> None:
            super().__init__()
            self.index, self.position, self.total, self.page = index, position, total, page

    def __init__(self, predictions: Predictions, pixels: torch.Tensor, **kwargs) -> None:
        super().__init__(**kwargs)
        self.predictions = predictions
        self.pixels = pixels
        self.probs = predictions.probs
        self.predicted = predictions.predicted.tolist()
        self.labels = predictions.labels.tolist()

    @property
    def card_size(self) -> tuple[int, int]:
        width, height = image_size(self.mode, SCALE)
        labels = 2 if self.compact else 3
        return width + 2, height + labels + 2  # border, the lines of labels

    @property
    def compact(self) -> bool:
        """True and predicted labels on one line, where that fits one more row of cards in
        the height (at 120x40: 12 cards instead of 8 over ten empty rows)."""
        _, height = image_size(self.mode, SCALE)
        room = self.size.height - self.HEADER_LINES + self.GAP
        full, short = room // (height + 5 + self.GAP), room // (height + 4 + self.GAP)
        return short > full

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

    def watch_cursor(self) -> None:
        self._announce()

    def on_resize(self) -> None:
        self._announce()  # the page, and so the "x-y of n" line, depends on the size

    def _announce(self) -> None:
        self.post_message(self.Moved(self.selected, self.cursor, len(self.indices), self.on_page))

    # -------------------------------------------------------------------------- drawing
    def card(self, index: int, selected: bool) -> list[list[Segment]]:
        width = self.card_size[0] - 2
        true, predicted = self.labels[index], self.predicted[index]
        probs = self.probs[index].tolist()
        guess = Text(f"→{CLASS_NAMES[predicted]}", RIGHT if predicted == true else WRONG)
        spark = probability_spark(probs, true, predicted)
        room = width - spark.cell_len
        spark.append(f"{confidence_in(probs[predicted], room):>{room}}")  # never an untrue 100%
        labels: list[Text] = [Text(CLASS_NAMES[true], RIGHT, no_wrap=True, overflow="crop"), guess]
        if self.compact:
            both = Text(CLASS_NAMES[true], RIGHT) + guess
            if predicted == true:  # right: the name once
                both = Text(f"{CLASS_NAMES[true]} ✓", RIGHT)
            elif both.cell_len > width:  # "ankle boot→sandal": the prediction matters more
                both = Text(CLASS_NAMES[true][: max(width - guess.cell_len - 1, 1)] + "…", RIGHT)
                both += guess
            both.truncate(width, overflow="crop")
            labels = [both]
        body = Group(SegmentLines(self.thumbnail(index), new_lines=True), *labels, spark)
        panel = Panel(
            body,
            title=f"#{index}",
            title_align="left",
            box=box.HEAVY if selected else box.ROUNDED,
            border_style="bold yellow" if selected else "grey35",
            width=width + 2,
            padding=0,
        )
        return self._rich_lines(panel, width + 2, justify="left")  # each label padded in its colour

    def empty_lines(self, width: int) -> list[Strip]:
        message = Text("No test image matches this filter.", style="italic")
        return [Strip(line) for line in self._rich_lines(message, width)]

    def _rich_lines(
        self, renderable: RenderableType, width: int, justify: JustifyMethod | None = None
    ) -> list[list[Segment]]:
        """``renderable`` as Textual draws a widget's ``render()``: on the widget's style."""
        options = self.app.console_options.update(highlight=False, width=width, justify=justify)
        style = self.visual_style.rich_style
        return self.app.console.render_lines(renderable, options, style=style, pad=False)
