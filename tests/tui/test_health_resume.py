"""A run opened from a checkpoint (``o``, or ``--resume``) shows its earlier epochs on the
health view (``h``): their histograms and the hints said before the save, which are not
said again."""

from __future__ import annotations

from pathlib import Path

from mlp_tui.core.events import RunState
from mlp_tui.core.trainer import Trainer
from mlp_tui.tui.screens.health import HealthScreen
from mlp_tui.tui.widgets.histogram_map import HistogramMap

from .conftest import fill, messages, press_now, wait_until
from .test_checkpoints import saved_run


def shown_epochs(app) -> list[int]:
    return [epoch for epoch, _ in app.screen.query_one("#weights-map", HistogramMap).rows]


async def test_a_resumed_run_shows_the_epochs_before_its_save(make_trainer, make_app, tmp_path):
    path = tmp_path / "zeros.safetensors"
    saved_run(lambda **c: make_trainer(init="zeros", **c), path)
    app = make_app(Trainer.from_checkpoint(path, make_trainer().data), train=False)  # --resume
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("h")
        assert isinstance(app.screen, HealthScreen)
        assert shown_epochs(app) == [0, 1, 2]  # as initialised, then the two saved epochs
        title = str(app.screen.query_one("#health-title").render())
        assert "after epoch 2 · 1 hint" in title
        assert "all alike" in str(app.screen.query_one("#health-hints").render())


async def test_o_keeps_the_health_history_and_says_no_hint_again(make_trainer, make_app, tmp_path):
    path: Path = tmp_path / "zeros.safetensors"
    saved_run(lambda **c: make_trainer(init="zeros", **c), path)
    app = make_app(paused=True)
    async with app.run_test(size=(120, 40)) as pilot:
        first = app.trainer
        await pilot.press("o")
        await fill(pilot, str(path))
        await press_now(pilot, "enter")
        await wait_until(pilot, lambda: app.trainer is not first)
        await wait_until(pilot, lambda: app.trainer.state is RunState.PAUSED)  # as this run was
        await press_now(pilot, "space")
        # One more epoch, and its health figures (they follow the epoch's report).
        await wait_until(pilot, lambda: [h.epoch for h in app.main.run.health][3:4] == [3], 60)
        app.main.run.trainer.pause()
        await pilot.press("h")
        assert shown_epochs(app)[:4] == [0, 1, 2, 3]
        assert [h.kind for h in app.main.run.hints] == ["symmetry"]  # from before the save
        assert not any("all alike" in m for m in messages(app))  # no toast of it again
