"""A store that fails while a run trains (a full disk, a lock held too long) loses nothing:
the recorder keeps what it could not write, says so once, writes it all when the store works
again, and at the run's end says exactly what the store still lacks. Also what the store keeps
of a run that diverged, and of a checkpoint opened again after its run went on."""

from __future__ import annotations

import json
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from mlp_tui.core import recorder as recorder_module
from mlp_tui.core import store as store_module
from mlp_tui.core.cli import main
from mlp_tui.core.config import TrainConfig
from mlp_tui.core.events import EpochReport, RunState, StateChanged
from mlp_tui.core.recorder import record
from mlp_tui.core.store import RunStore, StoreError
from mlp_tui.core.trainer import Trainer

from tests.core._helpers import TRACEBACK

CONFIG = TrainConfig(epochs=3, hidden=16, batch_size=64, device="cpu")  # 10 batches an epoch


def headless(tiny_dir: Path, store: Path, *extra: str) -> list[str]:
    return ["--headless", "--data-dir", str(tiny_dir), "--device", "cpu", "--hidden", "16",
            "--store", str(store), *extra]  # fmt: skip


class Lock:
    """Another program holding the store's write lock (BEGIN EXCLUSIVE), when told."""

    def __init__(self, path: Path) -> None:
        RunStore(path).close()  # a store, before anyone records in it
        self.path, self.db = path, sqlite3.connect(path, isolation_level=None)

    def take(self) -> None:
        self.db.execute("BEGIN EXCLUSIVE")

    def give(self) -> None:
        if self.db.in_transaction:
            self.db.execute("ROLLBACK")


@pytest.fixture
def locked_briefly(monkeypatch):
    """A store whose writes give up after 0.1 s of another program's lock."""
    monkeypatch.setattr(store_module, "BUSY_TIMEOUT_S", 0.1)


# ------------------------------------------------------------------ the transaction
def test_a_full_disk_is_one_store_error_that_says_so_and_the_store_works_after(tmp_path):
    store = RunStore(tmp_path / "runs.sqlite")
    run = store.create_run(CONFIG)
    pages = store.select("PRAGMA page_count")[0][0]
    store._db.execute(f"PRAGMA max_page_count = {pages + 1}")  # the disk fills up
    with pytest.raises(StoreError) as caught:  # not sqlite3's "cannot rollback" on top
        with store.transaction() as db:
            db.executemany(
                "INSERT INTO events (run, at, step, kind, detail) VALUES (?, 'now', 0, 'x', ?)",
                [(run, "y" * 3000)] * 50,
            )
    assert str(caught.value) == f"run store {store.path}: the disk is full"
    assert isinstance(caught.value.__cause__, type(None)) and not store._db.in_transaction
    store._db.execute("PRAGMA max_page_count = 1073741823")  # space again
    store.set_status(run, "finished")
    assert store.runs()[0].status == "finished"


def test_a_disk_io_error_suggests_a_full_or_missing_disk(tmp_path):
    store = RunStore(tmp_path / "runs.sqlite")
    text = store._explain(sqlite3.OperationalError("disk I/O error"))
    assert text.startswith(f"run store {store.path}: disk I/O error") and "full" in text


# ------------------------------------------------------------------ writes that fail
def run_locked(tiny_data, lock: Lock, lock_at: int, unlock_at: int | None):
    """A 3-epoch run recorded while another program holds the store from epoch ``lock_at``'s
    report to just after epoch ``unlock_at``'s (None: to the end)."""
    problems: list[str] = []
    trainer = Trainer(CONFIG.replace(), tiny_data)
    recorder = record(trainer, RunStore(lock.path), problems.append)
    assert recorder is not None

    def listen(event):
        if isinstance(event, EpochReport) and event.epoch == lock_at:
            lock.take()
        recorder(event)
        if isinstance(event, EpochReport) and event.epoch == unlock_at:
            lock.give()

    trainer.on_event = listen
    assert trainer.run() is RunState.FINISHED  # it trained all the same
    return trainer, recorder, problems


def test_a_lock_mid_run_loses_nothing_and_is_said_once_then_caught_up(
    tiny_data, tmp_path, locked_briefly
):
    lock = Lock(tmp_path / "runs.sqlite")
    trainer, recorder, problems = run_locked(tiny_data, lock, lock_at=1, unlock_at=2)
    assert len(problems) == 2
    assert "is locked by another program" in problems[0]
    assert "run r1's records are kept and written when it can be" in problems[0]
    assert problems[1].endswith("run r1 is recorded again and caught up")
    (run,) = RunStore(tmp_path / "runs.sqlite").records()
    assert (run.summary.status, [e["epoch"] for e in run.epochs]) == ("finished", [1, 2, 3])
    assert [e["test_acc"] for e in run.epochs] == [r.test_acc for r in trainer.history]
    assert run.losses == list(enumerate(trainer.batch_losses, 1))  # the whole curve
    assert not recorder.pending


def test_the_final_status_is_retried_at_the_runs_end(tiny_data, tmp_path, locked_briefly,
                                                     monkeypatch):  # fmt: skip
    waits: list[float] = []
    lock = Lock(tmp_path / "runs.sqlite")

    def sleep(seconds: float) -> None:  # the other program lets go while the recorder waits
        waits.append(seconds)
        lock.give()

    monkeypatch.setattr(recorder_module.time, "sleep", sleep)
    _, _, problems = run_locked(tiny_data, lock, lock_at=3, unlock_at=None)
    assert len(waits) == 1 and problems[-1].endswith("recorded again and caught up")
    (run,) = RunStore(tmp_path / "runs.sqlite").records()
    assert (run.summary.status, len(run.epochs)) == ("finished", 3)


def test_what_the_store_still_lacks_at_the_end_is_said_and_close_writes_it_later(
    tiny_data, tmp_path, locked_briefly, monkeypatch
):
    waits: list[float] = []
    monkeypatch.setattr(recorder_module.time, "sleep", waits.append)
    lock = Lock(tmp_path / "runs.sqlite")
    trainer, recorder, problems = run_locked(tiny_data, lock, lock_at=2, unlock_at=None)
    assert len(waits) <= recorder_module.FLUSH_ATTEMPTS  # bounded: the run's end is not held
    assert len(problems) == 2 and "kept and written when it can be" in problems[0]
    missing = problems[1]
    assert "is locked by another program" in missing
    assert "not in the store: run r1's epochs 2-3, its status (finished)" in missing
    assert "--resume <checkpoint>" in missing
    store = RunStore(tmp_path / "runs.sqlite")
    assert [r.epochs for r in store.runs()] == [1]
    assert recorder.close() is False and len(problems) == 2  # the same, not said again
    lock.give()
    assert recorder.close() is True and problems[-1].endswith("recorded again and caught up")
    (run,) = store.records()
    assert (run.summary.status, [e["epoch"] for e in run.epochs]) == ("finished", [1, 2, 3])
    assert run.losses == list(enumerate(trainer.batch_losses, 1))


def test_a_store_locked_at_the_end_names_the_checkpoint_that_would_record_it(
    tiny_dir, tmp_path, locked_briefly, monkeypatch, capsys
):
    monkeypatch.setattr(recorder_module.time, "sleep", lambda s: None)
    path, ckpt = tmp_path / "runs.sqlite", tmp_path / "run.safetensors"
    lock = Lock(path)
    real_call = recorder_module.Recorder.__call__

    def call(self, event):
        if isinstance(event, EpochReport) and event.epoch == 2:
            lock.take()  # and held past the exit
        real_call(self, event)

    monkeypatch.setattr(recorder_module.Recorder, "__call__", call)
    assert main(headless(tiny_dir, path, "--epochs", "2", "--save", str(ckpt))) == 0
    err = capsys.readouterr().err
    assert TRACEBACK not in err
    assert f"(--resume {ckpt} records what that checkpoint holds)" in err
    lock.give()
    monkeypatch.setattr(recorder_module.Recorder, "__call__", real_call)
    # resuming the checkpoint records what the store missed: epoch 2 is back
    assert main(headless(tiny_dir, path, "--epochs", "3", "--resume", str(ckpt))) == 0
    (run,) = RunStore(path).records()
    assert [e["epoch"] for e in run.epochs] == [1, 2, 3] and run.summary.status == "finished"


# ------------------------------------------------------------------ divergence
def test_a_diverged_run_is_stored_as_diverged(tiny_dir, tmp_path, capsys):
    path = tmp_path / "runs.sqlite"
    assert main(headless(tiny_dir, path, "--epochs", "2", "--lr", "50", "--no-save")) == 3
    assert "diverged" in capsys.readouterr().err
    (run,) = RunStore(path).records()
    assert run.summary.status == "diverged" and run.summary.ended is not None
    assert main(["runs", "--store", str(path)]) == 0
    assert "  diverged  " in capsys.readouterr().out.splitlines()[1]


def test_a_diverged_run_resumed_with_a_lower_lr_is_no_longer_diverged(tiny_data, tmp_path):
    store = RunStore(tmp_path / "runs.sqlite")
    trainer = Trainer(CONFIG.replace(lr=50.0), tiny_data)
    recorder = record(trainer, store, print)
    assert recorder is not None
    seen: list[str] = []

    def listen(event):
        recorder(event)
        if isinstance(event, StateChanged) and event.state is RunState.DIVERGED:
            seen.append(store.runs()[0].status)
            trainer.update(lr=0.1)
            trainer.resume()
        elif isinstance(event, EpochReport) and seen:
            trainer.stop()

    trainer.on_event = listen
    assert trainer.run() is RunState.STOPPED
    assert seen[:1] == ["diverged"] and store.runs()[0].status == "stopped"


# ------------------------------------------------------------------ opened again
def test_an_older_checkpoint_of_a_run_that_went_on_is_recorded_as_a_fork(tiny_dir, tmp_path,
                                                                       capsys):  # fmt: skip
    path = tmp_path / "runs.sqlite"
    a, b, c = (tmp_path / f"{n}.safetensors" for n in "abc")
    assert main(headless(tiny_dir, path, "--epochs", "1", "--save", str(a))) == 0
    assert main(headless(tiny_dir, path, "--epochs", "3", "--resume", str(a), "--save", str(b)))\
        == 0  # fmt: skip
    store = RunStore(path)
    (first,) = store.records()
    assert [e["epoch"] for e in first.epochs] == [1, 2, 3]
    # epoch 1's checkpoint again, with another lr: r1's epochs 2 and 3 stay as recorded
    again = headless(tiny_dir, path, "--epochs", "2", "--resume", str(a), "--lr", "0.3")
    assert main([*again, "--save", str(c)]) == 0
    r1, r2 = store.records()
    assert r1.epochs == first.epochs and r1.summary.status == "finished"
    assert (r2.summary.parent, r2.summary.fork_step) == (r1.summary.id, 3)  # 3 batches an epoch
    assert [e["epoch"] for e in r2.epochs] == [1, 2] and r2.epochs[0] == r1.epochs[0]
    assert r2.epochs[1] != r1.epochs[1]
    # the fork's own saves are the fork's: resuming one continues r2, not r1
    assert main(headless(tiny_dir, path, "--epochs", "3", "--resume", str(c))) == 0
    assert [(s.short_id, s.epochs) for s in store.runs()] == [("r1", 3), ("r2", 3)]
    assert capsys.readouterr().out.count("recording run r2") == 2


def test_resuming_a_checkpoint_records_the_epochs_a_failed_write_missed(tiny_data, tmp_path):
    path, ckpt = tmp_path / "runs.sqlite", tmp_path / "run.safetensors"
    store = RunStore(path)
    trainer = Trainer(CONFIG.replace(epochs=1), tiny_data)
    recorder = record(trainer, store, print)
    assert recorder is not None
    trainer.on_event = recorder
    trainer.run()
    trainer.save(ckpt).result()
    with store.transaction() as db:  # what a failed write missed: epoch 1's row
        db.execute("DELETE FROM epochs WHERE run = ?", (recorder.run_id,))
    resumed = Trainer.from_checkpoint(ckpt, tiny_data, epochs=2)
    again = record(resumed, store, print)
    assert again is not None and again.run_id == recorder.run_id
    resumed.on_event = again
    resumed.run()
    (run,) = store.records()
    assert [e["epoch"] for e in run.epochs] == [1, 2]  # epoch 1 came back from the checkpoint


# ------------------------------------------------------------------ mlp-tui runs
def test_runs_show_keeps_small_learning_rates(tmp_path, capsys):
    path = tmp_path / "runs.sqlite"
    with RunStore(path) as store:
        run = store.create_run(CONFIG, "slow")
        with store.transaction() as db:
            db.execute(
                "INSERT INTO epochs (run, epoch, train_loss, train_acc, test_acc, lr, seconds,"
                " examples_per_s) VALUES (?, 1, 0.5, 0.8, 0.75, 4.01e-05, 1.5, 12345.678)",
                (run,),
            )
    assert main(["runs", "show", "r1", "--store", str(path)]) == 0
    header, row = capsys.readouterr().out.split("\n\n")[1].splitlines()
    assert row.split() == ["1", "0.5", "0.8", "0.75", "4.01e-05", "1.5", "12345.7"]


def test_runs_lists_a_run_whose_process_is_gone_as_interrupted_without_writing(tmp_path, capsys):
    path = tmp_path / "runs.sqlite"
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    with RunStore(path) as store:
        store.create_run(CONFIG, "crashed")
        store.create_run(CONFIG, "elsewhere")
        with store.transaction() as db:
            db.execute("UPDATE runs SET pid = ? WHERE id = 1", (int(gone.stdout),))
            db.execute("UPDATE runs SET pid = 1, host = 'another-machine' WHERE id = 2")
    before = path.read_bytes()
    assert main(["runs", "--store", str(path)]) == 0
    rows = capsys.readouterr().out.splitlines()[1:]
    assert [row.split()[2] for row in rows] == ["interrupted", "running"]
    assert main(["runs", "--store", str(path), "--json"]) == 0
    assert [r["status"] for r in json.loads(capsys.readouterr().out)] == ["interrupted", "running"]
    assert main(["runs", "show", "r1", "--store", str(path)]) == 0
    assert capsys.readouterr().out.startswith("r1 'crashed': interrupted")
    assert path.read_bytes() == before  # read, not written
    row = sqlite3.connect(path).execute("SELECT status, host FROM runs WHERE id = 1").fetchone()
    assert row == ("running", socket.gethostname())
