"""A learning rate far too high: the run stops at the first exploding batch, keeps the last good
parameters, can be saved, and (once the rate is lowered) goes on."""

from __future__ import annotations

import pytest
import torch
from mlp_tui.core import checkpoint
from mlp_tui.core.cli import main
from mlp_tui.core.config import TrainConfig
from mlp_tui.core.events import BatchReport, RunState, StateChanged
from mlp_tui.core.trainer import Trainer

from tests.core._helpers import EventLog, finish, params, same_params, start

# lr 5 on the tiny data: three good batches, then the loss jumps past 10x the first (never nan).
CONFIG = TrainConfig(epochs=3, lr=5.0, batch_size=64, hidden=32, device="cpu")


@pytest.fixture
def diverged(tiny_data):
    log = EventLog()
    trainer = Trainer(CONFIG, tiny_data, log)
    thread = start(trainer)
    log.wait_state(RunState.DIVERGED)
    yield trainer, log
    trainer.stop()
    finish(thread)


def test_divergence_stops_with_a_reason_and_the_last_good_parameters(diverged, tiny_data):
    trainer, _ = diverged
    assert trainer.state is RunState.DIVERGED
    assert "exceeds 10 x the first batch's" in trainer.reason and "with lr 5;" in trainer.reason
    assert "rolled back to before batch" in trainer.reason
    good = trainer.step_count  # the exploding update is undone, not just the refused batch
    assert good == 3 and good < trainer.batches_per_epoch and len(trainer.batch_losses) == good
    assert all(torch.isfinite(p).all() for p in trainer.net.params)
    # The same run, stepped to exactly the batches the diverged one kept.
    replay_log = EventLog()
    replay = Trainer(CONFIG, tiny_data, replay_log)
    if good:  # 3 with this lr
        thread = start(replay, paused=True)
        replay_log.wait_state(RunState.PAUSED)
        mark = replay_log.mark()
        replay.step(good)
        replay_log.wait_state(RunState.PAUSED, since=mark)
        replay.stop()
        finish(thread)
    assert replay.batch_losses == trainer.batch_losses
    assert same_params(params(replay), params(trainer))


def test_a_listener_hears_which_batch_was_refused_and_where_the_run_stands(diverged):
    """A UI keeping one loss per batch learns from the events alone which points to drop."""
    trainer, log = diverged
    kinds = [type(e).__name__ for e in log.events]
    refused_at = kinds.index("BatchRefused")
    refused = log.events[refused_at]
    assert refused.undone and refused.step == trainer.step_count
    assert refused.loss > 10 * trainer.reference_loss
    after = log.events[refused_at + 1]
    assert isinstance(after, StateChanged) and after.state is RunState.DIVERGED
    reported = [
        loss for e in log.events[:refused_at] if isinstance(e, BatchReport) for loss in e.losses
    ]
    assert reported[: refused.step] == trainer.batch_losses and len(reported) == refused.step + 1


def test_a_diverged_run_can_be_saved_and_loaded(diverged, tiny_data, tmp_path):
    trainer, _ = diverged
    path = trainer.save(tmp_path / "diverged.safetensors").result(timeout=30)
    resumed = Trainer.from_checkpoint(path, tiny_data)
    assert same_params(params(resumed), params(trainer))
    assert resumed.step_count == trainer.step_count


def test_lowering_the_lr_and_resuming_finishes_the_run(diverged):
    trainer, log = diverged
    trainer.update(lr=0.1)
    mark = log.mark()
    trainer.resume()
    end = log.wait_for(
        lambda e: getattr(e, "state", None) in (RunState.FINISHED, RunState.DIVERGED), since=mark
    )
    assert end.state is RunState.FINISHED
    assert len(trainer.history) == 3 and trainer.history[-1].lr == 0.1


def test_headless_divergence_exits_3_and_saves_finite_parameters(tiny_dir, tmp_path, capsys):
    path = tmp_path / "diverged.safetensors"
    args = ["--headless", "--data-dir", str(tiny_dir), "--device", "cpu", "--lr", "1000"]
    assert main([*args, "--save", str(path)]) == 3
    out, err = capsys.readouterr()
    assert "mlp-tui: diverged: loss" in err and f"saved {path}" in err
    tensors, meta = checkpoint.read(path)
    assert all(torch.isfinite(tensors[name]).all() for name in ("W1", "b1", "W2", "b2"))
    assert meta["config"]["lr"] == 1000.0


def run_schedule(trainer, log, schedule):
    """Train the batches of ``schedule`` [(lr, batches), ...] from a paused run; the state
    the last step ends in."""
    for lr, batches in schedule:
        trainer.update(lr=lr)
        mark = log.mark()
        trainer.step(batches)
        ended = log.wait_for(
            lambda e: getattr(e, "state", None) in (RunState.PAUSED, RunState.DIVERGED), since=mark
        )
    return ended.state


@pytest.mark.parametrize("engine", ["fused", "autograd"])
@pytest.mark.parametrize("momentum", [0.0, 0.9])
@pytest.mark.parametrize("undo_span", [4, 32])
def test_the_undo_replays_to_the_exact_parameters_before_the_exploding_update(
    tiny_data, engine, momentum, undo_span
):
    """The exploding update (batch 8, lr 1000) is undone by putting back the parameters of a
    few batches earlier and replaying the batches between with the settings each had: the
    result must be the run that never took that update, bit for bit, also the second time."""
    config = TrainConfig(epochs=1, batch_size=32, hidden=32, momentum=momentum, engine=engine)
    good = [(0.1, 5), (0.5, 2)]  # an lr change between the anchor and the undone batch

    runs = {}
    explode = [(1000.0, 1), (0.5, 1)]  # twice: the second undo replays from the same anchor
    for name, schedule in (("diverged", [*good, *explode, *explode]), ("straight", good)):
        log = EventLog()
        trainer = Trainer(config, tiny_data, log)
        trainer.steps.undo_log.span = undo_span
        thread = start(trainer, paused=True)
        log.wait_state(RunState.PAUSED)
        runs[name] = (trainer, run_schedule(trainer, log, schedule), trainer.reason)
        trainer.stop()
        finish(thread)
    (diverged, end, reason), (straight, _, _) = runs["diverged"], runs["straight"]
    assert end is RunState.DIVERGED and "rolled back to before batch 8's update" in reason
    assert diverged.batch == straight.batch == 7
    assert diverged.batch_losses == straight.batch_losses
    assert same_params(params(diverged), params(straight))
    if momentum:
        buffers = [diverged.optimizer.state[p]["momentum_buffer"] for p in diverged.net.params]
        want = [straight.optimizer.state[p]["momentum_buffer"] for p in straight.net.params]
        assert same_params(buffers, want)
