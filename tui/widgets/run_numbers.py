"""The numbers under the status line: the smoothed batch loss and train accuracy, the last and
the best test accuracy; while the run waits, the last batch's own loss and accuracy (after
``n``, those of the batch it trained)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from mlp_tui.core.events import RunState
from rich.text import Text
from textual.widget import Widget

if TYPE_CHECKING:
    from ..run_view import RunView

VALUE = "bold"


@dataclass(frozen=True)
class Numbers:
    loss: float  # smoothed (nan before the first batch)
    train_acc: float  # smoothed
    test_acc: float | None  # the last epoch's
    best_acc: float | None
    best_epoch: int | None
    batch: tuple[int, float, float] | None  # (batch, loss, accuracy) shown while waiting


def numbers_of(run: RunView, state: RunState) -> Numbers:
    best = run.best_epoch
    last = run.history[-1].test_acc if run.history else None
    return Numbers(
        loss=run.loss_ema.value,
        train_acc=run.acc_ema.value,
        test_acc=last,
        best_acc=best.test_acc if best else None,
        best_epoch=best.epoch if best else None,
        batch=None if state is RunState.RUNNING else run.last_batch,
    )


def loss_text(value: float | None) -> str:
    return "–" if value is None or math.isnan(value) else f"{value:.4g}"


def acc_text(value: float | None) -> str:
    return "–" if value is None or math.isnan(value) else f"{value:.1%}"


def numbers_line(n: Numbers, short: bool = False) -> Text:
    """One line; ``short`` for 80 columns: fewer words, and while the run waits its last batch's
    figures in place of the smoothed ones."""
    line = Text()

    def put(*parts: str) -> None:
        """Words and values in turn: the values bold."""
        for i, part in enumerate(parts):
            line.append(part, VALUE if i % 2 else "")

    gap, comma = (" │ ", " ") if short else ("   ", ", ")
    if n.batch is not None:
        step, loss, accuracy = n.batch
        put(f"batch {step}: loss ", loss_text(loss), f"{comma}acc ", acc_text(accuracy), gap)
    if n.batch is None or not short:
        label = "smoothed loss " if short else "train (smoothed): loss "
        put(label, loss_text(n.loss), f"{comma}acc ", acc_text(n.train_acc), gap)
    best = acc_text(n.best_acc)
    if n.best_epoch is not None:
        best += f" @{n.best_epoch}" if short else f" (epoch {n.best_epoch})"
    put("test acc ", acc_text(n.test_acc), f"{comma}best ", best)
    return line


class RunNumbers(Widget):
    """Redrawn with the status line, 4 times a second while training."""

    DEFAULT_CSS = """
    RunNumbers { height: 1; padding: 0 1; }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.numbers: Numbers | None = None

    def show(self, numbers: Numbers) -> None:
        if numbers != self.numbers:  # nan != nan: before the first batch this redraws, cheaply
            self.numbers = numbers
            self.refresh()

    def render(self) -> Text:
        if self.numbers is None:
            return Text("")
        width = max(self.content_size.width, 1)
        text = numbers_line(self.numbers)
        if text.cell_len > width:
            text = numbers_line(self.numbers, short=True)
        text.truncate(width, overflow="ellipsis")
        return text
