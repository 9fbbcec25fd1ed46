"""The CPU's training step: one batch at a time, its loss read before its update.

On the CPU reading the loss (``float()``) costs nothing, so a diverged batch is refused before it
touches the parameters, and the update before it is undone from the ``UndoLog``. The GPU path
(``device_step.py``) has the same interface without reading anything back per batch.
"""

from __future__ import annotations

import torch

from .data import FashionMNIST, ShuffledEpoch
from .divergence import DivergenceCheck, Figures
from .model import ScratchMLP
from .undo import UndoLog


class EagerSteps:
    def __init__(self, net: ScratchMLP, step_fn, data: FashionMNIST, check: DivergenceCheck):
        self.net, self.step_fn, self.check = net, step_fn, check
        self.rows = ShuffledEpoch(data)  # the epoch's rows in order, gathered ahead
        self.undo_log = UndoLog(net, step_fn)
        self.size = self.first_step = 0

    def start_epoch(self, perm: torch.Tensor, size: int, first_step: int = 0) -> None:
        """``first_step``: the run's number for the epoch's first batch (dropout's key)."""
        self.rows.start(perm)
        self.size, self.first_step = size, first_step
        self.undo_log.start_epoch(first_step)

    def batch(self, number: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.rows.batch(number * self.size, (number + 1) * self.size)

    def step(self, batch: int, optimizer: torch.optim.Optimizer) -> list[Figures]:
        """Train batch ``batch`` of the epoch's order, unless its loss shows divergence."""
        X, y = self.batch(batch)
        self.net.seed_dropout(self.first_step + batch)
        losses, predicted = self.step_fn.forward(X, y)
        count = y.shape[0]
        loss_sum = float(losses.sum())
        if not self.check.accepts(loss_sum / count):
            return [Figures(loss_sum, 0.0, count, accepted=False)]
        self.undo_log.note(batch, optimizer)
        self.step_fn.update(optimizer)
        return [Figures(loss_sum, float((predicted == y).sum()), count, accepted=True)]

    def settle(self) -> list[Figures]:
        return []  # every batch's figures were known at once

    def undo(self, batch: int, optimizer: torch.optim.Optimizer) -> None:
        """Put back the parameters from before batch ``batch``'s update."""
        self.undo_log.restore(batch, optimizer, self.batch)
