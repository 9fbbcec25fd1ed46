"""Watching slowly: slow motion paces the batches and still hears a pause at once; the
divergence factor can be off, so that a run can be watched diverging."""

from __future__ import annotations

import time

import pytest
from mlp_tui.core.config import ConfigError, TrainConfig, parse_field
from mlp_tui.core.events import BatchRefused, BatchReport, RunState, StateChanged
from mlp_tui.core.trainer import Trainer

from tests.core._helpers import EventLog, finish, run_cli, run_main, start
from tests.core.test_determinism import assert_same_run, straight

CONFIG = TrainConfig(epochs=1, batch_size=32, hidden=32, device="cpu")  # 19 batches


def test_slow_motion_trains_at_most_that_many_batches_a_second(tiny_data):
    log = EventLog()
    trainer = Trainer(CONFIG.replace(slow=20.0), tiny_data, log)
    trainer.report_interval = 0
    began = time.perf_counter()
    assert trainer.run() is RunState.FINISHED
    took = time.perf_counter() - began
    assert took >= 18 / 20  # 19 batches, 18 gaps of 1/20 s
    assert len(log.of(BatchReport)) == 19  # each batch seen on its own
    assert_same_run(trainer, straight(tiny_data, CONFIG))  # slower, not different


def test_a_pause_in_slow_motion_comes_at_once_and_faster_speeds_up(tiny_data):
    log = EventLog()
    trainer = Trainer(CONFIG.replace(slow=0.2, epochs=3), tiny_data, log)  # 5 s a batch
    thread = start(trainer)
    log.wait_for(lambda e: isinstance(e, BatchReport))
    asked = time.perf_counter()
    trainer.pause()
    log.wait_state(RunState.PAUSED)
    assert time.perf_counter() - asked < 2.0
    trainer.update(slow=0.0)  # full speed
    trainer.resume()
    log.wait_state(RunState.FINISHED, timeout=60)
    finish(thread)


@pytest.mark.parametrize("typed", ["off", "OFF", "0"])
def test_the_divergence_factor_can_be_off(typed):
    assert parse_field("divergence_factor", typed) == 0.0
    assert TrainConfig(divergence_factor=0.0).validated().divergence_factor == 0.0


def test_a_bad_divergence_factor_says_off_too():
    with pytest.raises(ConfigError, match=r"outside \(1, 1e\+12\]"):
        parse_field("divergence_factor", "0.5")


def test_with_the_factor_off_a_rising_loss_trains_on(tiny_data):
    """At lr 30 the seed's check stops the run; with it off the run goes on until the loss is
    not a number, which still stops it (nothing trains on from nan)."""

    def until_it_ends_or_diverges(config: TrainConfig) -> tuple[Trainer, EventLog, RunState]:
        log = EventLog()
        trainer = Trainer(config, tiny_data, log)
        thread = start(trainer)  # a diverged run waits for the user: it is stopped after
        ended = (RunState.DIVERGED, RunState.FINISHED, RunState.FAILED)
        log.wait_for(lambda e: isinstance(e, StateChanged) and e.state in ended, timeout=60)
        state = trainer.state
        trainer.stop()
        finish(thread)
        return trainer, log, state

    on, _, state_on = until_it_ends_or_diverges(CONFIG.replace(lr=30.0, epochs=3))
    assert state_on is RunState.DIVERGED
    off, log, state = until_it_ends_or_diverges(
        CONFIG.replace(lr=30.0, epochs=3, divergence_factor=0.0)
    )
    assert len(off.batch_losses) > len(on.batch_losses)
    assert max(off.batch_losses) > 10 * off.batch_losses[0]  # divergence, watched
    if state is RunState.DIVERGED:
        assert log.of(BatchRefused)[-1].loss != log.of(BatchRefused)[-1].loss  # nan only
        assert "divergence factor is off" in off.reason


def test_headless_takes_off_and_refuses_paused(tiny_dir):
    flags = ["--epochs", "1", "--divergence-factor", "off", "--no-store", "--schedule", "cosine"]
    done = run_cli("--headless", "--data-dir", str(tiny_dir), "--device", "cpu", *flags)
    assert done.returncode == 0, done.stderr
    done = run_main("--headless", "--data-dir", str(tiny_dir), "--paused")  # in this process
    assert done.returncode == 2 and "--paused: only the app" in done.stderr
    done = run_main("--headless", "--data-dir", str(tiny_dir), "--schedule", "linear")
    assert done.returncode == 2 and "is not a schedule" in done.stderr


@pytest.mark.usefixtures("pytorch_cpu_step")  # held to the eager path op by op
def test_the_device_path_turns_the_factor_off_too(tiny_data):
    config = CONFIG.replace(lr=30.0, epochs=3, divergence_factor=0.0)
    eager, device = Trainer(config, tiny_data), Trainer(config, tiny_data, sync_free=True)
    assert device.run() is eager.run()
    assert device.batch_losses == eager.batch_losses
