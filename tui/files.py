"""Where checkpoints go and come from, the checks on a path a user typed, and the files
``--save`` and ``--metrics-out`` keep up to date at each epoch's end."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from mlp_tui.core.checkpoint import SUFFIX, file_in_the_way
from mlp_tui.core.data import FashionMNIST
from mlp_tui.core.events import EpochReport, Saved
from mlp_tui.core.parsing import not_a_file
from mlp_tui.core.trainer import Trainer

SAVE_TIMEOUT_S = 30.0  # the longest a quit waits for its save


def default_save_dir() -> Path:
    import platformdirs

    return Path(platformdirs.user_data_dir("mlp-tui"))


def default_checkpoint_path(save_dir: Path, layers: tuple[int, ...], epoch: int, step: int) -> Path:
    """A name that says where the run stands, so saves of one run do not overwrite each other:
    ``mlp-h256-epoch3-step700``, ``mlp-h512x256-...`` for a stack."""
    widths = "x".join(map(str, layers))
    return save_dir / f"mlp-h{widths}-epoch{epoch}-step{step}{SUFFIX}"


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
    kind = not_a_file(path)
    if kind is not None:
        raise ValueError(f"{path} is {kind}, not a regular file")
    writable_folder(path)
    return path


def writable_folder(path: Path) -> None:
    """Raise ValueError unless a file can be made beside ``path`` (or in the nearest folder
    above it that exists: the save makes the rest). Asked while the save prompt is open, so
    that it stays open with the reason; the save itself reported it after the prompt closed,
    and the typed path was lost (``/proc/x.safetensors``)."""
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    try:
        fd, probe = tempfile.mkstemp(prefix=".mlp-tui-", suffix=".probe", dir=folder)
    except OSError as exc:
        raise ValueError(f"cannot save {path}: {exc.strerror or exc}") from None
    os.close(fd)
    Path(probe).unlink(missing_ok=True)


def load_checkpoint(text: str, data: FashionMNIST, device: str) -> Trainer:
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
    return Trainer.from_checkpoint(path, data, device=device)


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


class EpochFiles:
    """``--save`` and ``--metrics-out`` in the app: a checkpoint and the metrics, written at
    each epoch's end. Those saves need no message: each one under way is counted, so that its
    ``Saved`` event passes quietly."""

    def __init__(self, checkpoint: Path | None, metrics: Path | None) -> None:
        self.checkpoint, self.metrics = checkpoint, metrics
        self._saving = 0

    def new_run(self, history: list[EpochReport]) -> str | None:
        """Start the metrics afresh with a run's past epochs; the reason when that failed."""
        self._saving = 0
        return write_metrics(self.metrics, history, append=False) if self.metrics else None

    def epoch_ended(self, trainer: Trainer, report: EpochReport) -> str | None:
        problem = write_metrics(self.metrics, [report], append=True) if self.metrics else None
        if self.checkpoint:
            self._saving += 1
            trainer.save(self.checkpoint)
        return problem

    def quiet(self, saved: Saved) -> bool:
        """Whether ``saved`` is one of the epochs' saves (which need no message)."""
        if self._saving and saved.path == str(self.checkpoint):
            self._saving -= 1
            return True
        return False
