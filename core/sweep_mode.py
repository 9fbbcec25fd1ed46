"""How a sweep's members train: together as populations, or one by one, and why.

    plan = sweep_mode.plan(spec.members())           # "auto": together where it pays
    plan = sweep_mode.plan(members, "solo")          # or "together": as asked
    plan.together, plan.text                         # "together: 8 in 1 population"
    training = plan.training(report_s=0.25)          # for SweepRun(training=...)

A population (``population.py``) trains the members of one stack (same batch size,
activation, validation split and layer shapes) in one pass over the data, each member equal to
its solo run up to float rounding, for a fraction of the small operations K solo runs call.
"auto" trains together when every stack holds two members or more: as they are, or, where
their layers differ only in width and the activation pads exactly, zero-padded to the widest
when that wastes at most half again the members' own arithmetic. Otherwise (stacks of one,
widths far apart, sigmoid) one by one, which is what they would cost apart anyway. Members with
dropout or a fast precision (bf16, tf32), which a population does not take, always train one
by one, after the others.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .data import NUM_CLASSES, NUM_INPUTS
from .population import stack_key
from .sweep import Member
from .sweep_run import MemberTraining, PopulationTraining, SoloTraining, solo_only

MODES = ("auto", "together", "solo")
MAX_WASTE = 1.5  # padded arithmetic over the members' own, at most, for "auto" to pad


@dataclass(frozen=True)
class Plan:
    together: bool
    pad: bool
    text: str  # what the screen and the command line say: "together: 4 in 1 population"

    def training(self, report_s: float | None = None) -> MemberTraining:
        if not self.together:
            return SoloTraining()
        return PopulationTraining(pad=self.pad, report_s=report_s)


def plan(members: Sequence[Member], mode: str = "auto") -> Plan:
    """How ``members`` train under ``mode`` ("auto", "together" or "solo")."""
    if mode not in MODES:
        raise ValueError(f"unknown training mode {mode!r}")
    stackable = [m for m in members if not solo_only(m.config)]
    alone = len(members) - len(stackable)
    if mode == "solo":
        return Plan(False, False, "one by one (--solo)")
    if mode == "together":
        return Plan(True, False, _together(stackable, alone, _stacks(stackable, False)))
    if len(stackable) < 2:
        why = "dropout and fast precisions train alone" if alone else "one member"
        return Plan(False, False, f"one by one: {why}")
    stacks = _stacks(stackable, False)
    if min(len(s) for s in stacks) >= 2:
        return Plan(True, False, _together(stackable, alone, stacks))
    padded = _stacks(stackable, True)
    if min(len(s) for s in padded) < 2:
        return Plan(False, False, "one by one: no two members share a shape")
    waste = max(_padded_work(s) / sum(_work(m.config.layers) for m in s) for s in padded)
    if waste > MAX_WASTE:
        return Plan(False, False, f"one by one: padding to the widest would cost {waste:.1f}x")
    return Plan(True, True, _together(stackable, alone, padded) + ", zero-padded")


def _stacks(members: Sequence[Member], pad: bool) -> list[list[Member]]:
    groups: dict[tuple, list[Member]] = {}
    for m in members:
        groups.setdefault(stack_key(m.config, pad), []).append(m)
    return list(groups.values())


def _work(layers: Sequence[int]) -> int:
    """A member's multiply-adds per example: its weights."""
    sizes = (NUM_INPUTS, *layers, NUM_CLASSES)
    return sum(i * o for i, o in zip(sizes, sizes[1:]))


def _padded_work(stack: Sequence[Member]) -> int:
    widths = [max(w) for w in zip(*(m.config.layers for m in stack))]
    return len(stack) * _work(widths)


def _together(stackable: Sequence[Member], alone: int, stacks: list[list[Member]]) -> str:
    count = len(stacks)
    text = f"together: {len(stackable)} in {count} population{'s' * (count != 1)}"
    return text + (f", {alone} one by one (dropout or a fast precision)" if alone else "")
