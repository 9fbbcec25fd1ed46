"""The numbers over the plots and the keys that change how the plots read: the loss on a log
scale (L), the smoothing ([ and ]), stored runs overlaid from the runs screen (v), x clearing
them; refused batches and the best test accuracy marked."""

from __future__ import annotations

import math
from pathlib import Path

from mlp_tui.core.events import BatchRefused, BatchReport, RunState, StateChanged
from mlp_tui.core.store import RunStore
from mlp_tui.tui.curves import debiased_ema
from mlp_tui.tui.screens.runs import RunsScreen
from mlp_tui.tui.widgets.plot_marks import GHOST_COLOURS
from mlp_tui.tui.widgets.run_numbers import RunNumbers

from .conftest import script, wait_until
from .test_runs_screen import make_store, open_runs


def text(widget) -> str:
    return widget.render().plain


def store_with_curves(path: Path) -> RunStore:
    """The runs screen's three stored runs, each with a batch-loss curve of 30 points."""
    store = make_store(path)
    with store.transaction() as db:
        for run in (1, 2, 3):
            rows = [(run, step, 2.3 / (1 + step * run / 10)) for step in range(1, 31)]
            db.executemany("INSERT INTO losses (run, step, loss) VALUES (?, ?, ?)", rows)
    return store


def report(step: int, losses: tuple[float, ...]) -> BatchReport:
    return BatchReport(1, step, 10, step, losses, (0.5,) * len(losses), 0.1, 1000.0)


async def test_L_puts_both_losses_on_a_log_scale_and_back(make_trainer, make_app):
    app = make_app(script(make_trainer(epochs=10), 3, batch=4), train=False)
    async with app.run_test(size=(120, 40)) as pilot:
        main = app.main
        linear = text(main.loss_plot)
        await pilot.press("L")
        assert main.loss_plot.log_y and main.epoch_plot.log_y
        logged = text(main.loss_plot)
        assert "training loss per batch (log)" in logged and "train loss (log)" in text(
            main.epoch_plot
        )
        assert logged != linear and "1┤" in logged  # a decade on the axis: 1, 2, 5 x 10^k
        await pilot.press("L")
        assert not main.loss_plot.log_y and text(main.loss_plot) == linear


async def test_brackets_change_the_smoothing_of_the_plot_and_the_numbers(make_trainer, make_app):
    app = make_app(script(make_trainer(epochs=10), 3, batch=4), train=False)
    async with app.run_test(size=(120, 40)) as pilot:
        main, losses = app.main, app.main.run.losses
        assert "smoothed 0.95" in text(main.loss_plot)
        await pilot.press("right_square_bracket")
        assert main.smoothing == main.run.smoothing == main.loss_plot.smoothing == 0.98
        assert "smoothed 0.98" in text(main.loss_plot)  # at once, not at the plot's next turn
        smoothed = main.loss_plot.smoothed_points()[1]
        assert smoothed[-1] == debiased_ema(losses, 0.98)[-1] == main.run.loss_ema.value
        assert f"(smoothed): loss {debiased_ema(losses, 0.98)[-1]:.4g}," in text(main.numbers)
        await pilot.press("left_square_bracket", "left_square_bracket")
        assert main.smoothing == 0.9 and "smoothed 0.9 " in text(main.loss_plot)


async def test_the_numbers_show_the_smoothed_figures_then_a_stepped_batchs_own(
    make_trainer, make_app
):
    app = make_app(make_trainer(epochs=3), paused=True)
    async with app.run_test(size=(120, 40)) as pilot:
        trainer = app.trainer
        await wait_until(pilot, lambda: trainer.state is RunState.PAUSED)
        await pilot.press("n")
        await wait_until(pilot, lambda: app.main.run.step == 1)
        await wait_until(pilot, lambda: app.main.run_state is RunState.PAUSED)
        await pilot.pause(0.1)
        line = text(app.main.query_one(RunNumbers))
        loss, acc = app.main.run.losses[-1], app.main.run.accuracies[-1]
        assert loss == trainer.batch_losses[-1]
        assert f"batch 1: loss {loss:.4g}, acc {acc:.1%}" in line
        assert f"(smoothed): loss {loss:.4g}, acc {acc:.1%}" in line  # one batch: itself
        assert "test acc –" in line  # no epoch yet
        await pilot.press("space")
        await wait_until(pilot, lambda: len(app.main.run.history) >= 2, timeout=30)
        await pilot.press("space")
        await wait_until(pilot, lambda: app.main.run_state is not RunState.RUNNING)
        await pilot.pause(0.1)
        history = app.main.run.history
        best = max(history, key=lambda r: r.test_acc)
        line = text(app.main.query_one(RunNumbers))
        assert f"test acc {history[-1].test_acc:.1%}" in line
        assert f", best {best.test_acc:.1%} (epoch {best.epoch})" in line
        assert "★" in text(app.main.epoch_plot)  # the best test accuracy, marked


async def test_a_refused_batch_is_marked_at_its_loss(make_trainer, make_app):
    app = make_app(make_trainer(), train=False)
    async with app.run_test(size=(120, 40)) as pilot:
        main = app.main
        main.show_event(StateChanged(RunState.RUNNING))
        main.show_event(report(6, (2.3, 2.2, 2.1, 2.0, 1.9, 1.8)))
        main.show_event(BatchRefused(step=5, loss=3.1, undone=True))
        main.show_event(BatchRefused(step=5, loss=math.nan, undone=False))
        main.redraw({"loss"})
        await pilot.pause()
        # After the batch whose update was undone; where the run stands when none was.
        assert [x for x, _ in main.run.refused] == [7, 6] and main.run.refused[0][1] == 3.1
        drawn = text(main.loss_plot)
        assert drawn.count("×") == 2 and "nan ×" in drawn and "refused" in drawn


async def test_v_on_the_runs_screen_overlays_the_selected_runs_until_x(tmp_path, make_app):
    app = make_app(store=store_with_curves(tmp_path / "runs.sqlite"), train=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_runs(app, pilot)
        await pilot.press("space", "space", "v")  # r1 and r2
        await wait_until(pilot, lambda: not isinstance(app.screen, RunsScreen))
        main = app.main
        assert [g.name for g in main.ghosts] == ["r1 baseline", "r2 fast"]
        assert [g.colour for g in main.ghosts] == list(GHOST_COLOURS[:2])
        assert len(main.ghosts[0].losses) == 30 and len(main.ghosts[1].history) == 3
        assert main.ghosts[1].history[-1].test_acc == 0.79
        await pilot.pause()
        assert "r1 baseline" in text(main.loss_plot) and "r2 fast" in text(main.loss_plot)
        assert "━ r2" in text(main.epoch_plot)  # short names: the key's row is narrow
        await pilot.press("x")
        assert main.ghosts == [] and "r1 baseline" not in text(main.loss_plot)
        assert "━ r2" not in text(main.epoch_plot)


async def test_more_runs_than_colours_draw_the_first_ten_and_say_so(tmp_path, make_app):
    runs = [(f"run {i}", 0.1, 256, (0.7,)) for i in range(12)]
    app = make_app(store=make_store(tmp_path / "runs.sqlite", runs), train=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_runs(app, pilot)
        await pilot.press(*["space"] * 12, "v")
        await wait_until(pilot, lambda: not isinstance(app.screen, RunsScreen))
        assert [g.name for g in app.main.ghosts] == [f"r{i + 1} run {i}" for i in range(10)]
        assert len({g.colour for g in app.main.ghosts}) == 10
        assert any("first 10 are drawn" in str(n.message) for n in app._notifications)
