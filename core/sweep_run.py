"""Runs a sweep: the members not yet done, each recorded as a run in the store.

``SweepRun.run()`` blocks (the CLI calls it on its main thread, the app in a worker). What it
has to say goes to ``on_event`` as the frozen dataclasses below, each member's trainer events
wrapped with the member they belong to; the app draws from them, the CLI prints them.

How the pending members are trained is one object with ``train`` and ``stop``
(``MemberTraining``): ``SoloTraining`` trains them one after the other with a solo Trainer
each. Population training (several members stacked in one batched step) can take its place
without the rest of the sweep knowing.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from . import sweep_store
from .config import ConfigError
from .data import FashionMNIST
from .events import Event, RunState, StateChanged
from .recorder import Recorder
from .store import RunStore, StoreError, short_id
from .sweep import Member, SweepSpec

if TYPE_CHECKING:
    from .config import TrainConfig
    from .population import Population
    from .trainer import Trainer


@dataclass(frozen=True)
class SweepStarted:
    sweep: str  # s3
    members: tuple[Member, ...]
    done: tuple[int, ...]  # members already done (a resumed sweep)
    resumed: bool


@dataclass(frozen=True)
class MemberStarted:
    member: Member
    run: str  # r12


@dataclass(frozen=True)
class MemberEvent:
    member: Member
    event: Event


@dataclass(frozen=True)
class MemberEnded:
    member: Member
    status: str  # finished, diverged, stopped or failed
    reason: str = ""


@dataclass(frozen=True)
class SweepEnded:
    sweep: str
    status: str  # finished, stopped, or failed (a member failed: it could not start, say)


SweepEvent = SweepStarted | MemberStarted | MemberEvent | MemberEnded | SweepEnded
Begin = Callable[[Member], Callable[[Event], None]]  # a member starts: where its events go


class MemberTraining(Protocol):
    def train(self, members: Sequence[Member], data: FashionMNIST, begin: Begin) -> None:
        """Train ``members``, calling ``begin(member)`` as each starts and giving its events to
        what that returns. A member that diverges is stopped (its parameters stay the last
        good ones) and the others go on."""

    def stop(self) -> None:
        """From any thread: end the member under way at its next batch, start no other."""


class SoloTraining:
    """The members one after the other, each with its own Trainer on this thread."""

    def __init__(self) -> None:
        self._stopping = threading.Event()
        self._current: Trainer | None = None
        self._lock = threading.Lock()

    def train(self, members: Sequence[Member], data: FashionMNIST, begin: Begin) -> None:
        from .trainer import Trainer  # torch's loop: loaded when a sweep trains

        for member in members:
            if self._stopping.is_set():
                return
            try:
                trainer = Trainer(member.config, data)
            except ConfigError as exc:
                cannot_start(begin, member, str(exc))
                continue
            with self._lock:
                self._current = trainer
            listen = begin(member)

            def on_event(event: Event, trainer: Trainer = trainer, listen=listen) -> None:
                listen(event)
                if not isinstance(event, StateChanged):
                    return
                if event.state is RunState.DIVERGED:
                    trainer.stop()  # frozen where it diverged; the sweep goes on
                elif event.state is RunState.RUNNING and self._stopping.is_set():
                    trainer.stop()  # asked before the loop could hear it: heard now

            trainer.on_event = on_event
            trainer.run()
            with self._lock:
                self._current = None

    def stop(self) -> None:
        self._stopping.set()
        with self._lock:
            if self._current is not None:
                self._current.stop()


def cannot_start(begin: Begin, member: Member, reason: str) -> None:
    """A member whose training cannot be set up (its settings on this machine, or with these
    data): a failed run, its reason said as its ending; the sweep goes on with the others."""
    begin(member)(StateChanged(RunState.FAILED, reason))


def check_members(members: Sequence[Member], data: FashionMNIST) -> None:
    """The ConfigError of a member that ``data`` cannot train, before anything is recorded:
    a validation split that leaves no training image (``--val 60000``)."""
    total = len((data.whole or data).train_y)
    for member in members:
        val = member.config.val
        if val and not 0 < val < total:
            who = "" if len({m.config.val for m in members}) == 1 else f"member {member.name}: "
            raise ConfigError(
                f"{who}validation images: {val:,} of {total:,} training images leave none to "
                "train on"
            )


def solo_only(config: TrainConfig) -> bool:
    """What a population does not train (``population.py`` refuses it): dropout, and the fast
    precisions, whose steps are the solo trainer's (``precision.py``)."""
    return any(config.dropout) or config.precision != "fp32"


class PopulationTraining:
    """The members trained together as populations (``population.py``): stacked by layer
    shape, each member equal to its solo run up to float rounding. Members with dropout or a
    fast precision (bf16, tf32), which a population does not take, are trained solo after them.
    A member that diverges is frozen by the population (its last accepted update is kept, not
    undone as a solo run would) and the others go on; its listener then hears it stopped, as a
    solo run's does.

    ``pad``: members whose layers differ only in width share a stack (``population.py``);
    ``report_s``: each member's batches are reported that often within an epoch (live
    curves), not only at its end."""

    def __init__(self, pad: bool = False, report_s: float | None = None) -> None:
        self.pad, self.report_s = pad, report_s
        self._stopping = threading.Event()
        self._population: Population | None = None
        self._solo = SoloTraining()
        self._lock = threading.Lock()

    def train(self, members: Sequence[Member], data: FashionMNIST, begin: Begin) -> None:
        from .population import Population

        together = [m for m in members if not solo_only(m.config)]
        alone = [m for m in members if solo_only(m.config)]
        if together and not self._stopping.is_set():
            try:
                population = Population(
                    [m.config for m in together], data, pad=self.pad, report_s=self.report_s
                )
            except ConfigError as exc:
                for member in together:
                    cannot_start(begin, member, str(exc))
                together = []
        if together and not self._stopping.is_set():
            with self._lock:
                self._population = population
            if self._stopping.is_set():  # asked while it was being built
                population.stop()
            listeners = [begin(m) for m in together]  # all start at once

            def on_event(index: int, event: Event) -> None:
                listeners[index](event)
                if isinstance(event, StateChanged) and event.state is RunState.DIVERGED:
                    listeners[index](StateChanged(RunState.STOPPED))  # frozen: it ends here

            population.run(on_event)
            with self._lock:
                self._population = None
        if alone and not self._stopping.is_set():
            self._solo.train(alone, data, begin)

    def stop(self) -> None:
        self._stopping.set()
        with self._lock:
            if self._population is not None:
                self._population.stop()
        self._solo.stop()


class SweepRun:
    def __init__(
        self,
        spec: SweepSpec,
        store: RunStore,
        data: FashionMNIST,
        on_event: Callable[[SweepEvent], None] | None = None,
        on_problem: Callable[[str], None] | None = None,
        training: MemberTraining | None = None,
    ) -> None:
        """Opens the sweep in ``store`` (the one with this spec, else a new one): raises
        StoreError when the store cannot be written, and ConfigError, before anything is
        written, when ``data`` cannot train a member (``check_members``)."""
        self.spec, self.store, self.data = spec, store, data
        self.on_event = on_event or (lambda event: None)
        self.on_problem = on_problem or (lambda text: None)
        self.training = training or SoloTraining()
        self.members = spec.members()
        check_members(self.members, data)
        store.mark_interrupted()
        self.number, self.resumed = sweep_store.open_sweep(store, spec.text)
        self.stopped = False
        self.ended: dict[int, str] = {}  # member index -> how it ended, this time
        self._recorders: dict[int, Recorder] = {}  # the members' under way, not yet closed

    @property
    def sweep_id(self) -> str:
        return sweep_store.sweep_id(self.number)

    def pending(self) -> list[Member]:
        runs = sweep_store.member_runs(self.store, self.number)
        return [
            m for m in self.members if m.index not in runs or runs[m.index].status not in
            sweep_store.DONE
        ]  # fmt: skip

    def stop(self) -> None:
        """From any thread: the member under way stops at its next batch; the sweep can be
        resumed (the members done are kept)."""
        self.stopped = True
        self.training.stop()

    def run(self) -> str:
        """Train what is left; returns the sweep's status: ``finished``, ``stopped``, or
        ``failed`` when a member failed (it is trained again when the sweep is resumed)."""
        pending = self.pending()
        done = tuple(sorted({m.index for m in self.members} - {m.index for m in pending}))
        self.on_event(SweepStarted(self.sweep_id, tuple(self.members), done, self.resumed))
        try:
            self.training.train(pending, self.data, self._begin)
        finally:
            for recorder in self._recorders.values():  # members that never said their end
                recorder.close()
            self._recorders.clear()
            left = self.stopped or any(self.ended.get(m.index) is None for m in pending)
            failed = any(self.ended.get(m.index) == "failed" for m in pending)
            status = "stopped" if left else "failed" if failed else "finished"
            try:
                sweep_store.set_status(self.store, self.number, status)
            except StoreError as exc:
                self.on_problem(str(exc))
            self.on_event(SweepEnded(self.sweep_id, status))
        return status

    def _begin(self, member: Member) -> Callable[[Event], None]:
        """The member's run in the store, and the listener that records it and says how it
        ended. A member that diverged stays ``diverged`` in the store: the stop that freezes
        it is not recorded over that."""
        old = sweep_store.member_runs(self.store, self.number).get(member.index)
        run_id = sweep_store.member_run(
            self.store, self.number, member.index, member.config, member.name,
            None if old is None else old.id,
        )  # fmt: skip
        recorder = Recorder(self.store, run_id, self.on_problem, member.config)
        self._recorders[member.index] = recorder
        self.on_event(MemberStarted(member, short_id(run_id)))
        diverged = ""

        def listen(event: Event) -> None:
            nonlocal diverged
            ending = isinstance(event, StateChanged) and event.state in ENDINGS
            if not (diverged and ending):
                recorder(event)
            if ending and self._recorders.pop(member.index, None) is not None:
                recorder.close()  # what the store could not take yet gets its last tries
            self.on_event(MemberEvent(member, event))
            if not isinstance(event, StateChanged):
                return
            if event.state is RunState.DIVERGED:
                diverged = event.reason
            elif ending:
                state = RunState.DIVERGED if diverged else event.state
                if state is not RunState.STOPPED or not self.stopped or diverged:
                    self.ended[member.index] = state.value
                self.on_event(MemberEnded(member, state.value, diverged or event.reason))

        return listen


ENDINGS = (RunState.FINISHED, RunState.STOPPED, RunState.FAILED)
