"""The selected prediction at full size: the image, both labels, the loss, all ten bars.

Where the pane is too short for that stacked (at 80x24 it has 19 rows, the stack needs 28), the
image is drawn at half size with the labels beside it, so that the ten probabilities, the part
a user compares, still all show without scrolling.
"""

from __future__ import annotations

import math

from mlp_tui.core.data import CLASS_NAMES
from mlp_tui.core.events import Predictions
from mlp_tui.tui.render import RenderMode, confidence, image_rows, image_size, render_image
from rich.console import Group
from rich.text import Text
from textual.widgets import Static

from .probability_bars import RIGHT, WRONG, probability_bars

FULL_HEIGHT = (
    1 + image_size()[1] + 3 + len(CLASS_NAMES)
)  # heading, image, true/predicted/loss, bars
SMALL = 2  # the compact layout's image: 28 px shrunk to 14 (14x7 cells)


class PredictionDetail(Static):
    DEFAULT_CSS = """
    PredictionDetail { width: 42; height: 1fr; padding: 0 1; border-left: solid $primary-muted; }
    """

    def __init__(self, predictions: Predictions, pixels, **kwargs) -> None:
        super().__init__(**kwargs)
        self.predictions = predictions
        self.pixels = pixels
        self.index: int | None = None
        self.mode: RenderMode = "blocks"

    @property
    def compact(self) -> bool:
        """Too short for the stacked layout (an unsized pane is not: it redraws on resize)."""
        return 0 < self.content_size.height < FULL_HEIGHT

    def on_resize(self) -> None:
        self.show(self.index)  # the layout follows the pane's height

    def show(self, index: int | None, mode: RenderMode | None = None) -> None:
        self.index = index
        self.mode = mode or self.mode
        if index is None:
            self.update(Text("Nothing selected.", style="italic"))
            return
        probs = self.predictions.probs[index].tolist()
        true, predicted = (
            int(self.predictions.labels[index]),
            int(self.predictions.predicted[index]),
        )
        loss = -math.log(max(probs[true], 1e-45))
        verdict = Text("right", RIGHT) if true == predicted else Text("wrong", WRONG)
        heading = Text.assemble(("test image ", "bold"), (f"#{index}", "bold"), "  ", verdict)
        named = f"bold {RIGHT if true == predicted else WRONG}"
        sure = confidence(float(probs[predicted]), 1)
        true_line = Text.assemble("true       ", (CLASS_NAMES[true], f"bold {RIGHT}"))
        loss_line = Text(f"loss       {loss:.3f}")
        bars = probability_bars(probs, true, predicted, width=18)
        if self.compact:  # beside a 14-cell image the confidence needs a line of its own
            lines = [
                heading,
                Text(),
                true_line,
                Text.assemble("predicted  ", (CLASS_NAMES[predicted], named)),
            ]
            lines += [Text(f"{'':11}{sure}"), loss_line]
            self.update(Group(self.beside(index, lines), bars))
            return
        predicted_line = Text.assemble("predicted  ", (CLASS_NAMES[predicted], named), f"  {sure}")
        image = render_image(self.pixels[index], self.mode)
        self.update(Group(heading, image, true_line, predicted_line, loss_line, bars))

    def beside(self, index: int, lines: list[Text]) -> Text:
        """The half-size image with ``lines`` to its right, one to an image row."""
        text = Text(no_wrap=True, overflow="crop")
        image = image_rows(self.pixels[index], self.mode, scale=SMALL)
        for number, row in enumerate(image):
            if number:
                text.append("\n")
            for characters, style in row:
                text.append(characters, style)
            if number < len(lines):
                text.append("  ")
                text.append_text(lines[number])
        return text
