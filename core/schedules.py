"""Learning-rate schedules: the lr of every batch as a pure function of where the run stands.

A schedule is written as text, the same on the command line, in the panel, in checkpoints and
in the run store:

- ``constant``: the seed's, the base lr throughout;
- ``step:E:F``: the base lr times F every E epochs (``step`` alone is ``step:3:0.1``);
- ``cosine``: from the base lr down to 0 at the run's end, along half a cosine;
- ``warmup:W``: a linear rise over the first W epochs (W may be a fraction, e.g. ``0.5``),
  from base / (W x batches an epoch) to the base lr, then cosine to 0 at the end;
- ``onecycle`` or ``onecycle:P``: Smith's one-cycle as ``torch.optim.lr_scheduler.OneCycleLR``
  draws it (cosine phases, the first P of the run, default 0.3): from base / 25 up to the
  base lr, then down to base / 25 / 10^4.

The base lr is the run's ``lr`` setting: changing it (``+``, ``-``, ``l``) rescales the whole
schedule. Positions are counted in batches from the run's start with the current epoch's batch
count (``step = epoch x batches + batch``), so a resumed run continues its schedule exactly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

KINDS = ("constant", "step", "cosine", "warmup", "onecycle")
PRESETS = ("constant", "step:3:0.1", "cosine", "warmup:1", "onecycle")  # the panel's ladder
ONECYCLE_DIV, ONECYCLE_FINAL_DIV = 25.0, 1e4  # OneCycleLR's div_factor and final_div_factor


@dataclass(frozen=True)
class Schedule:
    kind: str = "constant"
    every: int = 3  # step: epochs between drops
    factor: float = 0.1  # step: the multiplier at each drop
    warmup: float = 1.0  # warmup: epochs of linear rise
    pct: float = 0.3  # onecycle: the share of the run spent rising

    @property
    def constant(self) -> bool:
        return self.kind == "constant"

    def __str__(self) -> str:
        if self.kind == "step":
            return f"step:{self.every}:{self.factor:g}"
        if self.kind == "warmup":
            return f"warmup:{self.warmup:g}"
        if self.kind == "onecycle" and self.pct != 0.3:
            return f"onecycle:{self.pct:g}"
        return self.kind


def _number(text: str, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{what} {text!r} is not a number") from None
    if not math.isfinite(value):
        raise ValueError(f"{what} {text!r} is not finite")
    return value


def parse(text: str) -> Schedule:
    """A schedule from its text; ValueError with one line saying what is wrong."""
    parts = [p.strip() for p in text.strip().lower().split(":")]
    kind, args = parts[0], parts[1:]
    spelling = "constant, step:E:F, cosine, warmup:W or onecycle[:P]"
    if kind not in KINDS:
        raise ValueError(f"{text.strip()!r} is not a schedule; write {spelling}")
    if kind in ("constant", "cosine"):
        if args:
            raise ValueError(f"{kind} takes no arguments ({text.strip()!r})")
        return Schedule(kind)
    if kind == "step":
        if len(args) not in (0, 2):
            raise ValueError(f"write step:E:F, e.g. step:3:0.1 (not {text.strip()!r})")
        if not args:
            return Schedule("step")
        every, factor = _number(args[0], "step's epochs"), _number(args[1], "step's factor")
        if every != int(every) or not 1 <= every <= 100_000:
            raise ValueError(f"step's epochs {args[0]!r}: a whole number of epochs, at least 1")
        if not 0 < factor <= 10:
            raise ValueError(f"step's factor {args[1]!r} is outside (0, 10]")
        return Schedule("step", every=int(every), factor=factor)
    if kind == "warmup":
        if len(args) == 2 and args[1] == "cosine":
            args = args[:1]  # warmup:1:cosine says the same
        if len(args) != 1:
            raise ValueError(f"write warmup:W, W epochs of warm-up (not {text.strip()!r})")
        warmup = _number(args[0], "warm-up epochs")
        if not 0 < warmup <= 100_000:
            raise ValueError(f"warm-up epochs {args[0]!r}: more than 0")
        return Schedule("warmup", warmup=warmup)
    if len(args) > 1:
        raise ValueError(f"write onecycle or onecycle:P (not {text.strip()!r})")
    pct = _number(args[0], "one-cycle's rising share") if args else 0.3
    if not 0 < pct < 1:
        raise ValueError(f"one-cycle's rising share {pct:g} is outside (0, 1)")
    return Schedule("onecycle", pct=pct)


def canonical(text: str) -> str:
    """The schedule's one spelling (``Cosine`` and ``cosine`` are one config)."""
    return str(parse(text))


def _cosine(start: float, end: float, fraction: float) -> float:
    """From ``start`` at 0 to ``end`` at 1 along half a cosine (OneCycleLR's ``_annealing_cos``)."""
    return end + (start - end) / 2.0 * (math.cos(math.pi * fraction) + 1)


def lr_at(
    step: int, total_steps: int, steps_per_epoch: int, base_lr: float, schedule: Schedule
) -> float:
    """The lr of batch ``step`` (0 = the run's first) of ``total_steps``."""
    kind = schedule.kind
    if kind == "constant":
        return base_lr
    if kind == "step":
        return base_lr * schedule.factor ** (step // (schedule.every * steps_per_epoch))
    if kind == "cosine":
        return _cosine(base_lr, 0.0, min(step / max(total_steps, 1), 1.0))
    if kind == "warmup":
        rise = max(1, round(schedule.warmup * steps_per_epoch))
        if step < rise:
            return base_lr * (step + 1) / rise
        rest = max(total_steps - rise, 1)
        return _cosine(base_lr, 0.0, min((step - rise) / rest, 1.0))
    # onecycle, as OneCycleLR(max_lr=base_lr, total_steps, pct_start=pct, anneal_strategy="cos")
    initial = base_lr / ONECYCLE_DIV
    final = initial / ONECYCLE_FINAL_DIV
    peak = float(schedule.pct * total_steps) - 1
    last = total_steps - 1
    if step <= peak:
        return _cosine(initial, base_lr, step / peak if peak > 0 else 1.0)
    return _cosine(base_lr, final, min((step - peak) / max(last - peak, 1e-9), 1.0))


def plan(
    total_steps: int, steps_per_epoch: int, base_lr: float, schedule: Schedule, points: int
) -> tuple[list[int], list[float]]:
    """About ``points`` (step, lr) pairs over the whole run, for drawing it ahead."""
    every = max(1, -(-total_steps // max(points, 1)))
    steps = [*range(0, total_steps, every), max(total_steps - 1, 0)]
    lrs = [lr_at(s, total_steps, steps_per_epoch, base_lr, schedule) for s in steps]
    return steps, lrs
