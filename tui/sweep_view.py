"""What the sweep screen shows while a sweep trains, built from the sweep's events on the UI
thread: each member's status, run id, loss curve and accuracy by epoch, and how the members
train (``mode``: together as populations, or one by one; ``core.sweep_mode``)."""

from __future__ import annotations

from dataclasses import dataclass, field

from mlp_tui.core.events import BatchReport, EpochReport
from mlp_tui.core.sweep import Member
from mlp_tui.core.sweep_run import (
    MemberEnded,
    MemberEvent,
    MemberStarted,
    SweepEnded,
    SweepEvent,
    SweepStarted,
)

MAX_POINTS = 400  # of each member's loss curve: every report's mean, thinned when longer


@dataclass
class MemberView:
    member: Member
    run: str = "-"
    status: str = "pending"
    losses: list[tuple[float, float]] = field(default_factory=list)  # (epoch, mean loss)
    accuracies: list[tuple[int, float]] = field(default_factory=list)  # val (else test) acc
    epoch: int = 0
    batch: tuple[int, int] = (0, 0)
    reason: str = ""  # why it failed or diverged


class SweepView:
    def __init__(self) -> None:
        self.sweep = ""
        self.members: list[MemberView] = []
        self.current: MemberView | None = None  # the member heard from last
        self.status = "starting"
        self.mode = ""  # "together: 3 members as 1 population", "one by one: ..."

    def apply(self, event: SweepEvent) -> None:
        if isinstance(event, SweepStarted):
            self.sweep, self.status = event.sweep, "running"
            self.members = [MemberView(m) for m in event.members]
            for index in event.done:
                self.members[index].status = "done before"
        elif isinstance(event, MemberStarted):
            self.current = view = self.members[event.member.index]
            view.run, view.status = event.run, "running"
        elif isinstance(event, MemberEnded):
            view = self.members[event.member.index]
            view.status, view.reason = event.status, event.reason
        elif isinstance(event, SweepEnded):
            self.status, self.current = event.status, None
        elif isinstance(event, MemberEvent):
            view = self.members[event.member.index]
            self._member_event(view, event.event)
            if isinstance(event.event, BatchReport):
                self.current = view

    @staticmethod
    def _member_event(view: MemberView, event: object) -> None:
        if isinstance(event, BatchReport):
            at = event.epoch - 1 + event.batch / event.batches
            view.losses.append((at, sum(event.losses) / len(event.losses)))
            if len(view.losses) > MAX_POINTS:
                view.losses = view.losses[::2]
            view.batch = (event.batch, event.batches)
        elif isinstance(event, EpochReport):
            view.epoch = event.epoch
            acc = event.val_acc if event.val_acc is not None else event.test_acc
            view.accuracies.append((event.epoch, acc))

    @property
    def failures(self) -> str:
        """How many members failed and the first's reason ("2 failed: ..."), or ""."""
        failed = [m for m in self.members if m.status == "failed"]
        if not failed:
            return ""
        reason = f": {failed[0].reason}" if failed[0].reason else ""
        return f"{len(failed)} failed{reason}"

    @property
    def done(self) -> int:
        return sum(m.status not in ("pending", "running") for m in self.members)

    def headline(self) -> str:
        """One line: the sweep, how far, the member under way."""
        if not self.members:
            return "sweep: starting…"
        text = f"sweep {self.sweep}: {self.done}/{len(self.members)} done"
        if self.mode:
            text += f" · {self.mode}"
        current = self.current
        running = sum(m.status == "running" for m in self.members)
        if current is not None and running:
            epochs = current.member.config.epochs
            batch, batches = current.batch
            who = f"{current.run} {current.member.name}: " if running == 1 else ""
            text += f" · {who}epoch {current.epoch + 1}/{epochs}, batch {batch}/{batches}"
        elif self.status != "running":
            text += f" · {self.status}"
        if self.failures:
            text += f" · {self.failures}"
        return text
