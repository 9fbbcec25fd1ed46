"""Follows the runs in a store as they change, cheaply enough to ask every second.

The runs screen stays open while the app trains behind it, or while headless runs write to
the same store. Reading every run's summary again each second would cost tens of
milliseconds on a store of a thousand runs, taken from the training threads' cores; this asks
the store whether anything was committed at all (``RunStore.stamp``, microseconds), and when
something was, re-reads only the runs that may have changed: new ones, those whose name,
status or checkpoint changed, and those still running or paused (whose epochs grow).
"""

from __future__ import annotations

from .store import LIVE_STATUSES, RunStore, RunSummary


def head_of(summary: RunSummary) -> tuple:
    """What ``RunStore.heads`` says of a run, from its summary."""
    return (summary.name, summary.status, summary.ended, summary.checkpoint)


class RunsWatch:
    """``poll()`` on any one thread at a time (the runs screen's worker)."""

    def __init__(self, store: RunStore) -> None:
        self.store = store
        self._stamp: tuple[int, int] | None = None
        self._runs: dict[int, RunSummary] = {}

    def poll(self) -> list[RunSummary] | None:
        """Every run in creation order when something changed since the last poll (the
        first always), else None. Raises StoreError."""
        stamp = self.store.stamp()  # before reading: what is committed after shows next time
        if stamp == self._stamp:
            return None
        heads = self.store.heads()
        known = self._runs
        stale = [
            run_id
            for run_id, head in heads.items()
            if run_id not in known or head != head_of(known[run_id]) or head[1] in LIVE_STATUSES
        ]
        fresh = {s.id: s for s in self.store.runs(stale, strict=False)} if stale else {}
        gone = set(stale) - set(fresh)  # deleted since heads() was read
        runs = {i: fresh.get(i) or known[i] for i in heads if i not in gone}
        first, self._stamp = self._stamp is None, stamp
        if not first and list(runs.values()) == list(known.values()):
            return None  # committed, but nothing a table shows: a loss point, an event
        self._runs = runs
        return list(runs.values())
