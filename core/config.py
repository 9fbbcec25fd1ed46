"""Run configuration: one frozen dataclass whose defaults are the seed notebook's."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

ENGINES = ("fused", "autograd")


class ConfigError(ValueError):
    """A value a user typed or passed cannot be used; the message says why, in one line."""


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 10  # num_epochs = 10
    lr: float = 0.1  # torch.optim.SGD(params, lr=0.1)
    batch_size: int = 256  # batch_size = 256
    hidden: int = 256  # num_hiddens = 256
    init_scale: float = 0.01  # torch.randn(...) * 0.01
    momentum: float = 0.0  # plain SGD in the seed
    weight_decay: float = 0.0  # none in the seed
    seed: int = 0  # torch.manual_seed for init and shuffling
    device: str = "auto"  # auto: cuda, then mps, then cpu
    divergence_factor: float = 10.0  # diverged when loss > factor x first batch loss
    engine: str = "fused"  # fused: hand-written backward; autograd: the seed verbatim

    def validated(self) -> TrainConfig:
        """Return self, or raise ConfigError naming the first bad field."""
        for field in dataclasses.fields(self):
            parse_field(field.name, str(getattr(self, field.name)))
        return self

    def replace(self, **changes: object) -> TrainConfig:
        return dataclasses.replace(self, **changes).validated()


def _number(name: str, text: str) -> float:
    stripped = text.strip()
    if not stripped:
        raise ConfigError(f"{name}: a value is required")
    # float() also reads other scripts' digits ("０.１", "٣"); accept ASCII only.
    if not stripped.isascii():
        raise ConfigError(f"{name}: {text!r} is not a number")
    try:
        value = float(stripped)
    except ValueError:
        raise ConfigError(f"{name}: {text!r} is not a number") from None
    if math.isnan(value):
        raise ConfigError(f"{name}: nan is not allowed")
    if math.isinf(value):
        raise ConfigError(f"{name}: {text.strip()!r} is infinite or too large")
    return value


def _integer(name: str, text: str) -> int:
    value = _number(name, text)
    if value != int(value):
        raise ConfigError(f"{name}: {text.strip()!r} is not a whole number")
    try:
        return int(text.strip())  # exact where a float would round (seeds above 2**53)
    except ValueError:
        return int(value)  # "1e3", "2.0"


def _in_range(name: str, value: float, low: float, high: float, *, low_open: bool = False) -> None:
    too_low = value <= low if low_open else value < low
    if too_low or value > high:
        bracket = "(" if low_open else "["
        raise ConfigError(f"{name}: {value:g} is outside {bracket}{low:g}, {high:g}]")


# Field name -> (parser, low, high, low excluded). Bounds are generous but keep the run
# meaningful and in memory.
NUMERIC_FIELDS: dict[str, tuple] = {
    "lr": (_number, 0.0, 1e6, True),
    "init_scale": (_number, 0.0, 100.0, True),
    "momentum": (_number, 0.0, 0.999, False),
    "weight_decay": (_number, 0.0, 1.0, False),
    "divergence_factor": (_number, 1.0, 1e12, True),
    "epochs": (_integer, 1, 100_000, False),
    "batch_size": (_integer, 1, 65_536, False),
    "hidden": (_integer, 1, 16_384, False),
    "seed": (_integer, 0, 2**63 - 1, False),
}


def parse_field(name: str, text: str) -> object:
    """Parse a user-typed value for a TrainConfig field; raise ConfigError with one clear line."""
    if name in NUMERIC_FIELDS:
        parse, low, high, low_open = NUMERIC_FIELDS[name]
        value = parse(name, text)
        _in_range(name, value, low, high, low_open=low_open)
        return value
    if name == "device":
        value = text.strip()
        if not value:
            raise ConfigError("device: a value is required")
        return value
    if name == "engine":
        value = text.strip()
        if value not in ENGINES:
            raise ConfigError(f"engine: {value!r} is not one of {', '.join(ENGINES)}")
        return value
    raise ConfigError(f"unknown setting {name!r}")
