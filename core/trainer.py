"""The training loop of d2l's ``train_ch3``, commandable from any thread.

``Trainer.run()`` blocks (call it in a worker thread). Other threads call ``pause``, ``resume``,
``step``, ``update`` (learning rate and friends), ``save`` and ``stop``; the loop reads them once
per batch (``commands.py``). Everything the loop has to say goes to ``on_event`` as the
dataclasses of ``events.py``, called on the training thread: a listener must be quick and must
not block. The step itself, with its divergence check, is ``EagerSteps`` on the CPU and
``DeviceSteps`` elsewhere: the same interface, so the loop below does not know which it drives.
"""

from __future__ import annotations

import math
import time
import traceback
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path

import torch

from . import checkpoint, precision, schedules
from .commands import Command, CommandInbox
from .config import (
    ARCHITECTURE,
    FIELDS,
    Change,
    ConfigError,
    TrainConfig,
    fields_that_change,
    show_value,
)
from .data import FashionMNIST
from .device import resolve_device
from .device_step import DeviceSteps
from .divergence import DivergenceCheck, Figures
from .eager_step import EagerSteps
from .events import (
    BatchRefused,
    BatchReport,
    EpochReport,
    Event,
    Failed,
    Predictions,
    RunState,
    Saved,
    SaveFailed,
    SettingsChanged,
    StateChanged,
)
from .health import HealthMonitor
from .metrics import Accumulator, Stopwatch
from .model import ScratchMLP, evaluate, score
from .no_dynamo import spare_dynamo_import
from .threads import TRAIN_THREADS, keep_this_thread_serial, use_all_cores

__all__ = ["TRAIN_THREADS", "Trainer", "keep_this_thread_serial"]

CHANGE_DURING_A_RUN = fields_that_change(Change.LIVE, Change.NEXT_EPOCH)
REPORT_INTERVAL_S = 0.05  # batch reports are coalesced to at most 20 a second
WAITING = (RunState.PAUSED, RunState.DIVERGED)


class _Stop(Exception):
    pass


class Trainer:
    def __init__(
        self,
        config: TrainConfig,
        data: FashionMNIST,
        on_event: Callable[[Event], None] | None = None,
        *,
        sync_free: bool | None = None,
        graphs: bool = True,
        kernels: bool = True,
        health: bool = True,
        compiled_step: bool = True,
    ) -> None:
        """``sync_free`` (default: on any device but the CPU) checks divergence on the device
        and reads the batches' figures a few times a second (``device_step.py``); ``graphs``
        lets it replay the seed's step as a CUDA graph on CUDA, and ``kernels`` run that step
        as fused Triton kernels in fp32 where they cover the run (``triton_step.py``).
        ``health``: measure the network's health each epoch and raise hints (``health.py``; off
        for benchmarks).
        ``compiled_step``: the fused engine's CPU batches run the compiled step where it covers
        the run (``native.py``); off, PyTorch's (the benchmarks compare the two)."""
        self.config = config.validated()
        self.device = resolve_device(config.device)
        # Each training step runs in it: nothing for fp32 or bf16 (casts in its step), TF32's
        # switch for tf32 (precision.py).
        self._precision = precision.scope(config.precision, self.device)
        try:  # the validation split, if asked: the same images for every run
            self.data = data.to(self.device).holdout(config.val)
        except ValueError as exc:
            raise ConfigError(f"validation images: {exc}") from None
        self._train_rows = len(self.data.train_y)
        self.on_event = on_event or (lambda event: None)
        self.net = ScratchMLP.from_config(
            config,
            self.device,
            # The fused step's fast layout on the CPU (same values); cuBLAS is faster without.
            w2_by_class=config.engine == "fused" and self.device.type == "cpu",
        )
        self.shuffle_rng = torch.Generator().manual_seed(config.seed)
        self._optimizer: torch.optim.SGD | None = None  # built on first use: see optimizer
        self._step_fn = precision.make_step(config.engine, config.precision, self.net)
        self._seed_form = config.engine == "autograd"  # evaluate as the seed writes it, too
        self.check = DivergenceCheck(config.divergence_factor)
        self.schedule = schedules.parse(config.schedule)
        self._scheduled = not self.schedule.constant  # checked before every batch
        self.lr_now = config.lr  # the lr of the latest batch: the schedule's, or the setting
        self._batch_started = 0.0  # when the latest batch began (slow motion paces from it)
        self.sync_free = self.device.type != "cpu" if sync_free is None else sync_free
        self._graphs = graphs
        self._kernels = kernels and config.precision == "fp32"
        self.steps: EagerSteps | DeviceSteps = EagerSteps(
            self.net, self._step_fn, self.data, self.check, compiled_step
        )
        self.health = HealthMonitor(self.net) if health else None
        # Position: completed epochs, batches done in the current one, batches since the start.
        self.epoch = 0
        self.batch = 0
        self.step_count = 0
        self.epoch_batch_size = config.batch_size
        self.perm: torch.Tensor | None = None  # this epoch's order, once drawn
        self.metric = Accumulator()  # d2l's Accumulator(3) for this epoch
        self.epoch_clock = Stopwatch()
        self.elapsed = 0.0  # seconds of training in the epochs done
        self.history: list[EpochReport] = []
        self.batch_losses: list[float] = []
        self.lr_changes: list[tuple[int, float]] = [(0, config.lr)]
        self.predictions: Predictions | None = None
        self.run_uid: str | None = None  # the run store's name for this run, once recorded
        self.parent_uid: str | None = None  # a fork's parent, and the batch it forked at
        self.fork_step: int | None = None

        self.inbox = CommandInbox()
        self._state = RunState.IDLE
        self._reason = ""
        self._steps_allowed = 0  # batches a paused run may still take ('n' key)
        self._pending: list[tuple[float, float]] = []  # (loss, accuracy) not yet reported
        self._last_report = 0.0
        self._reported = False  # a run's first batch is reported at once: it shows training began
        self.report_interval = REPORT_INTERVAL_S  # batch reports at most this often

    @property
    def optimizer(self) -> torch.optim.SGD:
        """The seed's ``torch.optim.SGD``, built on first use (``run`` asks first thing),
        without the 1.1-1.6 s import of torch._dynamo that building one costs (``no_dynamo``)."""
        if self._optimizer is None:
            spare_dynamo_import()
            self._optimizer = torch.optim.SGD(
                self.net.params,
                lr=self.config.lr,
                momentum=self.config.momentum,
                weight_decay=self.config.weight_decay,
            )
        return self._optimizer

    @property
    def state(self) -> RunState:
        return self._state

    @property
    def reason(self) -> str:
        return self._reason

    @property
    def batches_per_epoch(self) -> int:
        return -(-self._train_rows // self.epoch_batch_size)  # read twice a batch: ints only

    @property
    def finished(self) -> bool:
        return self.epoch >= self.config.epochs

    @property
    def epoch_seconds(self) -> float:
        return self.epoch_clock.seconds

    @property
    def reference_loss(self) -> float | None:
        return self.check.reference

    # ----------------------------------------------------------------- commands (any thread)
    def pause(self) -> None:
        self._send("pause")

    def resume(self) -> None:
        self._send("resume")

    def step(self, batches: int = 1) -> None:
        """Train ``batches`` more batches, then pause again (when paused)."""
        if batches < 1:
            raise ValueError(f"step: {batches} batches; at least 1")
        self._send("step", batches)

    def update(self, **changes: object) -> None:
        """Change hyperparameters: lr, momentum, weight decay, epochs and the divergence factor
        from the next batch, batch size from the next epoch. Raises ConfigError at once for a
        bad value."""
        for name in changes:
            if name not in CHANGE_DURING_A_RUN:
                what = FIELDS[name].label if name in FIELDS else repr(name)
                raise ConfigError(f"{what} cannot change during a run; start a new run")
        self.config.replace(**changes)  # validate now, in the caller's thread
        self._send("update", changes)

    def stop(self) -> None:
        self._send("stop")

    def save(self, path: str | Path) -> Future:
        """Write a checkpoint between two batches; the future holds the path or the error."""
        future: Future = Future()
        self._send("save", Path(path), future)
        return future

    def _send(self, *command: object) -> None:
        self.inbox.send(command, otherwise=self._obey)  # nobody looping: here and now

    # ----------------------------------------------------------------- the loop (one thread)
    def run(self, paused: bool = False) -> RunState:
        """Train until the configured epochs are done, or a stop. Returns the final state."""
        self.inbox.serve()
        use_all_cores()  # per thread: see threads.py
        if self.sync_free:
            self.steps = DeviceSteps(
                self.net, self._step_fn, self.data, self.check, self._graphs, self._kernels
            )
            self.steps.allow_graphs(self.schedule.constant)
        try:
            self._set_state(RunState.PAUSED if paused else RunState.RUNNING)
            self.optimizer  # noqa: B018 (built now, not on epoch 1's clock: see optimizer)
            if self.health is not None and self.step_count == 0 and not self.health.reports:
                self._emit(self.health.initial(self.data.test_flat, self.config))
            self._last_report, self._reported = time.perf_counter(), False
            while self.epoch < self.config.epochs:
                self.train_epoch()
            self._set_state(RunState.FINISHED)
        except _Stop:
            self._report_batches()
            self._set_state(RunState.STOPPED)
        except Exception as exc:  # shown to the user; the parameters stay as they were
            self._emit(Failed(f"{type(exc).__name__}: {exc}", traceback.format_exc()))
            self._set_state(RunState.FAILED, f"{type(exc).__name__}: {exc}")
        finally:
            self.epoch_clock.stop()
            for command in self.inbox.close():
                if command[0] == "save":
                    self._obey(command)
        return self._state

    def train_epoch(self) -> None:
        """d2l's ``train_epoch_ch3`` then ``evaluate_accuracy``: one shuffled pass over the
        training set, then the test set, then the epoch's report."""
        if self.perm is None:  # a new epoch: d2l's DataLoader(shuffle=True) draws its order
            self.perm = torch.randperm(len(self.data.train_y), generator=self.shuffle_rng)
            self.epoch_batch_size = self.config.batch_size
            self.metric, self.epoch_clock = Accumulator(), Stopwatch()
        first_step = self.step_count - self.batch  # the run's number for the epoch's batch 0
        self.steps.start_epoch(self.perm.to(self.device), self.epoch_batch_size, first_step)
        self.epoch_clock.start()
        health = self.health
        while self.batch < self.batches_per_epoch:
            if self.config.slow:
                self._slow_down()
            self._obey_commands()  # pause, step, stop and the rest are heard here
            if self._scheduled:  # the seed's constant lr never touches the optimizer
                self._schedule_lr()
            sampled = health is not None and self.step_count >= health.next_sample
            if sampled:  # every few hundred batches: this step's update is measured
                health.before_step(self.step_count)  # type: ignore[union-attr]
            with self._precision:  # evaluation and health figures stay fp32 (precision.py)
                figures = self.steps.step(self.batch, self.optimizer)  # none yet on a device
            if sampled:
                health.after_step(self.optimizer)  # type: ignore[union-attr]
            self.batch += 1
            self.step_count += 1
            self._account(figures)
            self._after_batch()
        tally = health.tally() if health is not None else None
        test = evaluate(
            self.net,
            self.data.test_flat,
            self.data.test_y,
            self._seed_form,
            observe=tally,
            compiled=getattr(self.steps, "native", None),  # the device path has none
        )
        val = self._validate()
        self.epoch_clock.stop()
        self._end_epoch(test, val)
        if health is not None and tally is not None:
            self._emit(
                health.epoch_end(self.epoch, self.step_count, tally, self.history, self.config)
            )

    def _schedule_lr(self) -> None:
        """Set the lr of the batch about to train from the schedule (``schedules.py``)."""
        batches = self.batches_per_epoch
        step = self.epoch * batches + self.batch
        lr = schedules.lr_at(
            step, self.config.epochs * batches, batches, self.config.lr, self.schedule
        )
        self.lr_now = lr
        for group in self.optimizer.param_groups:
            group["lr"] = lr

    def _slow_down(self) -> None:
        """Slow motion: start a batch no sooner than 1 / ``slow`` seconds after the last one,
        waking at once for a command (pause, a faster setting, stop)."""
        due = self._batch_started + 1.0 / self.config.slow
        while self.config.slow and not self.inbox and time.perf_counter() < due:
            self.inbox.wait(due - time.perf_counter())
        self._batch_started = time.perf_counter()

    def _validate(self) -> tuple[float | None, float | None]:
        """The validation set's accuracy and loss, when the run holds one out."""
        if self.data.val_flat is None or self.data.val_y is None:
            return None, None
        return score(self.net, self.data.val_flat, self.data.val_y, self._seed_form)

    def _account(self, figures: list[Figures]) -> None:
        """Add the batches whose figures are in to the epoch's sums, oldest first. A refused
        batch, and any queued after it (they changed nothing), come off the position."""
        for i, batch in enumerate(figures):
            if not batch.accepted:
                self.batch -= len(figures) - i
                self.step_count -= len(figures) - i
                self._diverged(batch.loss)
                return
            self.metric.add(batch.loss_sum, batch.correct, batch.count)
            self.batch_losses.append(batch.loss)
            self._pending.append((batch.loss, batch.correct / batch.count))

    def _end_epoch(self, test: Predictions, val: tuple[float | None, float | None]) -> None:
        self.elapsed += self.epoch_seconds
        self.epoch += 1
        self.batch = 0
        self.perm = None
        self.metric.forget_undo()  # an evaluated epoch is not undone
        self.predictions = Predictions(self.epoch, test.probs, test.labels)
        report = EpochReport(
            epoch=self.epoch,
            train_loss=self.metric.loss_sum / self.metric.seen,
            train_acc=self.metric.correct / self.metric.seen,
            test_acc=self.predictions.accuracy,
            lr=self.lr_now,
            seconds=self.epoch_seconds,
            examples_per_s=self.metric.seen / max(self.epoch_seconds, 1e-9),
            val_acc=val[0],
            val_loss=val[1],
        )
        self.history.append(report)
        self._emit(self.predictions)
        self._emit(report)

    def _after_batch(self) -> None:
        """Report the batches now and then, and at the epoch's end (settling the device's
        figures, which may find a divergence that moves the position back); end a step(n)."""
        now = time.perf_counter()
        due = (
            now - self._last_report >= self.report_interval
            or self.config.slow  # each batch, slowly
            or not self._reported  # the run's first batch: training has begun
        )
        if due or self.batch == self.batches_per_epoch:
            self._report_batches(now)
        if self._steps_allowed > 0:
            self._steps_allowed -= 1
            if self._steps_allowed == 0:
                self._report_batches(now)
                if self._state is RunState.RUNNING:
                    self._set_state(RunState.PAUSED)

    def _diverged(self, loss: float) -> None:
        """Refuse the batch at ``self.batch``, undo the update before it, and wait."""
        what = "not a number" if math.isnan(loss) else f"{loss:.4g}"
        self._report_batches()
        where = f"epoch {self.epoch + 1}, batch {self.batch + 1}"
        undone = self.metric.can_undo and self.batch > 0
        if undone:  # the parameters and sums from before the previous batch's update
            self.steps.undo(self.batch - 1, self.optimizer)
            self.metric.undo()
            self.batch -= 1
            self.step_count -= 1
            self.batch_losses.pop()
        kept = (  # numbered from 1, as ``where``: the undone update is the previous batch's
            f"rolled back to before batch {self.batch + 1}'s update, the last with a good loss"
            if undone
            else "kept from the last accepted batch"
        )
        self._emit(BatchRefused(self.step_count, loss, undone))
        factor = self.config.divergence_factor
        limit = (
            f"exceeds {factor:g} x the first batch's ({self.reference_loss:.4g})"
            if factor
            else "(the divergence factor is off, but nothing trains on from such a loss)"
        )
        self._set_state(
            RunState.DIVERGED,
            f"loss {what} {limit} at {where} with lr {self.lr_now:g}; "
            f"parameters {kept}. Lower the lr and resume.",
        )
        if self.health is not None:  # the hint: what was refused, and what to try
            self._emit(
                self.health.diverged(
                    epoch=self.epoch,
                    batch=self.batch + undone,  # the refused batch, as in ``where``
                    step=self.step_count,
                    loss=loss,
                    reference=self.reference_loss or 0.0,
                    factor=self.config.divergence_factor,
                    lr=self.config.lr,
                )
            )

    def _report_batches(self, now: float | None = None) -> None:
        """One BatchReport for the batches since the last (after settling the queued ones)."""
        self._account(self.steps.settle())
        if not self._pending:
            return
        now = now or time.perf_counter()
        window = now - self._last_report if self._last_report else 0.0
        count = len(self._pending) * self.epoch_batch_size
        self._emit(
            BatchReport(
                epoch=self.epoch + 1,
                batch=self.batch,
                batches=self.batches_per_epoch,
                step=self.step_count,
                losses=tuple(loss for loss, _ in self._pending),
                accuracies=tuple(acc for _, acc in self._pending),
                lr=self.lr_now,
                examples_per_s=count / window if window > 0 else 0.0,
            )
        )
        self._pending = []
        self._last_report, self._reported = now, True

    # ----------------------------------------------------------------- commands, carried out
    def _obey_commands(self) -> None:
        """Carry out queued commands; while paused or diverged, wait here for more."""
        if not self.inbox and self._state is RunState.RUNNING:
            return  # the check before every batch
        self.epoch_clock.stop()
        self._report_batches()  # commands see settled counters (a divergence may surface here)
        while True:
            for command in self.inbox.take():
                self._obey(command)
            if self._state is RunState.RUNNING:
                self._last_report = time.perf_counter()  # paused time is not training time
                self.epoch_clock.start()
                return
            self.inbox.wait()

    def _obey(self, command: Command) -> None:
        kind, *args = command
        if kind == "pause" and self._state is RunState.RUNNING:
            self._report_batches()
            if self._state is RunState.RUNNING:  # settling may have found a divergence
                self._set_state(RunState.PAUSED)
        elif kind == "resume" and self._state in WAITING:
            self._steps_allowed = 0
            self._set_state(RunState.RUNNING)
        elif kind == "step" and self._state in WAITING:
            self._steps_allowed = int(args[0])
            self._set_state(RunState.RUNNING)
        elif kind == "update":
            self._apply(args[0])
        elif kind == "save":
            self._save(*args)
        elif kind == "stop" and self.inbox.served:
            raise _Stop

    def _apply(self, changes: dict) -> None:
        try:
            new = self.config.replace(**changes)
        except ConfigError:
            return  # validated when queued; a later change may have made it moot
        changed = tuple(k for k, v in changes.items() if getattr(self.config, k) != v)
        self.config = new
        self.check.factor = new.divergence_factor
        self.schedule = schedules.parse(new.schedule)
        self._scheduled = not self.schedule.constant
        self.lr_now = new.lr  # until the schedule, if any, sets the next batch's
        if isinstance(self.steps, DeviceSteps):
            self.steps.allow_graphs(self.schedule.constant)
        for group in self._optimizer.param_groups if self._optimizer else ():
            group.update(lr=new.lr, momentum=new.momentum, weight_decay=new.weight_decay)
        if "lr" in changed:
            self.lr_changes.append((self.step_count, new.lr))
        if changed:
            self._emit(SettingsChanged(new, changed, self.step_count))

    def _save(self, path: Path, future: Future | None = None) -> None:
        self._report_batches()  # the counters must describe the parameters being saved
        try:
            checkpoint.save(self.state_dict(), path)
        except checkpoint.CheckpointError as exc:
            self._emit(SaveFailed(str(path), str(exc)))
            if future is not None:
                future.set_exception(exc)
            return
        self._emit(Saved(str(path)))
        if future is not None:
            future.set_result(path)

    def _set_state(self, state: RunState, reason: str = "") -> None:
        self._state, self._reason = state, reason
        self._emit(StateChanged(state, reason))

    def _emit(self, event: Event) -> None:
        self.on_event(event)

    # ----------------------------------------------------------------- queries
    def predict(self) -> Predictions:
        """The current model on the whole test set (the latest evaluation when one is current)."""
        current = self.predictions
        if current is not None and current.epoch == self.epoch and self.batch == 0:
            return current  # nothing has been trained since that evaluation
        result = evaluate(self.net, self.data.test_flat, self.data.test_y, self._seed_form)
        return Predictions(self.epoch, result.probs, result.labels)

    # ----------------------------------------------------------------- state
    def state_dict(self) -> dict:
        """Everything needed to continue the run exactly where it is, between two batches:
        tensors (copied to the CPU) and plain data."""
        params = zip(self.net.NAMES, self.net.params)
        momentum = {
            name: buf.detach().to("cpu", copy=True).contiguous()  # a copy: a fork must not share it
            for name, p in zip(self.net.NAMES, self.net.params)
            if (buf := self.optimizer.state.get(p, {}).get("momentum_buffer")) is not None
        }
        return {
            # Contiguous copies: the parameters share one buffer, and W2 may be stored by class.
            "params": {name: p.detach().to("cpu", copy=True).contiguous() for name, p in params},
            "momentum": momentum,
            "shuffle_rng": self.shuffle_rng.get_state(),
            "perm": None if self.perm is None else self.perm.to("cpu", copy=True),
            "batch_losses": list(self.batch_losses),
            "config": self.config,
            "epoch": self.epoch,
            "batch": self.batch,
            "step_count": self.step_count,
            "epoch_batch_size": self.epoch_batch_size,
            "loss_sum": self.metric.loss_sum,
            "correct": self.metric.correct,
            "seen": self.metric.seen,
            "epoch_seconds": self.epoch_seconds,
            "elapsed": self.elapsed,
            "reference_loss": self.reference_loss,
            "history": list(self.history),
            "lr_changes": list(self.lr_changes),
            "dataset": self.data.fingerprint,
            "state": self.state.value,
            "run_uid": self.run_uid,
            "health": None if self.health is None else self.health.state_dict(),
        }

    def load_state_dict(self, state: dict) -> None:
        """Continue from ``state`` (a ``state_dict()``, or a checkpoint's ``load``) in a trainer
        built for the same network (else a ValueError naming both)."""
        theirs, ours = state["config"], self.config
        if any(getattr(theirs, name) != getattr(ours, name) for name in ARCHITECTURE):
            raise ValueError(
                f"a {theirs.architecture} network cannot be loaded into a {ours.architecture} one"
            )
        with torch.no_grad():
            for name, p in zip(self.net.NAMES, self.net.params):
                p.copy_(state["params"][name])
                buf = state["momentum"].get(name)
                if buf is not None:
                    self.optimizer.state[p]["momentum_buffer"] = buf.to(p.device)
        self.shuffle_rng.set_state(state["shuffle_rng"])
        self.perm = state["perm"]
        self.epoch, self.batch = state["epoch"], state["batch"]
        self.step_count = state["step_count"]
        self.epoch_batch_size = state["epoch_batch_size"]
        self.metric = Accumulator(state["loss_sum"], state["correct"], state["seen"])
        self.epoch_clock = Stopwatch(state["epoch_seconds"])
        self.elapsed = state["elapsed"]
        self.check.reference = state["reference_loss"]
        self.history = list(state["history"])
        self.lr_changes = list(state["lr_changes"])
        self.batch_losses = list(state["batch_losses"])
        self.run_uid = state.get("run_uid")
        if self.health is not None:  # an older checkpoint has none: the history starts here
            self.health.load_state_dict(state.get("health"))

    def fork(self) -> Trainer:
        """A new run from exactly here: the same weights, optimizer state, position in the
        data and random state, so that with the same settings it trains as this run would.
        Call it between batches (before ``run``, or while paused)."""
        child = Trainer(
            self.config,
            self.data,
            sync_free=self.sync_free,
            graphs=self._graphs,
            kernels=self._kernels,
        )
        child.load_state_dict(self.state_dict())
        child.run_uid, child.parent_uid, child.fork_step = None, self.run_uid, self.step_count
        return child

    @classmethod
    def from_checkpoint(
        cls,
        path: str | Path,
        data: FashionMNIST,
        on_event: Callable[[Event], None] | None = None,
        *,
        sync_free: bool | None = None,
        **overrides: object,
    ) -> Trainer:
        """Continue a saved run; ``overrides`` may change what a live run could (lr, epochs...)
        and the device, not what defines the network."""
        state = checkpoint.load(path, data)
        config: TrainConfig = state["config"]
        wanted = config.replace(**overrides)
        for name, field in FIELDS.items():
            old, new = getattr(config, name), getattr(wanted, name)
            if not field.resumable and new != old:
                theirs, ours = config.architecture, wanted.architecture
                both = "" if theirs == ours else f" (a {theirs} network, not {ours})"
                raise checkpoint.CheckpointError(
                    f"{path} was trained with {name}={show_value(old)}; "
                    f"it cannot resume with {name}={show_value(new)}{both}"
                )
        trainer = cls(wanted, data, on_event, sync_free=sync_free)
        trainer.load_state_dict(state)
        if trainer.lr_changes[-1][1] != trainer.config.lr:
            trainer.lr_changes.append((trainer.step_count, trainer.config.lr))
        return trainer
