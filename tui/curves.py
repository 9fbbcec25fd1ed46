"""The long series the plots draw: a moving average that is honest from its first point, and a
downsampling whose work per redraw is bounded however long the run.

Plain Python, no widgets: the loss plot, the numbers over the plots and the ghosts of past runs
all smooth the same way, so the smoothed loss in the status area is the plot's last point.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

# The smoothing steps `[` and `]` go through: the weight of the past (TensorBoard's slider).
SMOOTHINGS = (0.0, 0.5, 0.8, 0.9, 0.95, 0.98, 0.99, 0.995, 0.999)
DEFAULT_SMOOTHING = 0.95  # each new batch weighs 0.05, as the plot's average always did
CAPACITY = 1024  # buckets an envelope keeps: more than any terminal has braille columns


def next_smoothing(smoothing: float, step: int) -> float:
    """The smoothing ``step`` places along SMOOTHINGS (clamped at both ends)."""
    at = min(range(len(SMOOTHINGS)), key=lambda i: abs(SMOOTHINGS[i] - smoothing))
    return SMOOTHINGS[max(0, min(len(SMOOTHINGS) - 1, at + step))]


class DebiasedEma:
    """An exponential moving average with Adam's bias correction.

    A plain EMA started at 0 is pulled toward 0 for its first 1/(1-beta) points; one started
    at the first value (TensorBoard's) weighs that first value far above the ones after it.
    Dividing by the weight gathered so far, 1 - beta^t, weighs every point as it should from the
    start. The update is written so that the first point is exactly the first value and a
    constant series stays exactly constant. ``count`` lets one point stand for that many
    batches (a stored curve's bucket means). Values that are not finite are skipped.
    """

    def __init__(self, smoothing: float) -> None:
        self.beta = smoothing
        self.weight = 0.0  # 1 - beta^t: the share of the average that data fills so far
        self.value = math.nan

    def add(self, value: float, count: int = 1) -> float:
        if math.isfinite(value):
            keep = self.beta**count
            self.weight = keep * self.weight + (1.0 - keep)
            gain = (1.0 - keep) / self.weight  # 1.0 at the first point
            first = math.isnan(self.value)
            self.value = value if first else self.value + gain * (value - self.value)
        return self.value


def debiased_ema(
    values: Iterable[float], smoothing: float, counts: Iterable[int] | None = None
) -> list[float]:
    """Every point of the debiased EMA of ``values`` (see ``DebiasedEma``)."""
    ema = DebiasedEma(smoothing)
    if counts is None:
        return [ema.add(v) for v in values]
    return [ema.add(v, c) for v, c in zip(values, counts)]


class Envelope:
    """A series as at most ``capacity`` buckets of consecutive points, each keeping its lowest
    and highest point (where they fell) and its last one.

    Adding a point is O(1) (amortised: when the buckets are full, pairs merge and a bucket
    covers twice as many points); a redraw reads at most ``capacity`` buckets however long the
    run. A spike keeps its height, unlike a mean, and the last point drawn is always the last
    value, so the curve's end is never behind.
    """

    def __init__(self, capacity: int = CAPACITY) -> None:
        self.capacity = capacity
        self.stride = 1  # points per full bucket
        # [low x, low y, high x, high y, last x, last y, points]
        self.buckets: list[list[float]] = []
        self.count = 0

    def add(self, x: float, y: float) -> None:
        self.count += 1
        if self.buckets and self.buckets[-1][6] < self.stride:
            b = self.buckets[-1]
            if y < b[1]:
                b[0], b[1] = x, y
            if y > b[3]:
                b[2], b[3] = x, y
            b[4], b[5], b[6] = x, y, b[6] + 1
            return
        if len(self.buckets) == self.capacity:
            self.buckets = [_merge(a, b) for a, b in zip(self.buckets[::2], self.buckets[1::2])]
            self.stride *= 2
        self.buckets.append([x, y, x, y, x, y, 1])

    def extend(self, ys: Sequence[float], first_x: float = 1.0) -> None:
        for i, y in enumerate(ys):
            self.add(first_x + i, y)

    def points(self, max_points: int, extremes: bool = True) -> tuple[list[float], list[float]]:
        """(xs, ys) in order: the low and high of about ``max_points`` buckets, then the last
        point; at most 2 * max_points + 1 points. Without ``extremes``, each bucket's last
        point only: enough for a curve that is smooth already, at half the drawing."""
        buckets = self.buckets
        group = max(1, math.ceil(len(buckets) / max(max_points, 1)))
        xs: list[float] = []
        ys: list[float] = []
        for start in range(0, len(buckets), group):
            if not extremes:
                b = buckets[min(start + group, len(buckets)) - 1]
                xs.append(b[4])
                ys.append(b[5])
                continue
            b = buckets[start]
            for other in buckets[start + 1 : start + group]:
                b = _merge(b, other)
            first, second = sorted(((b[0], b[1]), (b[2], b[3])))
            for x, y in (first, second):
                if not xs or x != xs[-1]:
                    xs.append(x)
                    ys.append(y)
        if buckets and xs[-1] != buckets[-1][4]:
            xs.append(buckets[-1][4])
            ys.append(buckets[-1][5])
        return xs, ys


def _merge(a: list[float], b: list[float]) -> list[float]:
    low = (a[0], a[1]) if a[1] <= b[1] else (b[0], b[1])
    high = (a[2], a[3]) if a[3] >= b[3] else (b[2], b[3])
    return [*low, *high, b[4], b[5], a[6] + b[6]]


def envelope_of(xs: Sequence[float], ys: Sequence[float], capacity: int = CAPACITY) -> Envelope:
    out = Envelope(capacity)
    for x, y in zip(xs, ys):
        out.add(x, y)
    return out
