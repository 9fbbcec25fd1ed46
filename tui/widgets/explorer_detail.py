"""The selected prediction at full size: the image, both labels, the loss, all ten bars."""

from __future__ import annotations

import math

from mlp_tui.core.data import CLASS_NAMES
from mlp_tui.core.events import Predictions
from mlp_tui.tui.render import RenderMode, confidence, render_image
from rich.console import Group
from rich.text import Text
from textual.widgets import Static

from .probability_bars import RIGHT, WRONG, probability_bars


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
        self.update(
            Group(
                Text.assemble(("test image ", "bold"), (f"#{index}", "bold"), "  ", verdict),
                render_image(self.pixels[index], self.mode),
                Text.assemble("true       ", (CLASS_NAMES[true], f"bold {RIGHT}")),
                Text.assemble(
                    "predicted  ",
                    (CLASS_NAMES[predicted], f"bold {RIGHT if true == predicted else WRONG}"),
                    f"  {confidence(float(probs[predicted]), 1)}",
                ),
                Text(f"loss       {loss:.3f}"),
                probability_bars(probs, true, predicted, width=18),
            )
        )
