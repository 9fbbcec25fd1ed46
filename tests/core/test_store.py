"""The run store: schema and migration, every run recorded, crashes and concurrent writers,
and files it cannot use (which it never touches, while the run trains on unrecorded)."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from mlp_tui.core import store as store_module
from mlp_tui.core.cli import main
from mlp_tui.core.config import TrainConfig
from mlp_tui.core.events import BatchRefused, BatchReport
from mlp_tui.core.recorder import MAX_POINTS, LossCurve, record
from mlp_tui.core.store import SCHEMA_VERSION, RunStore, StoreError, default_name
from mlp_tui.core.trainer import Trainer

from tests.core._helpers import TRACEBACK, mlp_tui_command


def headless(tiny_dir: Path, store: Path, *extra: str) -> list[str]:
    return ["--headless", "--data-dir", str(tiny_dir), "--device", "cpu", "--hidden", "16",
            "--store", str(store), *extra]  # fmt: skip


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_new_store_has_the_current_schema_in_wal_mode(tmp_path):
    path = tmp_path / "deep" / "runs.sqlite"
    RunStore(path).close()
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"runs", "epochs", "losses", "events"} <= tables


def test_a_store_of_an_older_schema_is_migrated_and_keeps_its_runs(tmp_path):
    path = tmp_path / "runs.sqlite"
    db = sqlite3.connect(path)
    db.executescript(store_module.MIGRATIONS[0])  # schema 1, as the first release wrote it
    db.execute(
        "INSERT INTO runs (uid, name, status, created, config) VALUES ('u', 'old', 'finished',"
        " '2026-01-01', ?)",
        (json.dumps({"lr": 0.3}),),
    )
    db.execute("INSERT INTO epochs (run, epoch, test_acc) VALUES (1, 1, 0.5)")
    db.execute("PRAGMA user_version = 1")
    db.commit()
    db.close()
    with RunStore(path) as store:
        (run,) = store.runs()
        assert (run.name, run.epochs, run.best_test_acc, run.sweep) == ("old", 1, 0.5, None)
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_a_headless_run_is_recorded_epoch_by_epoch(tiny_dir, tmp_path, capsys):
    path = tmp_path / "runs.sqlite"
    assert main(headless(tiny_dir, path, "--epochs", "3", "--lr", "0.3")) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == f"recording run r1 in {path}"
    with RunStore(path) as store:
        (run,) = store.records()
    s = run.summary
    assert (s.short_id, s.name, s.status, s.epochs) == ("r1", "lr 0.3, hidden 16", "finished", 3)
    assert s.config["lr"] == 0.3 and s.ended is not None
    printed = [float(line.split("test acc ")[1].split()[0]) for line in out.splitlines()
               if line.startswith("epoch")]  # fmt: skip
    assert [round(e["test_acc"], 4) for e in run.epochs] == printed
    assert len(run.losses) == 3 * 3 and run.losses[-1][0] == 9  # 600 images, batches of 256


def test_no_store_records_nothing(tiny_dir, tmp_path, capsys):
    path = tmp_path / "runs.sqlite"
    assert main(headless(tiny_dir, path, "--epochs", "1", "--no-store")) == 0
    assert not path.exists() and "recording" not in capsys.readouterr().out


def test_the_env_names_the_default_store(tiny_dir, tmp_path, monkeypatch, capsys):
    path = tmp_path / "elsewhere.sqlite"
    monkeypatch.setenv("MLP_TUI_STORE", str(path))
    args = ["--headless", "--data-dir", str(tiny_dir), "--device", "cpu", "--epochs", "1"]
    assert main(args) == 0
    assert RunStore(path).runs()[0].status == "finished"


def test_resuming_a_checkpoint_continues_its_run(tiny_dir, tmp_path, capsys):
    path, ckpt = tmp_path / "runs.sqlite", tmp_path / "run.safetensors"
    assert main(headless(tiny_dir, path, "--epochs", "1", "--save", str(ckpt))) == 0
    assert main(headless(tiny_dir, path, "--epochs", "3", "--resume", str(ckpt))) == 0
    with RunStore(path) as store:
        (run,) = store.records()  # the same run, not a second one
    assert [e["epoch"] for e in run.epochs] == [1, 2, 3]
    assert {"kind": "set", "field": "epochs", "old": 1, "new": 3, "step": 3}.items() <= next(
        e for e in run.events if e["kind"] == "set"
    ).items()
    assert run.summary.checkpoint == str(ckpt)


def test_a_checkpoint_from_another_store_starts_a_new_run_there(tiny_dir, tmp_path, capsys):
    ckpt = tmp_path / "run.safetensors"
    first = headless(tiny_dir, tmp_path / "a.sqlite", "--epochs", "2", "--save", str(ckpt))
    assert main(first) == 0
    other = tmp_path / "b.sqlite"
    assert main(headless(tiny_dir, other, "--epochs", "3", "--resume", str(ckpt))) == 0
    (run,) = RunStore(other).records()
    assert [e["epoch"] for e in run.epochs] == [1, 2, 3]  # its history came with it
    assert len(run.losses) == 9


def test_run_names_are_kept_as_typed_or_refused_with_a_message(tmp_path):
    with RunStore(tmp_path / "runs.sqlite") as store:
        run = store.create_run(TrainConfig(), 'it\'s "quoted"; DROP TABLE runs; -- ünïcode ✓')
        assert store.runs()[0].name == 'it\'s "quoted"; DROP TABLE runs; -- ünïcode ✓'
        for bad, says in (("a\nb", "one line"), ("x" * 10_000, "at most 200"), ("  ", "empty")):
            with pytest.raises(StoreError, match=says):
                store.rename(run, bad)
        assert len(store.runs()) == 1


def test_default_names_say_what_differs_from_the_seed():
    assert default_name(TrainConfig()) == "seed defaults"
    assert default_name(TrainConfig(lr=0.5, hidden=64, device="cpu")) == "lr 0.5, hidden 64"


def run_until_epochs(cmd: list[str], store: Path, epochs: int) -> subprocess.Popen:
    child = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if store.exists():
            try:
                runs = RunStore(store, readonly=True).runs()
            except StoreError:
                runs = []
            if runs and runs[0].epochs >= epochs:
                return child
        time.sleep(0.05)
    child.kill()
    raise AssertionError(f"no {epochs} epochs recorded: {child.communicate()}")


@pytest.mark.slow  # a real process, killed
def test_a_run_killed_mid_epoch_keeps_its_epochs_and_reads_interrupted(tiny_dir, tmp_path):
    path = tmp_path / "runs.sqlite"
    cmd = [*mlp_tui_command(), *headless(tiny_dir, path, "--epochs", "1000")]
    child = run_until_epochs(cmd, path, 2)
    child.send_signal(signal.SIGKILL)
    child.communicate()
    with RunStore(path) as store:  # a writer notices the dead process
        store.mark_interrupted()
        (run,) = store.records()
    assert run.summary.status == "interrupted" and run.summary.epochs >= 2
    assert [e["epoch"] for e in run.epochs] == list(range(1, run.summary.epochs + 1))
    assert run.losses[-1][0] >= 3 * run.summary.epochs  # the curve up to the last epoch kept


@pytest.mark.slow  # two real processes
def test_two_processes_write_one_store_without_errors_or_lost_rows(tiny_dir, tmp_path):
    path = tmp_path / "runs.sqlite"
    RunStore(path).close()
    children = [
        subprocess.Popen(
            [*mlp_tui_command(), *headless(tiny_dir, path, "--epochs", "8", "--seed", str(s))],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for s in (1, 2)
    ]
    results = [child.communicate(timeout=120) for child in children]
    assert [child.returncode for child in children] == [0, 0], results
    assert all(err == "" for _, err in results), results
    runs = RunStore(path).records()
    assert sorted(r.summary.config["seed"] for r in runs) == [1, 2]
    assert all(r.summary.status == "finished" and len(r.epochs) == 8 for r in runs)
    assert all(len(r.losses) == 8 * 3 for r in runs)


# ------------------------------------------------------------------ files it cannot use
def bad_files(tmp_path: Path) -> dict[str, Path]:
    files = {}
    files["not sqlite"] = tmp_path / "notes.txt"
    files["not sqlite"].write_text("my notes, not a database\n" * 20)
    files["corrupt"] = tmp_path / "corrupt.sqlite"
    RunStore(files["corrupt"]).close()
    raw = bytearray(files["corrupt"].read_bytes())
    raw[100:4096] = b"\xff" * (4096 - 100)  # the schema page, overwritten
    files["corrupt"].write_bytes(bytes(raw))
    files["newer"] = tmp_path / "newer.sqlite"
    db = sqlite3.connect(files["newer"])
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.execute("CREATE TABLE future (x)")
    db.commit()
    db.close()
    files["another program's"] = tmp_path / "other.sqlite"
    db = sqlite3.connect(files["another program's"])
    db.execute("CREATE TABLE photos (x)")
    db.commit()
    db.close()
    files["read-only"] = tmp_path / "ro.sqlite"
    RunStore(files["read-only"]).close()
    files["read-only"].chmod(0o444)
    return files


SAYS = {
    "not sqlite": "is not an SQLite database",
    "corrupt": "damaged",
    "newer": "made by a newer mlp-tui",
    "another program's": "of another program",
    "read-only": "read-only",
}


@pytest.mark.parametrize("case", list(SAYS))
def test_a_store_it_cannot_use_is_one_line_and_left_as_it_was(
    case, tiny_dir, tmp_path, capsys, monkeypatch
):
    path = bad_files(tmp_path)[case]
    if case == "read-only" and os.geteuid() == 0:  # root may write a 0444 file: as a user would
        access = os.access
        monkeypatch.setattr(
            os, "access", lambda p, mode: False if Path(p) == path else access(p, mode)
        )
    before = digest(path)
    assert main(headless(tiny_dir, path, "--epochs", "2")) == 0  # trained all the same
    out, err = capsys.readouterr()
    assert [line for line in out.splitlines() if line.startswith("epoch")][-1].startswith(
        "epoch   2"
    )
    (line,) = err.splitlines()
    assert SAYS[case] in line and "not recorded (it trains all the same)" in line
    assert line.count("not recorded") == 1
    assert TRACEBACK not in err
    assert digest(path) == before
    assert sorted(p.name for p in path.parent.iterdir() if p.name.startswith(path.name)) == [
        path.name
    ]  # no -wal or -shm left beside it either


def test_a_store_locked_for_too_long_is_said_and_training_goes_on(tiny_dir, tmp_path, capsys,
                                                                 monkeypatch):  # fmt: skip
    path = tmp_path / "runs.sqlite"
    RunStore(path).close()
    monkeypatch.setattr(store_module, "BUSY_TIMEOUT_S", 0.2)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # another program holds the write lock
    try:
        assert main(headless(tiny_dir, path, "--epochs", "2")) == 0
    finally:
        holder.execute("ROLLBACK")
    out, err = capsys.readouterr()
    assert "locked by another program" in err and "not recorded" in err
    assert sum(line.startswith("epoch") for line in out.splitlines()) == 2


def test_a_store_that_fails_mid_run_is_said_once_and_training_goes_on(tiny_data, tmp_path,
                                                                       monkeypatch):  # fmt: skip
    from mlp_tui.core import recorder as recorder_module

    monkeypatch.setattr(recorder_module, "FLUSH_WAIT_S", 0.0)
    path = tmp_path / "runs.sqlite"
    problems: list[str] = []
    trainer = Trainer(TrainConfig(epochs=3, hidden=16, batch_size=64, device="cpu"), tiny_data)
    recorder = record(trainer, RunStore(path), problems.append)
    assert recorder is not None
    epochs = []

    def listen(event):
        recorder(event)
        if type(event).__name__ == "EpochReport":
            epochs.append(event.epoch)
            if event.epoch == 1:  # the disk goes away after the first epoch's row
                recorder.store.close()

    trainer.on_event = listen
    trainer.run()
    assert epochs == [1, 2, 3] and len(problems) == 2  # kept, then what the store lacks
    assert "run r1's records are kept and written when it can be" in problems[0]
    assert "not in the store: run r1's epochs 2-3, its status (finished)" in problems[1]
    assert RunStore(path).runs()[0].epochs == 1


# ------------------------------------------------------------------ the loss curve
def test_the_loss_curve_keeps_at_most_max_points_of_exact_bucket_means():
    curve = LossCurve()
    for step in range(1, 3 * MAX_POINTS + 2):
        curve.add(step, float(step))
    points = curve.points()
    assert len(points) <= MAX_POINTS + 1 and points[-1][0] == 3 * MAX_POINTS + 1
    stride = curve.stride
    step, mean = points[0]
    assert step == stride and mean == sum(range(1, stride + 1)) / stride


def test_a_rollback_drops_the_curves_points_past_it():
    curve = LossCurve()
    report = BatchReport(1, 5, 10, 5, (1.0, 2.0, 3.0, 4.0, 5.0), (0.1,) * 5, 0.1, 0.0)
    first = report.step - len(report.losses) + 1
    for step, loss in enumerate(report.losses, first):
        curve.add(step, loss)
    refused = BatchRefused(step=3, loss=float("inf"), undone=True)
    curve.drop_after(refused.step)
    assert curve.points() == [(1, 1.0), (2, 2.0), (3, 3.0)]


def test_runs_json_lists_each_run_with_its_config_epochs_and_events(tiny_dir, tmp_path, capsys):
    path = tmp_path / "runs.sqlite"
    assert main(headless(tiny_dir, path, "--epochs", "2", "--name", "first")) == 0
    assert main(headless(tiny_dir, path, "--epochs", "1", "--lr", "0.5")) == 0
    capsys.readouterr()
    assert main(["runs", "--store", str(path), "--json"]) == 0
    runs = json.loads(capsys.readouterr().out)
    assert [(r["id"], r["name"], r["status"], r["parent"]) for r in runs] == [
        ("r1", "first", "finished", None),
        ("r2", "lr 0.5, hidden 16", "finished", None),
    ]
    assert set(runs[0]["config"]) == set(TrainConfig.__dataclass_fields__)
    assert list(runs[0]["epochs"][0]) == ["epoch", "train_loss", "train_acc", "test_acc", "lr",
                                         "seconds", "examples_per_s"]  # fmt: skip
    assert isinstance(runs[0]["events"], list)


def test_runs_table_compare_export_rename_and_rm(tiny_dir, tmp_path, capsys):
    path = tmp_path / "runs.sqlite"
    for lr in ("0.03", "0.5"):
        assert main(headless(tiny_dir, path, "--epochs", "1", "--lr", lr)) == 0
    capsys.readouterr()
    store = ["--store", str(path)]
    assert main(["runs", *store]) == 0
    header, *rows = capsys.readouterr().out.splitlines()
    assert header.split()[-1] == "lr" and [row.split()[0] for row in rows] == ["r1", "r2"]
    assert main(["runs", "compare", "r1", "r2", *store]) == 0
    assert "best test acc" in capsys.readouterr().out
    assert main(["runs", "export", "r1", "r2", str(tmp_path / "out"), *store]) == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["r1.csv", "r2.csv", "runs.csv"]
    assert main(["runs", "rename", "r2", "fast", *store]) == 0
    assert main(["runs", "rm", "r1", *store]) == 0
    capsys.readouterr()
    assert main(["runs", "show", "r1", *store]) == 2
    assert capsys.readouterr().err.strip() == f"mlp-tui: no run r1 in {path}"
    assert [r.name for r in RunStore(path).runs()] == ["fast"]


def test_the_console_script_lists_runs_without_loading_the_ui_or_torch(tmp_path):
    """Listing a thousand runs answers in half a second (benchmarks/store_scale.py) because
    neither Textual nor torch (about 1 s to import) loads."""
    code = (
        "import sys; from mlp_tui.tui.main import main;"
        "rc = main(['runs', '--store', sys.argv[1]]);"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'torch')), rc)"
    )
    result = subprocess.run([sys.executable, "-c", code, str(tmp_path / "none.sqlite")],
                            capture_output=True, text=True, timeout=60)  # fmt: skip
    assert result.stdout.splitlines()[-1] == "[] 0" and "no runs yet" in result.stdout


def test_the_stored_curve_equals_the_curve_however_it_was_written_in_parts(tmp_path):
    """Each epoch writes only the points that changed; after halvings and a rollback the
    stored rows are still exactly the curve."""
    curve = LossCurve()
    stored: dict[int, float] = {}
    step = 0
    for epoch in range(60):
        for _ in range(200):
            step += 1
            curve.add(step, 1.0 / step)
        if epoch == 30:
            curve.drop_after(step - 150)
            step -= 150
        cut, points = curve.take_changes()
        stored = {s: v for s, v in stored.items() if s <= cut} | dict(points)
    assert sorted(stored.items()) == curve.points() and curve.stride > 1


def test_a_fork_trains_as_its_parent_would_and_is_recorded_as_its_child(tiny_data, tmp_path):
    from mlp_tui.core.events import RunState, StateChanged

    config = TrainConfig(epochs=2, hidden=16, batch_size=64, momentum=0.9, device="cpu")
    store = RunStore(tmp_path / "runs.sqlite")
    parent = Trainer(config, tiny_data)
    recorder = record(parent, store, print)

    def pause_at_batch_4(event):
        recorder(event)
        if isinstance(event, BatchReport) and event.step >= 4 and parent.state is RunState.RUNNING:
            parent.pause()
        if isinstance(event, StateChanged) and event.state is RunState.PAUSED:
            parent.stop()  # the loop is between batches: fork from here

    parent.on_event = pause_at_batch_4
    parent.report_interval = 0.0
    parent.run()
    child = parent.fork()
    child_recorder = record(child, store, print)
    child.on_event = child_recorder
    child.run()
    parent.on_event = lambda event: None
    parent.run()  # the parent goes on as it would have
    assert child.batch_losses == parent.batch_losses
    assert [r.test_acc for r in child.history] == [r.test_acc for r in parent.history]
    assert all(torch.equal(a, b) for a, b in zip(child.net.params, parent.net.params))
    runs = {r.id: r for r in store.runs()}
    (kid,) = [r for r in runs.values() if r.parent is not None]
    assert kid.parent == recorder.run_id and kid.fork_step == child.fork_step > 0
