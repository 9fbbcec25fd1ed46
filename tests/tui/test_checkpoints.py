"""Saving (s), opening (o) and resuming (--resume) runs from the app; bad paths change nothing."""

from __future__ import annotations

import json
from pathlib import Path

from mlp_tui.core.events import RunState
from mlp_tui.core.trainer import Trainer
from mlp_tui.tui.screens.prompt import ValuePrompt
from textual.widgets import Input

from .conftest import fill, messages, press_now, wait_until


def saved_run(make_trainer, path: Path, epochs: int = 2) -> Trainer:
    """A run saved after ``epochs`` epochs, with 100 to go: opening it has work left to do."""
    trainer = make_trainer(epochs=epochs)
    trainer.run()
    trainer.update(epochs=100)
    trainer.save(path).result()
    return trainer


async def test_s_saves_to_a_default_path_in_the_save_dir(make_app, tmp_path):
    app = make_app(paused=True)
    async with app.run_test() as pilot:
        await pilot.press("n")
        await wait_until(pilot, lambda: app.trainer.step_count == 1)
        await pilot.press("s")
        assert isinstance(app.screen, ValuePrompt)
        default = Path(app.screen.query_one(Input).value)
        assert default.parent == tmp_path / "saves" and default.suffix == ".safetensors"
        await pilot.press("enter")
        await wait_until(pilot, lambda: default.is_file())
        await wait_until(pilot, lambda: any(str(default) in m for m in messages(app)))
        assert not app.main.run.unsaved
        await pilot.press("q")  # nothing unsaved: no question asked
        await wait_until(pilot, lambda: app._exit)
    assert Trainer.from_checkpoint(default, app.trainer.data).step_count == 1


async def test_s_takes_an_edited_path_and_adds_the_suffix(make_app, tmp_path):
    app = make_app(paused=True)
    async with app.run_test() as pilot:
        await pilot.press("s")
        await fill(pilot, str(tmp_path / "mine"))
        await pilot.press("enter")
        await wait_until(pilot, lambda: (tmp_path / "mine.safetensors").is_file())


async def test_s_with_a_bad_path_is_a_message_and_saves_nothing(make_app, tmp_path):
    tmp_path = tmp_path / "here"
    tmp_path.mkdir()
    (tmp_path / "a-file").write_text("not a folder")
    app = make_app(paused=True)
    async with app.run_test() as pilot:
        await pilot.press("s")
        prompt = app.screen
        for bad, reason in (
            ("", "enter a file name"),
            (str(tmp_path), "is a directory"),
            (str(tmp_path / "a-file" / "x.safetensors"), "is a file, not a folder"),
        ):
            await fill(pilot, bad)
            await pilot.press("enter")
            assert app.screen is prompt and reason in prompt.error, (bad, prompt.error)
        await pilot.press("escape")
        assert not isinstance(app.screen, ValuePrompt)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file"]


async def test_a_save_that_fails_on_disk_is_a_message(make_app):
    app = make_app(paused=True)
    async with app.run_test() as pilot:
        await pilot.press("s")
        await fill(pilot, "/proc/no-such-folder/run.safetensors")  # even root cannot write there
        await pilot.press("enter")
        await wait_until(pilot, lambda: any("cannot save" in m for m in messages(app)))
        assert not app.screen.is_modal


async def test_o_opens_a_checkpoint_and_continues_it(make_trainer, make_app, tmp_path):
    path = tmp_path / "two-epochs.safetensors"
    saved = saved_run(make_trainer, path)
    app = make_app(paused=True)
    async with app.run_test() as pilot:
        first = app.trainer
        await pilot.press("o")
        await fill(pilot, str(path))
        await press_now(pilot, "enter")
        await wait_until(pilot, lambda: app.trainer is not first)
        assert app.trainer.history == saved.history
        assert app.trainer.step_count >= saved.step_count
        await wait_until(pilot, lambda: "opened a run: 2 epochs done" in messages(app))
        await wait_until(pilot, lambda: app.trainer.step_count > saved.step_count)  # resumed
        await wait_until(pilot, lambda: first.state is RunState.STOPPED)  # stop is a command


async def test_o_suggests_the_newest_checkpoint_in_the_save_dir(make_trainer, make_app, tmp_path):
    path = tmp_path / "saves" / "run.safetensors"
    saved_run(make_trainer, path, epochs=1)
    app = make_app(paused=True)
    async with app.run_test() as pilot:
        await pilot.press("o")
        assert app.screen.query_one(Input).value == str(path)


async def test_o_with_a_bad_file_is_a_message_and_changes_nothing(make_trainer, make_app, tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    other = tmp_path / "other.safetensors"
    other.write_bytes(b"\x00" * 100)
    app = make_app(paused=True)
    async with app.run_test() as pilot:
        first = app.trainer
        await pilot.press("o")
        prompt = app.screen
        for bad, reason in (
            ("", "enter the path"),
            (str(tmp_path / "missing.safetensors"), "does not exist"),
            (str(tmp_path), "is a directory"),
            (str(tmp_path / "notes.txt"), "not an mlp-tui checkpoint"),
            (str(other), "not an mlp-tui checkpoint"),
        ):
            await fill(pilot, bad)
            await pilot.press("enter")
            assert app.screen is prompt and reason in prompt.error, (bad, prompt.error)
            assert app.trainer is first
        await pilot.press("escape")
        assert app.trainer is first and not isinstance(app.screen, ValuePrompt)


async def test_a_resumed_run_opens_paused_with_its_history(make_trainer, make_app, tmp_path):
    path = tmp_path / "run.safetensors"
    saved = saved_run(make_trainer, path)
    trainer = Trainer.from_checkpoint(path, saved.data)
    app = make_app(trainer, paused=True, saved=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: app.trainer.state is RunState.PAUSED)
        assert app.main.epoch_plot.history == saved.history
        assert app.main.loss_plot.seen == saved.step_count
        assert app.main.gallery.predictions is not None  # evaluated on open: the gallery is full
        assert not app.main.run.unsaved
        await pilot.press("q")
        await wait_until(pilot, lambda: app._exit)


async def test_save_and_metrics_out_are_written_at_each_epoch(make_trainer, make_app, tmp_path):
    save, metrics = tmp_path / "auto.safetensors", tmp_path / "metrics.jsonl"
    app = make_app(make_trainer(epochs=2), autosave=save, metrics_out=metrics)
    async with app.run_test() as pilot:
        await wait_until(pilot, lambda: app.main.run_state is RunState.FINISHED)
        await wait_until(pilot, lambda: save.is_file() and not app.main.run.unsaved)
        lines = metrics.read_text().splitlines()
        assert [json.loads(line)["epoch"] for line in lines] == [1, 2]
        assert not any("saved" in m for m in messages(app))  # each epoch, quietly
        await pilot.press("s")
        assert app.screen.query_one(Input).value == str(save)  # --save is the suggestion
    assert Trainer.from_checkpoint(save, app.trainer.data).epoch == 2
