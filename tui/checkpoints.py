"""Saving and opening checkpoints from the app: ask where, then save there or continue it."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path

from mlp_tui.core.data import FashionMNIST
from mlp_tui.core.trainer import Trainer
from textual.app import App

from . import files
from .screens.prompt import ValuePrompt


def ask_to_save(
    app: App, trainer: Trainer, default: Path, then: Callable[[Future], object] | None = None
) -> None:
    """Ask where to save (``default`` suggested), save there, and give ``then`` the future."""

    def save(path: object) -> None:
        if isinstance(path, Path):  # else cancelled
            future = trainer.save(path)
            if then is not None:
                then(future)

    app.push_screen(ValuePrompt("Save checkpoint to", str(default), files.checked_save_path), save)


def ask_to_open(
    app: App,
    save_dir: Path,
    unsaved: bool,
    data: FashionMNIST,
    device: str,
    opened: Callable[[Trainer], object],
) -> None:
    """Ask for a checkpoint (the newest in ``save_dir`` suggested) and give ``opened`` a trainer
    resumed from it on ``data`` and ``device``. A bad path is told in the prompt."""
    lost = " (this run's unsaved progress is lost)" if unsaved else ""
    prompt = ValuePrompt(
        f"Open checkpoint{lost}",
        str(files.latest_checkpoint(save_dir) or f"{save_dir}/"),
        lambda text: files.load_checkpoint(text, data, device),
    )

    def chosen(trainer: object) -> None:
        if isinstance(trainer, Trainer):  # else cancelled
            opened(trainer)

    app.push_screen(prompt, chosen)
