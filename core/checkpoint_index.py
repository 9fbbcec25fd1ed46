"""What a folder of checkpoints holds, read from their headers only: for a picker that lists
many files at once without loading their tensors."""

from __future__ import annotations

import datetime
import json
import os
from dataclasses import dataclass
from pathlib import Path

from .checkpoint import _MAX_HEADER, FORMAT, SUFFIX, CheckpointError, config_from
from .store import default_name

MAX_LISTED = 200  # the newest; a save dir with more is still opened by typing a path
MINUTES = "%b %d %Y %H:%M"  # "Dec 01 2026 23:40"


@dataclass(frozen=True)
class CheckpointSummary:
    path: Path
    modified: float  # the file's mtime, for "newest first"
    epoch: int | None  # None: the header could not be read (listed, and opening says why)
    test_acc: float | None
    saved_at: str  # local time, to the minute (MINUTES)
    settings: str  # what differs from the seed's defaults, as the runs are named

    @property
    def readable(self) -> bool:
        return self.epoch is not None


def summary(path: Path) -> CheckpointSummary:
    """The file's epoch, last test accuracy, save time and settings, from its header."""
    modified = path.stat().st_mtime
    try:
        with open(path, "rb") as f:
            size = int.from_bytes(f.read(8), "little")
            if not 0 < size <= _MAX_HEADER:
                raise ValueError("no header")
            info = json.loads(f.read(size)).get("__metadata__") or {}
        if info.get("format") != FORMAT:
            raise ValueError("not ours")
        meta = json.loads(info["meta"])
        history = meta.get("history") or []
        test_acc = history[-1].get("test_acc") if history else None
        when = meta.get("saved_at", "")
        saved_at = local_minutes(when) if when else local_minutes_of(modified)
        settings = default_name(config_from(path, meta))
        return CheckpointSummary(path, modified, int(meta["epoch"]), test_acc, saved_at, settings)
    except (OSError, ValueError, KeyError, TypeError, AttributeError, CheckpointError):
        return CheckpointSummary(path, modified, None, None, local_minutes_of(modified), "")


def local_minutes(iso: str) -> str:
    try:
        moment = datetime.datetime.fromisoformat(iso)
    except ValueError:
        return iso
    return moment.astimezone().strftime(MINUTES)


def local_minutes_of(timestamp: float) -> str:
    return datetime.datetime.fromtimestamp(timestamp).strftime(MINUTES)


def checkpoints_in(folder: str | os.PathLike) -> list[CheckpointSummary]:
    """The checkpoints (``*.safetensors``) directly in ``folder``, newest first; [] if the
    folder cannot be read."""
    try:
        files = [p for p in Path(folder).expanduser().glob(f"*{SUFFIX}") if p.is_file()]
        files.sort(key=lambda p: p.stat().st_mtime, reverse=True)
    except OSError:
        return []
    out = []
    for path in files[:MAX_LISTED]:
        try:
            out.append(summary(path))
        except OSError:
            continue  # gone between the listing and the read
    return out
