"""Saving (s), opening (o) and resuming (--resume) runs from the app; bad paths change nothing."""

from __future__ import annotations

import json
import os
from pathlib import Path

from mlp_tui.core.events import RunState
from mlp_tui.core.store import default_name
from mlp_tui.core.trainer import Trainer
from mlp_tui.tui.screens.confirm import ConfirmDialog
from mlp_tui.tui.screens.prompt import ValuePrompt
from mlp_tui.tui.widgets.status_bar import StatusBar
from textual.widgets import DataTable, Input, Label

from .conftest import fill, messages, press_now, wait_until
from .test_inspect import shown


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


async def test_a_save_that_cannot_be_written_keeps_the_prompt_open_with_why(make_app, tmp_path):
    """Before, the prompt closed and a toast said why: the typed path was lost (a directory,
    by contrast, kept it open). Every error now keeps it open, the path in the field."""
    app = make_app(paused=True)
    async with app.run_test() as pilot:
        await pilot.press("s")
        prompt = app.screen
        typed = "/proc/no-such-folder/run.safetensors"  # even root cannot write there
        await fill(pilot, typed)
        await pilot.press("enter")
        assert app.screen is prompt and "cannot save" in prompt.error, prompt.error
        assert prompt.query_one(Input).value == typed
        assert not any("cannot save" in m for m in messages(app))
        fine = tmp_path / "new-folder" / "run.safetensors"  # a folder the save makes
        await fill(pilot, str(fine))
        await pilot.press("enter")
        await wait_until(pilot, lambda: fine.is_file())
        assert not app.screen.is_modal
        assert sorted(p.name for p in fine.parent.iterdir()) == ["run.safetensors"]  # no probe


async def test_o_opens_a_checkpoint_and_keeps_a_paused_user_paused(
    make_trainer, make_app, tmp_path
):
    path = tmp_path / "two-epochs.safetensors"
    saved = saved_run(make_trainer, path)
    app = make_app(paused=True)
    async with app.run_test() as pilot:
        first = app.trainer
        await pilot.press("o")
        await fill(pilot, str(path))
        await press_now(pilot, "enter")  # nothing trained here: nothing to lose, no question
        await wait_until(pilot, lambda: app.trainer is not first)
        assert app.trainer.history == saved.history
        await wait_until(pilot, lambda: "opened a run: 2 epochs done, paused" in messages(app))
        await wait_until(pilot, lambda: app.trainer.state is RunState.PAUSED)
        await pilot.pause(0.2)
        assert app.trainer.step_count == saved.step_count  # paused, as before: not resumed
        assert "Paused" in str(app.query_one(StatusBar).render())
        await wait_until(pilot, lambda: first.state is RunState.STOPPED)  # stop is a command
        await press_now(pilot, "space")
        await wait_until(pilot, lambda: app.trainer.step_count > saved.step_count)


async def test_o_asks_before_it_drops_unsaved_progress_and_a_running_run_runs_on(
    make_trainer, make_app, tmp_path
):
    """Before, ``o`` replaced a run with unsaved progress at once; ``r`` and ``c`` ask."""
    path = tmp_path / "two-epochs.safetensors"
    saved = saved_run(make_trainer, path)
    app = make_app()
    async with app.run_test() as pilot:
        first = app.trainer
        await wait_until(pilot, lambda: first.step_count > 0 and app.main.run.unsaved)
        await press_now(pilot, "o")
        await fill(pilot, str(path))
        await press_now(pilot, "enter")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        assert "unsaved progress is lost" in app.screen.question
        assert "2 epochs done" in app.screen.question
        await press_now(pilot, "n")  # no: the run on screen stays, training
        await wait_until(pilot, lambda: not app.screen.is_modal)
        assert app.trainer is first and first.state is RunState.RUNNING
        await press_now(pilot, "o")
        await fill(pilot, str(path))
        await press_now(pilot, "enter")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await press_now(pilot, "y")
        await wait_until(pilot, lambda: app.trainer is not first)
        await wait_until(pilot, lambda: app.trainer.step_count > saved.step_count)  # it ran on
        await wait_until(pilot, lambda: first.state is RunState.STOPPED)


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


async def test_o_lists_the_save_dirs_checkpoints_newest_first_and_opens_one(
    make_trainer, make_app, tmp_path
):
    saves = tmp_path / "saves"
    older = saved_run(make_trainer, saves / "older.safetensors", epochs=1)
    newer_path = saves / "newer.safetensors"
    newer = saved_run(make_trainer, newer_path, epochs=2)
    os.utime(saves / "older.safetensors", (1_000_000, 1_000_000))  # a day in 1970
    (saves / "broken.safetensors").write_bytes(b"\x00" * 10)
    app = make_app(paused=True)
    async with app.run_test(size=(120, 40)) as pilot:
        first = app.trainer
        await pilot.press("o")
        table = app.screen.query_one("#checkpoints", DataTable)
        rows = [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]
        assert [r[3] for r in rows] == ["broken", "newer", "older"]  # the suffix is the field's
        assert rows[1][:2] == ["2", f"{newer.history[-1].test_acc:.2%}"]
        assert rows[1][4] == default_name(newer.config)  # named as the runs are
        assert rows[2][0] == "1" and rows[0][:2] == ["?", "?"] and rows[0][4] == "not readable"
        assert app.screen.query_one(Input).value == str(newer_path)  # the newest readable one
        await pilot.press("down")  # into the list: the field follows the highlighted row
        await pilot.press("down", "down")
        assert app.screen.query_one(Input).value == str(saves / "older.safetensors")
        await pilot.press("up", "up")  # the broken one: opening it says why, and stays
        await press_now(pilot, "enter")
        await wait_until(pilot, lambda: "not an mlp-tui checkpoint" in app.screen.error)
        assert app.trainer is first
        await pilot.press("down", "down")
        await press_now(pilot, "enter")
        await wait_until(pilot, lambda: app.trainer is not first)
        opened = app.trainer  # paused, as the run it replaced was
        assert opened.history[: len(older.history)] == older.history


async def test_o_at_80x24_shows_the_file_names_that_tell_two_saves_apart(
    make_trainer, make_app, tmp_path
):
    """Before, at 80 columns the file column (last) showed ``mlp-h``: two saves of one run,
    at different steps, read alike. The settings, longest, go last and are cut instead."""
    saves = tmp_path / "saves"
    for name, epochs in (("mlp-h256-epoch1-step10", 1), ("mlp-h256-epoch2-step20", 2)):
        long = lambda **c: make_trainer(lr=0.0123456, momentum=0.9, weight_decay=1e-4, **c)  # noqa: E731
        saved_run(long, saves / f"{name}.safetensors", epochs=epochs)
    app = make_app(paused=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("o")
        await pilot.pause()
        text = shown(app)
        assert "mlp-h256-epoch1-step10" in text and "mlp-h256-epoch2-step20" in text, text
        table = app.screen.query_one("#checkpoints", DataTable)
        assert table.virtual_size.width <= table.size.width, text  # nothing off to the right


async def test_o_completes_a_typed_path(make_trainer, make_app, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    saved_run(make_trainer, elsewhere / "my-run.safetensors", epochs=1)
    app = make_app(paused=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("o")
        words = " ".join(str(label.content) for label in app.screen.query(Label))
        assert "no checkpoints in" in words
        await fill(pilot, str(tmp_path / "else"))
        await wait_until(pilot, lambda: app.screen.query_one(Input)._suggestion != "")
        await pilot.press("right")  # takes the completion: the folder
        assert app.screen.query_one(Input).value == str(elsewhere) + os.sep
        await pilot.press("m")
        await wait_until(pilot, lambda: app.screen.query_one(Input)._suggestion != "")
        await pilot.press("right")
        assert app.screen.query_one(Input).value == str(elsewhere / "my-run.safetensors")


async def test_e_on_the_training_screen_pauses_and_exports_the_run(make_app, tmp_path):
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: app.trainer.epoch >= 1)
        await press_now(pilot, "e")
        # the field has focus (not only exists) before the path is pasted into what is focused
        await wait_until(pilot, lambda: getattr(app.focused, "id", None) == "export-dir")
        assert app.trainer.state is RunState.PAUSED  # the files describe one moment
        await fill(pilot, str(tmp_path / "out"))
        await pilot.press("enter")
        await wait_until(pilot, lambda: any("files in" in m for m in messages(app)), timeout=30)
        names = {p.name for p in (tmp_path / "out").iterdir()}
        assert {"metrics.csv", "misclassified.png", "curves.png"} <= names
