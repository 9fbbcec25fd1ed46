"""The CPU's training step: one batch at a time, its loss read before its update.

On the CPU reading the loss (``float()``) costs nothing, so a diverged batch is refused before it
touches the parameters, and the update before it is undone from the ``UndoLog``. The GPU path
(``device_step.py``) has the same interface without reading anything back per batch.

The fused engine's plain-SGD batches run the compiled step (``native.py``) where it covers the
network and could be built; every other batch runs ``step_fn``, PyTorch operations.
"""

from __future__ import annotations

import torch

from . import native
from .data import FashionMNIST, ShuffledEpoch
from .divergence import DivergenceCheck, Figures
from .fused_step import plain_sgd
from .model import ScratchMLP
from .undo import UndoLog


class EagerSteps:
    def __init__(
        self,
        net: ScratchMLP,
        step_fn,
        data: FashionMNIST,
        check: DivergenceCheck,
        compiled: bool = True,
    ):
        """``compiled``: use the compiled step where it applies (``native.py``)."""
        self.net, self.step_fn, self.check = net, step_fn, check
        self.rows = ShuffledEpoch(data)  # the epoch's rows in order, gathered ahead
        self.undo_log = UndoLog(net, self.train)
        self.size = self.first_step = 0
        covered = compiled and native.applies(net, step_fn)
        library = native.load() if covered else None
        self.native = native.NativeStep(net, library) if library is not None else None
        # Why a run the compiled step covers runs PyTorch's step instead, for the run's start.
        self.why_not_compiled = native.why_not() if covered and library is None else None

    def start_epoch(self, perm: torch.Tensor, size: int, first_step: int = 0) -> None:
        """``first_step``: the run's number for the epoch's first batch (dropout's key)."""
        self.rows.start(perm)
        self.size, self.first_step = size, first_step
        self.undo_log.start_epoch()

    def batch(self, number: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.rows.batch(number * self.size, (number + 1) * self.size)

    def _pixels(self, number: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Batch ``number`` as uint8 pixels, for the compiled step (it converts them itself)."""
        return self.rows.pixels(number * self.size, (number + 1) * self.size)

    def _native_for(self, optimizer: torch.optim.Optimizer) -> native.NativeStep | None:
        return self.native if self.native is not None and plain_sgd(optimizer) else None

    def step(self, batch: int, optimizer: torch.optim.Optimizer) -> list[Figures]:
        """Train batch ``batch`` of the epoch's order, unless its loss shows divergence."""
        compiled = self._native_for(optimizer)
        if compiled is not None:
            pixels, y = self._pixels(batch)
            loss_sum, correct = compiled.forward(pixels, y)
        else:
            X, y = self.batch(batch)
            self.net.seed_dropout(self.first_step + batch)
            losses, predicted = self.step_fn.forward(X, y)
            loss_sum = float(losses.sum())
        count = y.shape[0]
        if not self.check.accepts(loss_sum / count):
            return [Figures(loss_sum, 0.0, count, accepted=False)]
        self.undo_log.note(batch, optimizer)
        if compiled is not None:
            compiled.update(optimizer.param_groups[0]["lr"])
        else:
            self.step_fn.update(optimizer)
            correct = float((predicted == y).sum())
        return [Figures(loss_sum, correct, count, accepted=True)]

    def train(self, batch: int, optimizer: torch.optim.Optimizer) -> None:
        """Train batch ``batch`` with the optimizer's settings as they are, unchecked, as
        ``step`` would have: the undo log's replay."""
        compiled = self._native_for(optimizer)
        if compiled is not None:
            compiled.forward(*self._pixels(batch))
            compiled.update(optimizer.param_groups[0]["lr"])
        else:
            self.net.seed_dropout(self.first_step + batch)
            self.step_fn.forward(*self.batch(batch))
            self.step_fn.update(optimizer)

    def settle(self) -> list[Figures]:
        return []  # every batch's figures were known at once

    def undo(self, batch: int, optimizer: torch.optim.Optimizer) -> None:
        """Put back the parameters from before batch ``batch``'s update."""
        self.undo_log.restore(batch, optimizer)
