"""The inspector opened from the app (``i``): the app's per-class history and its save dir."""

from __future__ import annotations

import math

from mlp_tui.core.data import CLASS_NAMES
from mlp_tui.core.events import Predictions, RunState
from mlp_tui.core.export import FILES
from mlp_tui.core.trainer import Trainer
from mlp_tui.tui.messages import TrainerEvent
from mlp_tui.tui.screens.confirm import ConfirmDialog
from mlp_tui.tui.screens.export_prompt import ExportPrompt
from mlp_tui.tui.screens.inspect import InspectScreen
from mlp_tui.tui.widgets.per_class_plot import PerClassPlot
from textual.widgets import DataTable, Input

from .conftest import fill, press_now, wait_until

SIZE = (120, 40)


def by_hand(predictions: Predictions) -> list[float]:
    """Each class's share of its test images whose most probable class is their label: the
    per-class accuracy without ``analysis``, to check the inspector against."""
    labels = predictions.labels.tolist()
    guesses = predictions.probs.argmax(dim=1).tolist()
    rows = []
    for c in range(len(CLASS_NAMES)):
        mine = [guess for label, guess in zip(labels, guesses) if label == c]
        rows.append(sum(guess == c for guess in mine) / len(mine) if mine else math.nan)
    return rows


async def open_inspector(app, pilot) -> InspectScreen:
    await wait_until(pilot, lambda: app.main.run_state is RunState.FINISHED, timeout=30)
    await pilot.press("i")
    await wait_until(pilot, lambda: isinstance(app.screen, InspectScreen))
    return app.screen


async def test_i_shows_per_class_accuracy_for_every_epoch_trained(make_trainer, make_app):
    evaluated: list[Predictions] = []

    def record(message) -> None:
        if isinstance(message, TrainerEvent) and isinstance(message.event, Predictions):
            evaluated.append(message.event)

    app = make_app(make_trainer(epochs=3))
    async with app.run_test(size=SIZE, message_hook=record) as pilot:
        screen = await open_inspector(app, pilot)
        await pilot.press("3")
        history = screen.query_one(PerClassPlot).history
        assert history.epochs == [1, 2, 3] == [p.epoch for p in evaluated]
        assert history.accuracies == [by_hand(p) for p in evaluated]
        last = by_hand(app.trainer.predict())
        assert history.accuracies[-1] == last
        table = screen.query_one(DataTable)  # the change column compares with epoch 2
        before = history.accuracies[-2]
        for c in range(len(CLASS_NAMES)):
            assert str(table.get_row_at(c)[4]) == f"{last[c] - before[c]:+.1%}"


async def test_e_in_the_inspector_exports_into_the_save_dir(
    make_trainer, make_app, tmp_path, monkeypatch
):
    elsewhere = tmp_path / "cwd"  # the inspector's own default is the working directory
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    app = make_app(make_trainer(epochs=2))
    async with app.run_test(size=SIZE) as pilot:
        await open_inspector(app, pilot)
        await pilot.press("e")
        assert isinstance(app.screen, ExportPrompt)
        assert app.screen.query_one(Input).value == str(app.main.save_dir)
        await pilot.press("enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert isinstance(app.screen, InspectScreen)
    assert sorted(p.name for p in app.main.save_dir.iterdir()) == sorted(FILES)
    header = (app.main.save_dir / "per_class.csv").read_text().splitlines()[0]
    assert header.endswith(",epoch_1,epoch_2")  # the app's history, not just the last epoch
    assert not any(elsewhere.iterdir())


async def test_a_resumed_run_continues_from_its_saved_epoch(make_trainer, make_app, tmp_path):
    path = tmp_path / "two-epochs.safetensors"
    saved = make_trainer(epochs=2)
    saved.run()
    saved.save(path).result()
    app = make_app(Trainer.from_checkpoint(path, saved.data, epochs=3), saved=True)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_inspector(app, pilot)
        history = screen.query_one(PerClassPlot).history
        assert history.epochs == [2, 3]  # a checkpoint holds no per-class rows before its own
        assert history.accuracies == [by_hand(saved.predict()), by_hand(app.trainer.predict())]


async def test_opening_a_checkpoint_starts_a_new_per_class_history(
    make_trainer, make_app, tmp_path
):
    path = tmp_path / "two-epochs.safetensors"
    saved = make_trainer(epochs=2, seed=1)
    saved.run()
    saved.save(path).result()
    app = make_app(make_trainer(epochs=3))
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.main.run_state is RunState.FINISHED, timeout=30)
        first = app.trainer
        await pilot.press("o")
        await fill(pilot, str(path))
        await press_now(pilot, "enter")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog))  # unsaved: asks
        await press_now(pilot, "y")
        await wait_until(pilot, lambda: app.trainer is not first)
        screen = await open_inspector(app, pilot)  # the saved run has no epochs left
        history = screen.query_one(PerClassPlot).history
        assert history.epochs == [2]
        assert history.accuracies == [by_hand(saved.predict())]


async def test_a_new_run_starts_a_new_per_class_history(make_trainer, make_app):
    app = make_app(make_trainer(epochs=1))
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.main.run_state is RunState.FINISHED, timeout=30)
        first, history = app.trainer, app.main.run.per_class
        await pilot.press("r", "y")  # the same settings: the same numbers, in a new history
        await wait_until(pilot, lambda: app.trainer is not first)
        screen = await open_inspector(app, pilot)
        assert screen.query_one(PerClassPlot).history.epochs == [1]
        assert app.main.run.per_class is not history and history.epochs == [1]
