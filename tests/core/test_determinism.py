"""A run is a function of its config and seed: pausing, stepping, saving and resuming, or
changing the learning rate at a known batch give exactly the numbers of an uninterrupted run."""

from __future__ import annotations

import threading

import pytest
import torch
from mlp_tui.core.cli import main
from mlp_tui.core.config import TrainConfig
from mlp_tui.core.data import to_unit
from mlp_tui.core.events import BatchReport, RunState, SettingsChanged
from mlp_tui.core.trainer import Trainer
from torch import nn

from tests.core._helpers import EventLog, finish, metrics, params, same_params, start

CONFIG = TrainConfig(epochs=3, batch_size=32, hidden=32, device="cpu")  # 19 batches an epoch


def straight(data, config: TrainConfig = CONFIG) -> Trainer:
    trainer = Trainer(config, data)
    assert trainer.run() is RunState.FINISHED
    return trainer


def assert_same_run(trainer: Trainer, reference: Trainer) -> None:
    assert metrics(trainer.history) == metrics(reference.history)
    assert trainer.batch_losses == reference.batch_losses
    assert same_params(params(trainer), params(reference))


def test_same_config_and_seed_give_identical_runs(tiny_data):
    first, second = straight(tiny_data), straight(tiny_data)
    assert_same_run(first, second)
    assert len(first.history) == 3 and len(first.batch_losses) == 3 * 19
    other_seed = straight(tiny_data, CONFIG.replace(seed=1))
    assert other_seed.batch_losses != first.batch_losses


def test_pausing_and_resuming_from_another_thread_changes_nothing(tiny_data):
    # The listener holds the training thread at its first two batch reports (there is at least
    # one an epoch) until this thread has sent pause(): so the pauses land mid-run, whatever the
    # machine's speed. Not at the last batch: a pause after it has nothing left to pause.
    reached, sent = threading.Event(), threading.Event()
    holds = [2]

    def hold(event) -> None:
        if isinstance(event, BatchReport) and event.step < 3 * 19 and holds[0] > 0:
            holds[0] -= 1
            reached.set()
            assert sent.wait(30)
            sent.clear()

    log = EventLog()
    trainer = Trainer(CONFIG, tiny_data, lambda e: (log(e), hold(e)))
    thread = start(trainer)
    paused_at = []
    for _ in range(2):
        assert reached.wait(30)
        reached.clear()
        mark = log.mark()
        trainer.pause()
        sent.set()
        log.wait_state(RunState.PAUSED, since=mark)
        paused_at.append(trainer.step_count)
        mark = log.mark()
        trainer.resume()
        log.wait_state(RunState.RUNNING, since=mark)
    log.wait_state(RunState.FINISHED)
    finish(thread)
    assert 0 < paused_at[0] < paused_at[-1] < 3 * 19
    assert_same_run(trainer, straight(tiny_data))


def test_stepping_batch_by_batch_changes_nothing(tiny_data):
    log = EventLog()
    trainer = Trainer(CONFIG, tiny_data, log)
    thread = start(trainer, paused=True)
    log.wait_state(RunState.PAUSED)
    done = 0
    for batches in (1, 1, 3, 17, 2):  # 17 crosses the end of the first epoch
        mark = log.mark()
        trainer.step(batches)
        log.wait_state(RunState.PAUSED, since=mark)
        done += batches
        assert trainer.step_count == done
        assert (trainer.epoch, trainer.batch) == divmod(done, 19)
    assert trainer.state is RunState.PAUSED
    trainer.resume()
    log.wait_state(RunState.FINISHED)
    finish(thread)
    assert_same_run(trainer, straight(tiny_data))


# ------------------------------------------------------------------------------ checkpoints
@pytest.mark.parametrize("momentum", [0.0, 0.9], ids=["sgd", "momentum"])
def test_one_epoch_saved_and_resumed_equals_two_straight(tiny_data, tmp_path, momentum):
    config = CONFIG.replace(epochs=2, momentum=momentum)
    first = straight(tiny_data, config.replace(epochs=1))
    path = tmp_path / "one.safetensors"
    assert first.save(path).result() == path
    resumed = Trainer.from_checkpoint(path, tiny_data, epochs=2)
    assert (resumed.epoch, resumed.batch, resumed.step_count) == (1, 0, 19)
    assert resumed.run() is RunState.FINISHED
    assert_same_run(resumed, straight(tiny_data, config))


@pytest.mark.parametrize("momentum", [0.0, 0.9], ids=["sgd", "momentum"])
def test_a_mid_epoch_save_resumes_exactly(tiny_data, tmp_path, momentum):
    config = CONFIG.replace(momentum=momentum)
    log = EventLog()
    trainer = Trainer(config, tiny_data, log)
    thread = start(trainer, paused=True)
    log.wait_state(RunState.PAUSED)
    mark = log.mark()
    trainer.step(26)  # epoch 2, batch 7
    log.wait_state(RunState.PAUSED, since=mark)
    path = tmp_path / "mid.safetensors"
    assert trainer.save(path).result(timeout=30) == path  # written by the training thread
    trainer.stop()
    finish(thread)
    resumed = Trainer.from_checkpoint(path, tiny_data)
    assert (resumed.epoch, resumed.batch, resumed.step_count) == (1, 7, 26)
    assert resumed.run() is RunState.FINISHED
    assert_same_run(resumed, straight(tiny_data, config))


def jsonl_metrics(path) -> list[tuple]:
    import json

    rows = [json.loads(line) for line in path.read_text().splitlines()]
    return [(r["epoch"], r["train_loss"], r["train_acc"], r["test_acc"], r["lr"]) for r in rows]


def test_cli_save_then_resume_equals_one_straight_run(tiny_dir, tmp_path, capsys):
    common = ["--headless", "--data-dir", str(tiny_dir), "--device", "cpu", "--hidden", "32"]
    common += ["--batch-size", "32"]
    ckpt = tmp_path / "run.safetensors"
    assert main([*common, "--epochs", "3", "--metrics-out", str(tmp_path / "a.jsonl")]) == 0
    assert main([*common, "--epochs", "1", "--save", str(ckpt)]) == 0
    resumed = tmp_path / "b.jsonl"
    again = ["--resume", str(ckpt), "--epochs", "3", "--metrics-out", str(resumed)]
    assert main(["--headless", "--data-dir", str(tiny_dir), "--device", "cpu", *again]) == 0
    assert jsonl_metrics(resumed) == jsonl_metrics(tmp_path / "a.jsonl")
    assert len(jsonl_metrics(resumed)) == 3
    capsys.readouterr()


# ------------------------------------------------------------------------------ live lr change
def test_an_lr_change_applies_from_the_next_batch(tiny_data):
    log = EventLog()
    trainer = Trainer(CONFIG, tiny_data, log)
    thread = start(trainer, paused=True)
    log.wait_state(RunState.PAUSED)
    mark = log.mark()
    trainer.step(4)
    log.wait_state(RunState.PAUSED, since=mark)
    before = params(trainer)
    trainer.update(lr=0.5)
    change = log.wait_for(lambda e: isinstance(e, SettingsChanged))
    assert change.changed == ("lr",) and change.step == 4 and change.config.lr == 0.5
    mark = log.mark()
    trainer.step(1)
    log.wait_state(RunState.PAUSED, since=mark)
    after = params(trainer)
    report = log.of(BatchReport)[-1]
    assert (report.step, report.lr) == (5, 0.5)
    trainer.stop()
    finish(thread)
    assert trainer.lr_changes == [(0, 0.1), (4, 0.5)]

    # Batch 5 by the seed's formulation, from the parameters after batch 4, at lr 0.5.
    W1, b1, W2, b2 = (nn.Parameter(p) for p in before)
    idx = trainer.perm[4 * 32 : 5 * 32]
    X, y = to_unit(tiny_data.train_pixels)[idx], tiny_data.train_y[idx]
    H = torch.max(X @ W1 + b1, torch.zeros(1))
    loss = nn.CrossEntropyLoss(reduction="none")(H @ W2 + b2, y)
    updater = torch.optim.SGD([W1, b1, W2, b2], lr=0.5)
    loss.mean().backward()
    updater.step()
    for ours, seed in zip(after, (W1, b1, W2, b2)):
        torch.testing.assert_close(ours, seed.detach(), rtol=1e-5, atol=1e-6)
    assert abs(trainer.batch_losses[4] - float(loss.detach().mean())) < 1e-5


def test_an_lr_change_while_running_is_recorded_at_the_batch_it_starts(tiny_data):
    log = EventLog()
    reached, sent = threading.Event(), threading.Event()

    def hold_once(event) -> None:
        if isinstance(event, BatchReport) and not reached.is_set():
            reached.set()
            assert sent.wait(30)

    trainer = Trainer(CONFIG, tiny_data, lambda e: (log(e), hold_once(e)))
    thread = start(trainer)
    assert reached.wait(30)
    trainer.update(lr=0.3)
    sent.set()
    log.wait_state(RunState.FINISHED)
    finish(thread)
    change = log.of(SettingsChanged)[0]
    assert 0 < change.step < 3 * 19
    assert trainer.lr_changes == [(0, 0.1), (change.step, 0.3)]
    assert all(r.lr == 0.3 for r in trainer.history[change.step // 19 :])
    later = [r for r in log.of(BatchReport) if r.step > change.step]
    assert later and all(r.lr == 0.3 for r in later)


def test_stepped_batches_are_reported_before_the_pause(tiny_data):
    log = EventLog()
    trainer = Trainer(CONFIG, tiny_data, log)
    thread = start(trainer, paused=True)
    log.wait_state(RunState.PAUSED)
    mark = log.mark()
    trainer.step(3)
    paused = log.wait_state(RunState.PAUSED, since=mark)
    trainer.stop()
    finish(thread)
    after = log.events[mark:]
    reported = after[: after.index(paused)]  # equal events: search after the mark
    steps = [e.step for e in reported if isinstance(e, BatchReport)]
    assert steps and steps[-1] == 3  # a UI that shows the reports sees the three batches
