"""A sweep in the run store: one row in ``sweeps``, and each member a run that names it.

Members are ordinary runs (``mlp-tui runs`` lists them, ``R`` in the app shows them), with
``runs.sweep`` holding the sweep's id (``s3``) and ``runs.member`` the member's place in the
spec's expansion. That place is what a resumed sweep goes by: a member whose run finished or
diverged is done; one whose run was cut short is trained again in that same run, its partial
epochs cleared.
"""

from __future__ import annotations

from dataclasses import dataclass

from .config import TrainConfig
from .store import RunStore, RunSummary, StoreError, now

DONE = ("finished", "diverged")  # a member in one of these is not trained again


@dataclass(frozen=True)
class SweepRow:
    id: int
    spec: str
    created: str
    status: str
    members: int  # runs recorded so far

    @property
    def short_id(self) -> str:
        return sweep_id(self.id)


def sweep_id(number: int) -> str:
    return f"s{number}"


def parse_sweep_id(text: str) -> int:
    """``s3``, ``S3`` or ``3`` -> 3."""
    digits = text.strip().lower().removeprefix("s")
    if not digits.isdigit() or not digits.isascii():
        raise StoreError(f"{text!r} is not a sweep id (they look like s3)")
    return int(digits)


SWEEP_SQL = """
SELECT s.id, s.spec, s.created, s.status, count(r.id)
FROM sweeps s LEFT JOIN runs r ON r.sweep = 's' || s.id
"""


def sweeps(store: RunStore) -> list[SweepRow]:
    """Every sweep, oldest first."""
    return [SweepRow(*row) for row in store.select(SWEEP_SQL + " GROUP BY s.id ORDER BY s.id")]


def find(store: RunStore, number: int) -> SweepRow:
    rows = store.select(SWEEP_SQL + " WHERE s.id = ? GROUP BY s.id", (number,))
    if not rows:
        raise StoreError(f"no sweep {sweep_id(number)} in {store.path}")
    return SweepRow(*rows[0])


def open_sweep(store: RunStore, spec: str) -> tuple[int, bool]:
    """The sweep with this spec (the latest, when several), else a new one: (its number,
    whether it existed). Either way it is marked running."""
    rows = store.select("SELECT id FROM sweeps WHERE spec = ? ORDER BY id DESC LIMIT 1", (spec,))
    with store.transaction() as db:
        if rows:
            number = rows[0][0]
            db.execute("UPDATE sweeps SET status = 'running' WHERE id = ?", (number,))
            return number, True
        cursor = db.execute(
            "INSERT INTO sweeps (spec, created, status) VALUES (?, ?, 'running')", (spec, now())
        )
        assert cursor.lastrowid is not None
        return cursor.lastrowid, False


def set_status(store: RunStore, number: int, status: str) -> None:
    with store.transaction() as db:
        db.execute("UPDATE sweeps SET status = ? WHERE id = ?", (status, number))


def member_runs(store: RunStore, number: int) -> dict[int, RunSummary]:
    """Each member's run, by the member's place (the latest run, should there be two)."""
    rows = store.select(
        "SELECT member, max(id) FROM runs WHERE sweep = ? AND member IS NOT NULL GROUP BY member",
        (sweep_id(number),),
    )
    summaries = {s.id: s for s in store.runs([run for _, run in rows], strict=False)}
    return {member: summaries[run] for member, run in rows if run in summaries}


def member_run(
    store: RunStore, number: int, member: int, config: TrainConfig, name: str, old: int | None
) -> int:
    """The run a member trains in: ``old`` (a run cut short) cleared and taken again, else a
    new run in the sweep."""
    if old is None:
        return store.create_run(config, name, sweep=sweep_id(number), member=member)
    with store.transaction() as db:
        for table in ("epochs", "losses", "events"):
            db.execute(f"DELETE FROM {table} WHERE run = ?", (old,))
    store.claim(old, "running")
    return old
