"""The run the app shows: its trainer, and what the screen draws, built from the run's events.

The training thread only posts its events (``messages.py``); the UI thread applies each one
here, in order, so nothing on screen reads the trainer's lists or counters while it trains. The
trainer is read once, when the view is made, before its thread starts: a resumed run's history.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence

from mlp_tui.core.analysis import PerClassHistory
from mlp_tui.core.device import resolve_device
from mlp_tui.core.events import (
    BatchRefused,
    BatchReport,
    EpochReport,
    Event,
    Health,
    Predictions,
    RunState,
    Saved,
    SettingsChanged,
    StateChanged,
)
from mlp_tui.core.health_report import HealthReport, Hint
from mlp_tui.core.store import default_name
from mlp_tui.core.trainer import Trainer

from .curves import DEFAULT_SMOOTHING, DebiasedEma
from .progress import RunProgress
from .widgets.plot_marks import change_label, lr_markers

# States in which no training thread runs: a change is applied at once, on the caller's thread.
STOPPED_STATES = (RunState.FINISHED, RunState.FAILED, RunState.STOPPED, RunState.IDLE)
ALL_PARTS = frozenset({"status", "panel", "loss", "epochs", "gallery"})


class RunView:
    """One run as the UI knows it. ``apply`` takes each event and says which parts it changed.

    ``config`` is what the user set, which the loop applies at its next batch (or epoch);
    ``applied`` is what the loop last said it runs with.
    """

    def __init__(
        self,
        trainer: Trainer,
        *,
        saved: bool = False,
        clock: Callable[[], float] = time.monotonic,
        accuracies: Sequence[float] = (),
    ) -> None:
        """``accuracies``: the batches' train accuracies where they are known (a fork's, its
        parent's), the last batches' when there are fewer than the losses."""
        self.trainer = trainer
        self.config = self.applied = trainer.config
        self.name = default_name(trainer.config)  # how it started; "r3 ..." once recorded
        self.run_id: int | None = None  # in the store, once recorded
        self.device = str(resolve_device(trainer.config.device))  # as the trainer resolved it
        self.state, self.reason = trainer.state, trainer.reason
        # Position: epochs done, batches done in the epoch under way, batches since the start.
        self.epochs_done, self.batch, self.step = trainer.epoch, trainer.batch, trainer.step_count
        self.epoch_batch_size, self.batches = trainer.epoch_batch_size, trainer.batches_per_epoch
        self.examples = len(trainer.data.train_y)
        self.pixels = trainer.data.test_pixels
        self.losses = list(trainer.batch_losses)  # one per batch that stands
        # Each batch's train accuracy, beside its loss (a checkpoint keeps only the losses).
        known = list(accuracies)[-len(self.losses) :] if self.losses else []
        self.accuracies = [math.nan] * (len(self.losses) - len(known)) + known
        self.rollbacks = 0  # times a refused batch dropped losses: the plot must redraw them all
        self.refused: list[tuple[int, float]] = []  # (batch, loss) of each refused batch
        self.set_smoothing(DEFAULT_SMOOTHING)  # the averages the status area shows
        self.lr_changes = list(trainer.lr_changes)
        # Every setting change the plots mark, as (step, label): a checkpoint keeps lr's only.
        self.changes = [(s, change_label("lr", lr)) for s, lr in lr_markers(trainer.lr_changes)]
        if trainer.fork_step is not None:  # the fork point shows on a child's curves
            self.changes.append((trainer.fork_step, "fork"))
        self.history = list(trainer.history)
        self.elapsed = trainer.elapsed  # training seconds up to the last finished epoch
        self.progress = RunProgress(trainer.elapsed + trainer.epoch_seconds, clock)
        self.predictions = trainer.predictions
        if self.predictions is None and self.step and self.state in STOPPED_STATES:
            self.predictions = trainer.predict()  # a resumed run: show where it stands
        # Each epoch's per-class test accuracy, for the inspector. A checkpoint keeps only each
        # epoch's overall accuracy: a resumed run's curve starts at the epoch it was saved after
        # (the evaluation just made), or empty when it was saved mid-epoch.
        self.per_class = PerClassHistory()
        if self.predictions is not None and self.batch == 0:
            self.per_class.add(self.predictions)
        self.saved_step = self.step if saved else 0
        # One per epoch (0: as initialised), from Health; a resumed run's from its checkpoint.
        monitor = trainer.health
        self.health: list[HealthReport] = list(monitor.history) if monitor else []
        self.hints: list[Hint] = list(monitor.hints) if monitor else []

    def set_smoothing(self, smoothing: float) -> None:
        """Smooth the loss and accuracy with this weight of the past (as the loss plot does)."""
        self.smoothing = smoothing
        self.loss_ema, self.acc_ema = DebiasedEma(smoothing), DebiasedEma(smoothing)
        for loss, acc in zip(self.losses, self.accuracies):
            self.loss_ema.add(loss)
            self.acc_ema.add(acc)

    @property
    def last_batch(self) -> tuple[int, float, float] | None:
        """(batch, loss, accuracy) of the last batch that stands, None before the first."""
        if not self.losses:
            return None
        return self.step, self.losses[-1], self.accuracies[-1]

    @property
    def schedule_step(self) -> int:
        """The next batch's place in the lr schedule (``schedules.py``: epochs x batches)."""
        return self.epochs_done * self.batches + self.batch

    @property
    def best_epoch(self) -> EpochReport | None:
        """The epoch with the highest test accuracy (the first of equals)."""
        return max(self.history, key=lambda r: r.test_acc, default=None)

    @property
    def unsaved(self) -> bool:
        """Batches not in a checkpoint. A running loop is always ahead of its last report."""
        return self.step != self.saved_step or self.state is RunState.RUNNING

    @property
    def pending_batch_size(self) -> int | None:
        """The batch size the user set when the epoch under way trains with another one."""
        size = self.config.batch_size
        return size if size != self.epoch_batch_size else None

    def where(self) -> str:
        """The run's position in words: "2 epochs done", or "epoch 3, batch 40 of 235".

        (As "epoch N+1, batch B" alone, a finished 2-epoch run read "epoch 3, batch 0".)"""
        epoch, batch = self.epochs_done, self.batch
        if batch == 0:
            return f"{epoch} epoch{'' if epoch == 1 else 's'} done"
        return f"epoch {epoch + 1}, batch {batch} of {self.batches}"

    def apply(self, event: Event) -> frozenset[str]:
        """Take one of the run's events into the view; the parts of the screen it changed."""
        if isinstance(event, BatchReport):
            self.epochs_done, self.batch, self.step = event.epoch - 1, event.batch, event.step
            self.batches = event.batches
            self.losses.extend(event.losses)
            self.accuracies.extend(event.accuracies)
            for loss, acc in zip(event.losses, event.accuracies):
                self.loss_ema.add(loss)
                self.acc_ema.add(acc)
            self.progress.record(len(event.losses) * self.epoch_batch_size)
            return frozenset({"loss"})
        if isinstance(event, BatchRefused):
            # The undone update's batch no longer stands: the same batch trains again.
            self.batch -= self.step - event.step
            self.step = event.step
            del self.losses[event.step :]
            del self.accuracies[event.step :]
            self.set_smoothing(self.smoothing)  # the averages lose the dropped batches too
            self.rollbacks += 1
            # Marked where it came: after the batch whose update was undone, if one was.
            self.refused.append((event.step + (2 if event.undone else 1), event.loss))
            return frozenset({"status", "loss"})
        if isinstance(event, EpochReport):
            self.history.append(event)
            self.epochs_done, self.batch = event.epoch, 0
            self.elapsed += event.seconds
            self.progress.sync(self.elapsed)
            # The loop starts the next epoch at once, with the batch size it has now.
            pending = self.pending_batch_size
            self._start_epoch_with(self.applied.batch_size)
            done = {"panel"} if pending != self.pending_batch_size else set()  # "next epoch" came
            return frozenset({"status", "epochs", "loss", *done})
        if isinstance(event, Predictions):
            self.predictions = event
            self.per_class.add(event)
            return frozenset({"gallery"})
        if isinstance(event, SettingsChanged):
            self.applied = event.config
            if "lr" in event.changed:
                self.lr_changes.append((event.step, event.config.lr))
            self.changes += [
                (event.step, change_label(name, getattr(event.config, name)))
                for name in event.changed
                if name not in ("epochs", "slow")  # no change in how it learns
            ]
            if "batch_size" in event.changed and self.state in STOPPED_STATES and not self.batch:
                self._start_epoch_with(event.config.batch_size)  # no epoch under way
            return frozenset({"status", "panel", "loss", "epochs"})
        if isinstance(event, StateChanged):
            self.state, self.reason = event.state, event.reason
            return frozenset({"status"})
        if isinstance(event, Saved):
            self.saved_step = self.step  # the loop reports its batches before it saves
        if isinstance(event, Health):  # for the health screen, which polls: nothing here
            if event.report is not None:
                self.health.append(event.report)
            self.hints.extend(event.hints)
        return frozenset()

    def _start_epoch_with(self, batch_size: int) -> None:
        self.epoch_batch_size = batch_size
        self.batches = math.ceil(self.examples / batch_size)
