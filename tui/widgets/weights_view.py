"""One hidden unit at a time: its 784 input weights as an image and its votes for each class."""

from __future__ import annotations

from mlp_tui.core.analysis import strongest_classes, weight_image
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
    """W1[:, unit] as a 28x28 picture (mid grey = 0, white = most positive, black = most
    negative), and W2[unit]: how strongly this unit pushes each class's logit up or down."""

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
    ]

    unit: reactive[int] = reactive(0)
    mode: reactive[RenderMode] = reactive("blocks")

    def __init__(self, net: ScratchMLP, **kwargs) -> None:
        super().__init__(**kwargs)
        self.W1 = net.W1.detach().cpu().clone()  # a snapshot: what the inspector was opened on
        self.b1 = net.b1.detach().cpu().clone()
        self.W2 = net.W2.detach().cpu().clone()

    @property
    def units(self) -> int:
        return self.W1.shape[1]

    def validate_unit(self, unit: int) -> int:
        return unit % self.units

    def action_move(self, delta: int) -> None:
        self.unit += delta

    def action_jump(self, unit: int) -> None:
        self.unit = unit

    def render(self) -> RenderableType:
        zoom = 2 if self.size.width >= 56 + 48 and self.size.height >= 30 else 1
        image = weight_image(self.W1, self.unit)
        image = image.repeat_interleave(zoom, 0).repeat_interleave(zoom, 1)
        layout = Table.grid(padding=(0, 3))
        layout.add_column()
        layout.add_column()
        layout.add_row(render_image(image, self.mode), self.describe())
        return layout

    def describe(self) -> Group:
        w = self.W1[:, self.unit]
        peak = float(w.abs().max())
        votes = strongest_classes(self.W2, self.unit)
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
        return Group(
            Text.assemble(
                ("Hidden unit ", "bold"),
                (f"{self.unit}", "bold yellow"),
                f" of 0–{self.units - 1}",
            ),
            Text(f"bias b1 {float(self.b1[self.unit]):+.4f}"),
            Text(f"input weights W1 from {float(w.min()):+.3f} to {float(w.max()):+.3f}"),
            Text(f"white +{peak:.3f}, grey 0, black -{peak:.3f}", "dim"),
            Text(),
            Text.assemble(("Strongest classes: ", "bold"), top),
            Text("W2, this unit's weight to each class's logit:", "dim"),
            bars,
            Text(),
            Text("←/→ unit  ↑/↓ ±16  PgUp/PgDn ±64  g image mode", "dim"),
        )
