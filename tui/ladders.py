"""Where left/right take a hyperparameter: the next value on a ladder a person would pick.

Learning rates and scales move in 1-2-5 steps (0.05, 0.1, 0.2, 0.5...), batch sizes and hidden
units in powers of two (a stack of layers: every layer at once), epochs and seeds by one;
activation, init, device and precision cycle through their choices (precision through those
this machine runs: fp32, then bf16 on a CPU with bf16, tf32 with a CUDA GPU). A value typed off
the ladder steps to the nearest rung in the chosen direction, so a single press never jumps two
rungs.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

from mlp_tui.core.config import (
    ACTIVATIONS,
    INITS,
    MAX_WIDTH,
    Change,
    fields_that_change,
    show_value,
)
from mlp_tui.core.config import FIELDS as CONFIG_FIELDS
from mlp_tui.core.schedules import PRESETS

NEW_RUN_FIELDS = fields_that_change(Change.NEW_RUN)  # define the network: a new run

# The panel's fields in the order it lists them, with their labels.
PANEL_ORDER = (
    "lr",
    "batch_size",
    "layers",
    "activation",
    "dropout",
    "epochs",
    "init",
    "init_scale",
    "momentum",
    "weight_decay",
    "seed",
    "device",
    "schedule",
    "slow",
    "divergence_factor",
    "precision",
)
SHORT_LABELS = {"divergence_factor": "divergence ×"}  # the panel has 14 cells for a label
FIELDS = tuple((name, SHORT_LABELS.get(name, CONFIG_FIELDS[name].label)) for name in PANEL_ORDER)
LABELS = {name: field.label for name, field in CONFIG_FIELDS.items()}
MOMENTA = (0.0, 0.5, 0.8, 0.9, 0.95, 0.99, 0.999)
DROPOUTS = (0.0, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9)
# Slow motion in batches a second, slowest first; 0 (full speed) is the fastest, at the end.
SLOW_RATES = (0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 0.0)
FACTORS = (2.0, 5.0, 10.0, 20.0, 100.0, 1000.0, 0.0)  # divergence factors; 0 is off, at the end
_EPS = 1e-9


def when_applied(field: str) -> str:
    """The panel's words for when a change to ``field`` takes effect."""
    return CONFIG_FIELDS[field].change.value


def one_two_five(value: float, direction: int, low: float, high: float) -> float | None:
    """The next rung of ..., 0.1, 0.2, 0.5, 1, 2, 5, ... above (+1) or below (-1) ``value``."""
    if value <= 0:
        return low if direction > 0 else None
    exponent = math.floor(math.log10(value))
    rungs = [float(f"{m}e{e}") for e in range(exponent - 1, exponent + 2) for m in (1, 2, 5)]
    if direction > 0:
        above = [r for r in rungs if r > value * (1 + _EPS) and r <= high]
        return min(above) if above else None
    below = [r for r in rungs if r < value * (1 - _EPS) and r >= low]
    return max(below) if below else None


def power_of_two(value: int, direction: int, low: int, high: int) -> int | None:
    if direction > 0:
        nxt = 1 << value.bit_length()  # smallest power of two above value
        return nxt if nxt <= high else None
    if value <= low:
        return None
    prev = 1 << ((value - 1).bit_length() - 1)  # largest power of two below value
    return max(prev, low)


def from_list(value: float, direction: int, rungs: tuple[float, ...]) -> float | None:
    if direction > 0:
        above = [r for r in rungs if r > value + _EPS]
        return above[0] if above else None
    below = [r for r in rungs if r < value - _EPS]
    return below[-1] if below else None


def each(values: tuple, one: Callable[[Any], Any]) -> tuple | None:
    """``one`` applied to every item (every layer moves together), or None when any ends."""
    moved = tuple(one(v) for v in values)
    return None if None in moved else moved


def cycle(value: object, direction: int, choices: Sequence[Any]) -> Any:
    names = list(choices)
    if value not in names:
        return names[0]
    return names[(names.index(value) + direction) % len(names)]


def devices() -> list[str]:
    """The device names that work on this machine, in the order left/right cycles them."""
    from mlp_tui.core.device import resolve_device  # torch: not before the first frame

    names = ["auto", "cpu"]
    for candidate in ("cuda", "mps"):
        try:
            resolve_device(candidate)
        except Exception:  # ConfigError, or a backend that fails to initialise
            continue
        names.append(candidate)
    return names


def precisions() -> list[str]:
    """The precisions some device of this machine runs, in the order left/right cycles them."""
    from mlp_tui.core import precision
    from mlp_tui.core.device import resolve_device

    names = ["fp32"]
    for name, device in (("bf16", "cpu"), ("tf32", "cuda")):
        try:
            precision.check(name, resolve_device(device))
        except Exception:  # ConfigError, or a backend that fails to initialise
            continue
        names.append(name)
    return names


def step(field: str, value: Any, direction: int) -> Any:
    """The value one press of right (+1) or left (-1) gives, or None at the end of the ladder."""
    if field == "lr":
        return one_two_five(float(value), direction, 1e-6, 1e3)
    if field == "init_scale":
        return one_two_five(float(value), direction, 1e-5, 10.0)
    if field == "weight_decay":
        if value == 0:
            return 1e-5 if direction > 0 else None
        if direction < 0 and float(value) <= 1e-5 * (1 + _EPS):
            return 0.0
        return one_two_five(float(value), direction, 1e-5, 1.0)
    if field == "momentum":
        return from_list(float(value), direction, MOMENTA)
    if field == "batch_size":
        return power_of_two(int(value), direction, 1, 65_536)
    if field == "hidden":
        return power_of_two(int(value), direction, 1, MAX_WIDTH)
    if field == "layers":
        assert isinstance(value, tuple)
        return each(value, lambda width: power_of_two(width, direction, 1, MAX_WIDTH))
    if field == "dropout":
        assert isinstance(value, tuple)
        return each(value, lambda rate: from_list(rate, direction, DROPOUTS))
    if field == "activation":
        return cycle(value, direction, ACTIVATIONS)
    if field == "init":
        return cycle(value, direction, INITS)
    if field in ("epochs", "seed"):
        low = 1 if field == "epochs" else 0
        new = int(value) + direction
        return new if new >= low else None
    if field == "device":
        return cycle(value, direction, devices())
    if field == "schedule":
        return cycle(value, direction, PRESETS)
    if field == "precision":
        return cycle(value, direction, precisions())
    if field == "slow":
        return along(float(value), direction, SLOW_RATES)
    if field == "divergence_factor":
        return along(float(value), direction, FACTORS)
    raise KeyError(field)


def along(value: float, direction: int, rungs: tuple[float, ...]) -> float | None:
    """The next rung of an ordered ladder (not sorted by value: 0 may be its top); a value off
    it steps to the first rung past it by value."""
    if value in rungs:
        at = rungs.index(value) + direction
        return rungs[at] if 0 <= at < len(rungs) else None
    numbers = [r for r in rungs if r]
    if direction > 0:
        return next((r for r in numbers if r > value), rungs[-1])
    return next((r for r in reversed(numbers) if r < value), None)


def show(field: str, value: object) -> str:
    """A value as the panel prints it: short, and exactly what would be typed back
    (``0.1``, a stack of layers as ``512,256``); slow motion and the divergence factor at 0
    are ``off``."""
    if field in ("slow", "divergence_factor") and value == 0:
        return "off"
    if field == "slow":
        return f"{value:g}/s"
    return show_value(value)
