"""Records a run in the store as it trains: a listener of the trainer's events.

Completed epochs are written in one transaction at each epoch's end (the epoch's report, its
part of the batch-loss curve, the events since the last epoch), so a crash loses at most the
epoch in progress. The batch-loss curve is kept at no more than ``MAX_POINTS`` points: each the
mean of ``stride`` consecutive batches, ``stride`` doubling as the run grows; the epochs' exact
means are in the epoch rows. A write that fails (a store locked for too long, a full disk)
never stops the training and loses nothing: what it held is kept and written with the next
write, the problem is said once through ``on_problem`` and so is the recovery. The run's end
(finished, stopped, failed) and ``close()`` try a few more times before saying what is not in
the store.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .config import TrainConfig, as_stored
from .events import (
    BatchRefused,
    BatchReport,
    EpochReport,
    Event,
    Health,
    RunState,
    Saved,
    SettingsChanged,
    StateChanged,
)
from .health_report import layer_to_json
from .store import EPOCH_COLUMNS, RunStore, StoreError, now, short_id

if TYPE_CHECKING:
    from .trainer import Trainer

MAX_POINTS = 4000
FLUSH_ATTEMPTS = 3  # at the run's end and in close(): tries of the writes still pending
FLUSH_WAIT_S = 0.5  # between them (each may also wait store.BUSY_TIMEOUT_S for a lock)
RETRY_AFTER_S = 1.0  # while writes fail, the next is tried no sooner: a locked store makes
# each try wait BUSY_TIMEOUT_S on the training thread, and an epoch's writes come in pairs
ENDS = (RunState.FINISHED, RunState.STOPPED, RunState.FAILED)  # trainer.run() returns
STATUS = {
    RunState.RUNNING: "running",
    RunState.PAUSED: "paused",
    RunState.DIVERGED: "diverged",
    RunState.FINISHED: "finished",
    RunState.STOPPED: "stopped",
    RunState.FAILED: "failed",
}


@dataclass
class Point:
    step: int  # the last batch of the bucket
    total: float  # the sum of its batches' losses
    count: int

    @property
    def loss(self) -> float:
        return self.total / self.count


class LossCurve:
    """The thinned batch-loss curve: full buckets of ``stride`` batches, then a partial one."""

    def __init__(self, points: list[tuple[int, float]] | None = None, after: int = 0) -> None:
        """``points`` as stored (up to step ``after``: a resumed run drops what followed)."""
        kept = [(s, loss) for s, loss in points or [] if s <= after]
        self.stride = kept[0][0] if kept else 1
        self.dirty = 0  # full[dirty:] (and the partial point) changed since ``take_changes``
        self.full: list[Point] = []
        self.partial: list[Point] = []  # batches (or a stored partial point) since the last
        for step, loss in kept:
            start = self.full[-1].step if self.full else 0
            count = step - start
            point = Point(step, loss * count, count)
            (self.full if count == self.stride else self.partial).append(point)
        self.dirty = len(self.full)  # what was given is stored already

    def add(self, step: int, loss: float) -> None:
        self.partial.append(Point(step, loss, 1))
        if step >= (self.full[-1].step if self.full else 0) + self.stride:
            self._close_buckets()  # only when a bucket can be full: adding stays O(1)

    def drop_after(self, step: int) -> None:
        """A divergence rolled the run back to ``step``: later batches never happened."""
        self.partial = [p for p in self.partial if p.step <= step]
        while self.full and self.full[-1].step > step:
            self.full.pop()
        self.dirty = min(self.dirty, len(self.full))

    def _close_buckets(self) -> None:
        while self.partial:
            start = self.full[-1].step if self.full else 0
            end = start + self.stride
            inside = [p for p in self.partial if p.step <= end]
            if not inside or inside[-1].step != end:
                return
            self.full.append(Point(end, sum(p.total for p in inside), sum(p.count for p in inside)))
            self.partial = self.partial[len(inside) :]
            if len(self.full) >= MAX_POINTS:
                self._halve()

    def _halve(self) -> None:
        """Twice the stride: pairs of buckets become one; an odd last one waits for its pair."""
        pairs, odd = divmod(len(self.full), 2)
        merged = [
            Point(b.step, a.total + b.total, a.count + b.count)
            for a, b in zip(self.full[0 : 2 * pairs : 2], self.full[1 : 2 * pairs : 2])
        ]
        self.partial = self.full[2 * pairs :] + self.partial if odd else self.partial
        self.full, self.stride = merged, self.stride * 2
        self.dirty = 0

    def take_changes(self) -> tuple[int, list[tuple[int, float]]]:
        """(s, points): the stored curve keeps its points up to step s and takes these after
        it; from here on only what changes later is returned."""
        cut, changed, mark = self.changes()
        self.dirty = mark
        return cut, changed

    def changes(self) -> tuple[int, list[tuple[int, float]], int]:
        """``take_changes`` without taking them: (s, points, mark); once they are stored,
        ``dirty = mark`` (a failed write leaves ``dirty`` be, so the next one has them)."""
        cut = self.full[self.dirty - 1].step if self.dirty else 0
        return cut, [(step, loss) for step, loss in self.points() if step > cut], len(self.full)

    def points(self) -> list[tuple[int, float]]:
        """Every full bucket, then the partial one (its last step, its mean) if any."""
        out = [(p.step, p.loss) for p in self.full]
        if self.partial:
            total = sum(p.total for p in self.partial)
            out.append((self.partial[-1].step, total / sum(p.count for p in self.partial)))
        return out


class Recorder:
    """``trainer.on_event``'s partner: pass each event to it (on the training thread)."""

    def __init__(
        self,
        store: RunStore,
        run_id: int,
        on_problem: Callable[[str], None],
        config: TrainConfig,
        curve: LossCurve | None = None,
        step: int = 0,
    ) -> None:
        """``config`` and ``step``: where the run stands now; changes are noted against it."""
        self.store, self.run_id, self.on_problem = store, run_id, on_problem
        self.curve = curve or LossCurve()
        self.problem = ""  # why the writes fail, while they do (what they held is kept)
        # Not yet in the store: all of it goes into the next write's one transaction.
        self._events: list[tuple[str, int, str, str]] = []  # (at, step, kind, detail)
        self._health: list[tuple] = []  # health rows and hints
        self._hints: list[tuple] = []
        self._epochs: list[EpochReport] = []
        self._status_due = False  # ``_status`` is not written yet
        self._checkpoint: str | None = None  # the latest save, not written yet
        self._release = False
        self._config = config
        self._step = step  # the batches done, as last reported
        self._status = "running"  # the run's status: written, or due
        self._saved_step: int | None = None  # the step of the latest save
        self._saved_path: str | None = None  # and its file
        self._said_missing = ""  # what close() last said was not in the store
        self._failed_at = 0.0  # time.monotonic() of the latest failed write
        self._lock = threading.RLock()  # the training thread writes; close() may be elsewhere
        self.parking = False  # see park()

    @property
    def short_id(self) -> str:
        return short_id(self.run_id)

    def park(self) -> None:
        """The run's coming stop only sets it aside (a fork's parent): if it was saved where
        it stopped, it stays paused (or diverged) in the store with that checkpoint, held by
        no process, so that it is not taken for interrupted and can be continued later.
        Call it before the stop is sent."""
        self.parking = True

    def __call__(self, event: Event) -> None:
        with self._lock:
            self._take(event)

    def _take(self, event: Event) -> None:
        if isinstance(event, BatchReport):
            first = event.step - len(event.losses) + 1
            for step, loss in enumerate(event.losses, first):
                self.curve.add(step, loss)
            self._step = event.step
        elif isinstance(event, BatchRefused):
            self.curve.drop_after(event.step)
            self._step = event.step
            self._note(event.step, "refused", loss=_number(event.loss), undone=event.undone)
        elif isinstance(event, SettingsChanged):
            old = self._config
            for name in event.changed:
                before = None if old is None else getattr(old, name)
                self._note(
                    event.step, "set", field=name, old=before, new=getattr(event.config, name)
                )
            self._config = event.config
        elif isinstance(event, Saved):
            self._note(None, "saved", path=event.path)
            self._saved_step, self._saved_path = self._step, event.path
            self._write(checkpoint=event.path)  # with the curve: it can be continued from here
        elif isinstance(event, EpochReport):
            self._epochs.append(event)
            self._write()
        elif isinstance(event, Health):
            self._note_health(event)
            self._write()
        elif isinstance(event, StateChanged) and event.state in STATUS:
            if event.state is RunState.DIVERGED:
                self._note(None, "diverged", reason=event.reason)
            if event.state is RunState.FAILED:
                self._note(None, "failed", reason=event.reason)
            status = STATUS[event.state]
            if event.state is RunState.STOPPED and self._status == "diverged":
                status = "diverged"  # stopped where it diverged (headless does): it diverged
            set_aside = event.state is RunState.STOPPED and self.parking
            if set_aside and self._saved_step == self._step:
                self._write(status=self._status, release=True)
            else:
                self._write(status=status)
            if event.state in ENDS:
                self.flush()  # the last write of the run: it gets a few more tries

    def _note_health(self, event: Health) -> None:
        if event.report is not None:
            r = event.report
            self._health += [
                (r.epoch, i, r.step, layer_to_json(layer)) for i, layer in enumerate(r.layers, 1)
            ]
        self._hints += [(now(), h.epoch, h.step, h.kind, h.text, h.advice) for h in event.hints]

    def _note(self, step: int | None, kind: str, **detail: object) -> None:
        at = self._step if step is None else step
        self._events.append((now(), at, kind, json.dumps(detail)))

    def _write(
        self,
        status: str | None = None,
        checkpoint: str | None = None,
        release: bool = False,
        retry: bool = False,
    ) -> bool:
        """One transaction: the epochs done (if any), the curve, the events, the status: this
        write's and whatever earlier ones could not write. ``release``: no process holds the
        run any more (a parked run). ``retry``: even just after a failure. False when the store
        failed (all of it is kept)."""
        if status is not None:
            self._status, self._status_due = status, True
        if checkpoint is not None:
            self._checkpoint = checkpoint
        self._release |= release
        if self.problem and time.monotonic() - self._failed_at < RETRY_AFTER_S and not retry:
            return False  # it failed a moment ago: all of this waits for the next write
        try:
            self._write_pending()
        except StoreError as exc:
            self._failed_at = time.monotonic()
            if not self.problem:
                self.on_problem(
                    f"{exc}; run {self.short_id}'s records are kept and written when it can be"
                    " (it goes on training)"
                )
            self.problem = str(exc)
            return False
        if self.problem:
            self.problem = self._said_missing = ""
            self.on_problem(
                f"run store {self.store.path} works again: run {self.short_id} is recorded"
                " again and caught up"
            )
        return True

    def _write_pending(self) -> None:
        """Everything not yet in the store, in one transaction; forgotten only once committed."""
        run, mark = self.run_id, None
        with self.store.transaction() as db:
            db.executemany(
                f"INSERT OR REPLACE INTO epochs (run, epoch, {', '.join(EPOCH_COLUMNS)})"
                f" VALUES (?, ?{', ?' * len(EPOCH_COLUMNS)})",
                [(run, e.epoch, *(getattr(e, f) for f in EPOCH_COLUMNS)) for e in self._epochs],
            )
            if self._epochs or self._checkpoint is not None:
                cut, points, mark = self.curve.changes()  # not the whole curve each epoch
                db.execute("DELETE FROM losses WHERE run = ? AND step > ?", (run, cut))
                db.executemany(
                    "INSERT INTO losses (run, step, loss) VALUES (?, ?, ?)",
                    [(run, step, _number(loss)) for step, loss in points],
                )
            db.executemany(
                "INSERT INTO events (run, at, step, kind, detail) VALUES (?, ?, ?, ?, ?)",
                [(run, *e) for e in self._events],
            )
            db.executemany(
                "INSERT OR REPLACE INTO health (run, epoch, layer, step, figures)"
                " VALUES (?, ?, ?, ?, ?)",
                [(run, *row) for row in self._health],
            )
            db.executemany(
                "INSERT INTO hints (run, at, epoch, step, kind, text, advice)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(run, *row) for row in self._hints],
            )
            if self._status_due:
                ended = None if self._status in ("running", "paused") else now()
                db.execute(
                    "UPDATE runs SET status = ?, ended = ? WHERE id = ?", (self._status, ended, run)
                )
            if self._release:
                db.execute("UPDATE runs SET pid = NULL, host = NULL WHERE id = ?", (run,))
            if self._checkpoint is not None:
                db.execute("UPDATE runs SET checkpoint = ? WHERE id = ?", (self._checkpoint, run))
        if mark is not None:
            self.curve.dirty = mark
        self._epochs, self._events, self._health, self._hints = [], [], [], []
        self._status_due, self._checkpoint, self._release = False, None, False

    @property
    def pending(self) -> bool:
        """Something the store does not have yet (its writes failed)."""
        return bool(
            self._epochs or self._events or self._health or self._hints or self._status_due
            or self._checkpoint is not None or self._release
        )  # fmt: skip

    def flush(self, attempts: int = FLUSH_ATTEMPTS, wait: float | None = None) -> bool:
        """Try what is pending up to ``attempts`` more times, ``wait`` s apart (FLUSH_WAIT_S).
        True when the store has everything; else says (once for the same things) what it
        lacks."""
        wait = FLUSH_WAIT_S if wait is None else wait
        with self._lock:
            for attempt in range(attempts):
                if not self.pending:
                    return True
                if attempt or self.problem:  # it failed just now: give the store a moment
                    time.sleep(wait)
                if self._write(retry=True):
                    return True
            if not self.pending:
                return True
            missing = self.missing()
            if missing != self._said_missing:
                self._said_missing = missing
                self.on_problem(missing)
            return False

    def close(self) -> bool:
        """The run is over (after its last save): ``flush``. The store stays open."""
        return self.flush()

    def missing(self) -> str:
        """What the store lacks of this run, and how to get it there, in one line."""
        parts = []
        if self._epochs:
            parts.append(_epochs_text([e.epoch for e in self._epochs]))
        if self._status_due:
            parts.append(f"its status ({self._status})")
        if self._checkpoint is not None:
            parts.append(f"its checkpoint ({self._checkpoint})")
        notes = len(self._events) + len(self._hints)
        if notes:
            parts.append(f"{notes} event{'s' * (notes != 1)}")
        if self._health:
            parts.append("its health figures")
        what = ", ".join(parts) or "its release"
        if self._saved_path:
            how = f"--resume {self._saved_path} records what that checkpoint holds"
        else:
            how = "it was not saved: --resume <checkpoint> of a save of it records what that holds"
        return f"{self.problem}; not in the store: run {self.short_id}'s {what} ({how})"


def _epochs_text(epochs: list[int]) -> str:
    """[3] -> "epoch 3"; [2, 3, 4] -> "epochs 2-4"; [2, 5] -> "epochs 2, 5"."""
    if len(epochs) == 1:
        return f"epoch {epochs[0]}"
    if epochs == list(range(epochs[0], epochs[-1] + 1)):
        return f"epochs {epochs[0]}-{epochs[-1]}"
    return "epochs " + ", ".join(map(str, epochs))


def _number(value: float) -> float | None:
    """JSON and SQLite keep nan and inf as null: a diverged loss is said in the events."""
    return value if value == value and abs(value) != float("inf") else None


def record(
    trainer: Trainer,
    store: RunStore,
    on_problem: Callable[[str], None],
    name: str | None = None,
) -> Recorder | None:
    """Record ``trainer``'s run in ``store``: the run its checkpoint came from when the store
    has it (it continues from the checkpoint's position), else a new run. A checkpoint older
    than what the store recorded of its run (it went on past that save) starts a new run
    forked from it there: nothing recorded is lost. None, after one ``on_problem`` line, when
    the store cannot be written."""
    try:
        store.mark_interrupted()
        run_id = store.find_uid(trainer.run_uid) if trainer.run_uid else None
        if run_id is not None and _recorded_past(store, run_id, trainer.epoch):
            # a branch from the stored run; the trainer's later saves are the new run's
            trainer.parent_uid, trainer.fork_step = trainer.run_uid, trainer.step_count
            trainer.run_uid = run_id = None
        if run_id is not None:
            curve = continue_run(store, run_id, trainer)
        else:
            parent = store.find_uid(trainer.parent_uid) if trainer.parent_uid else None
            run_id = store.create_run(
                trainer.config,
                name,
                uid=trainer.run_uid,
                parent=parent,
                fork_step=trainer.fork_step if parent is not None else None,
            )
            trainer.run_uid = store.uid_of(run_id)
            curve = LossCurve()
            for step, loss in enumerate(trainer.batch_losses, 1):  # a resumed checkpoint's
                curve.add(step, loss)
            with store.transaction() as db:
                db.executemany(
                    f"INSERT INTO epochs (run, epoch, {', '.join(EPOCH_COLUMNS)})"
                    f" VALUES (?, ?{', ?' * len(EPOCH_COLUMNS)})",
                    [
                        (run_id, r.epoch, *(getattr(r, f) for f in EPOCH_COLUMNS))
                        for r in trainer.history
                    ],
                )
                _, points = curve.take_changes()  # all of it, the first time
                db.executemany(
                    "INSERT INTO losses (run, step, loss) VALUES (?, ?, ?)",
                    [(run_id, step, _number(loss)) for step, loss in points],
                )
                _copy_health(db, run_id, trainer)
    except StoreError as exc:
        on_problem(f"{exc}; this run is not recorded (it trains all the same)")
        return None
    return Recorder(store, run_id, on_problem, trainer.config, curve, trainer.step_count)


def _copy_health(db, run_id: int, trainer: Trainer) -> None:
    """A resumed checkpoint's health history (``health_state.py``) into its new run, as its
    epochs and losses: the runs screen then shows the hints said before the save."""
    monitor = trainer.health
    if monitor is None:
        return
    db.executemany(
        "INSERT OR REPLACE INTO health (run, epoch, layer, step, figures) VALUES (?, ?, ?, ?, ?)",
        [
            (run_id, r.epoch, i, r.step, layer_to_json(layer))
            for r in monitor.history
            for i, layer in enumerate(r.layers, 1)
        ],
    )
    db.executemany(
        "INSERT INTO hints (run, at, epoch, step, kind, text, advice) VALUES (?, ?, ?, ?, ?, ?, ?)",
        [(run_id, now(), h.epoch, h.step, h.kind, h.text, h.advice) for h in monitor.hints],
    )


def _recorded_past(store: RunStore, run_id: int, epoch: int) -> bool:
    """Whether the store has epochs of the run after ``epoch``."""
    rows = store.select("SELECT 1 FROM epochs WHERE run = ? AND epoch > ? LIMIT 1", (run_id, epoch))
    return bool(rows)


def continue_run(store: RunStore, run_id: int, trainer: Trainer) -> LossCurve:
    """The stored run goes on from the checkpoint's position (the store has no epoch after
    the checkpoint's: ``record`` forks otherwise). What it recorded after that position (the
    partial epoch after the save, before a crash) did not happen in this continuation; the
    checkpoint's epochs go back in, so those a failed write missed are recorded now."""
    record = store.run(run_id)
    with store.transaction() as db:
        db.executemany(
            f"INSERT OR REPLACE INTO epochs (run, epoch, {', '.join(EPOCH_COLUMNS)})"
            f" VALUES (?, ?{', ?' * len(EPOCH_COLUMNS)})",
            [(run_id, r.epoch, *(getattr(r, f) for f in EPOCH_COLUMNS)) for r in trainer.history],
        )
        db.execute("DELETE FROM epochs WHERE run = ? AND epoch > ?", (run_id, trainer.epoch))
        db.execute("DELETE FROM losses WHERE run = ? AND step > ?", (run_id, trainer.step_count))
        db.execute("DELETE FROM events WHERE run = ? AND step > ?", (run_id, trainer.step_count))
        db.execute("DELETE FROM health WHERE run = ? AND epoch > ?", (run_id, trainer.epoch))
        db.execute("DELETE FROM hints WHERE run = ? AND step > ?", (run_id, trainer.step_count))
        stored = dict(record.summary.config)  # as created, then as its changes left it
        for event in record.events:
            if event["kind"] == "set" and event["step"] <= trainer.step_count:
                stored[event["field"]] = event["new"]
        changed = {  # settings the resume overrode, noted as changes where the run resumed
            name: (stored.get(name), value)
            for name, value in as_stored(trainer.config).items()
            if name in stored and stored[name] != value and name != "device"
        }
        db.executemany(
            "INSERT INTO events (run, at, step, kind, detail) VALUES (?, ?, ?, 'set', ?)",
            [
                (run_id, now(), trainer.step_count, json.dumps({"field": k, "old": a, "new": b}))
                for k, (a, b) in changed.items()
            ],
        )
    store.claim(run_id, "running")
    return LossCurve(record.losses, after=trainer.step_count)
