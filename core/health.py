"""Training health, measured off the hot path: dead units, saturation, norms, update ratios and
histograms, once an epoch; the plain-language hints about them are ``hints.py``'s.

Two cheap taps feed it. Every ``SAMPLE_EVERY`` batches the trainer brackets one step with
``before_step`` / ``after_step``: one copy of the parameters (they share one buffer) and a norm
per weight give ||dW|| / ||W|| and the gradient's norm. At the epoch's end the test-set
evaluation hands each hidden layer's activations, chunk by chunk, to a ``Tally`` (dead units,
saturation, and a histogram of the first ``HISTOGRAM_ROWS`` images). Figures stay on the
device until the report reads them, so the GPU path gains no host sync per batch.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence

import torch

from . import activations, health_state
from .config import TrainConfig
from .data import to_unit
from .events import EpochReport, Health
from .fused_step import plain_sgd
from .health_report import EDGES, HealthReport, Hint, LayerHealth
from .hints import HintBook
from .model import ScratchMLP

SAMPLE_EVERY = 200  # batches between two measured steps (the run's first batch is one)
HISTOGRAM_ROWS = 512  # test images whose activations are binned (131,072 values of 256 units)
RELU_LIKE = ("relu", "leaky_relu", "gelu")  # a unit is active where its output is > 0
SATURATED = 0.99  # tanh beyond +-0.99, sigmoid below 0.01 or above 0.99: gradient ~0
ALIKE = 1e-6  # units whose weights differ by less than this share of the layer's norm


def histogram(values: torch.Tensor) -> torch.Tensor:
    """Counts of ``values`` in EDGES' bins (on their device)."""
    edges = torch.tensor(EDGES, dtype=values.dtype, device=values.device)
    bins = torch.bucketize(values.reshape(-1), edges)
    return torch.bincount(bins, minlength=len(EDGES) + 1)


class Tally:
    """Collects the hidden activations ``evaluate`` passes it: ``tally(layer, H)``."""

    def __init__(self, net: ScratchMLP) -> None:
        self.activation = net.activation
        # Each unit's largest activation: one reduction a chunk (a unit is dead where it is <= 0).
        self.peak = [torch.full((w,), -torch.inf, device=net.flat.device) for w in net.layers]
        self.saturated = [torch.zeros((), device=net.flat.device) for _ in net.layers]
        self.hist = [torch.zeros(len(EDGES) + 1, dtype=torch.long) for _ in net.layers]
        self.rows = [0] * len(net.layers)  # binned
        self.seen = [0] * len(net.layers)  # tallied

    def __call__(self, layer: int, H: torch.Tensor) -> None:
        if self.activation in RELU_LIKE:
            torch.maximum(self.peak[layer], H.amax(dim=0), out=self.peak[layer])
        elif self.activation == "tanh":
            self.saturated[layer] += (H.abs() > SATURATED).sum()
        else:  # sigmoid
            self.saturated[layer] += ((H < 1 - SATURATED) | (H > SATURATED)).sum()
        if self.rows[layer] < HISTOGRAM_ROWS:
            take = H[: HISTOGRAM_ROWS - self.rows[layer]]
            self.hist[layer] += histogram(take).cpu()
            self.rows[layer] += len(take)
        self.seen[layer] += len(H)

    def figures(self) -> list[tuple[float | None, float | None, tuple[int, ...]]]:
        """Per hidden layer: (dead share, saturated share, activation histogram)."""
        out = []
        for peak, saturated, hist, seen in zip(self.peak, self.saturated, self.hist, self.seen):
            relu_like = self.activation in RELU_LIKE
            dead = float((peak <= 0).float().mean()) if relu_like else None
            sat = None if relu_like else float(saturated) / max(seen * len(peak), 1)
            out.append((dead, sat, tuple(hist.tolist())))
        return out


def observe(net: ScratchMLP, X: torch.Tensor, tally: Tally, chunk: int = 256) -> None:
    """Hand ``X``'s hidden activations to ``tally`` without the logits (the report at
    initialisation, and the autograd engine's evaluation, which computes them its own way)."""
    with torch.no_grad():
        for i in range(0, len(X), chunk):
            rows = X[i : i + chunk]
            rows = to_unit(rows) if rows.dtype == torch.uint8 else rows
            for layer, (W, b) in enumerate(net.hidden_layers):
                rows = activations.forward(net.activation, torch.addmm(b, rows, W), inplace=True)
                tally(layer, rows)


class HealthMonitor:
    """The trainer's: samples steps, turns an epoch's tally into a report and its hints."""

    def __init__(self, net: ScratchMLP, every: int = SAMPLE_EVERY) -> None:
        self.net, self.every = net, every
        self.next_sample = 0  # the run's batch whose step is measured next
        self.book = HintBook()
        self.reports = 0
        self.history: list[HealthReport] = []  # every report so far, and every hint
        self.hints: list[Hint] = []
        self._before: torch.Tensor | None = None
        self._views: list[torch.Tensor] = []  # each weight's place in ``_before``
        self._samples: list[torch.Tensor] = []  # per sample: ||dW||, ||grad||, ||W|| per layer

    # ------------------------------------------------------------------ sampled steps
    def before_step(self, step: int) -> None:
        """Call before the run's batch ``step`` trains, when ``step >= next_sample``."""
        flat = self.net.flat
        if self._before is None:
            self._before = torch.empty_like(flat)
            base = flat.storage_offset()
            self._views = [
                self._before.as_strided(w.shape, w.stride(), w.storage_offset() - base)
                for w in self.net.weights
            ]
        self._before.copy_(flat)
        self.next_sample = (step // self.every + 1) * self.every

    def after_step(self, optimizer: torch.optim.Optimizer) -> None:
        """The step's ||dW|| per weight, and the gradient's norm: dW / lr for plain SGD (the
        fused step writes no gradient then), else the gradient the step left in ``.grad``."""
        with torch.no_grad():
            moved = [torch.linalg.vector_norm(w - b) for w, b in zip(self.net.weights, self._views)]
            if plain_sgd(optimizer):
                lr = optimizer.param_groups[0]["lr"]
                grads = [m / lr for m in moved]
            else:
                grads = [
                    torch.linalg.vector_norm(w.grad) if w.grad is not None else torch.zeros(())
                    for w in self.net.weights
                ]
            before = [torch.linalg.vector_norm(b) for b in self._views]
            self._samples.append(torch.stack([*moved, *grads, *before]))

    # ------------------------------------------------------------------ reports
    def tally(self) -> Tally:
        return Tally(self.net)

    def initial(self, test_x: torch.Tensor, config: TrainConfig, step: int = 0) -> Health:
        """The network as initialised: its weights, and the hints that show already."""
        tally = self.tally()
        observe(self.net, test_x, tally, 256 if test_x.device.type == "cpu" else 16384)
        return self.epoch_end(0, step, tally, [], config)

    def epoch_end(
        self,
        epoch: int,
        step: int,
        tally: Tally,
        history: Sequence[EpochReport],
        config: TrainConfig,
    ) -> Health:
        report = self.report(epoch, step, tally)
        hints = self.book.after_epoch(report, history, config)
        self.history.append(report)
        self.hints.extend(hints)
        return Health(report, hints)

    def diverged(self, **figures) -> Health:
        """A refused batch: no report, its hint (``HintBook.diverged``'s figures)."""
        hint = self.book.diverged(**figures)
        self.hints.append(hint)
        return Health(None, (hint,))

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict:
        """The history so far, as plain data (``health_state.py``): a checkpoint or a fork
        carries it, so that the run's health view and hints go on where they were."""
        pending = torch.stack(self._samples).cpu().tolist() if self._samples else []
        return health_state.to_plain(
            self.history, self.hints, self.book.seen, self.next_sample, pending
        )

    def load_state_dict(self, plain: dict | None) -> None:
        """Go on from ``state_dict()``'s data; None (a checkpoint from before it was kept)
        starts the history empty, sampling at the next step."""
        if plain is None:
            self.history, self.hints, self.book = [], [], HintBook()
            self.next_sample, self._samples = 0, []
            return
        health_state.check(plain)
        self.history = health_state.reports(plain)
        self.hints = health_state.hints(plain)
        self.book = HintBook()
        self.book.seen.update(plain["seen"])
        self.next_sample = plain["next_sample"]
        device = self.net.flat.device
        self._samples = [torch.tensor(row, device=device) for row in plain["pending"]]
        self.reports = len(self.history)

    def report(self, epoch: int, step: int, tally: Tally) -> HealthReport:
        net, samples, self._samples = self.net, self._samples, []
        weights = net.weights
        depth = len(weights)
        # One read per figure kind: ||dW|| and ||grad|| of each sample, then the weights' norms.
        sampled = torch.stack(samples).cpu().tolist() if samples else []
        with torch.no_grad():
            norms = torch.stack([torch.linalg.vector_norm(w) for w in weights]).cpu().tolist()
            alike = [_alike(W, b) for W, b in net.hidden_layers]
            hists = [histogram(w.detach()).cpu() for w in weights]
        hidden = tally.figures()
        layers = []
        for i in range(depth):
            norm = norms[i]  # ratios against the weights as they were before each step
            ratios = [s[i] / s[2 * depth + i] for s in sampled if s[2 * depth + i] > 0]
            dead, saturated, acts = hidden[i] if i < len(hidden) else (None, None, None)
            layers.append(
                LayerHealth(
                    name=str(i + 1) if i < depth - 1 else "output",
                    units=int(weights[i].shape[1]),
                    dead=dead,
                    saturated=saturated,
                    alike=alike[i] if i < depth - 1 else False,
                    weight_norm=norm,
                    grad_norm=sampled[-1][depth + i] if sampled else None,
                    update_ratio=statistics.median(ratios) if ratios else None,
                    max_update_ratio=max(ratios) if ratios else None,
                    weights=tuple(hists[i].tolist()),
                    activations=acts,
                )
            )
        self.reports += 1
        return HealthReport(epoch, step, tuple(layers), len(sampled))


def _alike(W: torch.Tensor, b: torch.Tensor) -> bool:
    """Whether every unit of a layer of more than one has the same incoming weights and bias:
    then each gets the same gradient and they can never differ (all-zero initialisation)."""
    if W.shape[1] < 2:
        return False
    both = torch.cat([W, b.unsqueeze(0)])
    spread = torch.linalg.vector_norm(both - both[:, :1])
    return bool(spread <= ALIKE * torch.linalg.vector_norm(both))


__all__ = ["SAMPLE_EVERY", "HealthMonitor", "Hint", "Tally", "histogram", "observe"]
