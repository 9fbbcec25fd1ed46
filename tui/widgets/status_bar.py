"""The status line: run state, position, device, learning rate, speed, elapsed time and ETA."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from mlp_tui.core.events import RunState
from rich.text import Text
from textual.widget import Widget

from ..progress import clock_text, rate_text
from .lr_plan import planned_lr

if TYPE_CHECKING:
    from ..run_view import RunView

BADGES = {
    RunState.IDLE: "bold black on grey70",
    RunState.RUNNING: "bold black on green",
    RunState.PAUSED: "bold black on yellow",
    RunState.DIVERGED: "bold white on red",
    RunState.FINISHED: "bold white on blue",
    RunState.STOPPED: "bold black on grey70",
    RunState.FAILED: "bold white on red",
}
HINTS = {
    RunState.DIVERGED: "keys: - or l to lower the lr, space to resume, r to restart",
    RunState.FAILED: "keys: r to start a new run, o to open a checkpoint",
}


@dataclass(frozen=True)
class Status:
    state: RunState
    reason: str
    epoch: int  # the epoch in progress (1-based), or the last one when finished
    epochs: int
    batch: int
    batches: int
    device: str
    lr: float
    examples_per_s: float | None
    elapsed: float
    eta: float | None
    val_acc: float | None = None  # the last epoch's, with a validation split


def status_of(run: RunView, state: RunState) -> Status:
    """Where the run stands, in ``state`` (as shown, which may be ahead of the trainer's).
    The epochs and lr are what the user set, which the loop applies next."""
    config = run.config
    done = run.epochs_done >= config.epochs and run.batch == 0
    examples_done = min(run.batch * run.epoch_batch_size, run.examples)
    examples_left = max((config.epochs - run.epochs_done) * run.examples - examples_done, 0)
    running = state is RunState.RUNNING
    # Measured on the wall clock over the last seconds of training (slow motion included);
    # paused, the speed before the pause. The last epoch's only until one is measured (a run
    # opened paused): a speed from before a change of pace would be stale.
    rate = run.progress.examples_per_s
    if rate is None and run.history:
        rate = run.history[-1].examples_per_s
    return Status(
        state=state,
        reason=run.reason,
        epoch=run.epochs_done if done else run.epochs_done + 1,
        epochs=config.epochs,
        batch=run.batches if done else run.batch,
        batches=run.batches,
        # A fast mode is named beside the device (``cpu bf16``): never taken for fp32's run.
        device=run.device if config.precision == "fp32" else f"{run.device} {config.precision}",
        lr=planned_lr(config, run.batches, run.schedule_step),  # a schedule's, for the next batch
        examples_per_s=rate,
        elapsed=run.progress.elapsed,
        eta=run.progress.eta(examples_left) if running else None,
        val_acc=run.history[-1].val_acc if run.history else None,
    )


# Where single spaces are not enough (80 columns), in turn: the lr to 3 digits, then without
# the device, the elapsed time and the validation accuracy.
NARROWER = ("short lr", "device", "elapsed", "val")


def status_line(status: Status, gap: str = "  ", drop: tuple[str, ...] = ()) -> Text:
    fields = {
        "epoch": f"epoch {status.epoch}/{status.epochs}",
        "batch": f"batch {status.batch}/{status.batches}",
        "device": status.device,
        "lr": f"lr {status.lr:.3g}" if "short lr" in drop else f"lr {status.lr:g}",
        "rate": f"{rate_text(status.examples_per_s)} ex/s",
        "val": None if status.val_acc is None else f"val acc {status.val_acc:.2%}",
        "elapsed": f"elapsed {clock_text(status.elapsed)}",
        "eta": f"ETA {clock_text(status.eta)}",
    }
    shown = [text for name, text in fields.items() if text is not None and name not in drop]
    line = Text(f" {status.state.label} ", BADGES[status.state])
    line.append(gap + gap.join(shown))
    return line


def fitted_status_line(status: Status, width: int) -> Text:
    """Two spaces between fields; one where that does not fit; then ``NARROWER``'s steps, so
    that the ETA stays whole (it was cut to ``ETA 22:…`` at 80 columns)."""
    text = status_line(status)
    for drop in ((), *(NARROWER[: n + 1] for n in range(len(NARROWER)))):
        if text.cell_len <= width:
            break
        text = status_line(status, gap=" ", drop=drop)
    text.truncate(width, overflow="ellipsis")
    return text


def status_detail(status: Status) -> str:
    """Why the run stopped and what to do about it ('' while nothing needs saying)."""
    detail = status.reason
    if status.state in HINTS:
        detail = f"{detail} ({HINTS[status.state]})" if detail else HINTS[status.state]
    return detail


class StatusBar(Widget):
    """One line of numbers; a second, wrapped, when the run diverged or failed. The run's
    state is also a class (``-paused``, ``-diverged``...) for the stylesheet."""

    DEFAULT_CSS = """
    StatusBar { height: auto; max-height: 4; padding: 0 1; }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.status: Status | None = None

    def show(self, status: Status) -> None:
        if status == self.status:
            return
        relayout = self.status is None or status_detail(status) != status_detail(self.status)
        for state in RunState:
            self.set_class(state is status.state, f"-{state.value}")
        self.status = status
        self.refresh(layout=relayout)

    def render(self) -> Text:
        if self.status is None:
            return Text("")
        width = max(self.content_size.width, 1)
        text = fitted_status_line(self.status, width)
        detail = status_detail(self.status)
        if detail:
            text.append("\n")
            text.append(detail, "bold")
        return text
