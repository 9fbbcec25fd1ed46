"""Sweep specs: which hyperparameters vary and how, expanded into the members to train.

A spec is a few ``field=values`` words, as typed on the command line or in the app's sweep
form: ``lr=0.03,0.1,0.3 hidden=64,256`` is a grid (every combination), ``lr=log:0.01:1
hidden=int:16:1024`` with ``trials`` a random search (``log:`` log-uniform, ``int:`` whole
numbers, ``uni:`` uniform; a comma list is drawn from uniformly). Any field of the FIELDS table
can be swept, and each value is read by that field's own parser, so a bad one is the same one
line as anywhere else. ``seeds`` repeats every configuration over that many seeds. Random
draws come from a generator seeded by ``draw_seed``: the same spec always gives the same
members, which is what lets a sweep be resumed by running it again.
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass

from .config import FIELDS, ConfigError, TrainConfig, parse_field, show_stored

DRAWS = ("log", "int", "uni")  # random-search distributions: log-uniform, whole, uniform
MAX_MEMBERS = 1000  # a typo such as lr=log:0.001:1 --trials 100000 is refused, not run
NOT_SWEPT = ("device",)  # where a run trains does not change what it learns
WHOLE = ("epochs", "batch_size", "hidden", "seed", "val")  # drawn as whole numbers


@dataclass(frozen=True)
class Axis:
    """One swept field: a list of values, or a range to draw from (``draw`` is set)."""

    field: str
    values: tuple = ()  # grid values, parsed; in a random search, drawn from uniformly
    draw: str = ""  # "log", "int" or "uni" for a range
    low: float = 0.0
    high: float = 0.0

    @property
    def text(self) -> str:
        """The axis as a user types it back: ``lr=0.03,0.1``, ``lr=log:0.01:1``."""
        if self.draw:
            return f"{self.field}={self.draw}:{typed(self.low)}:{typed(self.high)}"
        return f"{self.field}=" + ",".join(typed(v) for v in self.values)

    @property
    def label(self) -> str:
        return self.field.replace("_", " ")

    @property
    def numeric(self) -> bool:
        """Whether the values sit on a number line (a chart's x axis); layers do not."""
        return bool(self.draw) or all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in self.values
        )

    @property
    def log_scale(self) -> bool:
        """A learning rate, or a log-uniform draw, reads best on a log axis."""
        if self.draw:
            return self.draw == "log"
        if not self.numeric or not all(v > 0 for v in self.values):
            return False
        if self.field in ("lr", "weight_decay", "init_scale"):
            return True
        wide = max(self.values) >= 4 * min(self.values)  # widths 16, 64, 256: by factors
        return self.field in ("hidden", "batch_size") and wide

    def sample(self, rng: random.Random) -> object:
        if not self.draw:
            return self.values[rng.randrange(len(self.values))]
        if self.draw == "int":
            value: float = rng.randint(math.ceil(self.low), math.floor(self.high))
        elif self.draw == "log":
            value = math.exp(rng.uniform(math.log(self.low), math.log(self.high)))
        else:
            value = rng.uniform(self.low, self.high)
        if self.field in WHOLE:
            value = round(value)
        else:
            value = float(f"{value:.4g}")  # a name one can read and type back
        return parse_field(self.field, show_stored(value))  # the field's bounds still apply


@dataclass(frozen=True)
class Member:
    """One run of the sweep: its place in the expansion, its settings and its name."""

    index: int
    config: TrainConfig
    values: tuple  # the swept values, in the axes' order
    seed: int  # which repeat (0 .. seeds-1); the config's own seed is base seed + this
    name: str
    group: int  # the configuration it repeats: members with one group differ only by seed


@dataclass(frozen=True)
class SweepSpec:
    axes: tuple[Axis, ...]
    base: TrainConfig = TrainConfig()  # every setting not swept
    trials: int = 0  # 0: a grid; else this many random draws
    seeds: int = 1
    draw_seed: int = 0

    @property
    def text(self) -> str:
        """The spec in one line, the same for the same sweep: the store finds a sweep to
        resume by it. The fixed settings that are not the seed's are part of it."""
        words = [axis.text for axis in self.axes]
        if self.trials:
            words += [f"--trials {self.trials}", f"--draw-seed {self.draw_seed}"]
        if self.seeds > 1:
            words.append(f"--seeds {self.seeds}")
        seed = TrainConfig()
        swept = {axis.field for axis in self.axes}
        if "hidden" in swept or "layers" in swept:
            swept |= {"hidden", "layers"}
        for field in FIELDS:
            value = getattr(self.base, field)
            if field in swept or field in NOT_SWEPT or value == getattr(seed, field):
                continue
            if field == ("layers" if len(self.base.layers) == 1 else "hidden"):
                continue  # one layer is said by hidden, a stack by layers
            words.append(f"--{field.replace('_', '-')} {typed(value)}")
        return " ".join(words)

    @property
    def fields(self) -> tuple[str, ...]:
        return tuple(axis.field for axis in self.axes)

    def members(self) -> list[Member]:
        """Every member, configurations in order, each repeated over the seeds."""
        if self.trials:
            rng = random.Random(self.draw_seed)
            combos = [tuple(axis.sample(rng) for axis in self.axes) for _ in range(self.trials)]
        else:
            combos = list(itertools.product(*(axis.values for axis in self.axes)))
        out: list[Member] = []
        for group, values in enumerate(combos):
            changes = dict(zip(self.fields, values))
            for repeat in range(self.seeds):
                seed = self.base.seed + repeat if "seed" not in changes else changes["seed"]
                config = self.base.replace(**{**changes, "seed": seed})
                words = [f"{a.label} {show_stored(v)}" for a, v in zip(self.axes, values)]
                if self.seeds > 1:
                    words.append(f"seed {seed}")
                out.append(Member(len(out), config, values, repeat, ", ".join(words), group))
        return out


def typed(value: object) -> str:
    """A value as typed back, every digit kept (``repr`` of a float reads back exactly); a
    stack of layers as ``512x256``."""
    if isinstance(value, tuple):
        return "x".join(typed(v) for v in value)
    return repr(value) if isinstance(value, float) else str(value)


def parse_axis(word: str) -> Axis:
    """``field=values`` -> an Axis; ConfigError with one line naming what is wrong."""
    name, equals, text = word.partition("=")
    field = name.strip().replace("-", "_")
    if not equals:
        raise ConfigError(f"{word!r} is not field=values (e.g. lr=0.03,0.1,0.3)")
    if field not in FIELDS:
        raise ConfigError(f"{name.strip()!r} is not a setting; one of {', '.join(FIELDS)}")
    if field in NOT_SWEPT:
        raise ConfigError(f"{field} cannot be swept: it changes where a run trains, not what")
    kind, colon, rest = text.partition(":")
    if colon and kind.strip() in DRAWS:
        return _range(field, kind.strip(), rest)
    try:  # only log:, int: and uni: start a range; a schedule's step:1:0.1 is a value
        values = tuple(parse_field(field, item) for item in text.split(","))
    except ConfigError:
        if colon and FIELDS[field].low is not None:  # a number's field: a mistyped range
            raise ConfigError(
                f"{field}: {text!r}: a range is {', '.join(DRAWS)}:LOW:HIGH"
            ) from None
        raise
    if len(set(values)) != len(values):
        raise ConfigError(f"{field}: {text!r} names a value twice")
    return Axis(field, values)


def _range(field: str, kind: str, text: str) -> Axis:
    if FIELDS[field].low is None:
        raise ConfigError(f"{field} takes no range; list its values with commas")
    low_text, colon, high_text = text.partition(":")
    if not colon:
        raise ConfigError(f"{field}: {kind}:{text} needs two bounds, {kind}:LOW:HIGH")
    low, high = (_as_float(parse_field(field, t)) for t in (low_text, high_text))
    if not low < high:
        raise ConfigError(f"{field}: {kind}:{text}: the low bound must be below the high one")
    if kind == "log" and low <= 0:
        raise ConfigError(f"{field}: log:{text}: a log-uniform range starts above 0")
    if kind == "int" and math.floor(high) < math.ceil(low):
        raise ConfigError(f"{field}: int:{text} holds no whole number")
    return Axis(field, draw=kind, low=low, high=high)


def parse_spec(
    words: Sequence[str],
    base: TrainConfig | None = None,
    *,
    trials: int = 0,
    seeds: int = 1,
    draw_seed: int = 0,
) -> SweepSpec:
    """The sweep ``words`` describe, on top of ``base`` (the seed's settings when None);
    ConfigError for anything wrong."""
    base = base or TrainConfig()
    if not words:
        raise ConfigError("a sweep needs a field to sweep, e.g. lr=0.03,0.1,0.3")
    axes = tuple(parse_axis(word) for word in words)
    fields = [axis.field for axis in axes]
    for field in fields:
        if fields.count(field) > 1:
            raise ConfigError(f"{field} is swept twice; give its values once")
    if "hidden" in fields and "layers" in fields:
        raise ConfigError("hidden and layers say the same; sweep one of them")
    if seeds < 1:
        raise ConfigError(f"seeds: {seeds}; at least 1")
    if seeds > 1 and "seed" in fields:
        raise ConfigError("seed is swept and --seeds repeats over seeds: give one of them")
    if trials < 0:
        raise ConfigError(f"trials: {trials}; at least 1")
    if not trials and any(axis.draw for axis in axes):
        drawn = next(axis for axis in axes if axis.draw)
        raise ConfigError(f"{drawn.text} is a range: say how many draws with --trials N")
    spec = SweepSpec(axes, base, trials, seeds, draw_seed)
    count = (trials or math.prod(len(axis.values) for axis in axes)) * seeds
    if count > MAX_MEMBERS:
        raise ConfigError(f"the sweep has {count:,} members; at most {MAX_MEMBERS:,}")
    try:
        spec.members()  # every combination must make a config (dropout per layer, ...)
    except ConfigError as exc:
        raise ConfigError(f"a member of the sweep cannot run: {exc}") from None
    return spec


def _as_float(value: object) -> float:
    assert isinstance(value, (int, float))
    return float(value)
