"""The app's view of a run, built from the trainer's events alone, against the trainer itself:
after a run, a mid-run change of lr and batch size, and a refused batch, the two agree."""

from __future__ import annotations

import threading

import pytest
from mlp_tui.core.config import TrainConfig
from mlp_tui.core.events import BatchRefused, BatchReport, RunState, StateChanged
from mlp_tui.core.trainer import Trainer
from mlp_tui.tui.run_view import RunView


def agree(view: RunView, trainer: Trainer) -> None:
    """Everything the screen draws, as the view has it, is what the (idle) trainer has."""
    assert view.losses == trainer.batch_losses
    assert view.lr_changes == trainer.lr_changes
    assert view.history == trainer.history
    assert view.applied == trainer.config
    position = (view.epochs_done, view.batch, view.step, view.epoch_batch_size, view.batches)
    assert position == (
        trainer.epoch,
        trainer.batch,
        trainer.step_count,
        trainer.epoch_batch_size,
        trainer.batches_per_epoch,
    )
    assert view.elapsed == trainer.elapsed
    assert view.predictions is trainer.predictions
    assert (view.state, view.reason) == (trainer.state, trainer.reason)


def test_a_run_with_changes_along_the_way(tiny_data):
    trainer = Trainer(TrainConfig(epochs=3, batch_size=64, device="cpu"), tiny_data)
    view = RunView(trainer)
    changed = []

    def listen(event) -> None:
        view.apply(event)
        if isinstance(event, BatchReport) and event.step >= 3 and not changed:
            changed.append(event.step)  # from the listener, as a key would: a queued command
            trainer.update(lr=0.2, batch_size=128)

    trainer.on_event = listen
    trainer.report_interval = 0.0  # a report per batch: the most there can be
    assert trainer.run() is RunState.FINISHED
    assert changed and trainer.epoch_batch_size == 128  # the change really happened mid-run
    agree(view, trainer)
    assert view.per_class.epochs == [1, 2, 3]


def test_batch_size_set_between_runs_starts_the_next_epoch(tiny_data):
    """A finished run given more epochs: a batch size set before it trains on applies at once
    (no loop is running to wait for an epoch's end)."""
    trainer = Trainer(TrainConfig(epochs=1, batch_size=64, device="cpu"), tiny_data)
    view = RunView(trainer)
    trainer.on_event = view.apply
    trainer.run()
    trainer.update(batch_size=32, epochs=2)
    assert (view.epoch_batch_size, view.batches) == (32, 19)  # 600 images: the next epoch's
    trainer.run()
    agree(view, trainer)


@pytest.mark.parametrize("report_interval", [0.0, 60.0])
def test_a_refused_batch_drops_the_losses_it_undid(tiny_data, report_interval):
    """Five batches at lr 0.1, then lr 1000: the next update explodes, the batch after it is
    refused and that update undone. The view drops the undone batch's loss, as the trainer does."""
    trainer = Trainer(TrainConfig(epochs=5, batch_size=32, device="cpu"), tiny_data)
    view = RunView(trainer)
    events, pauses, diverged = [], [], threading.Event()

    def listen(event) -> None:
        view.apply(event)
        events.append(event)
        if isinstance(event, StateChanged) and event.state is RunState.PAUSED:
            pauses.append(event)
            if len(pauses) == 1:  # started paused: five batches
                trainer.step(5)
            else:  # after them
                trainer.update(lr=1000.0)
                trainer.resume()
        if isinstance(event, StateChanged) and event.state is RunState.DIVERGED:
            diverged.set()

    trainer.on_event = listen
    trainer.report_interval = report_interval
    thread = threading.Thread(target=trainer.run, kwargs={"paused": True})
    thread.start()
    try:
        assert diverged.wait(30)  # the trainer now waits for the user: safe to read
        (refused,) = [e for e in events if isinstance(e, BatchRefused)]
        assert refused.undone and refused.step == 5
        most = max(e.step for e in events if isinstance(e, BatchReport))
        assert most == 6  # the loss of the undone batch was reported before it was refused
        agree(view, trainer)
        assert len(view.losses) == view.step == 5
    finally:
        trainer.stop()
        thread.join(10)


def test_saved_follows_the_saves_and_a_running_loop_is_unsaved(tiny_data, tmp_path):
    trainer = Trainer(TrainConfig(epochs=1, batch_size=64, device="cpu"), tiny_data)
    view = RunView(trainer)
    assert not view.unsaved  # nothing trained yet
    trainer.on_event = view.apply
    trainer.run()
    assert view.unsaved and view.where() == "1 epoch done"
    trainer.save(tmp_path / "run.safetensors").result()
    assert not view.unsaved
    view.apply(StateChanged(RunState.RUNNING))
    assert view.unsaved  # a running loop is ahead of its last report
    resumed = RunView(Trainer.from_checkpoint(tmp_path / "run.safetensors", tiny_data), saved=True)
    assert not resumed.unsaved and resumed.losses == trainer.batch_losses
    assert resumed.predictions is not None and resumed.per_class.epochs == [1]
