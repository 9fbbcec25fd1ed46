"""One hidden unit at a time: its input weights as an image and where its output goes."""

from __future__ import annotations

from mlp_tui.core.analysis import strongest_classes, strongest_units, weight_image
from mlp_tui.core.data import CLASS_NAMES
from mlp_tui.core.model import ScratchMLP
from mlp_tui.tui.render import RenderMode, render_image
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.binding import Binding
from textual.reactive import reactive
from textual.widget import Widget

BAR = 14
ROW_STEP = 16  # up/down: the next row of a 16 x 16 sheet of 256 units
PAGE_STEP = 64


class WeightsView(Widget, can_focus=True):
    """A hidden unit's input weights as a picture (mid grey = 0, white = most positive, black =
    most negative): the first layer's as a 28x28 image, a deeper layer's as a grid of the
    previous layer's units. Then the unit's outgoing weights: in the last hidden layer, how
    strongly it pushes each class's logit up or down; before that, the units it drives most."""

    DEFAULT_CSS = """
    WeightsView { width: 1fr; height: 1fr; padding: 1 2; }
    """
    BINDINGS = [
        Binding("left", "move(-1)", "Previous unit", show=False),
        Binding("right", "move(1)", "Next unit", show=False),
        Binding("up", f"move(-{ROW_STEP})", f"-{ROW_STEP}", show=False),
        Binding("down", f"move({ROW_STEP})", f"+{ROW_STEP}", show=False),
        Binding("pageup", f"move(-{PAGE_STEP})", f"-{PAGE_STEP}", show=False),
        Binding("pagedown", f"move({PAGE_STEP})", f"+{PAGE_STEP}", show=False),
        Binding("home", "jump(0)", "First unit", show=False),
        Binding("end", "jump(-1)", "Last unit", show=False),
        Binding("left_square_bracket", "layer(-1)", "Previous layer", show=False),
        Binding("right_square_bracket", "layer(1)", "Next layer", show=False),
    ]

    unit: reactive[int] = reactive(0)
    shown_layer: reactive[int] = reactive(0)  # the hidden layer shown, 0 = the first
    mode: reactive[RenderMode] = reactive("blocks")

    def __init__(self, net: ScratchMLP, **kwargs) -> None:
        super().__init__(**kwargs)
        # A snapshot: what the inspector was opened on.
        self.weights = [W.detach().cpu().clone() for W in net.weights]
        self.biases = [b.detach().cpu().clone() for b in net.params[1::2]]
        self.depth = len(self.weights) - 1

    @property
    def units(self) -> int:
        return self.weights[self.shown_layer].shape[1]

    def validate_unit(self, unit: int) -> int:
        return unit % self.units

    def watch_shown_layer(self) -> None:
        self.unit = self.unit  # within the new layer's units

    def action_move(self, delta: int) -> None:
        self.unit += delta

    def action_jump(self, unit: int) -> None:
        self.unit = unit

    def action_layer(self, delta: int) -> None:
        if not 0 <= self.shown_layer + delta < self.depth:
            self.app.bell()
            return
        self.shown_layer += delta

    def render(self) -> RenderableType:
        image = weight_image(self.weights[self.shown_layer], self.unit)
        wide, tall = self.size.width >= 56 + 48, self.size.height >= 30
        zoom = 2 if wide and tall else 1
        if max(image.shape) <= 16:  # a deeper layer's grid (256 units: 16x16), drawn larger
            zoom *= 2
        image = image.repeat_interleave(zoom, 0).repeat_interleave(zoom, 1)
        layout = Table.grid(padding=(0, 3))
        layout.add_column()
        layout.add_column()
        layout.add_row(render_image(image, self.mode), self.describe())
        return layout

    def describe(self) -> Group:
        layer = self.shown_layer
        number = layer + 1
        w = self.weights[layer][:, self.unit]
        peak = float(w.abs().max())
        where = f" · layer {number} of {self.depth}" if self.depth > 1 else ""
        keys = "←/→ unit  ↑/↓ ±16  PgUp/PgDn ±64"
        keys += "  [/] layer" if self.depth > 1 else ""
        inputs = "the 784 pixels" if layer == 0 else f"layer {layer}'s {len(w)} units"
        return Group(
            Text.assemble(
                ("Hidden unit ", "bold"),
                (f"{self.unit}", "bold yellow"),
                f" of 0–{self.units - 1}{where}",
            ),
            Text(f"bias b{number} {float(self.biases[layer][self.unit]):+.4f}"),
            Text(f"input weights W{number} from {float(w.min()):+.3f} to {float(w.max()):+.3f}"),
            Text(f"white +{peak:.3f}, grey 0, black -{peak:.3f}; inputs: {inputs}", "dim"),
            Text(),
            *self.outgoing(),
            Text(),
            Text(f"{keys}  g image mode", "dim"),
        )

    def outgoing(self) -> list[Text]:
        """Where the unit's output goes: the classes' logits, or the next layer's units."""
        W_next = self.weights[self.shown_layer + 1]
        number = self.shown_layer + 2
        if self.shown_layer + 1 < self.depth:
            lines = [Text(f"W{number}, the units of layer {number} it drives most:", "dim")]
            for unit, value in strongest_units(W_next, self.unit):
                style = "green" if value > 0 else "red"
                lines.append(Text(f"unit {unit:<5} {value:+.3f}", style))
            return lines
        votes = strongest_classes(W_next, self.unit)
        strongest = max(abs(v) for _, v in votes) or 1.0
        bars = Text(no_wrap=True)
        for cls, value in votes:
            cells = round(abs(value) / strongest * BAR)
            style = "green" if value > 0 else "red"
            bars.append(f"{CLASS_NAMES[cls]:<11}", "bold" if cls == votes[0][0] else "")
            bars.append(f"{'█' * cells:<{BAR}}", style)
            bars.append(f" {value:+.3f}\n", style)
        bars.rstrip()
        top = ", ".join(CLASS_NAMES[c] for c, v in votes[:3] if v > 0) or "none"
        return [
            Text.assemble(("Strongest classes: ", "bold"), top),
            Text(f"W{number}, this unit's weight to each class's logit:", "dim"),
            bars,
        ]
