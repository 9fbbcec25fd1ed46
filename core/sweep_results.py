"""A sweep's results: its configurations ranked, mean ± std over seeds, from the store.

Configurations are ranked by their best validation accuracy, and the chosen one's test
accuracy is reported beside it, at the epoch its validation accuracy was best: the validation
set picks, the test set only says how well the pick does. Without a validation split
(``--val N``) they are ranked by test accuracy, and the results say that this is tuning on
the test set, whose winner's figure is optimistic.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from . import sweep_store
from .config import show_stored
from .store import RunRecord, RunStore
from .sweep import Member, SweepSpec


@dataclass(frozen=True)
class MemberResult:
    member: Member
    run: str | None  # r12; None: not trained yet
    status: str  # the run's, or "pending"
    epochs: int
    score: float | None  # best val acc (best test acc without a split)
    test_acc: float | None  # at the epoch of ``score``


@dataclass(frozen=True)
class ConfigResult:
    """One configuration: its members differ only by seed."""

    group: int
    values: tuple
    name: str
    members: tuple[MemberResult, ...]

    @property
    def scores(self) -> list[float]:
        return [m.score for m in self.members if m.score is not None]

    @property
    def score(self) -> float | None:
        return mean(self.scores)

    @property
    def score_std(self) -> float | None:
        return std(self.scores)

    @property
    def test_acc(self) -> float | None:
        return mean([m.test_acc for m in self.members if m.test_acc is not None])

    @property
    def test_std(self) -> float | None:
        return std([m.test_acc for m in self.members if m.test_acc is not None])

    @property
    def status(self) -> str:
        """diverged if any member did, else pending / running if any is, else finished."""
        statuses = {m.status for m in self.members}
        for status in ("diverged", "failed", "running", "paused", "pending"):
            if status in statuses:
                return status
        return "finished" if statuses == {"finished"} else ", ".join(sorted(statuses))


@dataclass(frozen=True)
class SweepResults:
    sweep: str  # s3
    spec: SweepSpec
    by_val: bool  # ranked by validation accuracy (else test accuracy: no split)
    ranked: tuple[ConfigResult, ...]  # best first; those with no score yet last

    @property
    def metric(self) -> str:
        return "val acc" if self.by_val else "test acc"

    @property
    def best(self) -> ConfigResult | None:
        return self.ranked[0] if self.ranked and self.ranked[0].score is not None else None

    @property
    def note(self) -> str:
        """How to read the ranking, in one line."""
        best = self.best
        if best is None:
            return "no member has finished an epoch yet"
        test = _pct(best.test_acc, best.test_std)
        if self.by_val:
            return (
                f"chosen by validation accuracy: {best.name}; its test accuracy {test} "
                "(the test set never chose, so this figure is fair)"
            )
        return (
            f"ranked by TEST accuracy: no validation split (--val N), so the test set chose "
            f"{best.name} and its {test} is optimistic; sweep with --val 5000 instead"
        )

    def as_dict(self) -> dict[str, Any]:
        """The JSON of ``mlp-tui sweep --json``: the configurations ranked, with run ids."""
        return {
            "sweep": self.sweep,
            "spec": self.spec.text,
            "ranked_by": "val_acc" if self.by_val else "test_acc",
            "note": self.note,
            "ranked": [
                {
                    "rank": rank,
                    "name": c.name,
                    "values": {
                        field: show_stored(v) if isinstance(v, tuple) else v
                        for field, v in zip(self.spec.fields, c.values)
                    },
                    "score": c.score,
                    "score_std": c.score_std,
                    "test_acc": c.test_acc,
                    "test_std": c.test_std,
                    "status": c.status,
                    "members": [
                        {
                            "run": m.run,
                            "seed": m.member.config.seed,
                            "status": m.status,
                            "epochs": m.epochs,
                            "score": m.score,
                            "test_acc": m.test_acc,
                        }
                        for m in c.members
                    ],  # fmt: skip
                }
                for rank, c in enumerate(self.ranked, 1)
            ],
        }


def mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def std(values: Sequence[float]) -> float | None:
    """The sample standard deviation (n - 1): None for fewer than two seeds."""
    if len(values) < 2:
        return None
    m = sum(values) / len(values)
    return math.sqrt(sum((v - m) ** 2 for v in values) / (len(values) - 1))


def _pct(value: float | None, spread: float | None = None) -> str:
    if value is None:
        return "-"
    return f"{100 * value:.2f}%" + ("" if spread is None else f" ± {100 * spread:.2f}")


def member_result(member: Member, record: RunRecord | None, by_val: bool) -> MemberResult:
    if record is None:
        return MemberResult(member, None, "pending", 0, None, None)
    epochs = record.epochs
    key = "val_acc" if by_val else "test_acc"
    best = max(epochs, key=lambda e: e[key] if e.get(key) is not None else -1.0, default=None)
    s = record.summary
    score = None if best is None else best.get(key)
    test = None if best is None else best.get("test_acc")
    return MemberResult(member, s.short_id, s.status, s.epochs, score, test)


def rank(spec: SweepSpec, sweep: str, records: dict[int, RunRecord]) -> SweepResults:
    """``records``: each member's run by the member's index (missing: not trained yet)."""
    members = spec.members()
    by_val = all(m.config.val > 0 for m in members)
    groups: dict[int, list[MemberResult]] = {}
    for member in members:
        groups.setdefault(member.group, []).append(
            member_result(member, records.get(member.index), by_val)
        )
    configs = []
    for group, results in groups.items():
        first = results[0].member
        name = ", ".join(f"{a.label} {show_stored(v)}" for a, v in zip(spec.axes, first.values))
        configs.append(ConfigResult(group, first.values, name, tuple(results)))
    ranked = sorted(configs, key=lambda c: (c.score is None, -(c.score or 0.0), c.group))
    return SweepResults(sweep, spec, by_val, tuple(ranked))


def load(store: RunStore, spec: SweepSpec, number: int) -> SweepResults:
    """The sweep's results as the store has them now (members under way included)."""
    runs = sweep_store.member_runs(store, number)
    by_run = {r.summary.id: r for r in store.records([s.id for s in runs.values()], losses=False)}
    records = {member: by_run[s.id] for member, s in runs.items() if s.id in by_run}
    return rank(spec, sweep_store.sweep_id(number), records)


def table(results: SweepResults) -> tuple[list[str], list[list[str]]]:
    """The ranking as a header and rows, for the CLI and the app alike."""
    seeds = results.spec.seeds
    score = results.metric + (f" (mean ± std, {seeds} seeds)" if seeds > 1 else "")
    test = "test acc" + (" at best val" if results.by_val else "")
    header = ["#", *(a.label for a in results.spec.axes), score, test, "status", "runs"]
    rows = []
    for at, c in enumerate(results.ranked, 1):
        runs = " ".join(m.run or "-" for m in c.members)
        rows.append([
            str(at), *(show_stored(v) for v in c.values), _pct(c.score, c.score_std),
            _pct(c.test_acc, c.test_std), c.status, runs,
        ])  # fmt: skip
    return header, rows
