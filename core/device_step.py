"""Training batches with no host synchronisation per batch, for GPUs.

On the CPU the trainer reads each batch's loss before the update (``float(loss)`` costs nothing
there) and refuses a diverged batch. On a GPU that read waits for the device every batch, and a
batch of the seed's model is a few microseconds of GPU work: the waits would be the epoch. Here the
divergence check runs on the device instead. Each batch computes ``ok`` (the loss is finite and
under the limit, and no earlier batch failed), makes its update, and selects, with ``where``, the
updated parameters when ``ok`` and the previous ones otherwise; a second ``where`` keeps the
parameters from before the last accepted update, which is what the CPU path's undo restores. The
trainer reads the batches' figures (loss sum, correct, ok) in one transfer a few times a
second and settles its counters then, as if it had read them batch by batch: the same numbers, the
same divergence verdict, the same parameters.

Selecting is exact, so with ``ok`` true every batch this is the eager path's arithmetic bit for
bit. The parameters share one buffer (``ScratchMLP.flat``), so the selections are two kernels for
the whole model. On CUDA, the plain-SGD step (the seed's) is captured as a CUDA graph that also
takes its batch's indices from the epoch's order and files its figures by a batch counter kept
on the device: a full batch costs one graph launch from Python, instead of ~50 kernel launches.
Where they cover the run, the graph holds four fused Triton kernels (``triton_step.py``) instead
of PyTorch's step: the same arithmetic to float rounding, the same bookkeeping.
"""

from __future__ import annotations

import torch

from .data import FashionMNIST, to_unit
from .divergence import DivergenceCheck, Figures
from .model import FusedStep, ScratchMLP, plain_sgd
from .triton_step import MAX_BATCH, KernelStep, unavailable

WARMUP_BATCHES = 2  # eager batches on a side stream before a capture (allocator, cuBLAS handles)


class DeviceSteps:
    """Runs the trainer's batches on the device; the same interface as ``EagerSteps``."""

    CONVERTED_TABLE_ON = ("cuda",)  # device types that keep the training images as floats

    def __init__(
        self,
        net: ScratchMLP,
        step_fn,
        data: FashionMNIST,
        check: DivergenceCheck,
        graphs: bool,
        kernels: bool = False,
    ) -> None:
        """``kernels``: the graph's batches run as the fused Triton kernels of
        ``triton_step.py`` where they cover the run (and agree with ``FusedStep``)."""
        self.net, self.step_fn, self.check = net, step_fn, check
        self.data = data
        device = net.flat.device
        self.ok = torch.ones((), dtype=torch.bool, device=device)
        self.ref = (
            None
            if check.reference is None
            else torch.tensor(check.reference, dtype=torch.float64, device=device)
        )
        self._queued: list[tuple[torch.Tensor, int]] = []  # figures not yet read back, sizes
        self.perm = torch.empty(0, dtype=torch.long)  # the epoch's order
        self.size = self.first_step = 0
        # The parameters at the start of this batch, and before the last accepted update.
        self.before = torch.empty_like(net.flat)
        self.backup = net.flat.clone()
        self.buffers_before: list[torch.Tensor] = []  # the same for SGD's momentum buffers
        self.buffers_backup: list[torch.Tensor] = []
        # On the CPU the graph's body runs as it is, uncaptured: the same bookkeeping, testable.
        # Dropout draws its masks from a generator seeded on the host each batch: no graph.
        self.graphs = graphs and isinstance(step_fn, FusedStep) and net.dropout_rng is None
        self._may_graph = self.graphs
        self._capture = device.type == "cuda"
        # Why the fused kernels do not run the graph's batches ("" while they do).
        self.kernels_error = (unavailable(net, device) or "") if kernels else "off"
        if not self.kernels_error and not self.graphs:
            self.kernels_error = "the kernels run in the graph path, which this run does not take"
        self._kernels_allowed = not self.kernels_error
        self._kernel_step: KernelStep | None = None
        # On CUDA the training images are also kept converted (60,000 rows: 188 MB of device
        # memory), so the graph gathers floats rather than gathering bytes and converting them:
        # one kernel fewer a batch. The same values as ``train_batch``'s (``to_unit`` either way).
        converted = device.type in self.CONVERTED_TABLE_ON or self._kernels_allowed
        self.train_x = to_unit(data.train_pixels) if converted else None
        self.graph_error = ""  # why graphs were given up, if they were
        self._limit_key: tuple | None = None
        self._limit_value = torch.empty(())
        self._graph: torch.cuda.CUDAGraph | None = None
        self._graph_key: tuple | None = None
        self._warmups = 0
        self._table_source: torch.Tensor | None = None
        self._table = torch.empty(0, 0, dtype=torch.long)  # the epoch's full batches, a row each
        self._row = torch.zeros(1, dtype=torch.long)  # the graph's batch counter, on the device
        self._row_host = -1  # where that counter stands, as far as this thread knows
        self._stats = torch.empty(0, 3)  # the figures of each full batch, by row

    # ------------------------------------------------------------------ state
    def _buffers(self, optimizer: torch.optim.Optimizer) -> list[torch.Tensor]:
        """SGD's momentum buffers, made now as zeros when momentum is on and SGD has not made
        them yet (its first step would: ``0 * momentum + grad`` is ``grad`` exactly)."""
        momentum = optimizer.param_groups[0]["momentum"] != 0
        buffers = []
        for p in self.net.params:
            state = optimizer.state[p] if momentum else optimizer.state.get(p, {})
            if momentum and state.get("momentum_buffer") is None:
                state["momentum_buffer"] = torch.zeros_like(p.detach())
            if state.get("momentum_buffer") is not None:
                buffers.append(state["momentum_buffer"])
        if len(buffers) != len(self.buffers_before):
            self.buffers_before = [b.clone() for b in buffers]
            self.buffers_backup = [b.clone() for b in buffers]
        return buffers

    def start_epoch(self, perm: torch.Tensor, size: int, first_step: int = 0) -> None:
        self.perm, self.size, self.first_step = perm, size, first_step
        self._rows = len(perm)

    def step(self, batch: int, optimizer: torch.optim.Optimizer) -> list[Figures]:
        """Queue batch ``batch`` of the epoch's order; its figures come with ``settle``."""
        figures = self._enqueue(self.perm, batch, self.size, optimizer, self.check.factor)
        self._queued.append((figures, min(self.size, self._rows - batch * self.size)))
        return []

    def settle(self) -> list[Figures]:
        """The queued batches' figures, read in one transfer. A refusal is sticky: the batches
        queued after a refused one are refused too (they changed nothing); once it is read,
        batches may be accepted again."""
        if not self._queued:
            return []
        stats = torch.stack([figures for figures, _ in self._queued]).tolist()
        sizes = [count for _, count in self._queued]
        self._queued = []
        settled = [
            Figures(total, correct, n, bool(ok)) for (total, correct, ok), n in zip(stats, sizes)
        ]
        if self.check.reference is None:
            self.check.reference = settled[0].loss
        if not settled[-1].accepted:
            self.reset_verdict()
        return settled

    def undo(self, batch: int, optimizer: torch.optim.Optimizer) -> None:
        """Undo the last accepted update (``batch``'s: the caller knows there was one)."""
        self.restore(optimizer)

    def restore(self, optimizer: torch.optim.Optimizer) -> None:
        with torch.no_grad():
            self.net.flat.copy_(self.backup)
            buffers = self._buffers(optimizer)
            if buffers:
                torch._foreach_copy_(buffers, self.buffers_backup)

    def _limit(self, factor: float) -> torch.Tensor:
        """The divergence limit, in float64 as the eager path compares it."""
        assert self.ref is not None, "set by the run's first batch"
        if self._limit_key != (factor, self.ref.data_ptr()):
            # factor 0 is "off": no limit, only a loss that is not a number is refused
            limit = factor * self.ref if factor else torch.full_like(self.ref, float("inf"))
            self._limit_key, self._limit_value = (factor, self.ref.data_ptr()), limit
        return self._limit_value

    def reset_verdict(self) -> None:
        """A diverged run resumes: batches may be accepted again."""
        self.ok.fill_(True)

    def allow_graphs(self, allowed: bool) -> None:
        """An lr schedule changes the lr every batch, and a graph holds its lr: replay none
        while one runs (each batch would capture a new graph)."""
        self.graphs = allowed and self._may_graph and not self.graph_error

    # ------------------------------------------------------------------ one batch
    def _batch(self, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The rows ``idx`` as ``train_batch`` gives them."""
        if self.train_x is None:
            return self.data.train_batch(idx)
        return self.train_x.index_select(0, idx), self.data.train_y.index_select(0, idx)

    def _step(
        self, idx: torch.Tensor, optimizer: torch.optim.Optimizer, factor: float
    ) -> torch.Tensor:
        """Everything a batch does on the device; returns [loss sum, correct, ok]."""
        X, y = self._batch(idx)
        losses, predicted = self.step_fn.forward(X, y)
        flat = self.net.flat
        with torch.no_grad():
            total = losses.sum()
            ok = self.ok.logical_and_(torch.isfinite(total))  # sticky: once refused, refused
            ok.logical_and_(total.double() / len(y) <= self._limit(factor))  # as the eager path
            buffers = self._buffers(optimizer)
            self.before.copy_(flat)
            if buffers:
                torch._foreach_copy_(self.buffers_before, buffers)
        self.step_fn.update(optimizer)
        with torch.no_grad():
            torch.where(ok, flat, self.before, out=flat)  # a refused batch changes nothing
            torch.where(ok, self.before, self.backup, out=self.backup)
            for now, before, backup in zip(buffers, self.buffers_before, self.buffers_backup):
                torch.where(ok, now, before, out=now)
                torch.where(ok, before, backup, out=backup)
            correct = (predicted == y).sum()
            return torch.stack([total, correct.to(total.dtype), ok.to(total.dtype)])

    def _enqueue(
        self,
        perm: torch.Tensor,
        batch: int,
        size: int,
        optimizer: torch.optim.Optimizer,
        factor: float,
    ) -> torch.Tensor:
        """Queue batch ``batch`` of the epoch's order ``perm``; its figures come back as a
        device tensor, to be read later in bulk."""
        if self.ref is None:  # the run's first batch sets the divergence yardstick
            idx = perm[batch * size : (batch + 1) * size]
            self.net.seed_dropout(self.first_step + batch)
            with torch.no_grad():
                losses, _ = self.step_fn.forward(*self._batch(idx))
                self.ref = losses.sum().double() / len(idx)
        self.net.seed_dropout(self.first_step + batch)  # this batch's masks, whatever ran
        full = (batch + 1) * size <= len(perm)  # (the indices are sliced only when needed)
        if self.graphs and full and plain_sgd(optimizer):
            return self._replay(perm, batch, size, optimizer, factor)
        return self._step(perm[batch * size : (batch + 1) * size], optimizer, factor)

    # ------------------------------------------------------------------ CUDA graphs
    def _graph_body(self, optimizer: torch.optim.Optimizer, factor: float) -> None:
        """One full batch, reading its indices from row ``_row`` of the epoch's order and
        filing its figures in the same row of ``_stats``; then the counter moves on."""
        if self._kernel_step is not None:  # the same batch in four kernels; they move the row
            lr = optimizer.param_groups[0]["lr"]
            limit = self._limit(factor)
            self._kernel_step.launch(
                self._table, self._row, self._stats, self.ok, limit, self.backup, lr
            )
            return
        idx = self._table.index_select(0, self._row).view(-1)
        stats = self._step(idx, optimizer, factor)
        self._stats.index_copy_(0, self._row, stats.view(1, -1))
        self._row.add_(1)

    def _kernels_for(self, size: int, lr: float) -> KernelStep | None:
        """The fused kernels for full batches of ``size``, once they have agreed with
        ``FusedStep`` on this device; None where they do not run (``kernels_error`` says why)."""
        if not self._kernels_allowed:
            return None
        if size > MAX_BATCH:  # for this batch size only
            self.kernels_error = f"kernels take batches of at most {MAX_BATCH} rows, not {size}"
            return None
        assert self.train_x is not None  # kept as floats for them
        try:
            kernels = KernelStep(self.net, self.train_x, self.data.train_y, size)
            self.kernels_error = kernels.verify(lr)
        except (ValueError, RuntimeError) as exc:
            self.kernels_error = f"{type(exc).__name__}: {exc}"
        if self.kernels_error:
            self._kernels_allowed = False
            return None
        return kernels

    @property
    def kernels_on(self) -> bool:
        """The graph's batches run as the fused kernels (none while an lr schedule runs)."""
        return self._kernel_step is not None and self.graphs

    def _replay(
        self,
        perm: torch.Tensor,
        batch: int,
        size: int,
        optimizer: torch.optim.Optimizer,
        factor: float,
    ) -> torch.Tensor:
        """The same step, captured once per (batch size, lr, limit) and replayed."""
        rows = len(perm) // size
        key = (size, rows, optimizer.param_groups[0]["lr"], factor, len(self.buffers_before))
        if key != self._graph_key:
            self._graph, self._graph_key, self._warmups = None, key, 0
            self._table = torch.empty(rows, size, dtype=perm.dtype, device=perm.device)
            self._stats = torch.empty(rows, 3, device=perm.device)
            self._row = torch.zeros(1, dtype=torch.long, device=perm.device)
            self._table_source, self._row_host = None, -1
            self._kernel_step = self._kernels_for(size, optimizer.param_groups[0]["lr"])
        if perm is not self._table_source:  # a new epoch's order: once per epoch
            self._table.copy_(perm[: rows * size].view(rows, size))
            self._table_source = perm
        if batch != self._row_host:  # after a rollback or a new epoch
            self._row.fill_(batch)
        self._row_host = batch + 1
        if not self._capture:
            self._graph_body(optimizer, factor)
            return self._stats[batch]
        if self._graph is None and self._warmups < WARMUP_BATCHES:
            self._warmups += 1
            side = torch.cuda.Stream()
            side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(side):
                self._graph_body(optimizer, factor)
            torch.cuda.current_stream().wait_stream(side)
            return self._stats[batch]
        if self._graph is None:
            graph = torch.cuda.CUDAGraph()
            try:
                with torch.cuda.graph(graph):  # records only; nothing runs until replay
                    self._graph_body(optimizer, factor)
            except RuntimeError as exc:  # an op that cannot be captured: stay eager
                self.graphs, self.graph_error = False, f"{type(exc).__name__}: {exc}"
                self._row_host = -1
                return self._step(perm[batch * size : (batch + 1) * size], optimizer, factor)
            self._graph = graph
        self._graph.replay()
        return self._stats[batch]
