"""The run store: every run, in the app or headless, kept in one SQLite database.

One file (``runs.sqlite`` in the user data dir unless ``--store`` or ``$MLP_TUI_STORE`` says
otherwise), in WAL mode so that the app and headless runs read and write it at the same time.
The schema is versioned with ``PRAGMA user_version`` and migrated forward in one transaction;
a file this code cannot read (not SQLite, damaged, read-only, locked for too long, from a newer
mlp-tui) raises ``StoreError`` with one clear line and is never modified. Every query is
parameterised. What is written when: ``recorder.py``.
"""

from __future__ import annotations

import datetime
import json
import os
import socket
import sqlite3
import threading
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .config import TrainConfig, as_stored, completed, described_fields, show_stored
from .health_report import HealthReport, Hint, LayerHealth, layer_from_json

ENV = "MLP_TUI_STORE"
FILENAME = "runs.sqlite"
BUSY_TIMEOUT_S = 5.0  # a write waits this long for another process's transaction
MAX_NAME = 200  # characters
LIVE_STATUSES = ("running", "paused")  # a run in these whose process is gone was interrupted
STATUSES = (*LIVE_STATUSES, "diverged", "finished", "failed", "stopped", "interrupted")
EPOCH_FIELDS = ("train_loss", "train_acc", "test_acc", "lr", "seconds", "examples_per_s")
VAL_FIELDS = ("val_acc", "val_loss")  # NULL without a validation split
EPOCH_COLUMNS = (*EPOCH_FIELDS, *VAL_FIELDS)  # every figure an epoch row holds

# Each entry takes the schema from the version before it to its own (index + 1).
MIGRATIONS = (
    """
    CREATE TABLE runs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,  -- shown as r1, r2, ...: never reused
        uid TEXT NOT NULL UNIQUE,              -- what a checkpoint remembers
        name TEXT NOT NULL,
        status TEXT NOT NULL,
        created TEXT NOT NULL,
        ended TEXT,
        config TEXT NOT NULL,                  -- JSON: every TrainConfig field
        parent INTEGER REFERENCES runs(id) ON DELETE SET NULL,
        fork_step INTEGER,
        pid INTEGER,
        host TEXT,
        checkpoint TEXT                        -- the latest save's path
    );
    CREATE TABLE epochs (
        run INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        epoch INTEGER NOT NULL,
        train_loss REAL, train_acc REAL, test_acc REAL,
        lr REAL, seconds REAL, examples_per_s REAL,
        PRIMARY KEY (run, epoch)
    ) WITHOUT ROWID;
    CREATE TABLE losses (                      -- the batch-loss curve, thinned to MAX_POINTS
        run INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        step INTEGER NOT NULL,
        loss REAL,
        PRIMARY KEY (run, step)
    ) WITHOUT ROWID;
    CREATE TABLE events (
        run INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        at TEXT NOT NULL,
        step INTEGER NOT NULL,
        kind TEXT NOT NULL,
        detail TEXT NOT NULL                   -- JSON
    );
    CREATE INDEX events_by_run ON events (run, step);
    """,
    """
    ALTER TABLE runs ADD COLUMN sweep TEXT;    -- the sweep a run belongs to, if any
    CREATE INDEX runs_by_sweep ON runs (sweep);
    """,
    """
    ALTER TABLE epochs ADD COLUMN val_acc REAL;   -- with a validation split (--val N), else NULL
    ALTER TABLE epochs ADD COLUMN val_loss REAL;
    """,
    """
    CREATE TABLE sweeps (
        id INTEGER PRIMARY KEY AUTOINCREMENT,  -- shown as s1, s2, ...: runs.sweep holds that
        spec TEXT NOT NULL,                    -- its command line: a rerun finds it by this
        created TEXT NOT NULL,
        status TEXT NOT NULL                   -- running, finished or stopped
    );
    CREATE INDEX sweeps_by_spec ON sweeps (spec);
    ALTER TABLE runs ADD COLUMN member INTEGER;  -- a sweep member's place in its sweep
    """,
    # The health figures and hints (health_report.py).
    """
    CREATE TABLE health (
        run INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        epoch INTEGER NOT NULL,                -- 0: as initialised
        layer INTEGER NOT NULL,                -- 1, 2, ...: the hidden layers, then the output
        step INTEGER NOT NULL,
        figures TEXT NOT NULL,                 -- JSON: a LayerHealth
        PRIMARY KEY (run, epoch, layer)
    ) WITHOUT ROWID;
    CREATE TABLE hints (
        run INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        at TEXT NOT NULL,
        epoch INTEGER NOT NULL,
        step INTEGER NOT NULL,
        kind TEXT NOT NULL,
        text TEXT NOT NULL,
        advice TEXT NOT NULL
    );
    CREATE INDEX hints_by_run ON hints (run, step);
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)


class StoreError(RuntimeError):
    """The store cannot be used; the message names the file and says why, in one line."""


def default_path() -> Path:
    """``$MLP_TUI_STORE``, else runs.sqlite in the user data dir."""
    if os.environ.get(ENV):
        return Path(os.environ[ENV]).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("mlp-tui")) / FILENAME


def now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def default_name(config: TrainConfig) -> str:
    """What differs from the seed's defaults, e.g. ``lr 0.5, hidden 64`` or ``layers
    512x256, activation tanh``."""
    seed = TrainConfig()
    differs = [
        f"{name.replace('_', ' ')} {_shown(name, getattr(config, name))}"
        for name in described_fields([config.layers])
        # where and how fast it ran, not what it learnt
        if name not in ("epochs", "device", "slow") and getattr(config, name) != getattr(seed, name)
    ]
    return ", ".join(differs) or "seed defaults"


def _shown(name: str, value: object) -> str:
    if name == "divergence_factor" and value == 0:  # how the config keeps "off"
        return "off"
    return show_stored(value)


def check_name(name: str) -> str:
    """A run's name as typed, or StoreError: quotes and unicode are fine, control characters
    (newlines included) and names past MAX_NAME characters are not."""
    if not name.strip():
        raise StoreError("a run's name cannot be empty")
    if len(name) > MAX_NAME:
        raise StoreError(f"a run's name has at most {MAX_NAME} characters (this one {len(name)})")
    if any(ch < " " or ch == "\x7f" for ch in name):
        raise StoreError("a run's name is one line: no newlines or other control characters")
    return name


def short_id(run_id: int) -> str:
    return f"r{run_id}"


def parse_id(text: str) -> int:
    """``r12``, ``R12`` or ``12`` -> 12."""
    digits = text.strip().lower().removeprefix("r")
    if not digits.isdigit() or not digits.isascii():
        raise StoreError(f"{text!r} is not a run id (they look like r12)")
    return int(digits)


@dataclass(frozen=True)
class RunSummary:
    """One row of the runs table."""

    id: int
    uid: str
    name: str
    status: str
    created: str
    ended: str | None
    config: dict[str, Any]
    parent: int | None
    fork_step: int | None
    checkpoint: str | None
    sweep: str | None
    epochs: int
    best_test_acc: float | None
    final_test_acc: float | None
    final_train_loss: float | None
    seconds: float
    best_val_acc: float | None = None  # with a validation split
    final_val_acc: float | None = None

    @property
    def short_id(self) -> str:
        return short_id(self.id)


@dataclass(frozen=True)
class RunRecord:
    """A run with everything the store keeps of it."""

    summary: RunSummary
    epochs: list[dict[str, Any]] = field(default_factory=list)
    losses: list[tuple[int, float]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """The JSON form of ``mlp-tui runs --json``."""
        s = self.summary
        return {
            "id": s.short_id,
            "name": s.name,
            "status": s.status,
            "parent": None if s.parent is None else short_id(s.parent),
            "fork_step": s.fork_step,
            "created": s.created,
            "ended": s.ended,
            "config": s.config,
            "checkpoint": s.checkpoint,
            "sweep": s.sweep,
            "best_test_acc": s.best_test_acc,
            "final_test_acc": s.final_test_acc,
            "final_train_loss": s.final_train_loss,
            "best_val_acc": s.best_val_acc,
            "final_val_acc": s.final_val_acc,
            "seconds": s.seconds,
            "epochs": self.epochs,
            "events": self.events,
        }


def event_text(event: dict[str, Any]) -> str:
    """A stored event in words: ``lr 0.1 -> 0.05``, ``saved run.safetensors``..."""
    kind = event["kind"]
    if kind == "set":
        old, new = ("-" if v is None else show_stored(v) for v in (event["old"], event["new"]))
        return f"{event['field'].replace('_', ' ')} {old} -> {new}"
    if kind == "saved":
        return f"saved {event['path']}"
    if kind == "refused":
        loss = "not a number" if event["loss"] is None else f"{event['loss']:.4g}"
        return f"batch refused (loss {loss})"
    return f"{kind}: {event.get('reason', '')}".rstrip(": ")


SUMMARY_SQL = """
SELECT r.id, r.uid, r.name, r.status, r.created, r.ended, r.config, r.parent, r.fork_step,
       r.checkpoint, r.sweep,
       count(e.epoch), max(e.test_acc),
       (SELECT test_acc FROM epochs WHERE run = r.id ORDER BY epoch DESC LIMIT 1),
       (SELECT train_loss FROM epochs WHERE run = r.id ORDER BY epoch DESC LIMIT 1),
       coalesce(sum(e.seconds), 0), max(e.val_acc),
       (SELECT val_acc FROM epochs WHERE run = r.id ORDER BY epoch DESC LIMIT 1)
FROM runs r LEFT JOIN epochs e ON e.run = r.id
"""


class RunStore:
    """A connection to one store file. Safe to share between threads (one lock)."""

    def __init__(self, path: str | os.PathLike, *, readonly: bool = False) -> None:
        self.path = Path(path).expanduser()
        self.readonly = readonly
        # The app's recorder writes on the training thread while the runs screen reads and
        # renames on the UI thread: one connection, so one transaction at a time.
        self._lock = threading.RLock()
        self._db = self._open()
        self._commits = 0  # this connection's: PRAGMA data_version counts only the others'

    # ------------------------------------------------------------------ opening
    def _open(self) -> sqlite3.Connection:
        path = self.path
        if path.is_dir():
            raise StoreError(f"run store {path} is a directory")
        exists = path.exists()
        if exists:
            self._check_header(path)
        elif self.readonly:
            raise StoreError(f"run store {path} does not exist")
        else:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(f"cannot make run store {path}: {exc.strerror or exc}") from None
        if exists and not self.readonly and not os.access(path, os.W_OK):
            raise StoreError(f"run store {path} is read-only")  # the caller says what follows
        mode = "ro" if self.readonly else "rwc"
        try:
            db = sqlite3.connect(
                f"{path.resolve().as_uri()}?mode={mode}",
                uri=True,
                timeout=BUSY_TIMEOUT_S,
                check_same_thread=False,
                isolation_level=None,  # transactions are explicit: see transaction()
            )
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open run store {path}: {exc}") from None
        try:
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"run store {path} was made by a newer mlp-tui (schema {version}; "
                    f"this one reads up to {SCHEMA_VERSION})"
                )
            self._check_ours(db, version)
            db.execute("PRAGMA foreign_keys = ON")
            if not self.readonly:
                db.execute("PRAGMA journal_mode = WAL")
                db.execute("PRAGMA synchronous = NORMAL")  # WAL: durable at checkpoints
                self._migrate(db, version)
            elif version < SCHEMA_VERSION:
                raise StoreError(
                    f"run store {path} has schema {version}; open it once for writing to "
                    f"bring it to {SCHEMA_VERSION}"
                )
        except StoreError:
            db.close()
            raise
        except sqlite3.Error as exc:
            db.close()
            raise StoreError(self._explain(exc)) from None
        return db

    def _check_header(self, path: Path) -> None:
        try:
            with open(path, "rb") as f:
                head = f.read(16)
        except OSError as exc:
            raise StoreError(f"cannot read run store {path}: {exc.strerror or exc}") from None
        if head and head != b"SQLite format 3\x00":
            raise StoreError(f"{path} is not an SQLite database, so not a run store")

    def _check_ours(self, db: sqlite3.Connection, version: int) -> None:
        """Before anything is written: a database with tables but none of ours is not a store."""
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master")}
        if (version and "runs" not in tables) or (not version and tables):
            raise StoreError(f"{self.path} is an SQLite database of another program")

    def _migrate(self, db: sqlite3.Connection, version: int) -> None:
        if version == SCHEMA_VERSION:
            return
        db.execute("BEGIN IMMEDIATE")
        try:
            for script in MIGRATIONS[version:]:
                for statement in filter(str.strip, script.split(";")):
                    db.execute(statement)
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            db.execute("COMMIT")
        except BaseException:
            _rollback(db)
            raise

    def _explain(self, exc: sqlite3.Error) -> str:
        text = str(exc)
        if "locked" in text or "busy" in text:
            return (
                f"run store {self.path} is locked by another program for over {BUSY_TIMEOUT_S:g} s"
            )
        if "readonly" in text or "read-only" in text:
            return f"run store {self.path} is read-only"
        if isinstance(exc, sqlite3.DatabaseError) and (
            "malformed" in text or "not a database" in text or "corrupt" in text
        ):
            return f"run store {self.path} is damaged ({text})"
        if "disk is full" in text:  # SQLITE_FULL
            return f"run store {self.path}: the disk is full"
        if "disk I/O error" in text:  # SQLITE_IOERR: often a full disk, or one that went away
            return f"run store {self.path}: disk I/O error (is the disk full, or gone?)"
        return f"run store {self.path}: {text}"

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> RunStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One unit of work: all of it or none, errors as StoreError."""
        if self.readonly:
            raise StoreError(f"run store {self.path} was opened read-only")
        db = self._db
        with self._lock:
            try:
                db.execute("BEGIN IMMEDIATE")  # take the write lock now: no deadlock later
            except sqlite3.Error as exc:
                raise StoreError(self._explain(exc)) from None
            try:
                yield db
                db.execute("COMMIT")
                self._commits += 1
            except sqlite3.Error as exc:
                # A full disk (or I/O error) may have rolled it back already: ROLLBACK would
                # then fail too, and its error must not hide this one.
                _rollback(db)
                raise StoreError(self._explain(exc)) from None
            except BaseException:
                _rollback(db)
                raise

    def select(self, sql: str, args: Sequence[object] = ()) -> list[tuple]:
        """Rows of a read-only query (for the rooms that keep their own tables: sweeps)."""
        return self._query(sql, args)

    def _query(self, sql: str, args: Sequence[object] = ()) -> list[tuple]:
        try:
            with self._lock:
                return self._db.execute(sql, args).fetchall()
        except sqlite3.Error as exc:
            raise StoreError(self._explain(exc)) from None

    # ------------------------------------------------------------------ writing
    def create_run(
        self,
        config: TrainConfig,
        name: str | None = None,
        *,
        status: str = "running",
        parent: int | None = None,
        fork_step: int | None = None,
        uid: str | None = None,
        sweep: str | None = None,
        member: int | None = None,
    ) -> int:
        name = check_name(name) if name is not None else default_name(config)
        with self.transaction() as db:
            cursor = db.execute(
                "INSERT INTO runs (uid, name, status, created, config, parent, fork_step, pid,"
                " host, sweep, member) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    uid or uuid.uuid4().hex,
                    name,
                    status,
                    now(),
                    json.dumps(as_stored(config)),
                    parent,
                    fork_step,
                    os.getpid(),
                    socket.gethostname(),
                    sweep,
                    member,
                ),
            )
            assert cursor.lastrowid is not None
            return cursor.lastrowid

    def claim(self, run_id: int, status: str) -> None:
        """This process continues run ``run_id`` (a resumed checkpoint's)."""
        with self.transaction() as db:
            db.execute(
                "UPDATE runs SET status = ?, ended = NULL, pid = ?, host = ? WHERE id = ?",
                (status, os.getpid(), socket.gethostname(), run_id),
            )

    def set_status(self, run_id: int, status: str) -> None:
        assert status in STATUSES, status
        ended = None if status in LIVE_STATUSES else now()
        with self.transaction() as db:
            db.execute(
                "UPDATE runs SET status = ?, ended = ? WHERE id = ?", (status, ended, run_id)
            )

    def rename(self, run_id: int, name: str) -> None:
        name = check_name(name)
        with self.transaction() as db:
            if not db.execute("UPDATE runs SET name = ? WHERE id = ?", (name, run_id)).rowcount:
                raise StoreError(f"no run {short_id(run_id)} in {self.path}")

    def delete(self, run_ids: Sequence[int]) -> None:
        with self.transaction() as db:
            missing = [i for i in run_ids if not self._exists(db, i)]
            if missing:
                raise StoreError(f"no run {', '.join(map(short_id, missing))} in {self.path}")
            db.executemany("DELETE FROM runs WHERE id = ?", [(i,) for i in run_ids])

    @staticmethod
    def _exists(db: sqlite3.Connection, run_id: int) -> bool:
        return db.execute("SELECT 1 FROM runs WHERE id = ?", (run_id,)).fetchone() is not None

    def mark_interrupted(self) -> int:
        """Runs left running or paused by a process of this machine that is gone. A run no
        process holds (host NULL: a fork's parent, paused at its checkpoint) is left be."""
        stale = self.stale()
        if stale:
            with self.transaction() as db:
                db.executemany(
                    "UPDATE runs SET status = 'interrupted', ended = coalesce(ended, ?) "
                    "WHERE id = ?",
                    [(now(), run_id) for run_id in stale],
                )
        return len(stale)

    def stale(self) -> list[int]:
        """The runs ``mark_interrupted`` would mark, found without writing: what a read-only
        listing shows as interrupted."""
        return [
            run_id
            for run_id, pid in self._query(
                "SELECT id, pid FROM runs WHERE status IN (?, ?) AND host = ?",
                (*LIVE_STATUSES, socket.gethostname()),
            )
            if pid is None or not _alive(pid)
        ]

    # ------------------------------------------------------------------ reading
    def runs(self, ids: Sequence[int] | None = None, *, strict: bool = True) -> list[RunSummary]:
        """The runs in creation order (``ids``: just those, in that order; without
        ``strict``, those of them that still exist)."""
        if ids is None:
            rows = self._query(SUMMARY_SQL + " GROUP BY r.id ORDER BY r.id")
            return [_summary(row) for row in rows]
        marks = ", ".join("?" * len(ids))
        rows = self._query(SUMMARY_SQL + f" WHERE r.id IN ({marks}) GROUP BY r.id", ids)
        found = {row[0]: _summary(row) for row in rows}
        missing = [i for i in ids if i not in found]
        if missing and strict:
            raise StoreError(f"no run {', '.join(map(short_id, missing))} in {self.path}")
        return [found[i] for i in ids if i in found]

    def stamp(self) -> tuple[int, int]:
        """Changes when anything is committed to the store, by this connection or another
        process's: a few microseconds to ask, so a screen can poll it."""
        with self._lock:
            return self._query("PRAGMA data_version")[0][0], self._commits

    def heads(self) -> dict[int, tuple]:
        """Each run's id -> (name, status, ended, checkpoint), in creation order: what can
        change in a run that is not running (the rest is its epochs)."""
        rows = self._query("SELECT id, name, status, ended, checkpoint FROM runs ORDER BY id")
        return {row[0]: tuple(row[1:]) for row in rows}

    def run(self, run_id: int) -> RunRecord:
        return self.records([run_id])[0]

    def records(self, ids: Sequence[int] | None = None, *, losses: bool = True) -> list[RunRecord]:
        """Runs with their epochs, events and (with ``losses``) batch-loss curves; all runs
        without ``ids``."""
        summaries = self.runs(ids)
        wanted = {s.id for s in summaries}
        epochs: dict[int, list[dict[str, Any]]] = {i: [] for i in wanted}
        curves: dict[int, list[tuple[int, float]]] = {i: [] for i in wanted}
        events: dict[int, list[dict[str, Any]]] = {i: [] for i in wanted}
        everything = ids is None
        where, args = ("", ()) if everything else self._in(wanted)
        for row in self._query(
            f"SELECT run, epoch, {', '.join(EPOCH_COLUMNS)} FROM epochs {where}"
            " ORDER BY run, epoch",
            args,
        ):
            figures = dict(zip(EPOCH_COLUMNS, row[2:]))
            if figures["val_acc"] is None and figures["val_loss"] is None:
                del figures["val_acc"], figures["val_loss"]  # no validation set: as EpochReport
            epochs[row[0]].append({"epoch": row[1], **figures})
        if losses:
            for run, step, loss in self._query(
                f"SELECT run, step, loss FROM losses {where} ORDER BY run, step", args
            ):
                curves[run].append((step, loss))
        for run, at, step, kind, detail in self._query(
            f"SELECT run, at, step, kind, detail FROM events {where} ORDER BY run, rowid", args
        ):
            events[run].append({"at": at, "step": step, "kind": kind, **json.loads(detail)})
        return [RunRecord(s, epochs[s.id], curves[s.id], events[s.id]) for s in summaries]

    @staticmethod
    def _in(ids: set[int]) -> tuple[str, tuple[int, ...]]:
        return f"WHERE run IN ({', '.join('?' * len(ids))})", tuple(sorted(ids))

    def hints(self, run_id: int) -> list[Hint]:
        """The hints a run raised, oldest first."""
        rows = self._query(
            "SELECT kind, epoch, step, text, advice FROM hints WHERE run = ? ORDER BY rowid",
            (run_id,),
        )
        return [Hint(*row) for row in rows]

    def health(self, run_id: int) -> list[HealthReport]:
        """A run's health reports, one per epoch (0: as initialised), oldest first."""
        rows = self._query(
            "SELECT epoch, step, figures FROM health WHERE run = ? ORDER BY epoch, layer",
            (run_id,),
        )
        by_epoch: dict[int, tuple[int, list[LayerHealth]]] = {}
        for epoch, step, figures in rows:
            by_epoch.setdefault(epoch, (step, []))[1].append(layer_from_json(figures))
        return [HealthReport(e, s, tuple(layers), 0) for e, (s, layers) in by_epoch.items()]

    def find_uid(self, uid: str) -> int | None:
        rows = self._query("SELECT id FROM runs WHERE uid = ?", (uid,))
        return rows[0][0] if rows else None

    def uid_of(self, run_id: int) -> str:
        rows = self._query("SELECT uid FROM runs WHERE id = ?", (run_id,))
        if not rows:
            raise StoreError(f"no run {short_id(run_id)} in {self.path}")
        return rows[0][0]


def _summary(row: tuple) -> RunSummary:
    (rid, uid, name, status, created, ended, config, parent, fork_step, ckpt, sweep) = row[:11]
    count, best, final_acc, final_loss, seconds, best_val, final_val = row[11:]
    config = completed(json.loads(config))  # a run recorded before a field was: its default
    return RunSummary(
        rid, uid, name, status, created, ended, config, parent, fork_step, ckpt,
        sweep, count, best, final_acc, final_loss, seconds, best_val, final_val,
    )  # fmt: skip


def _rollback(db: sqlite3.Connection) -> None:
    """Undo the transaction in progress, if SQLite has not already (a full disk rolls it back
    itself); never raises: the error that led here is the one to tell."""
    if db.in_transaction:
        try:
            db.execute("ROLLBACK")
        except sqlite3.Error:
            pass


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # another user's: alive
    return True
