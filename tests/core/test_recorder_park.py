"""A run set aside (a fork's parent, ``Recorder.park``) stays paused in the store only when it
was saved where it stopped: without that checkpoint nothing could continue it."""

from __future__ import annotations

import pytest
from mlp_tui.core.config import TrainConfig
from mlp_tui.core.events import BatchReport, RunState, StateChanged
from mlp_tui.core.recorder import record
from mlp_tui.core.store import RunStore
from mlp_tui.core.trainer import Trainer


@pytest.mark.parametrize("saved", [True, False], ids=["saved", "save failed"])
def test_a_parked_run_is_paused_at_its_save_or_else_stopped(tiny_data, tmp_path, saved):
    store = RunStore(tmp_path / "runs.sqlite")
    trainer = Trainer(TrainConfig(epochs=2, hidden=16, batch_size=64, device="cpu"), tiny_data)
    recorder = record(trainer, store, print)
    target = tmp_path / ("parent.safetensors" if saved else "a-folder")
    if not saved:
        target.mkdir()  # a save onto a folder fails

    def set_aside_at_batch_4(event):
        recorder(event)
        if isinstance(event, BatchReport) and event.step >= 4 and trainer.state is RunState.RUNNING:
            trainer.pause()
        if isinstance(event, StateChanged) and event.state is RunState.PAUSED:
            trainer.save(target)
            recorder.park()
            trainer.stop()

    trainer.on_event = set_aside_at_batch_4
    trainer.report_interval = 0.0
    assert trainer.run() is RunState.STOPPED
    (run,) = store.runs()
    if saved:
        assert (run.status, run.checkpoint, run.ended) == ("paused", str(target), None)
        assert store.mark_interrupted() == 0
    else:
        assert run.status == "stopped" and run.checkpoint is None
