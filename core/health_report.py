"""What the health figures say, as plain frozen data: the trainer's ``Health`` event carries it,
the store keeps it, the app draws it. Computed in ``health.py``; the hints in ``hints.py``.

Histograms share one set of bins for every layer, epoch and run, so that epochs stack into a
heat map and two runs compare: bins on a signed log scale (``EDGES``), three a decade from
1e-3 to 10 each side of a middle bin for |x| < 1e-3, and one past 10 at each end. Weights and
activations span orders of magnitude as a run goes well or badly; a linear range fixed at the
start would lose them, one drawn per epoch would not line up.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

PER_DECADE = 3
SMALLEST, LARGEST = -3, 1  # decades: |x| from 1e-3 to 10 gets its own bins
_MAGNITUDES = tuple(
    10.0 ** (SMALLEST + k / PER_DECADE) for k in range((LARGEST - SMALLEST) * PER_DECADE + 1)
)
EDGES: tuple[float, ...] = (*(-m for m in reversed(_MAGNITUDES)), *_MAGNITUDES)
BINS = len(EDGES) + 1  # below the first edge, between each pair, above the last


@dataclass(frozen=True)
class LayerHealth:
    """One layer's figures after an epoch. ``name``: "1", "2"... for the hidden layers, then
    "output". None where a figure does not apply (dead units of tanh, activations of the
    output layer) or was not measured (no step sampled yet)."""

    name: str
    units: int
    dead: float | None  # share of units never active on the test set (relu, leaky_relu, gelu)
    saturated: float | None  # share of the test set's activations saturated (sigmoid, tanh)
    alike: bool  # every unit has the same weights: nothing tells them apart (symmetry)
    weight_norm: float  # ||W||, Frobenius
    grad_norm: float | None  # ||dL/dW|| at the latest sampled step
    update_ratio: float | None  # ||dW|| / ||W|| of a step: the median of the epoch's samples
    max_update_ratio: float | None  # the largest of them
    weights: tuple[int, ...]  # histogram of W in EDGES' bins
    activations: tuple[int, ...] | None  # of the test set's activations (hidden layers)


@dataclass(frozen=True)
class HealthReport:
    """The network after ``epoch`` epochs (0: as initialised), at batch ``step`` of the run."""

    epoch: int
    step: int
    layers: tuple[LayerHealth, ...]
    samples: int  # steps whose update was measured since the last report

    @property
    def hidden(self) -> tuple[LayerHealth, ...]:
        return self.layers[:-1]


@dataclass(frozen=True)
class Hint:
    """A pathology in plain words (``text``) and what to try (``advice``), from ``kind``'s
    rule, raised in epoch ``epoch`` (the epoch under way, or the one just done) at batch
    ``step``."""

    kind: str
    epoch: int
    step: int
    text: str
    advice: str

    @property
    def line(self) -> str:
        """The hint in one line, as a headless run prints it."""
        return f"{self.text} Try: {self.advice}."


def layer_to_json(layer: LayerHealth) -> str:
    """A layer's figures as the run store keeps them."""
    return json.dumps(asdict(layer))


def layer_from_json(text: str) -> LayerHealth:
    figures = json.loads(text)
    for name in ("weights", "activations"):
        if figures.get(name) is not None:
            figures[name] = tuple(figures[name])
    return LayerHealth(**figures)
