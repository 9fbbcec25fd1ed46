"""Checkpoints a user may hand over (truncated, foreign, hostile, newer, for another network or
dataset) are refused with a CheckpointError naming the file, and nothing in them ever runs.
Saves that fail (no permission, a full disk, a file in the way) leave the previous checkpoint
as it was, no temporary file, and a run that goes on."""

from __future__ import annotations

import errno
import json
import os
import pickle
import random
import shlex
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from mlp_tui.core import checkpoint
from mlp_tui.core.checkpoint import CheckpointError
from mlp_tui.core.cli import main
from mlp_tui.core.config import TrainConfig
from mlp_tui.core.events import EpochReport, RunState, SaveFailed
from mlp_tui.core.trainer import Trainer
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from tests.conftest import write_dataset
from tests.core._helpers import TRACEBACK, EventLog, run_cli

CONFIG = TrainConfig(epochs=1, batch_size=64, hidden=16, device="cpu")


@pytest.fixture
def good(tiny_data, tmp_path) -> Path:
    trainer = Trainer(CONFIG, tiny_data)
    trainer.run()
    return trainer.save(tmp_path / "saves" / "good.safetensors").result()


class Hostile:
    """Unpickling this runs a shell command: what a malicious .pt or .pkl file does."""

    def __init__(self, sentinel: Path) -> None:
        self.sentinel = sentinel

    def __reduce__(self):
        return (os.system, (f"touch {shlex.quote(str(self.sentinel))}",))


def test_the_hostile_payload_is_live(tmp_path):
    armed = tmp_path / "armed"
    pickle.loads(pickle.dumps(Hostile(armed)))
    assert armed.exists()  # so its absence below means nothing ran


def raw_safetensors(header: object) -> bytes:
    text = json.dumps(header).encode()
    return len(text).to_bytes(8, "little") + text


# name -> writes a bad file at path (given the good checkpoint's bytes and a sentinel to spare)
BAD_FILES: dict[str, Callable[[Path, bytes, Path], None]] = {
    "empty": lambda p, g, s: p.write_bytes(b""),
    "truncated in the header": lambda p, g, s: p.write_bytes(g[:100]),
    "truncated in the tensors": lambda p, g, s: p.write_bytes(g[:-10]),
    "random bytes": lambda p, g, s: p.write_bytes(random.Random(0).randbytes(5000)),
    "an ordinary pickle": lambda p, g, s: p.write_bytes(pickle.dumps({"W1": [[0.0]], "epoch": 1})),
    "a torch.save file": lambda p, g, s: torch.save({"W1": torch.zeros(784, 16)}, p),
    "a hostile pickle": lambda p, g, s: p.write_bytes(pickle.dumps(Hostile(s))),
    "a hostile torch.save file": lambda p, g, s: torch.save({"W1": Hostile(s)}, p),
    "a foreign safetensors file": lambda p, g, s: save_file({"weight": torch.zeros(2, 2)}, p),
    "a header that is a list": lambda p, g, s: p.write_bytes(raw_safetensors([1, 2])),
    "metadata that is a list": lambda p, g, s: p.write_bytes(
        raw_safetensors({"__metadata__": ["mlp-tui-checkpoint"]})
    ),
}


@pytest.mark.parametrize("case", BAD_FILES)
def test_a_bad_file_is_a_checkpoint_error_and_runs_nothing(case, good, tiny_data, tmp_path):
    path, sentinel = tmp_path / "bad.safetensors", tmp_path / "SENTINEL"
    BAD_FILES[case](path, good.read_bytes(), sentinel)
    with pytest.raises(CheckpointError, match="^" + str(path)):
        checkpoint.read(path)
    with pytest.raises(CheckpointError):
        Trainer.from_checkpoint(path, tiny_data)
    assert not sentinel.exists()


@pytest.mark.parametrize("case", BAD_FILES)
def test_the_cli_refuses_a_bad_resume_file_in_one_line(case, good, tiny_dir, tmp_path, capsys):
    path, sentinel = tmp_path / "bad.safetensors", tmp_path / "SENTINEL"
    BAD_FILES[case](path, good.read_bytes(), sentinel)
    code = main(
        ["--headless", "--data-dir", str(tiny_dir), "--device", "cpu", "--resume", str(path)]
    )
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith(f"mlp-tui: {path}")
    assert not sentinel.exists()


def test_the_real_script_refuses_a_hostile_checkpoint(good, tiny_dir, tmp_path):
    path, sentinel = tmp_path / "evil.pt", tmp_path / "SENTINEL"
    torch.save({"model": Hostile(sentinel)}, path)
    result = run_cli("--headless", "--data-dir", str(tiny_dir), "--resume", str(path))
    assert result.returncode == 2 and result.stdout == ""
    assert "is not an mlp-tui checkpoint" in result.stderr and TRACEBACK not in result.stderr
    assert not sentinel.exists()


def test_random_damage_is_always_a_checkpoint_error_or_a_valid_load(good, tiny_data, tmp_path):
    rng, raw = random.Random(0), good.read_bytes()
    header_end = 8 + int.from_bytes(raw[:8], "little")
    path, loaded = tmp_path / "damaged.safetensors", 0
    for _ in range(150):
        damaged = bytearray(raw)
        for _ in range(rng.choice((1, 3))):  # mostly in the JSON header, where parsing happens
            at = rng.randrange(8, header_end) if rng.random() < 0.8 else rng.randrange(len(raw))
            damaged[at] = rng.randrange(256)
        path.write_bytes(damaged)
        try:
            Trainer.from_checkpoint(path, tiny_data)
            loaded += 1
        except CheckpointError:
            pass
    assert loaded < 150  # the damage was noticed somewhere


# ------------------------------------------------------------------------------ crafted contents
def rewrite(good: Path, path: Path, tensors=None, meta=None, header=None) -> Path:
    """A copy of ``good`` with some tensors, metadata fields or header fields replaced."""
    all_tensors = load_file(good)
    with safe_open(good, "pt") as f:
        info = f.metadata()
    stored = json.loads(info["meta"])
    stored.update(meta or {})
    info = {**info, "meta": json.dumps(stored), **(header or {})}
    save_file({**all_tensors, **(tensors or {})}, path, metadata=info)
    return path


CRAFTED = {
    # case: (tensors, meta, header, what the message says)
    "a newer format": (None, None, {"version": "3"}, "reads formats up to 2"),
    "a format version that is no number": (None, None, {"version": "²"}, "reads formats up to"),
    "W1 of another hidden size": ({"W1": torch.zeros(784, 8)}, None, None, "W1 should be"),
    "W2 in float64": ({"W2": torch.zeros(16, 10, dtype=torch.float64)}, None, None, "W2 should"),
    "nan in a weight": ({"b1": torch.full((16,), float("nan"))}, None, None, "b1 holds nan"),
    "nan in a momentum buffer": (
        {"momentum.W2": torch.full((16, 10), float("nan"))}, None, None, "momentum.W2",
    ),
    "config of another hidden size": (None, {"config": {**CONFIG.__dict__, "hidden": 8}}, None,
                                      "W1 should be (784, 8)"),
    "a bad lr in the config": (None, {"config": {**CONFIG.__dict__, "lr": "abc"}}, None,
                               "bad configuration"),
    "epoch_batch_size 0": (None, {"epoch_batch_size": 0}, None, "epoch_batch_size"),
    "a negative epoch": (None, {"epoch": -1}, None, "epoch = -1"),
    "mid-epoch without the shuffle order": (None, {"batch": 3, "seen": 192}, None, "permutation"),
    "a shuffle order that is no permutation": (
        {"perm": torch.zeros(600, dtype=torch.int64)}, {"batch": 3, "seen": 192}, None,
        "shuffle order",
    ),
    "a batch past the end of the epoch": (
        {"perm": torch.arange(600)}, {"batch": 50, "seen": 3200}, None, "does not fit",
    ),
    "nan in the running loss": (None, {"loss_sum": float("nan")}, None, "loss_sum"),
    "no learning-rate history": (None, {"lr_changes": []}, None, "learning rate history"),
    "a history row of junk": (None, {"history": [{"epoch": "x"}]}, None, "damaged"),
    "a random state of floats": ({"shuffle_rng": torch.zeros(5)}, None, None, "random state"),
    "batch losses as a matrix": ({"batch_losses": torch.zeros(2, 2)}, None, None, "batch_losses"),
}  # fmt: skip


@pytest.mark.parametrize("case", CRAFTED)
def test_crafted_contents_are_refused_before_training(case, good, tiny_data, tmp_path):
    tensors, meta, header, words = CRAFTED[case]
    path = rewrite(good, tmp_path / "crafted.safetensors", tensors, meta, header)
    with pytest.raises(CheckpointError) as err:
        Trainer.from_checkpoint(path, tiny_data)
    assert str(err.value).startswith(str(path)) and words in str(err.value)


def test_another_hidden_size_cannot_be_resumed(good, tiny_data, tiny_dir, capsys):
    with pytest.raises(CheckpointError, match="trained with hidden=16; it cannot resume with"):
        Trainer.from_checkpoint(good, tiny_data, hidden=32)
    args = ["--headless", "--data-dir", str(tiny_dir), "--resume", str(good), "--hidden", "32"]
    assert main(args) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and "hidden=16" in err


def test_another_dataset_cannot_be_resumed(good, tmp_path, capsys):
    other = write_dataset(tmp_path / "other", train=500, test=100)
    from mlp_tui.core import data

    with pytest.raises(CheckpointError, match="was trained on another dataset"):
        Trainer.from_checkpoint(good, data.load(other))
    assert main(["--headless", "--data-dir", str(other), "--resume", str(good)]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and "another dataset" in err


# ------------------------------------------------------------------------------ failing saves
def refuse(code: int) -> Callable:
    def fail(*args, **kwargs):
        raise OSError(code, os.strerror(code))

    return fail


def full_disk_open(real_open=open):
    """``open`` whose files take 100 bytes and then report a full disk."""

    class Full:
        def __init__(self, f):
            self.f = f

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

        def write(self, payload):
            self.f.write(payload[:100])
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

        def __getattr__(self, name):
            return getattr(self.f, name)

    return lambda *args, **kwargs: Full(real_open(*args, **kwargs))


SAVE_FAILURES = {
    "permission denied": (lambda mp: mp.setattr(checkpoint.os, "replace", refuse(errno.EACCES)),
                          "Permission denied"),
    "disk full while writing": (lambda mp: mp.setattr(checkpoint, "open", full_disk_open(),
                                                      raising=False), "No space left on device"),
    "disk full at fsync": (lambda mp: mp.setattr(checkpoint.os, "fsync", refuse(errno.ENOSPC)),
                           "No space left on device"),
}  # fmt: skip


@pytest.mark.parametrize("case", SAVE_FAILURES)
def test_a_failed_save_keeps_the_previous_file_and_the_run(case, good, tiny_data, monkeypatch):
    fault, reason = SAVE_FAILURES[case]
    previous = good.read_bytes()
    log = EventLog()
    futures = []
    trainer = Trainer(CONFIG.replace(epochs=3), tiny_data, log)

    def save_after_epoch_one(event) -> None:
        log(event)
        if isinstance(event, EpochReport) and event.epoch == 1:
            futures.append(trainer.save(good))

    trainer.on_event = save_after_epoch_one
    with monkeypatch.context() as patched:
        fault(patched)
        assert trainer.run() is RunState.FINISHED and len(trainer.history) == 3
    error = futures[0].exception()
    assert isinstance(error, CheckpointError)
    assert str(error) == f"cannot save {good}: {reason}"
    assert [e.message for e in log.of(SaveFailed)] == [str(error)]
    assert good.read_bytes() == previous
    assert sorted(p.name for p in good.parent.iterdir()) == ["good.safetensors"]
    checkpoint.read(good)


@pytest.mark.parametrize("where", ["under a file", "in /proc"])
def test_an_unwritable_place_is_a_checkpoint_error(where, tiny_data, tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    path = blocker / "run.safetensors" if where == "under a file" else Path("/proc/mlp-tui.st")
    trainer = Trainer(CONFIG, tiny_data)
    with pytest.raises(CheckpointError, match=f"^cannot save {path}: ") as err:
        trainer.save(path).result()
    if where == "under a file":
        assert str(err.value).endswith(f"{blocker} is a file, not a folder")
    assert trainer.run() is RunState.FINISHED
    assert not path.exists() and blocker.read_text() == ""


# ------------------------------------------------------------------------------ a killed saver
KEEP_SAVING = """
import sys
import torch
from mlp_tui.core import data
from mlp_tui.core.config import TrainConfig
from mlp_tui.core.trainer import Trainer

trainer = Trainer(TrainConfig(hidden=2048, device="cpu"), data.load(sys.argv[1]))
for n in range(1, 1_000_000):
    with torch.no_grad():
        trainer.net.b2.fill_(n)  # tells the saves apart
    trainer.save(sys.argv[2]).result()
    print(n, flush=True)
"""


@pytest.mark.slow  # a real process, killed
def test_a_process_killed_while_saving_leaves_a_loadable_checkpoint(tiny_dir, tiny_data, tmp_path):
    rng = random.Random(0)
    path = tmp_path / "run.safetensors"
    for _ in range(3):
        child = subprocess.Popen(
            [sys.executable, "-c", KEEP_SAVING, str(tiny_dir), str(path)],
            stdout=subprocess.PIPE,
            text=True,
        )
        first = child.stdout.readline()  # one save is complete: from here on a file must exist
        time.sleep(rng.uniform(0.0, 0.15))
        child.kill()
        done = [int(n) for n in (first + child.stdout.read()).split()]
        child.wait(30)
        tensors, _ = checkpoint.read(path)
        assert int(tensors["b2"][0]) in (done[-1], done[-1] + 1)  # the last save, or the next
        Trainer.from_checkpoint(path, tiny_data)
    # A kill mid-write leaves a temporary file; the next save clears the dead process's litter.
    Trainer(CONFIG, tiny_data).save(path).result()
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


# ------------------------------------------------------------------------------ not a file
def test_a_save_never_replaces_a_fifo(tiny_data, tmp_path):
    fifo = tmp_path / "saves" / "fifo"
    fifo.parent.mkdir()
    os.mkfifo(fifo)
    trainer = Trainer(CONFIG, tiny_data)
    with pytest.raises(CheckpointError, match=f"^cannot save {fifo}: it is a FIFO, not a regular"):
        trainer.save(fifo).result()
    assert fifo.is_fifo()  # not turned into a regular file
    assert [p.name for p in fifo.parent.iterdir()] == ["fifo"]  # no temporary left


def test_the_cli_refuses_to_save_over_a_fifo_before_training(tiny_dir, tmp_path, capsys):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    args = ["--headless", "--data-dir", str(tiny_dir), "--epochs", "1", "--no-store"]
    with pytest.raises(SystemExit) as exit_:
        main([*args, "--save", str(fifo)])
    out, err = capsys.readouterr()
    assert exit_.value.code == 2 and out == ""
    assert err == f"mlp-tui: --save: {fifo} is a FIFO, not a regular file\n"
    assert fifo.is_fifo()


def test_a_save_through_a_symlink_writes_its_target_and_keeps_the_link(good, tiny_data, tmp_path):
    link = tmp_path / "latest.safetensors"
    link.symlink_to(good)
    before = good.read_bytes()
    trainer = Trainer(CONFIG.replace(epochs=2), tiny_data)
    trainer.run()
    assert trainer.save(link).result() == link
    assert link.is_symlink() and link.resolve() == good.resolve()
    assert good.read_bytes() != before  # the target holds the new save
    assert len(checkpoint.read(link)[1]["history"]) == 2
    assert sorted(p.name for p in good.parent.iterdir()) == ["good.safetensors"]
