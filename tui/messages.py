"""What the training thread tells the screen: each engine event, wrapped as a Textual message.

They are posted from the training thread (``post_message`` is thread-safe), one per event and
never merged: batch reports carry the losses the plot draws, so none may be dropped. The trainer
already coalesces its batches into a few reports a second (``Trainer.report_interval``). Each
carries the run it came from, so events from a run that was just replaced are recognised and
dropped.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.message import Message

if TYPE_CHECKING:
    from mlp_tui.core.events import Event

    from .run_view import RunView


class TrainerEvent(Message, bubble=False):  # for the screen alone
    def __init__(self, run: RunView, event: Event) -> None:
        super().__init__()
        self.run = run
        self.event = event


class StoreProblem(Message, bubble=False):
    """The run store failed (maybe on the training thread): the screen says so once."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text


class SweepMessage(Message, bubble=False):
    """What a sweep's worker says (``core.sweep_run``'s events), for the sweep screen alone."""

    def __init__(self, event: object) -> None:
        super().__init__()
        self.event = event
