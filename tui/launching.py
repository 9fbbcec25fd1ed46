"""What the app's launch hands over from its loading thread: the run, or why there is none.

The app draws its first frame before torch has loaded (``screens/starting.py``); torch, the
data, the run store and the trainer load on a thread meanwhile, and the app then shows the run.
Torch-free, like every module the first frame needs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mlp_tui.core.store import RunStore
    from mlp_tui.core.trainer import Trainer


@dataclass(frozen=True)
class Loaded:
    """The run to show, and where it is recorded (``store_problem``: why it is not)."""

    trainer: Trainer
    store: RunStore | None = None
    store_problem: str = ""


class LaunchFailed(Exception):
    """Nothing to show: ``text`` is the one line for the shell's screen (after the app has
    restored the terminal) and ``code`` the exit code."""

    def __init__(self, text: str, code: int) -> None:
        super().__init__(text)
        self.text, self.code = text, code
