"""Checkpoints: a trainer's ``state_dict()`` as one safetensors file, tensors as tensors and
everything else as JSON metadata. This module handles bytes and validation; the trainer gives
and takes the state.

No unpickler ever runs: the file is an 8-byte header length, a JSON header and raw tensor bytes,
so a hostile file can at worst be rejected. Writes go to a temporary file in the same folder,
are fsynced, then renamed over the target: a crash mid-save leaves the previous file intact.
"""

from __future__ import annotations

import dataclasses
import datetime
import glob
import json
import math
import os
import re
from pathlib import Path
from typing import Any

import torch

from . import __version__, health_state
from .config import ConfigError, TrainConfig, parse_field
from .data import NUM_CLASSES, NUM_INPUTS, FashionMNIST
from .events import EpochReport
from .parsing import file_in_the_way, not_a_file

FORMAT = "mlp-tui-checkpoint"
VERSION = 2  # 2: any layers, activation, dropout, validation split; 1: the seed's kind
SUFFIX = ".safetensors"
_MAX_HEADER = 16 * 1024 * 1024


class CheckpointError(RuntimeError):
    """A checkpoint cannot be written or read; the message names the file and the reason."""


TENSORS = ("shuffle_rng", "perm")  # state entries stored as tensors as they are


def format_version(config: TrainConfig) -> int:
    """The oldest format that holds ``config``'s network: a run of the seed's kind stays
    readable by an mlp-tui that knows format 1 only; another is refused by it, clearly, instead
    of being trained as a relu network of one layer on every image. (The init drew the first
    weights only.)"""
    one_relu_layer = len(config.layers) == 1 and config.activation == "relu"
    seeds_kind = one_relu_layer and not any(config.dropout) and not config.val
    return 1 if seeds_kind else VERSION


def shapes(config: TrainConfig) -> dict[str, tuple[int, ...]]:
    """Each parameter's name and shape: ``W1`` (784, h1), ``b1`` (h1,), ..."""
    sizes = (NUM_INPUTS, *config.layers, NUM_CLASSES)
    found: dict[str, tuple[int, ...]] = {}
    for i, (fan_in, fan_out) in enumerate(zip(sizes, sizes[1:]), start=1):
        found[f"W{i}"], found[f"b{i}"] = (fan_in, fan_out), (fan_out,)
    return found


def save(state: dict, path: str | os.PathLike) -> Path:
    """Write a trainer's ``state_dict()`` to ``path``, atomically."""
    from safetensors.torch import save as to_bytes

    tensors = {name: state["params"][name] for name in shapes(state["config"])}
    tensors.update({f"momentum.{name}": buf for name, buf in state["momentum"].items()})
    tensors.update({key: state[key] for key in TENSORS if state[key] is not None})
    tensors["batch_losses"] = torch.tensor(state["batch_losses"], dtype=torch.float64)
    meta = {
        key: value
        for key, value in state.items()
        if key not in TENSORS and key not in ("params", "momentum", "batch_losses")
    }
    meta["config"] = dataclasses.asdict(state["config"])
    meta["history"] = [report.as_dict() for report in state["history"]]
    if state.get("health") is not None:  # figures may be nan: JSON of its own (health_state)
        meta["health"] = health_state.to_text(state["health"])
    else:
        meta.pop("health", None)
    meta["saved_at"] = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    meta["mlp_tui_version"] = __version__
    version = str(format_version(state["config"]))
    header = {"format": FORMAT, "version": version, "meta": json.dumps(meta, allow_nan=False)}
    payload = to_bytes(tensors, metadata=header)
    return write_atomic(Path(path), payload)


def load(path: str | os.PathLike, data: FashionMNIST) -> dict:
    """A checkpoint as the ``state_dict()`` it was saved from, checked against ``data``."""
    path = Path(path).expanduser()
    tensors, meta = read(path)
    if meta.get("dataset") != data.fingerprint:
        raise CheckpointError(
            f"{path} was trained on another dataset ({meta.get('dataset')}); "
            f"the data here is {data.fingerprint}"
        )
    try:
        torch.Generator().set_state(tensors["shuffle_rng"])
    except (KeyError, RuntimeError, TypeError, ValueError) as exc:
        raise CheckpointError(f"{path} is damaged (random state: {exc})") from None
    config = config_from(path, meta)
    try:
        count = len(data.holdout(config.val).train_y)  # the rows the run trains on
    except ValueError:
        raise CheckpointError(
            f"{path} holds out {config.val:,} validation images; the data here has "
            f"{len(data.train_y) + data.held_out:,} training images"
        ) from None
    perm = tensors.get("perm")
    if perm is not None and not (
        perm.dtype == torch.int64
        and perm.shape == (count,)
        and torch.equal(perm.sort().values, torch.arange(count))
    ):
        raise CheckpointError(f"{path} is damaged (the shuffle order does not fit the data)")
    batch, size = meta["batch"], meta["epoch_batch_size"]
    if batch and (batch >= math.ceil(count / size) or meta["seen"] != batch * size):
        raise CheckpointError(f"{path} is damaged (batch {batch} does not fit the data)")
    reference = meta.get("reference_loss")
    names = shapes(config)
    return {
        **meta,
        "params": {name: tensors[name] for name in names},
        "momentum": {n: tensors[f"momentum.{n}"] for n in names if f"momentum.{n}" in tensors},
        "shuffle_rng": tensors["shuffle_rng"],
        "perm": perm,
        "batch_losses": tensors.get("batch_losses", torch.zeros(0)).tolist(),
        "config": config,
        "loss_sum": float(meta["loss_sum"]),
        "correct": float(meta["correct"]),
        "epoch_seconds": float(meta["epoch_seconds"]),
        "elapsed": float(meta["elapsed"]),
        "reference_loss": None if reference is None else float(reference),
        "history": [EpochReport(**row) for row in meta["history"]],
        "lr_changes": [(int(step), float(lr)) for step, lr in meta["lr_changes"]],
        "health": None if meta.get("health") is None else health_state.from_text(meta["health"]),
    }


def write_atomic(path: Path, payload: bytes) -> Path:
    """Write ``payload`` to ``path`` through a temporary file renamed over it. A symlink
    stays a link: its target gets the new content. Returns the path as given."""
    given = path = path.expanduser()
    kind = not_a_file(path)
    if kind == "a directory":
        raise CheckpointError(f"cannot save {path}: it is a directory")
    if kind is not None:  # os.replace would put a regular file in its place
        raise CheckpointError(f"cannot save {path}: it is {kind}, not a regular file")
    if path.is_symlink():  # the rename would replace the link itself
        path = Path(os.path.realpath(path))
    blocker = file_in_the_way(path)
    if blocker is not None:  # mkdir would only say "File exists" or "Not a directory"
        raise CheckpointError(f"cannot save {path}: {blocker} is a file, not a folder")
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "wb") as f:
            f.write(payload)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        try:
            tmp.unlink(missing_ok=True)
        except OSError:
            pass
        raise CheckpointError(f"cannot save {path}: {exc.strerror or exc}") from None
    try:
        fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError:
        pass  # some filesystems cannot fsync a directory; the rename is already done
    _remove_stale_temporaries(path)
    return given


def _remove_stale_temporaries(path: Path) -> None:
    """Delete the temporary files of saves whose process died midway (killed, power cut):
    nothing else removes them. A live process's file, even another program's, stays."""
    for tmp in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):
        pid = tmp.name[len(path.name) + 2 : -len(".tmp")]
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            tmp.unlink(missing_ok=True)
        except OSError:
            pass  # alive under another user, or not ours to judge


def read(path: str | os.PathLike) -> tuple[dict[str, torch.Tensor], dict]:
    """Parse and validate a checkpoint file without running any code from it."""
    from safetensors import SafetensorError
    from safetensors.torch import load as from_bytes

    path = Path(path).expanduser()
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise CheckpointError(f"cannot open checkpoint {path}: {exc.strerror or exc}") from None
    bad = f"{path} is not an mlp-tui checkpoint"
    if len(raw) < 8:
        raise CheckpointError(f"{bad} (only {len(raw)} bytes)")
    size = int.from_bytes(raw[:8], "little")
    if size > min(_MAX_HEADER, len(raw) - 8):
        raise CheckpointError(f"{bad} (no safetensors header; a pickle or another format?)")
    try:
        header = json.loads(raw[8 : 8 + size])
        info = header.get("__metadata__") or {}
    except (ValueError, AttributeError):
        raise CheckpointError(f"{bad} (its header is not JSON)") from None
    if not isinstance(info, dict) or info.get("format") != FORMAT:
        raise CheckpointError(f"{bad} (a safetensors file from another program)")
    version = str(info.get("version", ""))
    if not re.fullmatch(r"[0-9]{1,9}", version) or not 1 <= int(version) <= VERSION:
        raise CheckpointError(
            f"{path} has checkpoint format {version!r}; "
            f"this mlp-tui {__version__} reads formats up to {VERSION}"
        )
    try:
        meta = json.loads(info["meta"])
        tensors = from_bytes(raw)
    except (KeyError, TypeError, ValueError, SafetensorError) as exc:
        raise CheckpointError(f"{path} is damaged ({exc})") from None
    _check(path, tensors, meta)
    return tensors, meta


def config_from(path: Path, meta: dict) -> TrainConfig:
    try:
        stored = meta["config"]
        fields = {f.name for f in dataclasses.fields(TrainConfig)}
        values: dict[str, Any] = {
            k: parse_field(k, _typed(v)) for k, v in stored.items() if k in fields
        }
        if len(values.get("layers", ())) == 1:
            del values["layers"]  # one layer: ``hidden`` says it (format 1 has only that)
        return TrainConfig(**values).validated()
    except (KeyError, TypeError, AttributeError, ConfigError) as exc:
        raise CheckpointError(f"{path} holds a bad configuration ({exc})") from None


def _typed(value: object) -> str:
    """A stored value as it would be typed: a list (layers, dropout) as ``512,256``."""
    if isinstance(value, list):
        return ",".join(map(str, value))
    return str(value)


def _check(path: Path, tensors: dict[str, torch.Tensor], meta: dict) -> None:
    if not isinstance(meta, dict):
        raise CheckpointError(f"{path} is damaged (metadata is not an object)")
    config = config_from(path, meta)
    for name, shape in shapes(config).items():
        t = tensors.get(name)
        if t is None or tuple(t.shape) != shape or t.dtype != torch.float32:
            got = "missing" if t is None else f"{tuple(t.shape)} {t.dtype}"
            raise CheckpointError(f"{path} is damaged ({name} should be {shape} float32, is {got})")
        if not torch.isfinite(t).all():
            raise CheckpointError(f"{path} is damaged ({name} holds nan or inf)")
        buf = tensors.get(f"momentum.{name}")
        if buf is not None and (tuple(buf.shape) != shape or buf.dtype != torch.float32):
            raise CheckpointError(f"{path} is damaged (momentum.{name} has the wrong shape)")
        if buf is not None and not torch.isfinite(buf).all():
            raise CheckpointError(f"{path} is damaged (momentum.{name} holds nan or inf)")
    losses = tensors.get("batch_losses")
    if losses is not None and losses.dim() != 1:
        raise CheckpointError(f"{path} is damaged (batch_losses is not a list of numbers)")
    try:
        for key in ("epoch", "batch", "step_count", "epoch_batch_size", "seen"):
            if not isinstance(meta[key], int) or meta[key] < 0:
                raise ValueError(f"{key} = {meta[key]!r}")
        if meta["epoch_batch_size"] < 1:
            raise ValueError("epoch_batch_size = 0")
        for key in ("loss_sum", "correct", "epoch_seconds", "elapsed"):
            if not math.isfinite(float(meta[key])):
                raise ValueError(f"{key} = {meta[key]!r}")
        reference = meta.get("reference_loss")
        if reference is not None and not math.isfinite(float(reference)):
            raise ValueError(f"reference_loss = {reference!r}")
        [EpochReport(**row) for row in meta["history"]]
        if not [(int(step), float(lr)) for step, lr in meta["lr_changes"]]:
            raise ValueError("no learning rate history")
        if meta.get("health") is not None:
            health = health_state.from_text(meta["health"])
            depth = len(config.layers) + 1  # ||dW||, ||grad||, ||W|| of each weight
            if any(len(row) != 3 * depth for row in health["pending"]):
                raise ValueError("health samples do not fit the network")
            if any(len(r.layers) != depth for r in health_state.reports(health)):
                raise ValueError("a health report does not fit the network")
        if meta["batch"] and "perm" not in tensors:
            raise ValueError("mid-epoch position without its permutation")
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"{path} is damaged ({exc})") from None
