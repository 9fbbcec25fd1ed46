"""Run configuration: one frozen dataclass whose defaults are the seed notebook's."""

from __future__ import annotations

import dataclasses
import enum
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

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

    def replace(self, **changes: Any) -> TrainConfig:
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


class Change(str, enum.Enum):
    """When a new value for a field reaches a run that is under way."""

    LIVE = "live"  # from the next batch
    NEXT_EPOCH = "next epoch"  # from the next epoch's first batch
    NEW_RUN = "new run"  # defines the network or where it trains: only a new run takes it


@dataclass(frozen=True)
class Field:
    """One TrainConfig field: its words on screen, when a change applies, how it is parsed.

    ``resumable`` says whether a checkpoint may be continued with a new value: the device and
    the engine may change there, what drew the network (its size, scale and seed) may not."""

    label: str
    change: Change
    parse: Callable[[str, str], Any]
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    resumable: bool = True


def _text(name: str, text: str) -> str:
    value = text.strip()
    if not value:
        raise ConfigError(f"{name}: a value is required")
    return value


def _engine(name: str, text: str) -> str:
    value = text.strip()
    if value not in ENGINES:
        raise ConfigError(f"{name}: {value!r} is not one of {', '.join(ENGINES)}")
    return value


# The one table of what each field is. Bounds are generous but keep a run meaningful and in
# memory. The trainer, the checkpoint loader, the CLI and the app's panel all read it.
FIELDS: dict[str, Field] = {
    "epochs": Field("epochs", Change.LIVE, _integer, 1, 100_000),
    "lr": Field("learning rate", Change.LIVE, _number, 0.0, 1e6, low_open=True),
    "batch_size": Field("batch size", Change.NEXT_EPOCH, _integer, 1, 65_536),
    "hidden": Field("hidden units", Change.NEW_RUN, _integer, 1, 16_384, resumable=False),
    "init_scale": Field(
        "init scale", Change.NEW_RUN, _number, 0.0, 100.0, low_open=True, resumable=False
    ),
    "momentum": Field("momentum", Change.LIVE, _number, 0.0, 0.999),
    "weight_decay": Field("weight decay", Change.LIVE, _number, 0.0, 1.0),
    "seed": Field("seed", Change.NEW_RUN, _integer, 0, 2**63 - 1, resumable=False),
    "device": Field("device", Change.NEW_RUN, _text),
    "divergence_factor": Field("divergence factor", Change.LIVE, _number, 1.0, 1e12, low_open=True),
    "engine": Field("engine", Change.NEW_RUN, _engine),
}


def fields_that_change(*changes: Change) -> tuple[str, ...]:
    """The names of the fields whose changes apply as ``changes`` say, in the table's order."""
    return tuple(name for name, field in FIELDS.items() if field.change in changes)


def parse_field(name: str, text: str) -> object:
    """Parse a user-typed value for a TrainConfig field; raise ConfigError with one clear line."""
    field = FIELDS.get(name)
    if field is None:
        raise ConfigError(f"unknown setting {name!r}")
    value = field.parse(field.label, text)  # messages in the screen's words: "batch size"
    if field.low is not None and field.high is not None:
        _in_range(field.label, value, field.low, field.high, low_open=field.low_open)
    return value
