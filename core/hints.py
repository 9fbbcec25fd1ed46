"""Plain-language hints: each rule looks at an epoch's health report (and the epochs so far)
and, when its pathology shows, says so with what to try. ``HintBook`` keeps a run's hints, so
that each kind is said once (a divergence each time it happens).

The thresholds are the usual rules of thumb: accuracy near chance (1 in 10 classes); a step
that changes a layer's weights by more than a tenth of their norm (or by less than 1e-5 of it:
~1e-3 is healthy); a layer of one unit; units with the same weights; validation accuracy that
falls epoch after epoch while training accuracy rises; an epoch's training loss ten times a
guess's (the divergence check off). On the seed's default run none fires.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Sequence

from .config import TrainConfig
from .events import EpochReport
from .health_report import HealthReport, Hint, LayerHealth

CHANCE_BELOW = 0.15  # test accuracy under this is guessing (chance: 0.10)
RATIO_HIGH = 1e-1  # ||dW|| / ||W|| of one step above this: the lr is too large...
RATIO_LOW = 1e-5  # ...below this (and above 0: no gradient at all is another story): too small
HEALTHY_RATIO = 1e-3
BOTTLENECK_UNITS = 1
NEARLY_ALL_DEAD = 0.95  # a layer's share of dead units that leaves the output next to nothing
OVERFIT_EPOCHS = 3  # compared with the 3 before: falling validation, rising training accuracy
OVERFIT_MARGIN = 0.01  # the validation accuracy's fall that counts
OVERFIT_GAP = 0.1  # and training accuracy at least this far above validation accuracy
CHANCE_LOSS = math.log(10)  # the cross-entropy of a uniform guess over 10 classes
BLOWN_UP = 10  # an epoch's training loss above this many times a guess's: blown up

Rule = Callable[[HealthReport, Sequence[EpochReport], TrainConfig], Hint | None]


def _names(layers: Sequence[LayerHealth]) -> str:
    names = [
        f"layer {layer.name}" if layer.name != "output" else "the output layer" for layer in layers
    ]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _lr(value: float) -> str:
    return f"{value:.2g}"


def _too_fast(report: HealthReport) -> list[LayerHealth]:
    return [
        r
        for r in report.layers
        if r.max_update_ratio is not None and r.max_update_ratio > RATIO_HIGH
    ]


def _too_slow(report: HealthReport) -> list[LayerHealth]:
    return [
        r
        for r in report.layers
        if r.max_update_ratio is not None and 0 < r.max_update_ratio < RATIO_LOW
    ]


def _narrow(report: HealthReport) -> list[LayerHealth]:
    return [layer for layer in report.hidden if layer.units <= BOTTLENECK_UNITS]


def chance(
    report: HealthReport, history: Sequence[EpochReport], config: TrainConfig
) -> Hint | None:
    """Test accuracy at chance after an epoch: every unit dead, or an lr far too high. Left to
    the symmetry, bottleneck and small-update hints when those explain it (a one-unit layer at
    chance is no sign of a high lr)."""
    if report.epoch == 0 or not history or history[-1].test_acc >= CHANCE_BELOW:
        return None
    if any(layer.alike for layer in report.hidden) or _too_slow(report) or _narrow(report):
        return None
    acc = (
        f"test accuracy {history[-1].test_acc:.1%} is chance (1 in 10 classes): the network"
        " is guessing"
    )
    dead = [layer for layer in report.hidden if (layer.dead or 0.0) >= NEARLY_ALL_DEAD]
    if dead:
        # A unit or two may survive a chaotic run (255 of 256 at lr 50 on one thread): chance too.
        parts = [
            f"every unit of hidden {_names([layer])}"
            if layer.dead == 1.0
            else f"{round((layer.dead or 0.0) * layer.units)} of the {layer.units} units of"
            f" hidden {_names([layer])}"
            for layer in dead
        ]
        whole = all(layer.dead == 1.0 for layer in dead)
        verb = "is" if len(parts) == 1 and whole else "are"
        which = f"{' and '.join(parts)} {verb} dead"
        sees = "nothing but" if whole else "next to nothing but"
        return Hint(
            "chance", report.epoch, report.step,
            f"{acc}; {which} (never active on the test set), so the output sees {sees}"
            " constants.",
            f"start again with a lower lr than {_lr(config.lr)}, e.g. {_lr(config.lr / 10)};"
            " init kaiming or activation leaky_relu keep units alive",
        )  # fmt: skip
    return Hint(
        "chance", report.epoch, report.step,
        f"{acc}; lr {_lr(config.lr)} is probably too high: each step jumps past what it learnt.",
        f"lr {_lr(config.lr / 10)} (10x lower)",
    )  # fmt: skip


def symmetry(
    report: HealthReport, history: Sequence[EpochReport], config: TrainConfig
) -> Hint | None:
    alike = [layer for layer in report.hidden if layer.alike]
    if not alike:
        return None
    units = alike[0].units
    return Hint(
        "symmetry", report.epoch, report.step,
        f"the {units} units of hidden {_names(alike)} are all alike (an all-zero initialisation):"
        " every unit gets the same gradient, so they stay copies of one another and nothing but"
        " the biases learn.",
        _symmetry_advice(config),
    )  # fmt: skip


def _symmetry_advice(config: TrainConfig) -> str:
    """What breaks the symmetry: with init normal (zero only through its scale), a scale."""
    if config.init == "normal" and config.init_scale == 0:
        return "init scale 0.01 (the seed's): random initial weights break the symmetry"
    return "init normal, xavier or kaiming: random initial weights break the symmetry"


def bottleneck(
    report: HealthReport, history: Sequence[EpochReport], config: TrainConfig
) -> Hint | None:
    narrow = _narrow(report)
    if not narrow:
        return None
    return Hint(
        "bottleneck", report.epoch, report.step,
        f"hidden {_names(narrow)} has a single unit: all the network knows about an image must"
        " pass through one number (a bottleneck), which cannot tell 10 classes apart well.",
        "a wider layer, e.g. hidden layers 256 (the seed's)",
    )  # fmt: skip


def blown_up(
    report: HealthReport, history: Sequence[EpochReport], config: TrainConfig
) -> Hint | None:
    """An epoch's training loss far above a guess's (ln 10), or not a number: what the
    divergence check would have refused, said when the check is off or lets it through."""
    if not history:
        return None
    loss = history[-1].train_loss
    if math.isfinite(loss) and loss <= BLOWN_UP * CHANCE_LOSS:
        return None
    what = "is not a number" if math.isnan(loss) else f"blew up to {loss:.3g}"
    factor = config.divergence_factor
    check = (
        "with the divergence check off nothing stopped it"
        if not factor
        else f"the divergence check (factor {factor:g}) let it through"
    )
    return Hint(
        "blown-up", report.epoch, report.step,
        f"the training loss {what} in epoch {history[-1].epoch} (a network that guesses"
        f" scores ln 10 = {CHANCE_LOSS:.2f}): lr {_lr(config.lr)} caused it, and {check}.",
        f"a lower lr, e.g. {_lr(config.lr / 10)}, and divergence factor 10 (the"
        " default), which stops a run at the first batch that jumps",
    )  # fmt: skip


def lr_too_high(
    report: HealthReport, history: Sequence[EpochReport], config: TrainConfig
) -> Hint | None:
    fast = _too_fast(report)
    if not fast:
        return None
    worst = max(r.max_update_ratio or 0.0 for r in fast)
    return Hint(
        "lr-high", report.epoch, report.step,
        f"steps are too large: one changed {_names(fast)} by {worst:.2g} of the weights' norm"
        f" (||dW||/||W||; about {HEALTHY_RATIO:g} is healthy, above {RATIO_HIGH:g} a step"
        " rewrites the weights).",
        f"a lower lr than {_lr(config.lr)}, e.g. {_lr(config.lr / 10)}",
    )  # fmt: skip


def lr_too_low(
    report: HealthReport, history: Sequence[EpochReport], config: TrainConfig
) -> Hint | None:
    slow = _too_slow(report)
    if not slow:
        return None
    best = max(r.max_update_ratio or 0.0 for r in slow)
    return Hint(
        "lr-low", report.epoch, report.step,
        f"steps are tiny: none changed {_names(slow)} by more than {best:.2g} of the weights'"
        f" norm (||dW||/||W||; about {HEALTHY_RATIO:g} is healthy, below {RATIO_LOW:g} the"
        " weights barely move).",
        f"a higher lr than {_lr(config.lr)}: about {_lr(config.lr * HEALTHY_RATIO / best)}"
        f" brings the ratio near {HEALTHY_RATIO:g}",
    )  # fmt: skip


def overfitting(
    report: HealthReport, history: Sequence[EpochReport], config: TrainConfig
) -> Hint | None:
    """Validation accuracy falling while training accuracy rises, over windows of epochs
    (their means: one noisy epoch at a high lr is not a trend)."""
    recent = history[-2 * OVERFIT_EPOCHS :]
    if len(recent) < 2 * OVERFIT_EPOCHS or any(r.val_acc is None for r in recent):
        return None
    before, after = recent[:OVERFIT_EPOCHS], recent[OVERFIT_EPOCHS:]
    val = [statistics.mean(r.val_acc or 0.0 for r in rows) for rows in (before, after)]
    train = [statistics.mean(r.train_acc for r in rows) for rows in (before, after)]
    memorising = train[1] - val[1] >= OVERFIT_GAP  # not a high lr's noise: train is ahead
    if not (val[1] < val[0] - OVERFIT_MARGIN and train[1] > train[0] and memorising):
        return None
    best = max((r for r in history if r.val_acc is not None), key=lambda r: r.val_acc or 0.0)
    span = f"epochs {after[0].epoch}-{after[-1].epoch}"
    return Hint(
        "overfitting", report.epoch, report.step,
        f"validation accuracy is falling ({val[0]:.1%} on average, then {val[1]:.1%} over"
        f" {span}) while training accuracy rises ({train[0]:.1%}, then {train[1]:.1%}): the"
        " network is memorising its training images (overfitting).",
        f"stop at the best epoch ({best.epoch}, {best.val_acc:.1%}), or regularise: weight"
        " decay 1e-4, dropout 0.5, or more training images",
    )  # fmt: skip


RULES: tuple[Rule, ...] = (
    symmetry, bottleneck, blown_up, chance, lr_too_high, lr_too_low, overfitting,
)  # fmt: skip


class HintBook:
    """A run's hints so far; each rule's kind is said once."""

    def __init__(self) -> None:
        self.seen: set[str] = set()

    def after_epoch(
        self, report: HealthReport, history: Sequence[EpochReport], config: TrainConfig
    ) -> tuple[Hint, ...]:
        """The hints ``report`` raises that were not said before."""
        found = (rule(report, history, config) for rule in RULES)
        new = tuple(h for h in found if h is not None and h.kind not in self.seen)
        self.seen.update(h.kind for h in new)
        return new

    def diverged(
        self,
        *,
        epoch: int,
        batch: int,
        step: int,
        loss: float,
        reference: float,
        factor: float,
        lr: float,
    ) -> Hint:
        """A refused batch: its loss, the limit it broke, and the lr that took it there.
        ``epoch`` counts the epochs done, as the trainer does; the hint is numbered by the
        epoch under way (``epoch + 1``), the one it names, as an epoch's rules number theirs
        by the epoch that raised them (before, ``epoch 4: the run diverged at epoch 5``)."""
        what = "not a number" if loss != loss else f"{loss:.3g}"
        return Hint(
            "diverged", epoch + 1, step,
            f"the run diverged at epoch {epoch + 1}, batch {batch + 1}: its loss ({what}) was"
            f" refused (the limit is {factor:g} x the first batch's {reference:.3g}); lr"
            f" {_lr(lr)} caused it.",
            f"a lower lr, e.g. {_lr(lr / 10)}, then resume (the parameters were kept from"
            " before the jump)",
        )  # fmt: skip
