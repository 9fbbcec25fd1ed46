"""The app's checkpoint keys: save (s), open (o) and quit (q), which offers to save first."""

from __future__ import annotations

import asyncio
from concurrent.futures import Future
from pathlib import Path
from typing import TYPE_CHECKING

from mlp_tui.core.checkpoint import CheckpointError
from mlp_tui.core.trainer import Trainer
from textual import work

from . import files
from .progress import where_it_stands
from .screens.prompt import ValuePrompt
from .screens.quit import QuitDialog

if TYPE_CHECKING:
    from .app import MLPApp

    _Base = MLPApp
else:
    _Base = object

SAVE_TIMEOUT_S = 30.0


class CheckpointKeys(_Base):
    """Mixed into ``MLPApp``."""

    def action_save(self, then_quit: bool = False) -> None:
        default = self.autosave or files.default_checkpoint_path(self.save_dir, self.trainer)
        prompt = ValuePrompt("Save checkpoint to", str(default), files.checked_save_path)
        self.push_screen(prompt, lambda path: path is None or self.save(path, then_quit))

    def save(self, path: Path, then_quit: bool = False) -> None:
        future = self.trainer.save(path)
        if then_quit:
            self._quit_when_saved(future)

    @work(group="quit")
    async def _quit_when_saved(self, future: Future) -> None:
        try:  # shielded: a timeout must not cancel the future the trainer will still set
            await asyncio.wait_for(asyncio.shield(asyncio.wrap_future(future)), SAVE_TIMEOUT_S)
        except CheckpointError:
            return  # the trainer's SaveFailed event says why
        except asyncio.TimeoutError:
            self.notify("the save did not finish: not quitting", severity="error")
            return
        self.leave()

    def action_open(self) -> None:
        lost = " (this run's unsaved progress is lost)" if self.unsaved else ""
        prompt = ValuePrompt(
            f"Open checkpoint{lost}",
            str(files.latest_checkpoint(self.save_dir) or f"{self.save_dir}/"),
            lambda text: files.load_checkpoint(text, self.trainer),
        )
        self.push_screen(prompt, self.opened)

    def opened(self, trainer: Trainer | None) -> None:
        if trainer is None:
            return
        self.trainer.stop()
        self.adopt(trainer, paused=False, saved=True)
        self.notify(f"opened a run: {where_it_stands(trainer)}")

    def action_quit(self) -> None:
        if not self.unsaved:
            self.leave()
            return
        trainer = self.trainer
        progress = where_it_stands(trainer)

        def answer(choice: str | None) -> None:
            if choice == "discard":
                self.leave()
            elif choice == "save":
                self.action_save(then_quit=True)

        self.push_screen(QuitDialog(progress), answer)

    def leave(self) -> None:
        self.trainer.stop()
        self.exit()
