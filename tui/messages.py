"""What the training thread tells the app: engine events wrapped as Textual messages.

They are posted from the training thread (``post_message`` is thread-safe) and carry the trainer
that sent them, so events from a run that was just replaced are recognised and dropped.
``BatchProgress`` only says "here is the latest position": a newer one replaces an unhandled
older one, and the loss history itself lives in the trainer, so nothing is lost when it does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.message import Message

if TYPE_CHECKING:
    from mlp_tui.core.events import BatchReport, Event
    from mlp_tui.core.trainer import Trainer


class BatchProgress(Message):
    def __init__(self, trainer: Trainer, report: BatchReport) -> None:
        super().__init__()
        self.trainer = trainer
        self.report = report

    def can_replace(self, message: Message) -> bool:
        # Textual asks the older message whether the newer pending one supersedes it.
        return isinstance(message, BatchProgress)


class TrainerEvent(Message):
    """Every other event (epochs, predictions, state, settings, saves, failures): never merged."""

    def __init__(self, trainer: Trainer, event: Event) -> None:
        super().__init__()
        self.trainer = trainer
        self.event = event
