"""The training loop of d2l's ``train_ch3``, commandable from any thread.

``Trainer.run()`` blocks (call it in a worker thread). Other threads call ``pause``, ``resume``,
``step``, ``update`` (learning rate and friends), ``save`` and ``stop``; the loop reads them once
per batch. Everything the loop has to say goes to ``on_event`` as the dataclasses of
``events.py``, called on the training thread: a listener must be quick and must not block.
"""

from __future__ import annotations

import math
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path

import torch

from . import checkpoint
from .config import FIELDS, Change, ConfigError, TrainConfig, fields_that_change
from .data import FashionMNIST, ShuffledEpoch, to_unit
from .device import resolve_device
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
from .model import AutogradStep, FusedStep, ScratchMLP
from .syncfree import SyncFreeSteps

CHANGE_DURING_A_RUN = fields_that_change(Change.LIVE, Change.NEXT_EPOCH)
REPORT_INTERVAL_S = 0.05  # batch reports are coalesced to at most 20 a second
UNDO_SPAN = 32  # an undo replays at most this many batches (see Trainer._keep_undo)
TRAIN_THREADS = torch.get_num_threads()


def keep_this_thread_serial() -> None:
    """Call first thing on a thread that will not train, such as a UI's main thread.

    Torch's CPU kernels run on an OpenMP team per calling thread. Once an idle thread owns a
    team, a training thread with its own team ran 40-50% slower on a 2-core machine (measured:
    0.38 s/epoch alone, 0.56 s with a second team). A thread limited to one thread never starts a
    team; ``Trainer.run`` asks for all cores again on its own thread.
    """
    torch.set_num_threads(1)


class _Stop(Exception):
    pass


@torch.no_grad()
def evaluate(
    net: ScratchMLP,
    X: torch.Tensor,
    y: torch.Tensor,
    seed_form: bool = False,
    chunk: int | None = None,
) -> Predictions:
    """d2l's ``evaluate_accuracy``, keeping the probabilities so a UI can show them.

    ``X`` holds images as floats, or as uint8 pixels that are converted (``ToTensor``'s
    arithmetic) chunk by chunk: the test set is then a quarter of the memory to read.
    ``seed_form`` computes the logits as the seed writes them, ``net(X)``; otherwise as the
    fused step does (``addmm``, ``clamp_min``): the same values up to rounding, without the
    seed's extra passes (a separate bias add, a tensor of zeros for relu). Chunks of a batch's
    size ran at the products' best rate on the CPU: the test set in chunks of 8192 took 33 ms,
    of 256 27 ms. A GPU gets few large chunks: there each chunk costs kernel launches."""
    chunk = chunk or (256 if X.device.type == "cpu" else 16384)
    probs = []
    for i in range(0, len(X), chunk):
        rows = X[i : i + chunk]
        if rows.dtype == torch.uint8:
            rows = to_unit(rows)
        if seed_form:
            logits = net(rows)
        else:
            H = torch.addmm(net.b1, rows, net.W1).clamp_min_(0)
            logits = torch.addmm(net.b2, H, net.W2)
        probs.append(torch.softmax(logits, dim=1))
    return Predictions(epoch=0, probs=torch.cat(probs).float().cpu(), labels=y.cpu())


class Trainer:
    def __init__(
        self,
        config: TrainConfig,
        data: FashionMNIST,
        on_event: Callable[[Event], None] | None = None,
        *,
        sync_free: bool | None = None,
        graphs: bool = True,
    ) -> None:
        """``sync_free`` (default: on any device but the CPU) checks divergence on the device
        and reads the batches' figures a few times a second (see syncfree.py); ``graphs`` lets
        it replay the seed's step as a CUDA graph on CUDA."""
        self.config = config.validated()
        self.device = resolve_device(config.device)
        self.data = data.to(self.device)
        self.on_event = on_event or (lambda event: None)
        init_rng = torch.Generator().manual_seed(config.seed)
        self.net = ScratchMLP(
            config.hidden,
            config.init_scale,
            init_rng,
            self.device,
            # The fused step's fast layout on the CPU (same values); cuBLAS is faster without.
            w2_by_class=config.engine == "fused" and self.device.type == "cpu",
        )
        self.shuffle_rng = torch.Generator().manual_seed(config.seed)
        self._optimizer: torch.optim.SGD | None = None  # built on first use: see optimizer
        self._step_fn = (FusedStep if config.engine == "fused" else AutogradStep)(self.net)
        self._seed_form = config.engine == "autograd"  # evaluate as the seed writes it, too
        # Position: completed epochs, batches done in the current one, batches since the start.
        self.epoch = 0
        self.batch = 0
        self.step_count = 0
        self.epoch_batch_size = config.batch_size
        self.perm: torch.Tensor | None = None
        self._shuffled = ShuffledEpoch(self.data)  # the epoch's rows in order (eager path)
        # d2l's Accumulator(3): sum of losses, correct predictions, examples, for this epoch.
        self.loss_sum = 0.0
        self.correct = 0.0
        self.seen = 0
        self.epoch_seconds = 0.0
        self.reference_loss: float | None = None  # first batch's loss: the divergence yardstick
        self.history: list[EpochReport] = []
        self.batch_losses: list[float] = []
        self.lr_changes: list[tuple[int, float]] = [(0, config.lr)]
        self.elapsed = 0.0
        self.predictions: Predictions | None = None

        self._lock = threading.RLock()  # a listener may command from inside on_event
        self._inbox: deque[tuple] = deque()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._state = RunState.IDLE
        self._reason = ""
        self._steps_allowed = 0  # batches a paused run may still take ('n' key)
        self._pending_batch: list[tuple[float, float]] = []
        # Undoing the last update (eager path): see _keep_undo.
        self.undo_span = UNDO_SPAN
        self._anchor: torch.Tensor | None = None  # parameters (net.flat) at _anchor_at
        self._anchor_momentum: list[torch.Tensor | None] = []
        self._anchor_at: tuple[int, int] | None = None  # (epoch, batch) before whose update
        self._since_anchor: list[tuple[float, float, float]] = []  # each batch's settings since
        self._undo: tuple[float, float, int] | None = None
        self._last_report = 0.0
        self.report_interval = REPORT_INTERVAL_S  # batch reports (all batches) at most this often
        self.sync_free = self.device.type != "cpu" if sync_free is None else sync_free
        self._graphs = graphs
        self._device_steps: SyncFreeSteps | None = None  # made by run(), when sync_free
        self._unsettled: list[tuple[torch.Tensor, int]] = []  # figures not yet read back

    @property
    def optimizer(self) -> torch.optim.SGD:
        """The seed's ``torch.optim.SGD``, built on first use (``run`` asks first thing):
        building one imports torch._dynamo (about 1 s), which should not delay the app's
        first frame."""
        if self._optimizer is None:
            self._optimizer = torch.optim.SGD(
                self.net.params,
                lr=self.config.lr,
                momentum=self.config.momentum,
                weight_decay=self.config.weight_decay,
            )
        return self._optimizer

    # ----------------------------------------------------------------- commands (any thread)
    @property
    def state(self) -> RunState:
        return self._state

    @property
    def reason(self) -> str:
        return self._reason

    @property
    def batches_per_epoch(self) -> int:
        return math.ceil(self.data.train_y.shape[0] / self.epoch_batch_size)

    @property
    def finished(self) -> bool:
        return self.epoch >= self.config.epochs

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
        """Change hyperparameters: lr, momentum, weight decay and epochs from the next batch,
        batch size from the next epoch. Raises ConfigError at once for a bad value."""
        for name in changes:
            if name not in CHANGE_DURING_A_RUN:
                raise ConfigError(f"{name} cannot change during a run; start a new run")
        self.config.replace(**changes)  # validate now, in the caller's thread
        self._send("update", changes)

    def set_lr(self, lr: float) -> None:
        self.update(lr=lr)

    def stop(self) -> None:
        self._send("stop")

    def save(self, path: str | Path) -> Future:
        """Write a checkpoint between two batches; the future holds the path or the error."""
        future: Future = Future()
        self._send("save", Path(path), future)
        return future

    def _send(self, *command: object) -> None:
        with self._lock:
            if self._thread is None:  # nobody is looping: carry it out here and now
                self._obey(command)
                return
            self._inbox.append(command)
        self._wake.set()

    # ----------------------------------------------------------------- the loop (one thread)
    def run(self, paused: bool = False) -> RunState:
        """Train until the configured epochs are done, or a stop. Returns the final state."""
        with self._lock:
            if self._thread is not None:
                raise RuntimeError("this trainer is already running")
            self._thread = threading.current_thread()
        torch.set_num_threads(TRAIN_THREADS)  # per thread: see keep_this_thread_serial
        self._last_report = time.perf_counter()
        if self.sync_free:
            self._device_steps = SyncFreeSteps(
                self.net,
                self._step_fn,
                self.data,
                self.reference_loss,
                self._graphs,
            )
        try:
            self._set_state(RunState.PAUSED if paused else RunState.RUNNING)
            # Built before the first epoch's clock starts, not in its first batch: building it
            # imports torch._dynamo (about 1 s), which epoch 1's time counted as training.
            self.optimizer  # noqa: B018
            self._last_report = time.perf_counter()
            while not self.finished:
                self._train_epoch()
            self._set_state(RunState.FINISHED)
        except _Stop:
            self._flush_batches()
            self._set_state(RunState.STOPPED)
        except Exception as exc:  # shown to the user; the parameters stay as they were
            self._emit(Failed(f"{type(exc).__name__}: {exc}", traceback.format_exc()))
            self._set_state(RunState.FAILED, f"{type(exc).__name__}: {exc}")
        finally:
            with self._lock:
                self._thread = None
                leftovers = list(self._inbox)
                self._inbox.clear()
            for command in leftovers:
                if command[0] == "save":
                    self._obey(command)
        return self._state

    def _train_epoch(self) -> None:
        if self.perm is None:  # a new epoch: d2l's DataLoader(shuffle=True) draws its order
            self.epoch_batch_size = self.config.batch_size
            self.perm = torch.randperm(len(self.data.train_y), generator=self.shuffle_rng)
            self.loss_sum, self.correct, self.seen, self.epoch_seconds = 0.0, 0.0, 0, 0.0
        perm = self.perm.to(self.device)
        self._shuffled.start(perm)
        size = self.epoch_batch_size
        train_batch = self._train_batch_sync_free if self.sync_free else self._train_batch
        started = time.perf_counter()
        while True:
            while self.batch < self.batches_per_epoch:
                if self._inbox or self._state is not RunState.RUNNING:
                    self.epoch_seconds += time.perf_counter() - started
                    self._obey_inbox()
                    started = time.perf_counter()
                if not train_batch(perm, size):
                    self.epoch_seconds += time.perf_counter() - started
                    self._obey_inbox()
                    started = time.perf_counter()
            self._flush_batches()
            if self._state is not RunState.DIVERGED:
                break
            # The epoch's last batches, read back only now, had diverged: train them again.
            self.epoch_seconds += time.perf_counter() - started
            self._obey_inbox()
            started = time.perf_counter()
        predictions = evaluate(self.net, self.data.test_flat, self.data.test_y, self._seed_form)
        self.epoch_seconds += time.perf_counter() - started
        self.elapsed += self.epoch_seconds
        self.epoch += 1
        self.batch = 0
        self.perm = None
        self._undo = None  # an evaluated epoch is not undone
        self.predictions = Predictions(self.epoch, predictions.probs, predictions.labels)
        report = EpochReport(
            epoch=self.epoch,
            train_loss=self.loss_sum / self.seen,
            train_acc=self.correct / self.seen,
            test_acc=self.predictions.accuracy,
            lr=self.config.lr,
            seconds=self.epoch_seconds,
            examples_per_s=self.seen / max(self.epoch_seconds, 1e-9),
        )
        self.history.append(report)
        self._emit(self.predictions)
        self._emit(report)

    def _train_batch(self, perm: torch.Tensor, size: int) -> bool:
        """One SGD step; False (and no update) when the batch's loss shows divergence."""
        X, y = self._shuffled.batch(self.batch * size, (self.batch + 1) * size)
        losses, predicted = self._step_fn.forward(X, y)
        count = y.shape[0]
        loss_sum = float(losses.sum())
        batch_loss = loss_sum / count  # the mean, without a second pass
        if self.reference_loss is None:
            self.reference_loss = batch_loss
        limit = self.config.divergence_factor * self.reference_loss
        if not math.isfinite(batch_loss) or batch_loss > limit:
            self._diverged(batch_loss)
            return False
        self._keep_undo()
        self._step_fn.update(self.optimizer)
        correct = float((predicted == y).sum())
        self._account(batch_loss, loss_sum, correct, count)
        self.batch += 1
        self.step_count += 1
        self._after_batch()
        return True

    def _train_batch_sync_free(self, perm: torch.Tensor, size: int) -> bool:
        """The same step queued on the device; its figures are settled by _flush_batches."""
        figures = self._device_steps(
            perm, self.batch, size, self.optimizer, self.config.divergence_factor
        )
        self._unsettled.append((figures, min(size, len(perm) - self.batch * size)))
        self.batch += 1
        self.step_count += 1
        self._after_batch()
        return self._state is not RunState.DIVERGED  # settling may have found a divergence

    def _account(self, loss: float, loss_sum: float, correct: float, count: int) -> None:
        """d2l's Accumulator for one accepted batch, and its point for the next report."""
        self.loss_sum += loss_sum
        self.correct += correct
        self.seen += count
        self.batch_losses.append(loss)
        self._pending_batch.append((loss, correct / count))

    def _after_batch(self) -> None:
        """Report the batches now and then; end a step(n) after its last batch."""
        now = time.perf_counter()
        if now - self._last_report >= self.report_interval or self.batch == self.batches_per_epoch:
            self._flush_batches(now)
        if self._steps_allowed > 0:
            self._steps_allowed -= 1
            if self._steps_allowed == 0:
                self._flush_batches(now)
                if self._state is RunState.RUNNING:
                    self._set_state(RunState.PAUSED)

    def _settle(self) -> None:
        """Read the queued batches' figures in one transfer and account for them in order,
        as the eager path would have batch by batch, up to a diverged one."""
        if not self._unsettled:
            return
        stats = torch.stack([figures for figures, _ in self._unsettled]).tolist()
        sizes = [count for _, count in self._unsettled]
        self._unsettled = []
        for i, ((total, correct, ok), count) in enumerate(zip(stats, sizes)):
            mean = total / count  # as the eager path computes it
            if self.reference_loss is None:
                self.reference_loss = mean
            if not ok:  # this batch and the ones queued after it changed nothing
                self.batch -= len(stats) - i
                self.step_count -= len(stats) - i
                self._diverged(mean)
                self._device_steps.reset_verdict()
                return
            self._undo = (self.loss_sum, self.correct, self.seen)
            self._account(mean, total, correct, count)

    def _diverged(self, batch_loss: float) -> None:
        what = "not a number" if math.isnan(batch_loss) else f"{batch_loss:.4g}"
        self._flush_batches()
        where = f"epoch {self.epoch + 1}, batch {self.batch + 1}"
        undone = self._undo_last_batch()
        kept = (  # numbered from 1, as ``where``: the undone update is the previous batch's
            f"rolled back to before batch {self.batch + 1}'s update, the last with a good loss"
            if undone
            else "kept from the last accepted batch"
        )
        self._emit(BatchRefused(self.step_count, batch_loss, undone))
        self._set_state(
            RunState.DIVERGED,
            f"loss {what} exceeds {self.config.divergence_factor:g} x the first batch's "
            f"({self.reference_loss:.4g}) at {where} with lr {self.config.lr:g}; "
            f"parameters {kept}. Lower the lr and resume.",
        )

    def _keep_undo(self) -> None:
        """Keep the state before this batch's update within reach, so a divergence it causes
        can be undone: a too-large lr wrecks the parameters one batch before the loss shows it.

        Copying all parameters before every update cost 2-2.5% of a bare loop's CPU epoch,
        about 1% of the trainer's (paired runs).
        Instead they are copied every ``undo_span`` batches (the anchor) and each batch since
        notes its settings; an undo puts the anchor back and replays the batches between, on
        the same rows with the same settings and kernels: the same parameters, bit for bit.
        """
        at = self._anchor_at
        if at is None or at[0] != self.epoch or self.batch - at[1] >= self.undo_span:
            if self._anchor is None:
                self._anchor = self.net.flat.clone()
            else:
                self._anchor.copy_(self.net.flat)  # all four parameters: one copy
            state = self.optimizer.state  # empty with the seed's plain SGD
            buffers = [state.get(p, {}).get("momentum_buffer") for p in self.net.params]
            self._anchor_momentum = [None if buf is None else buf.clone() for buf in buffers]
            self._anchor_at = (self.epoch, self.batch)
            self._since_anchor = []
        group = self.optimizer.param_groups[0]
        self._since_anchor.append((group["lr"], group["momentum"], group["weight_decay"]))
        self._undo = (self.loss_sum, self.correct, self.seen)

    def _undo_last_batch(self) -> bool:
        """Put back the parameters and counters from before the last update of this epoch."""
        if self._undo is None or self.batch == 0:
            return False
        if self._device_steps is not None:
            self._device_steps.restore(self.optimizer)
        else:
            self._replay_to(self.batch - 1)
        self.loss_sum, self.correct, self.seen = self._undo
        self.batch -= 1
        self.step_count -= 1
        self.batch_losses.pop()
        self._undo = None
        return True

    def _replay_to(self, target: int) -> None:
        """The parameters (and momentum) as they were before batch ``target``'s update."""
        _, first = self._anchor_at
        with torch.no_grad():
            self.net.flat.copy_(self._anchor)
        for p, buf in zip(self.net.params, self._anchor_momentum):
            if buf is None:
                self.optimizer.state.get(p, {}).pop("momentum_buffer", None)
            else:  # a copy: the replay updates it in place, the anchor may serve again
                self.optimizer.state[p]["momentum_buffer"] = buf.clone()
        group = self.optimizer.param_groups[0]
        current = {name: group[name] for name in ("lr", "momentum", "weight_decay")}
        size = self.epoch_batch_size
        try:
            settings = self._since_anchor[: target - first]  # one per batch: strict below
            for batch, (lr, momentum, decay) in zip(range(first, target), settings, strict=True):
                group.update(lr=lr, momentum=momentum, weight_decay=decay)
                self._step_fn.forward(*self._shuffled.batch(batch * size, (batch + 1) * size))
                self._step_fn.update(self.optimizer)
        finally:
            group.update(current)
        del self._since_anchor[target - first :]

    def _flush_batches(self, now: float | None = None) -> None:
        self._settle()
        if not self._pending_batch:
            return
        now = now or time.perf_counter()
        window = now - self._last_report if self._last_report else 0.0
        count = len(self._pending_batch) * self.epoch_batch_size
        self._emit(
            BatchReport(
                epoch=self.epoch + 1,
                batch=self.batch,
                batches=self.batches_per_epoch,
                step=self.step_count,
                losses=tuple(loss for loss, _ in self._pending_batch),
                accuracies=tuple(acc for _, acc in self._pending_batch),
                lr=self.config.lr,
                examples_per_s=count / window if window > 0 else 0.0,
            )
        )
        self._pending_batch = []
        self._last_report = now

    def _obey_inbox(self) -> None:
        """Carry out queued commands; while paused or diverged, wait here for more."""
        self._flush_batches()  # commands see settled counters (a divergence may surface here)
        while True:
            with self._lock:
                commands = list(self._inbox)
                self._inbox.clear()
                self._wake.clear()
            for command in commands:
                self._obey(command)
            if self._state is RunState.RUNNING:
                self._last_report = time.perf_counter()  # paused time is not training time
                return
            self._wake.wait()

    def _obey(self, command: tuple) -> None:
        kind, *args = command
        running = self._thread is not None
        if kind == "pause" and self._state is RunState.RUNNING:
            self._flush_batches()
            if self._state is RunState.RUNNING:  # settling may have found a divergence
                self._set_state(RunState.PAUSED)
        elif kind == "resume" and self._state in (RunState.PAUSED, RunState.DIVERGED):
            self._steps_allowed = 0
            self._set_state(RunState.RUNNING)
        elif kind == "step" and self._state in (RunState.PAUSED, RunState.DIVERGED):
            self._steps_allowed = int(args[0])
            self._set_state(RunState.RUNNING)
        elif kind == "update":
            self._apply(args[0])
        elif kind == "save":
            self._save(*args)
        elif kind == "stop" and running:
            raise _Stop

    def _apply(self, changes: dict) -> None:
        try:
            new = self.config.replace(**changes)
        except ConfigError:
            return  # validated when queued; a later change may have made it moot
        changed = tuple(k for k, v in changes.items() if getattr(self.config, k) != v)
        self.config = new
        for group in self._optimizer.param_groups if self._optimizer else ():
            group.update(lr=new.lr, momentum=new.momentum, weight_decay=new.weight_decay)
        if "lr" in changed:
            self.lr_changes.append((self.step_count, new.lr))
        if changed:
            self._emit(SettingsChanged(new, changed, self.step_count))

    def _save(self, path: Path, future: Future | None = None) -> None:
        self._flush_batches()  # the counters must describe the parameters being saved
        try:
            checkpoint.save(self, path)
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

    # ----------------------------------------------------------------- checkpoints
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
        path = Path(path)
        tensors, meta = checkpoint.read(path)
        config = checkpoint.config_from(path, meta)
        for name in (name for name, field in FIELDS.items() if not field.resumable):
            if name in overrides and overrides[name] != getattr(config, name):
                raise checkpoint.CheckpointError(
                    f"{path} was trained with {name}={getattr(config, name)}; "
                    f"it cannot resume with {name}={overrides[name]}"
                )
        config = config.replace(**overrides)
        trainer = cls(config, data, on_event, sync_free=sync_free)
        checkpoint.restore(trainer, tensors, meta, path)
        if trainer.lr_changes[-1][1] != config.lr:
            trainer.lr_changes.append((trainer.step_count, config.lr))
        return trainer
