"""The app records every run it trains in the run store: the first, each restart or new run,
each opened checkpoint (which continues its stored run when the store has it).

A store that cannot be opened is said once when the app starts; one that fails later is said
once for the run it stopped recording. Training never stops for it.
"""

from __future__ import annotations

from collections.abc import Callable
from weakref import WeakKeyDictionary

from mlp_tui.core.recorder import Recorder, record
from mlp_tui.core.store import RunStore
from mlp_tui.core.trainer import Trainer


class Recording:
    """Opens a ``Recorder`` for each trainer the screen shows (none without a store)."""

    def __init__(
        self, store: RunStore | None, on_problem: Callable[[str], None], name: str | None = None
    ) -> None:
        """``on_problem`` may be called on the training thread; ``name``: the first run's."""
        self.store, self.on_problem, self._name = store, on_problem, name
        self._recorders: WeakKeyDictionary[Trainer, Recorder] = WeakKeyDictionary()

    def start(self, trainer: Trainer) -> Recorder | None:
        if self.store is None:
            return None
        name, self._name = self._name, None  # --name names the first run only
        recorder = record(trainer, self.store, self.on_problem, name)
        if recorder is not None:
            self._recorders[trainer] = recorder
        return recorder

    def park(self, trainer: Trainer) -> None:
        """``trainer``'s coming stop sets its run aside, paused at its latest save
        (``Recorder.park``)."""
        if (recorder := self._recorders.get(trainer)) is not None:
            recorder.park()
