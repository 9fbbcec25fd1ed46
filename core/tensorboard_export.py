"""``mlp-tui runs export --format tensorboard``: stored runs as TensorBoard event files, so the
runs open in the tool users already have.

One folder per run (``r3_lr_0.5_hidden_64``) holding one event file: the per-epoch figures by
epoch (``epoch/train_loss``, ``epoch/train_acc``, ``epoch/test_acc``, ``epoch/lr``, with --val
``epoch/val_acc`` and ``epoch/val_loss``), the stored batch-loss curve by batch
(``batch/loss``), each hyperparameter that changed during the run as
a curve of its values by batch (``setting/lr``...), the events and the config as text, and the
config as TensorBoard hparams (its HParams tab lists the runs side by side). ``tensorboard`` is
an optional extra: without it, ``TensorBoardMissing`` before anything is written.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

from .config import show_stored
from .store import RunRecord, StoreError, event_text, short_id

INSTALL = "pip install 'mlp-tui[tensorboard]' (or: pip install tensorboard)"
EPOCH_TAGS = ("train_loss", "train_acc", "test_acc", "lr", "val_acc", "val_loss")  # val: --val
EVENTS_PREFIX = "events.out.tfevents."
MAX_FOLDER = 80  # characters of a run's folder name


class TensorBoardMissing(StoreError):
    """The tensorboard package is not installed; the message says what to install."""


def check_available() -> None:
    """Raise ``TensorBoardMissing`` unless torch's SummaryWriter can be used."""
    try:
        import tensorboard  # noqa: F401 (torch's writer needs it; say so before torch does)
        from torch.utils.tensorboard import SummaryWriter  # noqa: F401
    except ImportError:
        raise TensorBoardMissing(
            f"runs export --format tensorboard needs the tensorboard package: {INSTALL}"
        ) from None


def folder_name(record: RunRecord) -> str:
    """The run's short id and name, kept to letters, digits, ``.``, ``-`` and ``_``."""
    s = record.summary
    name = re.sub(r"[^A-Za-z0-9.\-]+", "_", s.name).strip("._-")
    return f"{s.short_id}_{name}"[:MAX_FOLDER].rstrip("._-") if name else s.short_id


def export_tensorboard(records: Sequence[RunRecord], folder: Path) -> list[Path]:
    """Write each run's folder under ``folder``; returns the folders. A run exported before
    has its old event files replaced, once its new ones are complete."""
    check_available()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        return [_export_one(record, folder) for record in records]
    except OSError as exc:
        where = exc.filename or folder
        raise StoreError(f"cannot export to {where}: {exc.strerror or exc}") from None


def _export_one(record: RunRecord, folder: Path) -> Path:
    target = folder / folder_name(record)
    scratch = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=folder))
    try:
        _write(record, scratch)
        target.mkdir(exist_ok=True)
        for old in target.glob(EVENTS_PREFIX + "*"):
            old.unlink()
        for new in scratch.iterdir():
            os.replace(new, target / new.name)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return target


def _write(record: RunRecord, folder: Path) -> None:
    from torch.utils.tensorboard import SummaryWriter
    from torch.utils.tensorboard.summary import hparams

    s = record.summary
    writer = SummaryWriter(log_dir=str(folder))
    try:
        for epoch in record.epochs:
            for tag in EPOCH_TAGS:
                if epoch.get(tag) is not None:
                    writer.add_scalar(f"epoch/{tag}", epoch[tag], epoch["epoch"])
        for step, loss in record.losses:
            if loss is not None:  # a diverged batch's loss: said in the events
                writer.add_scalar("batch/loss", loss, step)
        for field, curve in setting_curves(record).items():
            for step, value in curve:
                writer.add_scalar(f"setting/{field}", value, step)
        writer.add_text("config", _config_text(record))
        if record.events:
            writer.add_text("events", _events_text(record))
        config = {  # a stack of layers (a list) as TensorBoard can show it: 512x256
            k: show_stored(v) if isinstance(v, list) else v
            for k, v in s.config.items()
            if isinstance(v, (int, float, str, bool, list))
        }
        metrics = {f"epoch/{tag}": 0.0 for tag in ("test_acc", "train_acc", "train_loss")}
        events = writer.file_writer  # made with the writer; typed as maybe None
        assert events is not None
        for summary in hparams(config, metrics):  # TensorBoard reads the metrics from the tags
            events.add_summary(summary)
    finally:
        writer.close()


def setting_curves(record: RunRecord) -> dict[str, list[tuple[int, float]]]:
    """Each numeric setting changed during the run: its value from batch 0, then at each
    change's batch (the first batch trained with it)."""
    curves: dict[str, list[tuple[int, float]]] = {}
    for event in record.events:
        field, new = str(event.get("field")), event.get("new")
        if event["kind"] != "set" or not isinstance(new, (int, float)) or isinstance(new, bool):
            continue
        if field not in curves:
            start = record.summary.config.get(field, event.get("old"))
            curves[field] = [(0, float(start))] if isinstance(start, (int, float)) else []
        curves[field].append((event["step"], float(new)))
    return curves


def _config_text(record: RunRecord) -> str:
    s = record.summary
    lines = [f"**{s.short_id}** {s.name}: {s.status}, {s.epochs} epochs", ""]
    if s.parent is not None:
        lines += [f"forked from {short_id(s.parent)} at batch {s.fork_step}", ""]
    lines += ["| setting | value |", "| --- | --- |"]
    lines += [f"| {k} | {json.dumps(v)} |" for k, v in s.config.items()]
    return "\n".join(lines)


def _events_text(record: RunRecord) -> str:
    return "\n".join(f"- batch {e['step']}: {event_text(e)}" for e in record.events)
