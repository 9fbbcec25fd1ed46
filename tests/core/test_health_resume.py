"""A run's health history travels with it: a checkpoint (and a fork) carries the reports so
far, the hints said and the step samples of the epoch under way, so that a resumed run's
health view shows its earlier epochs, says no hint twice and reports what a straight run
would; a checkpoint from before keeps loading; a damaged history is refused in one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from mlp_tui.core import checkpoint
from mlp_tui.core.checkpoint import CheckpointError
from mlp_tui.core.config import TrainConfig
from mlp_tui.core.events import Health, RunState
from mlp_tui.core.trainer import Trainer

from tests.core._helpers import EventLog, finish, start
from tests.core.test_determinism import assert_same_run

CONFIG = TrainConfig(epochs=3, batch_size=32, hidden=32, device="cpu")  # 19 batches an epoch
EVERY = 5  # steps between two measured ones: several an epoch on the tiny data
FORMAT_1 = Path(__file__).parent / "data" / "format1-hidden8.safetensors"


def watched(config: TrainConfig, data, on_event=None) -> Trainer:
    trainer = Trainer(config, data, on_event)
    assert trainer.health is not None
    trainer.health.every = EVERY
    return trainer


def saved_mid_epoch(config: TrainConfig, data, path: Path, steps: int = 26) -> Trainer:
    """Train ``steps`` batches (epoch 2, batch 7 by default), save, stop."""
    log = EventLog()
    trainer = watched(config, data, log)
    thread = start(trainer, paused=True)
    log.wait_state(RunState.PAUSED)
    mark = log.mark()
    trainer.step(steps)
    log.wait_state(RunState.PAUSED, since=mark)
    assert trainer.save(path).result(timeout=30) == path
    trainer.stop()
    finish(thread)
    return trainer


def resumed(path: Path, data, on_event=None) -> Trainer:
    trainer = Trainer.from_checkpoint(path, data, on_event)
    assert trainer.health is not None
    trainer.health.every = EVERY
    return trainer


def test_a_run_resumed_mid_epoch_reports_its_health_as_a_straight_run(tiny_data, tmp_path):
    path = tmp_path / "mid.safetensors"
    before = saved_mid_epoch(CONFIG, tiny_data, path)
    assert before.health is not None and before.health.history  # the pending samples exist too
    again = resumed(path, tiny_data)
    assert again.health is not None
    assert [r.epoch for r in again.health.history] == [0, 1]  # as initialised, then epoch 1
    assert again.run() is RunState.FINISHED
    straight = watched(CONFIG, tiny_data)
    assert straight.run() is RunState.FINISHED
    assert_same_run(again, straight)
    assert straight.health is not None and len(straight.health.history) == 4
    assert again.health.history == straight.health.history  # every figure, bit for bit
    assert again.health.history[2].samples == straight.health.history[2].samples == 4


def test_a_resumed_run_says_no_hint_twice(tiny_data, tmp_path):
    config = CONFIG.replace(init="zeros")
    path = tmp_path / "zeros.safetensors"
    saved_mid_epoch(config, tiny_data, path)
    log = EventLog()
    again = resumed(path, tiny_data, log)
    assert again.run() is RunState.FINISHED
    assert [h.kind for e in log.of(Health) for h in e.hints] == []  # said before the save
    assert again.health is not None
    assert [(h.kind, h.epoch) for h in again.health.hints] == [("symmetry", 0)]
    assert [r.epoch for r in again.health.history] == [0, 1, 2, 3]


def test_a_fork_carries_the_history(tiny_data, tmp_path):
    parent = saved_mid_epoch(CONFIG.replace(init="zeros"), tiny_data, tmp_path / "p.safetensors")
    child = parent.fork()
    assert child.health is not None and parent.health is not None
    assert child.health.history == parent.health.history and child.health.hints
    assert child.health.history is not parent.health.history


def test_a_checkpoint_without_a_health_history_still_loads(tiny_data, tmp_path):
    """Checkpoints from before the history was kept (format 1 from main's code, and a
    format-2 one with the entry taken out): the history starts where the run resumes."""
    old = Trainer.from_checkpoint(FORMAT_1, tiny_data, epochs=2)
    assert old.health is not None and old.health.history == [] and old.health.hints == []
    assert old.run() is RunState.FINISHED
    assert [r.epoch for r in old.health.history] == [2]  # epoch 1 was before the history
    path = tmp_path / "mid.safetensors"
    saved_mid_epoch(CONFIG, tiny_data, path)
    rewrite(path, lambda meta: meta.pop("health"))
    again = resumed(path, tiny_data)
    assert again.health is not None and again.health.history == []
    assert again.run() is RunState.FINISHED
    assert [r.epoch for r in again.health.history] == [2, 3]


def test_a_checkpoint_of_a_run_without_health_figures_has_none(tiny_data, tmp_path):
    bare = Trainer(CONFIG.replace(epochs=1), tiny_data, health=False)
    bare.run()
    path = checkpoint.save(bare.state_dict(), tmp_path / "bare.safetensors")
    assert checkpoint.load(path, tiny_data)["health"] is None
    assert Trainer.from_checkpoint(path, tiny_data).health.history == []  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("damage", "says"),
    [
        (lambda meta: meta.update(health="{"), "health is not JSON"),
        (lambda meta: meta.update(health=json.dumps({"reports": 1})), "health reports is not"),
        (
            lambda meta: _edit_health(
                meta, lambda h: h["reports"][0]["layers"][0].update(weights=[1, 2])
            ),
            "weights is not a histogram",
        ),  # fmt: skip
        (lambda meta: _edit_health(meta, lambda h: h.update(pending=[[1.0]])), "do not fit"),
        (lambda meta: _edit_health(meta, lambda h: h.update(next_sample=-1)), "next_sample"),
    ],
    ids=["not-json", "not-a-list", "short-histogram", "samples-of-another-net", "negative"],
)
def test_a_damaged_health_history_is_refused_in_one_line(tiny_data, tmp_path, damage, says):
    path = tmp_path / "mid.safetensors"
    saved_mid_epoch(CONFIG, tiny_data, path)
    rewrite(path, damage)
    with pytest.raises(CheckpointError, match="is damaged") as caught:
        Trainer.from_checkpoint(path, tiny_data)
    assert says in str(caught.value) and "\n" not in str(caught.value)


def test_a_blown_up_runs_figures_save_and_load(tiny_data, tmp_path):
    """nan and inf figures (a run at lr 50) survive the metadata's strict JSON."""
    config = CONFIG.replace(lr=50.0, divergence_factor=0.0, epochs=2)
    trainer = watched(config, tiny_data)
    trainer.run()
    assert trainer.health is not None
    state = trainer.state_dict()
    state["params"] = {k: v.nan_to_num(0.0, 0.0, 0.0) for k, v in state["params"].items()}
    path = checkpoint.save(state, tmp_path / "blown.safetensors")
    loaded = Trainer.from_checkpoint(path, tiny_data).health
    assert loaded is not None and len(loaded.history) == len(trainer.health.history) == 3
    assert [h.kind for h in loaded.hints] == [h.kind for h in trainer.health.hints]


def _edit_health(meta: dict, edit) -> None:
    health = json.loads(meta["health"])
    edit(health)
    meta["health"] = json.dumps(health)


def rewrite(path: Path, edit) -> None:
    """Change a checkpoint's metadata in place, its tensors as they are."""
    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    with safe_open(str(path), "pt") as f:
        header = f.metadata()
    meta = json.loads(header["meta"])
    edit(meta)
    header["meta"] = json.dumps(meta)
    save_file(load_file(str(path)), str(path), metadata=header)


def test_a_resumed_checkpoint_recorded_as_a_new_run_keeps_its_hints(tiny_data, tmp_path):
    """Opened where its run is not in the store: the new run gets the history as it gets the
    epochs, so ``mlp-tui runs show`` lists the hint said before the save, once."""
    from mlp_tui.core.recorder import record
    from mlp_tui.core.store import RunStore

    path = tmp_path / "zeros.safetensors"
    saved_mid_epoch(CONFIG.replace(init="zeros"), tiny_data, path)
    store = RunStore(tmp_path / "runs.sqlite")
    trainer = resumed(path, tiny_data)
    recorder = record(trainer, store, print)
    assert recorder is not None
    trainer.on_event = recorder
    assert trainer.run() is RunState.FINISHED
    assert [(h.kind, h.epoch) for h in store.hints(recorder.run_id)] == [("symmetry", 0)]
    assert [r.epoch for r in store.health(recorder.run_id)] == [0, 1, 2, 3]
    store.close()


def test_a_long_history_keeps_the_first_report_and_the_latest():
    from mlp_tui.core import health_state
    from mlp_tui.core.health_report import HealthReport

    reports = [HealthReport(e, e * 10, (), 0) for e in range(health_state.KEPT + 100)]
    plain = health_state.to_plain(reports, [], set(), 0, [])
    kept = [r.epoch for r in health_state.reports(plain)]
    assert kept == [0, *range(100, health_state.KEPT + 100)]
