"""What the trainer reports. Plain frozen dataclasses: the engine does not know who listens."""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

from .config import TrainConfig
from .health_report import HealthReport, Hint

if TYPE_CHECKING:  # only tensors' own methods are called here: the app's first frame is drawn
    import torch  # before torch has loaded (see tui/screens/starting.py)


class RunState(str, enum.Enum):
    IDLE = "idle"
    RUNNING = "running"
    PAUSED = "paused"
    DIVERGED = "diverged"
    FINISHED = "finished"
    STOPPED = "stopped"
    FAILED = "failed"

    @property
    def label(self) -> str:
        return self.value.capitalize()


@dataclass(frozen=True)
class BatchReport:
    """Batches trained since the previous report (coalesced so a listener is not flooded)."""

    epoch: int  # 1-based epoch the batches belong to
    batch: int  # batches done in that epoch after the last one reported
    batches: int  # batches per epoch
    step: int  # batches done since the run began, after the last one reported
    losses: tuple[float, ...]  # mean cross-entropy of each batch, oldest first
    accuracies: tuple[float, ...]
    lr: float
    examples_per_s: float


@dataclass(frozen=True)
class EpochReport:
    """One row of d2l's ``train_ch3`` plot, plus timing."""

    epoch: int
    train_loss: float
    train_acc: float
    test_acc: float
    lr: float
    seconds: float
    examples_per_s: float
    val_acc: float | None = None  # with a validation split (--val N)
    val_loss: float | None = None

    def as_dict(self) -> dict:
        """Every figure; the validation ones only where there is a validation set."""
        row = asdict(self)
        if self.val_acc is None and self.val_loss is None:
            del row["val_acc"], row["val_loss"]
        return row


@dataclass(frozen=True)
class Predictions:
    """The latest evaluation of the whole test set: probabilities for every image."""

    epoch: int
    probs: torch.Tensor  # (N, 10) float32 on the CPU
    labels: torch.Tensor  # (N,) int64 on the CPU

    @property
    def predicted(self) -> torch.Tensor:
        return self.probs.argmax(dim=1)

    @property
    def accuracy(self) -> float:
        return int((self.predicted == self.labels).sum()) / len(self.labels)

    def misclassified(self) -> torch.Tensor:
        """Indices of the wrong predictions, most confident first."""
        wrong = (self.predicted != self.labels).nonzero().flatten()
        confidence = self.probs[wrong].max(dim=1).values
        return wrong[confidence.argsort(descending=True, stable=True)]


@dataclass(frozen=True)
class BatchRefused:
    """A batch whose loss showed divergence was not applied.

    The update before it, which caused the jump, is undone when ``undone``: ``step`` is the
    number of batches that stand after that, so a listener keeping one loss per batch drops
    every one past ``step``. Comes before the ``StateChanged`` to DIVERGED that says why."""

    step: int
    loss: float  # the refused batch's mean loss (nan or inf as it was)
    undone: bool


@dataclass(frozen=True)
class StateChanged:
    state: RunState
    reason: str = ""


@dataclass(frozen=True)
class SettingsChanged:
    """Hyperparameters the trainer applied; ``step`` is the first batch trained with them."""

    config: TrainConfig
    changed: tuple[str, ...]
    step: int


@dataclass(frozen=True)
class Saved:
    path: str


@dataclass(frozen=True)
class SaveFailed:
    path: str
    message: str


@dataclass(frozen=True)
class Failed:
    """An exception escaped the training loop; the run is over but its state is intact."""

    message: str
    traceback: str


@dataclass(frozen=True)
class Health:
    """The network's health after an epoch (``report``; epoch 0: as initialised) and the hints
    it raised that were not said before. After a divergence: no report, its hint."""

    report: HealthReport | None
    hints: tuple[Hint, ...] = ()


Event = (
    BatchReport
    | EpochReport
    | Predictions
    | BatchRefused
    | StateChanged
    | SettingsChanged
    | Saved
    | SaveFailed
    | Failed
    | Health
)
