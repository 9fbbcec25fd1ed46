"""What the model got right and wrong, in numbers a UI or an export can show. Pure torch.

Everything starts from ``events.Predictions`` (the softmax of every test image) or from the
network's weights, so the same numbers back the inspector, the CSV files and the tests.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Literal

import torch

from .data import CLASS_NAMES, IMAGE_SIDE, NUM_CLASSES
from .events import Predictions

Filter = Literal["all", "misclassified", "true", "predicted", "pair", "first"]
Sort = Literal["index", "confidence", "loss"]
SORTS: tuple[Sort, ...] = ("index", "confidence", "loss")
PREDICT_CH3_COUNT = 6  # d2l's predict_ch3(net, test_iter, n=6)


def confusion_matrix(predictions: Predictions) -> torch.Tensor:
    """(10, 10) int64 counts: row = true class, column = predicted class."""
    flat = predictions.labels.long() * NUM_CLASSES + predictions.predicted
    return torch.bincount(flat, minlength=NUM_CLASSES**2).reshape(NUM_CLASSES, NUM_CLASSES)


def per_class_accuracy(matrix: torch.Tensor) -> torch.Tensor:
    """Recall of each true class (diagonal over row total); nan for a class with no images."""
    totals = matrix.sum(dim=1).double()
    return torch.where(totals > 0, matrix.diagonal().double() / totals.clamp_min(1), math.nan)


def accuracy(matrix: torch.Tensor) -> float:
    return int(matrix.diagonal().sum()) / max(int(matrix.sum()), 1)


def example_losses(predictions: Predictions) -> torch.Tensor:
    """Cross-entropy of each test image, as the seed's loss would give it."""
    p = predictions.probs.gather(1, predictions.labels.long().unsqueeze(1)).squeeze(1)
    return -p.double().clamp_min(1e-45).log()


def confidence(predictions: Predictions) -> torch.Tensor:
    """The probability of the predicted class."""
    return predictions.probs.max(dim=1).values


class PerClassHistory:
    """Per-class test accuracy after each epoch: the trainer keeps only its latest predictions,
    so whoever wants the curve feeds every ``events.Predictions`` to ``add``."""

    def __init__(self) -> None:
        self.epochs: list[int] = []
        self.accuracies: list[list[float]] = []  # one row of NUM_CLASSES per epoch

    @classmethod
    def from_rows(cls, rows: list[list[float]], first_epoch: int = 1) -> PerClassHistory:
        history = cls()
        for epoch, row in enumerate(rows, start=first_epoch):
            history.add_row(epoch, row)
        return history

    def add(self, predictions: Predictions) -> None:
        self.add_row(predictions.epoch, per_class_accuracy(confusion_matrix(predictions)).tolist())

    def add_row(self, epoch: int, row: list[float]) -> None:
        """Record one epoch; a repeated epoch (a re-evaluation) replaces the earlier row."""
        if len(row) != NUM_CLASSES:
            raise ValueError(f"expected {NUM_CLASSES} accuracies, got {len(row)}")
        if epoch in self.epochs:
            self.accuracies[self.epochs.index(epoch)] = list(row)
            return
        at = sum(1 for e in self.epochs if e < epoch)
        self.epochs.insert(at, epoch)
        self.accuracies.insert(at, list(row))

    def series(self, cls: int) -> list[float]:
        return [row[cls] for row in self.accuracies]

    def copy(self) -> PerClassHistory:
        history = PerClassHistory()
        history.epochs = list(self.epochs)
        history.accuracies = [list(row) for row in self.accuracies]
        return history

    def __len__(self) -> int:
        return len(self.epochs)


@dataclass(frozen=True)
class Selection:
    """Which test predictions the explorer lists, and in which order."""

    filter: Filter = "all"
    true: int = 0  # the class for filter "true" and "pair"
    predicted: int = 0  # the class for filter "predicted" and "pair"
    count: int = PREDICT_CH3_COUNT  # for filter "first"
    sort: Sort = "index"
    reverse: bool = False  # flip the natural order of ``sort``

    def with_sort(self, sort: Sort) -> Selection:
        return replace(self, sort=sort, reverse=False)

    def describe(self) -> str:
        names = CLASS_NAMES
        what = {
            "all": "all predictions",
            "misclassified": "misclassified",
            "true": f"true class {names[self.true]}",
            "predicted": f"predicted as {names[self.predicted]}",
            "pair": f"{names[self.true]} predicted as {names[self.predicted]}",
            "first": f"the first {self.count} (d2l's predict_ch3)",
        }[self.filter]
        order = {
            ("index", False): "index ↑",
            ("index", True): "index ↓",
            ("confidence", False): "confidence ↓",
            ("confidence", True): "confidence ↑",
            ("loss", False): "loss ↓",
            ("loss", True): "loss ↑",
        }[(self.sort, self.reverse)]
        return f"{what} · sorted by {order}"


PREDICT_CH3 = Selection(filter="first")


def select(predictions: Predictions, selection: Selection) -> torch.Tensor:
    """Indices into the test set, filtered and ordered as ``selection`` says.

    Index order is ascending; confidence and loss put the largest first (the model's surest
    guesses, its worst mistakes); ``reverse`` flips either. Ties keep index order.
    """
    labels, predicted = predictions.labels.long(), predictions.predicted
    kind = selection.filter
    if kind == "all":
        mask = torch.ones_like(labels, dtype=torch.bool)
    elif kind == "misclassified":
        mask = predicted != labels
    elif kind == "true":
        mask = labels == selection.true
    elif kind == "predicted":
        mask = predicted == selection.predicted
    elif kind == "pair":
        mask = (labels == selection.true) & (predicted == selection.predicted)
    elif kind == "first":
        mask = torch.arange(len(labels)) < selection.count
    else:
        raise ValueError(f"unknown filter {kind!r}")
    indices = mask.nonzero().flatten()
    if selection.sort == "index":
        return indices.flip(0) if selection.reverse else indices
    key = confidence(predictions) if selection.sort == "confidence" else example_losses(predictions)
    order = key[indices].argsort(descending=not selection.reverse, stable=True)
    return indices[order]


def weight_image(W: torch.Tensor, unit: int) -> torch.Tensor:
    """Unit ``unit``'s input weights (column ``unit`` of ``W``) as a uint8 image: 28x28 for the
    first layer's 784 pixels, else a near-square grid of the previous layer's units, row by
    row (the cells past the last unit mid grey).

    Scaled symmetrically so that a zero weight is mid grey, the strongest excitatory weight white
    and the strongest inhibitory one black: the sign stays readable from unit to unit.
    """
    w = W[:, unit].detach().float().cpu()
    peak = float(w.abs().max())
    scaled = 127.5 + 127.5 * (w / peak if peak > 0 else torch.zeros_like(w))
    pixels = scaled.round().clamp(0, 255).to(torch.uint8)
    if len(w) == IMAGE_SIDE * IMAGE_SIDE:
        return pixels.reshape(IMAGE_SIDE, IMAGE_SIDE)
    columns = math.ceil(math.sqrt(len(w)))
    rows = math.ceil(len(w) / columns)
    grid = torch.full((rows * columns,), 128, dtype=torch.uint8)
    grid[: len(w)] = pixels
    return grid.reshape(rows, columns)


def strongest_units(W: torch.Tensor, unit: int, count: int = 5) -> list[tuple[int, float]]:
    """The ``count`` units of the next layer that unit ``unit`` (row ``unit`` of ``W``) drives
    hardest, by the size of the weight, with the weight."""
    row = W[unit].detach().float().cpu()
    order = row.abs().argsort(descending=True, stable=True)[:count]
    return [(int(u), float(row[u])) for u in order]


def strongest_classes(W2: torch.Tensor, unit: int) -> list[tuple[int, float]]:
    """Every class with the weight from hidden unit ``unit`` to its logit, strongest first."""
    row = W2[unit].detach().float().cpu()
    order = row.argsort(descending=True, stable=True)
    return [(int(c), float(row[c])) for c in order]
