"""Where checkpoints go and come from, and the checks on a path a user typed."""

from __future__ import annotations

import json
from pathlib import Path

from mlp_tui.core.checkpoint import SUFFIX, file_in_the_way
from mlp_tui.core.events import EpochReport
from mlp_tui.core.trainer import Trainer


def default_save_dir() -> Path:
    import platformdirs

    return Path(platformdirs.user_data_dir("mlp-tui"))


def default_checkpoint_path(save_dir: Path, trainer: Trainer) -> Path:
    """A name that says where the run stands, so saves of one run do not overwrite each other."""
    return (
        save_dir
        / f"mlp-h{trainer.config.hidden}-epoch{trainer.epoch}-step{trainer.step_count}{SUFFIX}"
    )


def checked_save_path(text: str) -> Path:
    """The file to save to; a name without a suffix gets ``.safetensors``."""
    text = text.strip()
    if not text:
        raise ValueError("enter a file name to save to")
    path = Path(text).expanduser()
    if path.is_dir():
        raise ValueError(f"{path} is a directory: add a file name")
    if not path.suffix:
        path = path.with_name(path.name + SUFFIX)
    blocker = file_in_the_way(path)
    if blocker is not None:
        raise ValueError(f"{blocker} is a file, not a folder")
    return path


def latest_checkpoint(save_dir: Path) -> Path | None:
    try:
        found = [p for p in save_dir.glob(f"*{SUFFIX}") if p.is_file()]
    except OSError:
        return None
    return max(found, key=lambda p: p.stat().st_mtime, default=None)


def load_checkpoint(text: str, current: Trainer) -> Trainer:
    """A trainer resumed from the typed path, on the current run's data and device.

    Raises ValueError/CheckpointError/ConfigError with one line; nothing changes on failure.
    """
    text = text.strip()
    if not text:
        raise ValueError("enter the path of a checkpoint")
    path = Path(text).expanduser()
    if path.is_dir():
        raise ValueError(f"{path} is a directory: pick a {SUFFIX} file in it")
    if not path.is_file():
        raise ValueError(f"{path} does not exist")
    return Trainer.from_checkpoint(path, current.data, device=current.config.device)


def write_metrics(path: Path, reports: list[EpochReport], append: bool) -> str | None:
    """``--metrics-out`` in the app: JSON Lines as the headless run writes them.

    Returns the reason when the file cannot be written (the app shows it), else None.
    """
    try:
        with open(path, "a" if append else "w", encoding="utf-8") as out:
            for report in reports:
                out.write(json.dumps(report.as_dict()) + "\n")
    except OSError as exc:
        return f"cannot write {path}: {exc.strerror or exc}"
    return None
