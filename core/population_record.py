"""Records a population's members in the run store, one stored run each, as they train.

Each member gets the recorder a solo run gets (``recorder.py``): its epochs, its batch-loss
curve and its status land in the store exactly as a Trainer's would, so the runs screen, the
comparisons and the overlays read members like any other run.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from .events import Event
from .population import Population
from .recorder import Recorder
from .store import RunStore, StoreError


def record(
    population: Population,
    store: RunStore,
    on_problem: Callable[[str], None],
    names: Sequence[str | None] | None = None,
    sweep: str | None = None,
) -> Callable[[int, Event], None]:
    """A run in ``store`` for every member (named ``names[i]``, in ``sweep`` if given) and
    the ``on_event`` for ``Population.run`` that records them. A store that cannot be written
    says so once through ``on_problem`` and the members train unrecorded."""
    recorders: dict[int, Recorder] = {}
    try:
        store.mark_interrupted()
        for m in population.members:
            name = names[m.index] if names is not None else None
            run_id = store.create_run(m.config, name, sweep=sweep)
            m.run_uid = store.uid_of(run_id)
            recorders[m.index] = Recorder(store, run_id, on_problem, m.config)
    except StoreError as exc:
        on_problem(f"{exc}; the population is not recorded (it trains all the same)")
        recorders.clear()

    def on_event(member: int, event: Event) -> None:
        recorder = recorders.get(member)
        if recorder is not None:
            recorder(event)

    return on_event
