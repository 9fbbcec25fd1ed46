"""The lr schedule drawn ahead: one row under the plots, the whole run's planned lr as bars,
the batches done bright and the rest dim, with the lr now. Shown only while a schedule runs
(the seed's constant lr has nothing to plan)."""

from __future__ import annotations

from mlp_tui.core.config import TrainConfig
from mlp_tui.core.schedules import lr_at, parse, plan
from rich.text import Text
from textual.widget import Widget

BARS = " ▁▂▃▄▅▆▇█"


def planned_lr(config: TrainConfig, batches: int, step: int) -> float:
    """The lr the schedule gives batch ``step`` (``epoch x batches + batch``): the next one."""
    total = config.epochs * batches
    at = min(step, max(total - 1, 0))
    return lr_at(at, total, batches, config.lr, parse(config.schedule))


def plan_row(config: TrainConfig, batches: int, step: int, width: int) -> Text:
    """``lr <schedule> <bars> now <lr>`` in ``width`` cells; ``step`` as ``planned_lr``'s."""
    schedule = parse(config.schedule)
    total = config.epochs * batches
    now = planned_lr(config, batches, step)
    head = f"lr {schedule} "
    tail = f" now {now:.3g} (base {config.lr:g})"
    cells = max(width - len(head) - len(tail), 4)
    steps, lrs = plan(total, batches, config.lr, schedule, cells)
    top = max(lrs) or 1.0
    row = Text(head, style="bold")
    for i in range(cells):  # each cell: the planned lr at its share of the run
        at = min(int(i * len(lrs) / cells), len(lrs) - 1)
        level = round(lrs[at] / top * (len(BARS) - 1))
        done = steps[at] < step
        row.append(BARS[max(level, 1)], style="cyan" if done else "grey42")
    row.append(tail)
    return row


class LrPlan(Widget):
    DEFAULT_CSS = "LrPlan { height: 1; display: none; } LrPlan.-scheduled { display: block; }"

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._shown: tuple[TrainConfig, int, int] | None = None

    def show(self, config: TrainConfig, batches: int, step: int) -> None:
        scheduled = config.schedule != "constant"
        self.set_class(scheduled, "-scheduled")
        if scheduled and self._shown != (config, batches, step):
            self._shown = (config, batches, step)
            self.refresh()

    def render(self) -> Text:
        if self._shown is None:
            return Text("")
        config, batches, step = self._shown
        return plan_row(config, batches, step, self.size.width or 80)
