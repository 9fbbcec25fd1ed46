"""``mlp-tui --headless``: a line per epoch, --metrics-out rows, and Ctrl+C or SIGTERM that stop
within a moment and leave a checkpoint to resume from."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import time

import pytest
import torch
from mlp_tui.core import checkpoint
from mlp_tui.core.cli import main
from mlp_tui.core.config import TrainConfig
from mlp_tui.core.events import RunState
from mlp_tui.core.trainer import Trainer

from tests.core._helpers import TRACEBACK, mlp_tui_command

KEYS = {"epoch", "train_loss", "train_acc", "test_acc", "lr", "seconds", "examples_per_s"}


def test_each_epoch_is_a_line_and_a_metrics_row(tiny_dir, tmp_path, capsys):
    metrics = tmp_path / "metrics.jsonl"
    args = ["--headless", "--data-dir", str(tiny_dir), "--device", "cpu", "--epochs", "3"]
    assert main([*args, "--lr", "0.3", "--metrics-out", str(metrics)]) == 0
    out, err = capsys.readouterr()
    recording, *lines = out.splitlines()
    assert recording.startswith("recording run r1 in ") and recording.endswith("runs.sqlite")
    rows = [json.loads(line) for line in metrics.read_text().splitlines()]
    assert [set(row) for row in rows] == [KEYS] * 3
    assert [row["epoch"] for row in rows] == [1, 2, 3] and err == ""
    assert [line.split()[:2] for line in lines] == [["epoch", f"{n}/3"] for n in (1, 2, 3)]
    for line, row in zip(lines, rows):
        assert f"train loss {row['train_loss']:.4f}" in line
        assert f"test acc {row['test_acc']:.4f}" in line
        assert 0 <= row["train_acc"] <= 1 and 0 <= row["test_acc"] <= 1 and row["lr"] == 0.3
        assert row["seconds"] > 0 and row["examples_per_s"] > 0
    assert rows[-1]["train_loss"] < rows[0]["train_loss"]


def epochs_printed(stdout: str) -> list[int]:
    return [
        int(line.split()[1].split("/")[0]) for line in stdout.splitlines() if line[:5] == "epoch"
    ]


@pytest.mark.parametrize(
    ("signum", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)], ids=["SIGTERM", "SIGINT"]
)
@pytest.mark.slow  # a real process, killed
def test_a_signal_stops_the_run_promptly_and_saves_where_it_was(signum, code, tiny_dir, tmp_path):
    path = tmp_path / "run.safetensors"
    child = subprocess.Popen(
        [*mlp_tui_command(), "--headless", "--data-dir", str(tiny_dir), "--device", "cpu",
         "--epochs", "100000", "--hidden", "32", "--save", str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # Ctrl+C as in a terminal, even where this test runs with SIGINT ignored (a CI job).
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # fmt: skip
    try:
        first = child.stdout.readline()
        while first and not first.startswith("epoch"):  # "recording run r1 in ..." first
            first = child.stdout.readline()
        assert first.startswith("epoch   1/100000"), first
        sent = time.monotonic()
        child.send_signal(signum)
        out, err = child.communicate(timeout=30)
        took = time.monotonic() - sent
    finally:
        child.kill()
    assert child.returncode == code, err
    # Well under 2 s on an idle machine; the bound leaves room for a loaded one (the exit
    # includes Python's and torch's teardown), and still fails a run that trains on.
    assert took < 5.0, took
    assert "interrupted" in err and f"saved {path}" in err and TRACEBACK not in err
    printed = epochs_printed(first + out)
    _, meta = checkpoint.read(path)
    assert meta["epoch"] >= printed[-1] and meta["state"] == "stopped"


def test_the_first_epochs_seconds_leave_out_building_the_optimizer(tiny_data, monkeypatch):
    """Building torch.optim.SGD imported torch._dynamo (about 1 s on the CI machine; no more,
    see core/no_dynamo.py, but other setup may cost its time there); epoch 1 printed 1.6 s and
    a quarter of its examples/s for 0.4 s of training. The trainer builds it before the clock
    starts."""
    real_sgd = torch.optim.SGD
    clock_running = []  # asked of the trainer's epoch clock as the optimizer is built

    def watched_sgd(*args, **kwargs):
        clock_running.append(getattr(trainer, "epoch_clock", None) is not None
                             and trainer.epoch_clock._since is not None)  # fmt: skip
        return real_sgd(*args, **kwargs)

    monkeypatch.setattr(torch.optim, "SGD", watched_sgd)
    trainer = Trainer(TrainConfig(epochs=1, device="cpu"), tiny_data)
    assert trainer.run() is RunState.FINISHED
    assert clock_running == [False]  # built once, and not on the epoch's clock (no wall time:
    # on a loaded machine the tiny epoch itself can take a second)


def test_a_resumed_run_is_saved_back_to_its_file(tiny_dir, tmp_path, capsys):
    """The README's `--epochs 20 --resume run.safetensors`: run again, it has nothing left."""
    ckpt = tmp_path / "run.safetensors"
    common = ["--headless", "--data-dir", str(tiny_dir), "--device", "cpu", "--hidden", "32"]
    assert main([*common, "--epochs", "1", "--save", str(ckpt)]) == 0
    capsys.readouterr()
    assert main([*common, "--epochs", "3", "--resume", str(ckpt)]) == 0
    out = capsys.readouterr().out
    assert epochs_printed(out) == [2, 3] and out.splitlines()[-1] == f"saved {ckpt}"
    _, meta = checkpoint.read(ckpt)
    assert meta["epoch"] == 3
    saved_at = ckpt.stat().st_mtime_ns
    assert main([*common, "--epochs", "3", "--resume", str(ckpt)]) == 0
    assert epochs_printed(capsys.readouterr().out) == []  # nothing trained twice...
    assert ckpt.stat().st_mtime_ns == saved_at  # ...and nothing rewritten


def test_save_names_another_file_and_no_save_writes_none(tiny_dir, tmp_path, capsys):
    ckpt, other = tmp_path / "run.safetensors", tmp_path / "longer.safetensors"
    common = ["--headless", "--data-dir", str(tiny_dir), "--device", "cpu", "--hidden", "32"]
    assert main([*common, "--epochs", "1", "--save", str(ckpt)]) == 0
    before = ckpt.read_bytes()
    assert main([*common, "--epochs", "2", "--resume", str(ckpt), "--save", str(other)]) == 0
    assert ckpt.read_bytes() == before and checkpoint.read(other)[1]["epoch"] == 2
    assert main([*common, "--epochs", "2", "--resume", str(ckpt), "--no-save"]) == 0
    assert ckpt.read_bytes() == before
    assert "saved" not in capsys.readouterr().out.splitlines()[-1]
    with pytest.raises(SystemExit) as exit_:
        main([*common, "--resume", str(ckpt), "--save", str(other), "--no-save"])
    assert exit_.value.code == 2 and "--no-save" in capsys.readouterr().err


def test_an_export_folder_that_cannot_be_made_is_refused_before_training(tiny_dir, capsys):
    args = ["--headless", "--data-dir", str(tiny_dir), "--device", "cpu", "--hidden", "8"]
    with pytest.raises(SystemExit) as exit_:
        main([*args, "--export", "/proc/results"])
    out, err = capsys.readouterr()
    assert exit_.value.code == 2 and epochs_printed(out) == []
    assert err.startswith("mlp-tui: --export: cannot make the folder /proc/results")


def test_a_folder_that_does_not_exist_is_made_and_said(tiny_dir, tmp_path, capsys):
    ckpt = tmp_path / "new" / "deeper" / "run.safetensors"
    args = ["--headless", "--data-dir", str(tiny_dir), "--device", "cpu", "--hidden", "8"]
    assert main([*args, "--epochs", "1", "--save", str(ckpt)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"made the folder {ckpt.parent}" and lines[-1] == f"saved {ckpt}"


class FullDisk:
    """A --metrics-out file on a disk that is full: what is written stays in the buffer, and
    each flush, the one in close() too, reports ENOSPC."""

    def __init__(self, f) -> None:
        self.f = f

    def write(self, text: str) -> int:
        return len(text)

    def flush(self) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def close(self) -> None:
        self.f.close()
        self.flush()


def test_a_full_disk_under_metrics_out_is_one_line_and_the_checkpoint_is_saved(
    tiny_dir, tmp_path, monkeypatch, capsys
):
    from mlp_tui.core import cli

    metrics, save = tmp_path / "m.jsonl", tmp_path / "run.safetensors"
    monkeypatch.setattr(cli, "open", lambda *a, **k: FullDisk(open(*a, **k)), raising=False)
    args = ["--headless", "--data-dir", str(tiny_dir), "--epochs", "3", "--no-store"]
    assert main([*args, "--metrics-out", str(metrics), "--save", str(save)]) == 1
    out, err = capsys.readouterr()
    assert err == f"mlp-tui: cannot write {metrics}: No space left on device\n"  # once
    assert epochs_printed(out) == [1, 2, 3] and f"saved {save}" in out
    assert len(checkpoint.read(save)[1]["history"]) == 3  # the results are kept


def test_saves_failing_on_a_full_disk_are_said_once(tiny_dir, tmp_path, monkeypatch, capsys):
    save = tmp_path / "run.safetensors"

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(checkpoint.os, "fsync", full)
    args = ["--headless", "--data-dir", str(tiny_dir), "--epochs", "3", "--no-store"]
    assert main([*args, "--save", str(save)]) == 1
    out, err = capsys.readouterr()
    assert err == f"mlp-tui: cannot save {save}: No space left on device\n"  # not 4 times
    assert epochs_printed(out) == [1, 2, 3] and not save.exists()


def test_the_run_store_is_flushed_after_the_last_save(tiny_dir, tmp_path, monkeypatch, capsys):
    """``Recorder.close`` gives what the store could not take during the run (a lock, a full
    disk) its last tries: called once, when the exit save is done."""
    from mlp_tui.core.recorder import Recorder

    save = tmp_path / "run.safetensors"
    closed: list[bool] = []
    real_close = Recorder.close
    monkeypatch.setattr(
        Recorder, "close", lambda self: closed.append(save.exists()) or real_close(self)
    )
    args = ["--headless", "--data-dir", str(tiny_dir), "--epochs", "1"]
    assert main([*args, "--store", str(tmp_path / "runs.sqlite"), "--save", str(save)]) == 0
    assert closed == [True]
