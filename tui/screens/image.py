"""One misclassified test image, large, with the network's ten class probabilities."""

from __future__ import annotations

import torch
from mlp_tui.core.data import CLASS_NAMES
from mlp_tui.core.events import Predictions
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, Static

from ..render import RenderMode, confidence, render_image
from ..widgets.class_bars import ClassBars
from ..widgets.footer import KeyFooter


class ImageScreen(ModalScreen[int]):
    """Dismissed with the position shown last, for the gallery to move its cursor there."""

    APP_ACTIONS = frozenset({"render_mode", "help"})
    BINDINGS = [
        Binding("escape,enter", "close", "Back", priority=True),
        Binding("left", "move(-1)", "Previous"),
        Binding("right", "move(1)", "Next"),
        Binding("g", "app.render_mode", "Render"),
    ]

    def __init__(
        self,
        pixels: torch.Tensor,
        predictions: Predictions,
        indices: list[int],
        position: int,
        mode: RenderMode,
    ) -> None:
        super().__init__()
        self.pixels, self.predictions, self.indices = pixels, predictions, indices
        self.position, self.mode = position, mode

    @property
    def index(self) -> int:
        return self.indices[self.position]

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog image"):
            yield Label("", id="image-title", classes="dialog-title")
            with Horizontal():
                yield Static(id="big-image")
                yield ClassBars(self.predictions.probs[self.index], self._label())
        yield KeyFooter()

    def on_mount(self) -> None:
        self.watch(self.app, "render_mode", self._set_mode, init=False)
        self._draw()

    def _label(self) -> int:
        return int(self.predictions.labels[self.index])

    def _set_mode(self, mode: RenderMode) -> None:
        self.mode = mode
        self._draw()

    @property
    def zoom(self) -> int:
        width, height = self.app.size
        return 2 if width >= 110 and height >= 36 else 1

    def _draw(self) -> None:
        probs = self.predictions.probs[self.index]
        predicted = int(probs.argmax())
        title = (
            f"test image #{self.index} ({self.position + 1} of {len(self.indices)}): "
            f"{CLASS_NAMES[self._label()]} -> {CLASS_NAMES[predicted]} "
            f"{confidence(float(probs[predicted]), 1)}"
        )
        self.query_one("#image-title", Label).update(title)
        image = render_image(self.pixels[self.index], self.mode, zoom=self.zoom)
        self.query_one("#big-image", Static).update(image)
        bars = self.query_one(ClassBars)
        bars.mode = self.mode
        bars.show(probs, self._label())

    def on_resize(self) -> None:
        self._draw()  # the zoom follows the terminal's size

    def action_close(self) -> None:
        self.dismiss(self.position)

    def action_move(self, delta: int) -> None:
        self.position = (self.position + delta) % len(self.indices)
        self._draw()
