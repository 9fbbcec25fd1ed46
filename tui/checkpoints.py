"""Saving and opening checkpoints from the app: ask where, then save there or continue it."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path

from mlp_tui.core.trainer import Trainer
from textual.app import App

from . import files
from .run_view import RunView
from .screens.confirm import ConfirmDialog
from .screens.open_prompt import OpenPrompt
from .screens.prompt import ValuePrompt


def ask_to_save(
    app: App,
    run: RunView,
    save_dir: Path,
    autosave: Path | None = None,
    then: Callable[[Future], object] | None = None,
) -> None:
    """Ask where to save ``run`` (``--save``'s file suggested, else a name in ``save_dir``
    that says where the run stands), save there, and give ``then`` the save's future."""
    default = autosave or files.default_checkpoint_path(
        save_dir, run.config.layers, run.epochs_done, run.step
    )

    def save(path: object) -> None:
        if isinstance(path, Path):  # else cancelled
            if not path.parent.exists():  # the save makes it: say so, as the headless run does
                app.notify(f"made the folder {path.parent}")
            future = run.trainer.save(path)
            if then is not None:
                then(future)

    app.push_screen(ValuePrompt("Save checkpoint to", str(default), files.checked_save_path), save)


def ask_to_open(
    app: App, run: RunView, save_dir: Path, opened: Callable[[Trainer], object]
) -> None:
    """Ask for a checkpoint (the newest in ``save_dir`` suggested) and give ``opened`` a trainer
    resumed from it on ``run``'s data and device. A bad path is told in the prompt. When the
    run on screen has unsaved progress, a yes/no comes first, as the new-run keys ask."""
    lost = " (this run's unsaved progress is lost)" if run.unsaved else ""
    data, device = run.trainer.data, run.config.device
    prompt = OpenPrompt(
        f"Open checkpoint{lost}",
        save_dir,
        lambda text: files.load_checkpoint(text, data, device),
    )

    def chosen(trainer: object) -> None:
        if not isinstance(trainer, Trainer):
            return  # cancelled
        if not run.unsaved:  # asked now: the run may have trained on behind the prompt
            opened(trainer)
            return
        done, batch = trainer.epoch, trainer.batch
        where = f"epoch {done + 1}, batch {batch}" if batch else f"{done} epochs done"

        def answer(yes: bool | None) -> None:
            if yes:
                opened(trainer)

        question = f"Open the checkpoint ({where})? This run's unsaved progress is lost."
        app.push_screen(ConfirmDialog(question, yes="Open"), answer)

    app.push_screen(prompt, chosen)
