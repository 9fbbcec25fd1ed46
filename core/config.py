"""Run configuration: one frozen dataclass whose defaults are the seed notebook's."""

from __future__ import annotations

import dataclasses
import enum
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

ENGINES = ("fused", "autograd")
PRECISIONS = ("fp32", "bf16", "tf32")  # fp32: the seed's; the others are opt-in (precision.py)
ACTIVATIONS = ("relu", "sigmoid", "tanh", "leaky_relu", "gelu")
INITS = ("normal", "zeros", "xavier", "kaiming")
MAX_DEPTH = 8  # hidden layers
MAX_WIDTH = 16_384  # units in one hidden layer
SEED_HIDDEN = 256  # num_hiddens = 256


class ConfigError(ValueError):
    """A value a user typed or passed cannot be used; the message says why, in one line."""


DEVICE_NAMES = re.compile(r"auto|cpu|mps|cuda(?::\d+)?")


def check_device_name(name: str) -> str:
    """``name``, lower-cased, or the ConfigError of one that names no kind of device. Torch-free
    (the app's launch says so before torch loads); whether this machine has the device is
    ``device.resolve_device``'s to say."""
    name = name.strip().lower()
    if not DEVICE_NAMES.fullmatch(name):
        raise ConfigError(f"device: {name!r} is not one of auto, cpu, cuda, cuda:N, mps")
    return name


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 10  # num_epochs = 10
    lr: float = 0.1  # torch.optim.SGD(params, lr=0.1)
    batch_size: int = 256  # batch_size = 256
    hidden: int = SEED_HIDDEN  # num_hiddens = 256; the one-layer spelling of ``layers``
    init_scale: float = 0.01  # torch.randn(...) * 0.01
    momentum: float = 0.0  # plain SGD in the seed
    weight_decay: float = 0.0  # none in the seed
    seed: int = 0  # torch.manual_seed for init and shuffling
    device: str = "auto"  # auto: cuda, then mps, then cpu
    divergence_factor: float = 10.0  # diverged when loss > factor x first batch loss; 0: off
    engine: str = "fused"  # fused: hand-written backward; autograd: the seed verbatim
    # The exercises' architecture: the seed is one hidden layer of 256, relu, randn * 0.01.
    layers: tuple[int, ...] = (SEED_HIDDEN,)  # hidden layers' widths, input side first
    activation: str = "relu"  # the seed's torch.max(X, 0)
    init: str = "normal"  # normal: randn * init_scale; xavier and kaiming set their own std
    dropout: tuple[float, ...] = (0.0,)  # one rate for every hidden layer, or one per layer
    val: int = 0  # training images held out as a validation set (none in the seed)
    schedule: str = "constant"  # the seed's one lr throughout; see schedules.py for the others
    slow: float = 0.0  # batches a second, to watch them one by one; 0 = full speed
    precision: str = "fp32"  # the seed's; bf16 (CPU) or tf32 (CUDA) products: precision.py

    def __post_init__(self) -> None:
        """``hidden`` and ``layers`` say the same thing for one layer: ``hidden == layers[0]``
        always. Given both, the one that is not the seed's wins; two that disagree are an
        error (``replace`` spares a caller that: ``hidden=N`` there means one layer of N)."""
        layers = _tuple("layers", self.layers, int)
        dropout = _tuple("dropout", self.dropout, float)
        if layers and layers[0] != self.hidden:
            if layers == (SEED_HIDDEN,):
                layers = (self.hidden,)
            elif self.hidden != SEED_HIDDEN:
                raise ConfigError(
                    f"hidden {self.hidden} and layers {show_value(layers)} disagree: give one "
                    "(hidden N is one layer of N)"
                )
        if len(dropout) <= max(1, len(layers)) and all(rate == dropout[0] for rate in dropout):
            dropout = dropout[:1]  # 0.5,0.5 for two layers is 0.5: one config, one name
        object.__setattr__(self, "layers", layers)
        object.__setattr__(self, "dropout", dropout)
        if layers:
            object.__setattr__(self, "hidden", layers[0])

    def validated(self) -> TrainConfig:
        """Return self, or raise ConfigError naming the first bad field."""
        for field in dataclasses.fields(self):
            parse_field(field.name, show_value(getattr(self, field.name), exact=True))
        if len(self.dropout) not in (1, len(self.layers)):
            raise ConfigError(
                f"dropout: {len(self.dropout)} rates for {len(self.layers)} hidden layers; "
                "give one rate, or one per layer"
            )
        return self

    def replace(self, **changes: Any) -> TrainConfig:
        """A copy with ``changes``, validated. ``hidden=N`` is one hidden layer of N;
        ``layers`` the whole stack."""
        if "hidden" in changes and "layers" not in changes:
            changes["layers"] = (changes["hidden"],)
        elif "layers" in changes and "hidden" not in changes:
            layers = _tuple("layers", changes["layers"], int)
            changes["hidden"] = layers[0] if layers else self.hidden
        return dataclasses.replace(self, **changes).validated()

    @property
    def dropout_per_layer(self) -> tuple[float, ...]:
        """One rate for each hidden layer."""
        if len(self.dropout) == 1:
            return self.dropout * len(self.layers)
        return self.dropout

    @property
    def architecture(self) -> str:
        """The network in a few words, e.g. ``784-512-256-10 tanh, dropout 0.5``."""
        from .data import NUM_CLASSES, NUM_INPUTS

        words = "-".join(str(n) for n in (NUM_INPUTS, *self.layers, NUM_CLASSES))
        words += f" {self.activation}"
        if any(self.dropout):
            words += f", dropout {show_value(self.dropout)}"
        return words


def _tuple(name: str, value: object, kind: type) -> tuple:
    """A field's value as a tuple: a list (from JSON) or one number is accepted too."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = (value,)
    if not isinstance(value, (list, tuple)) or not all(
        isinstance(v, (int, float)) and not isinstance(v, bool) for v in value
    ):
        raise ConfigError(f"{name}: {value!r} is not a tuple of numbers")
    return tuple(kind(v) if kind is float else v for v in value)


def show_value(value: object, exact: bool = False) -> str:
    """A value as a user would type it back: ``0.1``, ``512,256``. ``exact`` keeps every digit
    of a float (for validation); otherwise floats are shown short (``%g``)."""
    if isinstance(value, tuple):
        return ",".join(show_value(v, exact) for v in value)
    if isinstance(value, float) and not exact:
        return f"{value:g}"
    return str(value)


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


def _in_range(
    name: str,
    value: float,
    low: float,
    high: float,
    *,
    low_open: bool = False,
    typed: str | None = None,
    after: str = "",
) -> None:
    """ConfigError unless ``value`` is in the range; the message quotes ``typed``, what the
    user wrote, when given (``1e-400`` reads as 0, and "0 is outside" would puzzle)."""
    too_low = value <= low if low_open else value < low
    if too_low or value > high:
        bracket = "(" if low_open else "["
        shown = typed.strip() if typed else f"{value:g}"
        raise ConfigError(f"{name}: {shown} is outside {bracket}{low:g}, {high:g}]{after}")


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


def _choice(choices: tuple[str, ...]) -> Callable[[str, str], str]:
    def parse(name: str, text: str) -> str:
        value = text.strip()
        if value not in choices:
            raise ConfigError(f"{name}: {value!r} is not one of {', '.join(choices)}")
        return value

    return parse


_engine = _choice(ENGINES)


def _items(name: str, text: str) -> list[str]:
    """``512,256`` or the sweep spelling ``512x256``: the items, each stripped."""
    stripped = text.strip()
    if not stripped:
        raise ConfigError(f"{name}: a value is required")
    items = [item.strip() for item in stripped.replace("x", ",").split(",")]
    if "" in items:
        raise ConfigError(f"{name}: {stripped!r} has an empty item; write e.g. 512,256")
    return items


def _widths(name: str, text: str) -> tuple[int, ...]:
    widths = tuple(_integer(name, item) for item in _items(name, text))
    if len(widths) > MAX_DEPTH:
        raise ConfigError(f"{name}: {len(widths)} hidden layers; at most {MAX_DEPTH}")
    for width in widths:
        _in_range(name, width, 1, MAX_WIDTH)
    return widths


def _rates(name: str, text: str) -> tuple[float, ...]:
    rates = tuple(_number(name, item) for item in _items(name, text))
    if len(rates) > MAX_DEPTH:
        raise ConfigError(f"{name}: {len(rates)} rates; at most {MAX_DEPTH}, one per layer")
    for rate in rates:
        if not 0 <= rate < 1:
            raise ConfigError(f"{name}: {rate:g} is outside [0, 1)")
    return rates


def _factor(name: str, text: str) -> float:
    """The divergence factor: a number above 1, or ``off`` (kept as 0): no ratio check, so
    that a run can be watched diverging (a loss that is not a number still stops it)."""
    if text.strip().lower() == "off":
        return 0.0
    value = _number(name, text)
    if value == 0:
        return 0.0  # off, as stored (a config's validation reads back "0.0")
    _in_range(name, value, 1.0, 1e12, low_open=True, typed=text, after="; off (or 0): no check")
    return value


def _rate(name: str, text: str) -> float:
    """Slow motion in batches a second; ``off`` (0) is full speed. ``2/s`` reads as 2."""
    stripped = text.strip().lower().removesuffix("/s")
    if stripped == "off":
        return 0.0
    value = _number(name, stripped)
    _in_range(name, value, 0.0, 1000.0, typed=stripped)
    return value


def _schedule(name: str, text: str) -> str:
    from .schedules import canonical

    try:
        return canonical(text)
    except ValueError as exc:
        raise ConfigError(f"{name}: {exc}") from None


# The one table of what each field is. Bounds are generous but keep a run meaningful and in
# memory. The trainer, the checkpoint loader, the CLI and the app's panel all read it.
FIELDS: dict[str, Field] = {
    "epochs": Field("epochs", Change.LIVE, _integer, 1, 100_000),
    "lr": Field("learning rate", Change.LIVE, _number, 0.0, 1e6, low_open=True),
    "batch_size": Field("batch size", Change.NEXT_EPOCH, _integer, 1, 65_536),
    "hidden": Field("hidden units", Change.NEW_RUN, _integer, 1, MAX_WIDTH, resumable=False),
    # 0 is allowed: with init normal it is the all-zero initialisation (the symmetry hint's).
    "init_scale": Field("init scale", Change.NEW_RUN, _number, 0.0, 100.0, resumable=False),
    "momentum": Field("momentum", Change.LIVE, _number, 0.0, 0.999),
    "weight_decay": Field("weight decay", Change.LIVE, _number, 0.0, 1.0),
    "seed": Field("seed", Change.NEW_RUN, _integer, 0, 2**63 - 1, resumable=False),
    "device": Field("device", Change.NEW_RUN, _text),
    "divergence_factor": Field("divergence factor", Change.LIVE, _factor),
    "engine": Field("engine", Change.NEW_RUN, _engine),
    "layers": Field("hidden layers", Change.NEW_RUN, _widths, resumable=False),
    "activation": Field("activation", Change.NEW_RUN, _choice(ACTIVATIONS), resumable=False),
    "init": Field("init", Change.NEW_RUN, _choice(INITS), resumable=False),
    "dropout": Field("dropout", Change.NEW_RUN, _rates, resumable=False),
    "val": Field("validation images", Change.NEW_RUN, _integer, 0, 1_000_000, resumable=False),
    "schedule": Field("lr schedule", Change.LIVE, _schedule),
    "slow": Field("slow motion", Change.LIVE, _rate),
    # A new run: a run's figures are one precision's. A checkpoint may resume in another,
    # as with the engine: the weights and the update are float32 in every mode.
    "precision": Field("precision", Change.NEW_RUN, _choice(PRECISIONS)),
}
ARCHITECTURE = ("layers", "activation", "init", "dropout")  # beyond the seed's hidden


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
        _in_range(field.label, value, field.low, field.high, low_open=field.low_open, typed=text)
    return value


def as_stored(config: TrainConfig) -> dict[str, Any]:
    """``config`` as the run store and checkpoints keep it: JSON's types (tuples as lists)."""
    return {
        name: list(value) if isinstance(value, tuple) else value
        for name, value in dataclasses.asdict(config).items()
    }


def completed(stored: dict[str, Any]) -> dict[str, Any]:
    """A stored config with the fields it predates filled in: a run recorded before layers,
    activation, init and dropout existed was the seed's kind, one relu layer of ``hidden``."""
    defaults = as_stored(TrainConfig())
    filled = {**defaults, **stored}
    if "layers" not in stored and isinstance(stored.get("hidden"), int):
        filled["layers"] = [stored["hidden"]]
    return filled


def described_fields(stacks: list[object]) -> tuple[str, ...]:
    """The fields that describe configs whose ``layers`` are ``stacks``, in the table's order:
    ``hidden`` says one layer, ``layers`` a stack; never both (they say the same)."""
    deep = any(isinstance(s, (list, tuple)) and len(s) > 1 for s in stacks)
    return tuple(name for name in FIELDS if name != ("hidden" if deep else "layers"))


def show_stored(value: object) -> str:
    """A stored value in a table or a name: floats short, a stack as ``512x256``."""
    if isinstance(value, (list, tuple)):
        return "x".join(show_stored(v) for v in value)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)
