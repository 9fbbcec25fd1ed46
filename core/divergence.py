"""The divergence check, and the figures a training step reports for each batch.

A batch whose mean loss is not finite or exceeds ``factor`` times the run's first batch's loss is
refused: its update is not applied, and the update before it, which caused the jump, is undone.
A factor of 0 is ``off``: only a loss that is not a number is refused.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Figures:
    """What one batch did: the sum of its losses, its correct predictions, its size, and
    whether the check accepted it (a refused batch changed nothing)."""

    loss_sum: float
    correct: float
    count: int
    accepted: bool

    @property
    def loss(self) -> float:
        return self.loss_sum / self.count  # the mean, without a second pass


class DivergenceCheck:
    def __init__(self, factor: float, reference: float | None = None) -> None:
        self.factor = factor
        self.reference = reference  # the run's first batch's mean loss, once it is known

    def accepts(self, loss: float) -> bool:
        if self.reference is None:
            self.reference = loss
        return math.isfinite(loss) and (not self.factor or loss <= self.factor * self.reference)
