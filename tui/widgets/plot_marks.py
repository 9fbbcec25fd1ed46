"""What the plots draw besides a run's own lines: marks for setting changes, and ghosts.

A change is marked where it took effect, labelled with the value the user set ("lr 0.5",
"momentum 0.9"). Labels that would overlap are never merged into one text: the latest keeps
its place and says how many earlier changes it hides ("lr 0.5 +1"); every change keeps its line.
A ghost is a past run drawn dimly behind the current one, with its name in the plot's key.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from mlp_tui.core.events import EpochReport

from ..curves import debiased_ema

# One colour per ghost, none of the live lines' (gray, orange, magenta, green, cyan, red).
GHOST_COLOURS: tuple[tuple[int, int, int], ...] = (
    (100, 150, 255),  # blue
    (235, 110, 150),  # rose
    (175, 130, 255),  # violet
    (80, 200, 200),  # teal
    (225, 205, 90),  # yellow
    (175, 120, 80),  # brown
    (160, 210, 255),  # sky
    (165, 170, 90),  # olive
    (255, 170, 215),  # pink
    (145, 145, 175),  # slate
)
MAX_GHOSTS = len(GHOST_COLOURS)


@dataclass(frozen=True)
class Ghost:
    """A past run as the plots draw it: its batch losses and its epochs.

    ``losses`` are raw, smoothed when drawn with the plot's own smoothing. A run kept after
    ``r`` has one per batch; one read from the store has its thinned curve, each point the mean
    of the batches up to its entry in ``steps``.
    """

    name: str
    losses: Sequence[float]
    history: Sequence[EpochReport] = field(default_factory=tuple)
    colour: tuple[int, int, int] = GHOST_COLOURS[0]
    steps: Sequence[int] = field(default_factory=tuple)  # () = one point per batch
    run_id: int | None = None  # in the store

    @property
    def short(self) -> str:
        """Its name where the key is short of room: the run's id, when it has one."""
        first = self.name.split(" ")[0]
        return first if first[:1] == "r" and first[1:].isdigit() else self.name[:10]

    @property
    def batches(self) -> int:
        return self.steps[-1] if self.steps else len(self.losses)

    def curve(self, smoothing: float) -> tuple[list[float], list[float]]:
        """Its smoothed batch-loss curve, (batch, loss): a stored point weighs as many
        batches as it stands for."""
        if not self.steps:
            xs = [float(i) for i in range(1, len(self.losses) + 1)]
            return xs, debiased_ema(self.losses, smoothing)
        counts = [b - a for a, b in zip((0, *self.steps), self.steps)]
        return [float(s) for s in self.steps], debiased_ema(self.losses, smoothing, counts)


def lr_markers(changes: Sequence[tuple[int, float]]) -> list[tuple[int, float]]:
    """A checkpoint's lr history as changes: after the first setting, one per step (the last
    one wins), effective ones only."""
    by_step: dict[int, float] = {}
    for step, lr in changes:
        by_step[step] = lr
    markers, previous = [], None
    for step, lr in sorted(by_step.items()):
        if previous is not None and lr != previous:
            markers.append((step, lr))
        previous = lr
    return markers


def place_labels(
    marks: Sequence[tuple[float, str]], first: float, last: float, width: int
) -> list[tuple[float, str]]:
    """The labels that fit, from the latest back: a label that would run into the one after
    it is hidden, and the one after it counts it ("+1")."""
    per_cell = max(last - first, 1e-9) / max(width - 10, 10)  # x units a character takes
    placed: list[tuple[float, str, int]] = []  # (x, text, hidden before it), latest first
    for x, text in sorted(marks, reverse=True):
        if placed and x + (len(text) + 4) * per_cell > placed[-1][0]:
            nx, ntext, hidden = placed[-1]
            placed[-1] = (nx, ntext, hidden + 1)
            continue
        placed.append((x, text, 0))
    return [(x, f"{text} +{hidden}" if hidden else text) for x, text, hidden in reversed(placed)]


def change_label(name: str, value: object) -> str:
    """``lr 0.5``, ``momentum 0.9``: the field as the panel says it, short."""
    short = {"weight_decay": "wd", "batch_size": "batch", "divergence_factor": "div"}
    shown = f"{value:g}" if isinstance(value, float) else str(value)
    return f"{short.get(name, name)} {shown}"
