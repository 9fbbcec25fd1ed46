"""The run's settings, one per line: up/down pick one, left/right step it, enter types it.

The panel offers values; the screen decides what a change does to the run (``Changed``)."""

from __future__ import annotations

from mlp_tui.core.config import TrainConfig
from rich.text import Text
from textual.binding import Binding
from textual.message import Message
from textual.reactive import reactive
from textual.widget import Widget

from ..ladders import FIELDS, show, step, when_applied


class HyperparameterPanel(Widget, can_focus=True):
    COMPONENT_CLASSES = {"panel--cursor", "panel--pending", "panel--when"}
    DEFAULT_CSS = """
    HyperparameterPanel { height: auto; text-wrap: nowrap; text-overflow: ellipsis; }
    HyperparameterPanel > .panel--cursor { text-style: reverse; }
    HyperparameterPanel > .panel--pending { color: $warning; }
    HyperparameterPanel > .panel--when { color: $text-muted; }
    """
    STEP = Binding.Group("Step", compact=True)
    BINDINGS = [
        Binding("up", "move(-1)", "Previous field", show=False),
        Binding("down", "move(1)", "Next field", show=False),
        Binding("left", "step(-1)", "Step down", tooltip="lower the field a step", group=STEP),
        Binding("right", "step(1)", "Step up", tooltip="raise the field a step", group=STEP),
        Binding("enter", "edit", "Type", tooltip="type an exact value for the field"),
    ]

    class Changed(Message):
        """Left/right or a typed value gave ``field`` a new value, checked by ``TrainConfig``;
        the screen decides how to apply it."""

        def __init__(self, field: str, value: object) -> None:
            super().__init__()
            self.field = field
            self.value = value

    cursor: reactive[int] = reactive(0)

    def __init__(self, config: TrainConfig, **kwargs) -> None:
        super().__init__(**kwargs)
        self.config = config
        self.pending_batch_size: int | None = None  # set, but only used from the next epoch

    @property
    def field(self) -> str:
        return FIELDS[self.cursor][0]

    def show(self, config: TrainConfig, pending_batch_size: int | None = None) -> None:
        self.config, self.pending_batch_size = config, pending_batch_size
        self.refresh(layout=True)

    def action_move(self, delta: int) -> None:
        self.cursor = (self.cursor + delta) % len(FIELDS)

    def action_step(self, direction: int) -> None:
        value = step(self.field, getattr(self.config, self.field), direction)
        if value is None:
            self.app.bell()
            return
        self.post_message(self.Changed(self.field, value))

    def action_edit(self) -> None:
        self.edit(self.field)

    def edit(self, field: str) -> None:
        """Ask for an exact value of ``field``."""

        def typed(value: object) -> None:
            if value is not None:
                self.post_message(self.Changed(field, value))

        from ..settings import value_prompt  # torch's device checks: loaded by now

        self.app.push_screen(value_prompt(self.config, field), typed)

    def watch_cursor(self) -> None:
        self.refresh()

    def render(self) -> Text:
        cursor = self.get_component_rich_style("panel--cursor")
        pending = self.get_component_rich_style("panel--pending")
        muted = self.get_component_rich_style("panel--when")
        text = Text(no_wrap=True, overflow="ellipsis")
        for row, (field, label) in enumerate(FIELDS):
            if row not in self.visible_rows():
                continue
            if len(text):
                text.append("\n")
            value = show(field, getattr(self.config, field))
            line = Text(f"{label:<14}{value:>8}  ")
            when = when_applied(field)
            if field == "batch_size" and self.pending_batch_size is not None:
                line.append(when, pending)
            else:
                line.append(when, muted)
            if row == self.cursor:
                line.stylize(cursor if self.has_focus else "bold")
            text.append(Text("▸ " if row == self.cursor else "  ") + line)
        return text

    def visible_rows(self) -> range:
        """Every row when they fit; else as many as fit, with the cursor's in the middle."""
        height = self.content_size.height
        if not height or height >= len(FIELDS):
            return range(len(FIELDS))
        first = max(0, min(self.cursor - height // 2, len(FIELDS) - height))
        return range(first, first + height)

    def on_focus(self) -> None:
        self.refresh()

    def on_blur(self) -> None:
        self.refresh()
