"""Population training: many runs trained together in one process, as one.

    from mlp_tui.core.population import Population
    population = Population(configs, data)     # TrainConfigs (a sweep's members); data.load()
    population.run(on_event)                   # blocks; on_event(member, event) on this thread
    member = population.members[i]             # the i-th config's run:
    member.history, member.state, member.reason, member.params

Each member trains as its own ``Trainer`` would (the same initial draws, the same shuffled
order, its own lr, momentum, weight decay and divergence check), and its figures equal the solo
run's up to float rounding (tests hold them to it). ``on_event`` gets, per member and as a
Trainer sends them: ``StateChanged`` (running, then finished / diverged / stopped), one
``BatchReport`` per epoch holding the epoch's batches, ``Predictions`` and ``EpochReport``;
``population_record.record(population, store, ...)`` makes that ``on_event`` for a store:
one stored run per member, as a Trainer's.

Members are grouped into stacks (``stacked_mlp.py``) of one device, validation split, batch
size, activation and layer shapes; with ``pad=True`` narrower layers are zero-padded to the
group's widest instead (exact, see ``stacked_mlp.py``; the padding's arithmetic is wasted, so
it pays only where it saves many small stacks). Members of one seed share a data order and
one gather per batch; members of several seeds are gathered member by member (their first
layer a batched product as the rest). A stack larger than ``memory_limit`` bytes is split.
On CUDA a stack of one seed replays its full batches as a CUDA graph.

What differs from a solo run: a member whose loss shows divergence is frozen where the solo
run would pause (its parameters as after its last accepted update; the solo run also undoes
that update) and the others go on; settings are fixed for the run; dropout is not taken.
An epoch's ``seconds`` is its stack's, shared by the members trained in it.

``report_s`` (the app's sweep screen sets it) also sends each member's batches so far every
that many seconds within an epoch, for a live curve; a member whose loss diverged is then
frozen and said so at that report rather than at the epoch's end. Without it nothing is read
back within an epoch.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch

from .config import ConfigError, TrainConfig
from .data import NUM_CLASSES, NUM_INPUTS, FashionMNIST, ShuffledEpoch, to_unit
from .device import resolve_device
from .events import (
    BatchRefused,
    BatchReport,
    EpochReport,
    Event,
    Predictions,
    RunState,
    StateChanged,
)
from .stacked_mlp import PADS_EXACTLY, StackedMLP
from .threads import use_all_cores

__all__ = ["Member", "Population", "bytes_per_member", "stack_key"]

Emit = Callable[[int, Event], None]  # on_event(member index, event)
Progress = Callable[[int, float], None]  # (batches done this epoch, seconds since it began)
MEMORY_LIMIT = 2**30  # bytes a stack may take, parameters, optimizer state and activations
GRAPH_BODY_ON_CPU = False  # the tests: the CUDA graph's body, uncaptured, on the CPU


@dataclass
class Member:
    """One config's run in the population: what a Trainer would hold after ``run()``."""

    index: int
    config: TrainConfig
    state: RunState = RunState.IDLE
    reason: str = ""
    history: list[EpochReport] = field(default_factory=list)
    step_count: int = 0  # batches trained
    params: list[torch.Tensor] | None = None  # as ScratchMLP.params, once it is done
    run_uid: str | None = None  # the run store's name for it, once recorded


def bytes_per_member(config: TrainConfig, widths: Sequence[int], gathers: bool) -> int:
    """What one member adds to a stack: parameters (three times with momentum or weight
    decay: gradients and buffers), a batch's activations and gradients, the evaluation's."""
    sizes = (NUM_INPUTS, *widths, NUM_CLASSES)
    params = sum((i + 1) * o for i, o in zip(sizes, sizes[1:]))
    plain = config.momentum == 0 and config.weight_decay == 0
    rows = config.batch_size
    activations = rows * (4 * sum(widths) + 3 * NUM_CLASSES) + 256 * sum(widths)
    inputs = rows * NUM_INPUTS * 2 if gathers else 0  # its own batch, uint8 and float
    return 4 * (params * (1 if plain else 3) + activations + inputs + 10_000 * NUM_CLASSES)


def stack_key(config: TrainConfig, pad: bool = False) -> tuple:
    """What members must share to be stacked together: device, validation split, batch size,
    activation and layer shapes (with ``pad`` and an activation that pads exactly, only the
    depth)."""
    padded = pad and config.activation in PADS_EXACTLY
    return (
        str(resolve_device(config.device)),
        config.val,
        config.batch_size,
        config.activation,
        len(config.layers) if padded else config.layers,
    )


class _Stack:
    """Members trained in one ``StackedMLP``, with their data and their epochs' figures."""

    def __init__(
        self,
        members: list[Member],
        widths: tuple[int, ...],
        data: FashionMNIST,
        tables: dict[int, torch.Tensor] | None = None,
    ):
        self.members, self.data, self.widths = members, data, widths
        config = members[0].config
        self.device, self.batch_size = data.train_y.device, config.batch_size
        self.net = StackedMLP([m.config for m in members], widths, self.device)
        # One shuffle generator per seed, as each solo run draws its own.
        self.seeds = sorted({m.config.seed for m in members})
        self.rngs = {s: torch.Generator().manual_seed(s) for s in self.seeds}
        self.rows = ShuffledEpoch(data) if len(self.seeds) == 1 else None
        self.reference: torch.Tensor | None = None  # each member's first batch's loss
        self.seconds = 0.0
        # On CUDA, the members of one seed take their full batches as a CUDA graph (one launch
        # a batch instead of about 45): the batch's indices at a batch counter on the device,
        # gathered from a float copy of the training images, the figures filed by the counter.
        # On the CPU (GRAPH_BODY_ON_CPU, the tests) the same body runs uncaptured.
        self.graphs = self.rows is not None and (self.device.type == "cuda" or GRAPH_BODY_ON_CPU)
        self.graph_error = ""  # why the graph was given up, if it was
        self._graph: torch.cuda.CUDAGraph | None = None
        self._graph_key: tuple | None = None
        self._tables = tables  # the float training images, shared by the population's stacks
        self.sums = self.correct = self.ok = self.active = torch.empty(0, device=self.device)
        self.counter = torch.zeros(1, dtype=torch.long, device=self.device)
        self._counter_at = -1
        rows = len(data.train_y) // self.batch_size if self.graphs else 0
        self.order = torch.empty(rows, self.batch_size, dtype=torch.long, device=self.device)

    @property
    def batches(self) -> int:
        return math.ceil(len(self.data.train_y) / self.batch_size)

    def train_epoch(self, stop: threading.Event, progress: Progress | None = None) -> int:
        """One shuffled pass for every member still in the stack; the batches done.
        ``progress(done, seconds)`` after every batch, if given."""
        n = len(self.data.train_y)
        perms = {s: torch.randperm(n, generator=self.rngs[s]).to(self.device) for s in self.seeds}
        if self.rows is not None:
            self.rows.start(perms[self.seeds[0]])
        else:
            order = torch.stack([perms[m.config.seed] for m in self.members])
        K, nb, size = len(self.members), self.batches, self.batch_size
        if self.sums.shape != (nb, K):  # kept from epoch to epoch: the graph reads them
            self.sums = torch.zeros(nb, K, device=self.device)
            self.correct = torch.zeros(nb, K, device=self.device)
            self.ok = torch.zeros(nb, K, dtype=torch.bool, device=self.device)
            self.active = torch.ones(K, dtype=torch.bool, device=self.device)
        else:
            for kept in (self.sums, self.correct, self.ok):
                kept.zero_()
            self.active.fill_(True)
        if self.graphs:
            self.order.copy_(perms[self.seeds[0]][: n // size * size].view(-1, size))
            self._counter_at = -1  # where the device's counter stands, as far as we know
        clock = time.perf_counter()
        done = 0
        for b in range(nb):
            if stop.is_set():
                break
            if self.graphs and self.reference is not None and (b + 1) * size <= n:
                self._replay(b)
                done += 1
                if progress is not None:
                    progress(done, time.perf_counter() - clock)
                continue
            if self.rows is not None:
                X, y = self.rows.batch(b * size, (b + 1) * size)
            else:
                idx = order[:, b * size : (b + 1) * size]
                X, y = to_unit(self.data.train_pixels[idx]), self.data.train_y[idx]
            self._batch(X, y, b)
            done += 1
            if progress is not None:
                progress(done, time.perf_counter() - clock)
        self.seconds = time.perf_counter() - clock
        return done

    def _batch(self, X: torch.Tensor, y: torch.Tensor, b: int | torch.Tensor) -> None:
        """Train every member on one batch and file its figures in row ``b`` (the graph's
        counter, a device tensor, or the batch number)."""
        losses, predicted = self.net.forward(X, y)
        sums = losses.sum(dim=1)
        means = sums / y.shape[-1]
        if self.reference is None:
            self.reference = means.clone()
        active = self.active
        active &= torch.isfinite(means) & (means <= self.net.factor * self.reference)
        self.net.update(active)
        correct = (predicted == y).sum(dim=1)
        if isinstance(b, int):
            self.sums[b], self.ok[b], self.correct[b] = sums, active, correct
        else:
            self.sums.index_copy_(0, b, sums.view(1, -1))
            self.ok.index_copy_(0, b, active.view(1, -1))
            self.correct.index_copy_(0, b, correct.view(1, -1).to(self.correct.dtype))

    def _graph_body(self) -> None:
        """A full batch: its indices from the epoch's order at the counter; the counter on."""
        table = self._float_table()
        idx = self.order.index_select(0, self.counter).view(-1)
        X = table.index_select(0, idx)
        self._batch(X, self.data.train_y.index_select(0, idx), self.counter)
        self.counter.add_(1)

    def _float_table(self) -> torch.Tensor:
        """The training images as floats (the values ``to_unit`` gives each batch)."""
        tables = self._tables if self._tables is not None else {}
        self._tables = tables
        if id(self.data) not in tables:
            tables[id(self.data)] = to_unit(self.data.train_pixels)
        return tables[id(self.data)]

    def _replay(self, b: int) -> None:
        """Batch ``b`` as the graph body, captured once per stack shape and replayed."""
        if b != self._counter_at:  # the epoch's first graph batch, after the eager ones
            self.counter.fill_(b)
        self._counter_at = b + 1
        if self.device.type != "cuda":
            self._graph_body()
            return
        key = tuple(t.data_ptr() for t in self.net.tensors) + (
            self.sums.data_ptr(),
            self.active.data_ptr(),
            self.counter.data_ptr(),
            self.order.data_ptr(),
            self.reference.data_ptr() if self.reference is not None else 0,
        )
        if key != self._graph_key:
            self._graph, self._graph_key = None, key
            side = torch.cuda.Stream()  # warm-up on a side stream, as capture asks
            side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(side):
                self._graph_body()
            torch.cuda.current_stream().wait_stream(side)
            graph = torch.cuda.CUDAGraph()
            try:
                with torch.cuda.graph(graph):
                    self._graph_body()
            except RuntimeError as exc:  # an op that cannot be captured: batches as before
                self.graphs, self.graph_error = False, f"{type(exc).__name__}: {exc}"
                return
            self._graph = graph
            return  # the warm-up trained this batch; the capture recorded only
        assert self._graph is not None
        self._graph.replay()

    def leave(self, gone: list[Member]) -> None:
        """The members ``gone`` are done: their parameters out, their rows out of the stack."""
        for m in gone:
            m.params = self.net.member_params(self.members.index(m), m.config.layers)
        rows = [i for i, m in enumerate(self.members) if m not in gone]
        if len(rows) < len(self.members) and rows:
            index = torch.tensor(rows, device=self.device)
            self.net.keep(index)
            if self.reference is not None:
                self.reference = self.reference[index]
        self.members = [self.members[i] for i in rows]


class Population:
    def __init__(
        self,
        configs: Sequence[TrainConfig],
        data: FashionMNIST,
        *,
        pad: bool = False,
        memory_limit: int = MEMORY_LIMIT,
        report_s: float | None = None,
    ) -> None:
        """Raises ConfigError for a config the population cannot train (one line, naming it)."""
        self.members = [Member(i, c.validated()) for i, c in enumerate(configs)]
        self._stop = threading.Event()
        self.report_s = report_s
        groups: dict[tuple, list[Member]] = {}
        for m in self.members:
            c = m.config
            if any(c.dropout):
                raise ConfigError(f"member {m.index + 1}: population training takes no dropout")
            if c.precision != "fp32":  # its steps are the solo trainer's (precision.py)
                raise ConfigError(
                    f"member {m.index + 1}: population training runs in fp32 only, not "
                    f"{c.precision}; train it as a solo run"
                )
            groups.setdefault(stack_key(c, pad), []).append(m)
        self.stacks: list[_Stack] = []
        splits: dict[tuple[str, int], FashionMNIST] = {}
        tables: dict[int, torch.Tensor] = {}  # float training images, made by a graph's first use
        for (device, val, *_), members in groups.items():
            if (device, val) not in splits:
                try:
                    splits[device, val] = data.to(device).holdout(val)
                except ValueError as exc:
                    raise ConfigError(f"validation images: {exc}") from None
            widths = tuple(max(w) for w in zip(*(m.config.layers for m in members)))
            gathers = len({m.config.seed for m in members}) > 1
            each = max(bytes_per_member(m.config, widths, gathers) for m in members)
            chunk = max(1, memory_limit // each)
            for at in range(0, len(members), chunk):
                self.stacks.append(
                    _Stack(members[at : at + chunk], widths, splits[device, val], tables)
                )

    def stop(self) -> None:
        """From any thread: every member stops after the batch under way."""
        self._stop.set()

    def run(self, on_event: Emit | None = None) -> list[Member]:
        """Train every member to its epochs (or a stop). ``on_event(member index, event)``."""
        emit: Emit = on_event or (lambda index, event: None)
        use_all_cores()  # per thread: see threads.py
        for m in self.members:
            m.state = RunState.RUNNING
            emit(m.index, StateChanged(RunState.RUNNING))
        epoch = 0
        while any(s.members for s in self.stacks):
            for stack in self.stacks:
                if stack.members:
                    self._epoch(stack, epoch, emit)
            epoch += 1
        return self.members

    def _epoch(self, stack: _Stack, epoch: int, emit: Emit) -> None:
        """One epoch of ``stack``: train, evaluate, report each member; the done ones leave."""
        reported = [0] * len(stack.members)  # each member's batches reported this epoch
        progress = None
        if self.report_s is not None:
            due = [self.report_s]

            def progress(done: int, seconds: float) -> None:
                if seconds >= due[0]:
                    due[0] = seconds + (self.report_s or 0.0)
                    self._report(stack, epoch, done, seconds, reported, emit)

        done = stack.train_epoch(self._stop, progress)
        data, clock = stack.data, time.perf_counter()
        evaluation = None  # the test set's probabilities and val's figures, after a whole epoch
        if done == stack.batches:
            val = None
            if data.val_flat is not None and data.val_y is not None:
                val = stack.net.score(data.val_flat, data.val_y)
            evaluation = (stack.net.test(data.test_flat), val)
        seconds = stack.seconds + time.perf_counter() - clock
        sums, correct = self._report(stack, epoch, done, stack.seconds, reported, emit)
        n = len(data.train_y)
        gone = []
        for r, m in enumerate(stack.members):
            if m.state is RunState.DIVERGED:  # said so by a report
                gone.append(m)
            elif evaluation is None:
                self._end(m, RunState.STOPPED, emit)
                gone.append(m)
            else:
                probs, val = evaluation
                predictions = Predictions(epoch + 1, probs[r], data.test_y.cpu())
                report = EpochReport(
                    epoch=epoch + 1,
                    train_loss=sum(sums[r]) / n,
                    train_acc=sum(correct[r]) / n,
                    test_acc=predictions.accuracy,
                    lr=m.config.lr,
                    seconds=seconds,
                    examples_per_s=n / max(seconds, 1e-9),
                    val_acc=None if val is None else float(val[0][r]),
                    val_loss=None if val is None else float(val[1][r]),
                )
                m.history.append(report)
                emit(m.index, predictions)
                emit(m.index, report)
                if epoch + 1 >= m.config.epochs:
                    self._end(m, RunState.FINISHED, emit)
                    gone.append(m)
        stack.leave(gone)

    def _report(
        self,
        stack: _Stack,
        epoch: int,
        done: int,
        seconds: float,
        reported: list[int],
        emit: Emit,
    ) -> tuple[list[list[float]], list[list[float]]]:
        """Each member's batches of this epoch not yet reported, of the ``done`` so far, and
        a member refused a batch: diverged. Returns the epoch's per-member loss sums and
        correct counts (plain floats, to be summed in order as d2l's accumulator sums them)."""
        sums, correct = stack.sums.t().tolist(), stack.correct.t().tolist()
        accepted = stack.ok[:done].sum(dim=0).tolist()  # a refusal freezes: they are a prefix
        size, n = stack.batch_size, len(stack.data.train_y)
        counts = [min(size, n - b * size) for b in range(stack.batches)]
        for r, m in enumerate(stack.members):
            if m.state is RunState.DIVERGED:
                continue
            kept, since = int(accepted[r]), reported[r]
            if kept > since:
                m.step_count += kept - since
                emit(
                    m.index,
                    BatchReport(
                        epoch=epoch + 1,
                        batch=kept,
                        batches=stack.batches,
                        step=m.step_count,
                        losses=tuple(sums[r][b] / counts[b] for b in range(since, kept)),
                        accuracies=tuple(correct[r][b] / counts[b] for b in range(since, kept)),
                        lr=m.config.lr,
                        examples_per_s=sum(counts[:kept]) / max(seconds, 1e-9),
                    ),
                )
                reported[r] = kept
            if kept < done:
                loss, reference = sums[r][kept] / counts[kept], stack.reference
                assert reference is not None  # drawn by the first batch
                self._diverged(m, epoch, kept, loss, float(reference[r]), emit)
        return sums, correct

    def _diverged(
        self, m: Member, epoch: int, batch: int, loss: float, reference: float, emit: Emit
    ) -> None:
        what = "not a number" if math.isnan(loss) else f"{loss:.4g}"
        emit(m.index, BatchRefused(m.step_count, loss, undone=False))
        reason = (
            f"loss {what} exceeds {m.config.divergence_factor:g} x the first batch's "
            f"({reference:.4g}) at epoch {epoch + 1}, batch {batch + 1} with lr "
            f"{m.config.lr:g}; parameters kept from the last accepted batch"
        )
        self._end(m, RunState.DIVERGED, emit, reason)

    def _end(self, m: Member, state: RunState, emit: Emit, reason: str = "") -> None:
        m.state, m.reason = state, reason
        emit(m.index, StateChanged(state, reason))
