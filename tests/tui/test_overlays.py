"""Past runs behind the current one (ghosts) and a mark for every setting change, truly labelled."""

from __future__ import annotations

from mlp_tui.core.events import RunState
from mlp_tui.tui.widgets.plot_marks import change_label, place_labels

from .conftest import press_now, wait_until


def test_two_changes_a_batch_apart_keep_the_latest_label_and_count_the_other():
    marks = [(100.0, "lr 0.5"), (101.0, "lr 0.05")]
    # Never a merged "lr 0.55": the latest is shown and says one more change hides under it.
    assert place_labels(marks, 1, 1000, 80) == [(101.0, "lr 0.05 +1")]
    apart = [(10.0, "lr 0.5"), (60.0, "lr 0.05")]
    assert place_labels(apart, 1, 120, 200) == apart  # room enough: both, as set


def test_changes_are_labelled_with_the_value_the_user_set():
    assert change_label("lr", 0.5) == "lr 0.5"
    assert change_label("momentum", 0.9) == "momentum 0.9"
    assert change_label("weight_decay", 1e-4) == "wd 0.0001"


def plot_text(plot) -> str:
    return plot.render().plain


async def test_a_restart_keeps_the_previous_run_as_a_ghost_until_x(make_trainer, make_app):
    app = make_app(make_trainer(lr=0.5))
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: app.main.run.step > 5)
        first = app.trainer
        await press_now(pilot, "r")
        await wait_until(pilot, lambda: app.screen is not app.main)  # "start a new run?"
        await press_now(pilot, "y")
        await wait_until(pilot, lambda: app.trainer is not first and app.main.run.step > 2)
        main = app.main
        assert [g.name for g in main.ghosts] == ["lr 0.5, batch size 64"]
        assert len(main.ghosts[0].losses) >= 6
        await wait_until(pilot, lambda: "lr 0.5, batch size 64" in plot_text(main.loss_plot))
        await press_now(pilot, "x")
        assert main.ghosts == [] and "lr 0.5, batch size 64" not in plot_text(main.loss_plot)
        await press_now(pilot, "space")
        await wait_until(pilot, lambda: app.trainer.state is RunState.PAUSED)


async def test_every_setting_change_is_marked_on_the_loss_plot(make_trainer, make_app):
    app = make_app(make_trainer(), paused=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: app.trainer.state is RunState.PAUSED)
        app.trainer.update(momentum=0.9)
        await press_now(pilot, "n")
        await wait_until(pilot, lambda: app.main.run.step >= 1)
        await wait_until(pilot, lambda: "momentum 0.9" in plot_text(app.main.loss_plot))
        assert app.main.run.changes == [(0, "momentum 0.9")]


async def test_b_forks_a_paused_child_from_exactly_here_and_saves_the_parent(
    make_trainer, make_app, tmp_path
):
    app = make_app(make_trainer())
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: app.main.run.step > 5)
        parent = app.trainer
        await press_now(pilot, "b")
        await wait_until(pilot, lambda: app.trainer is not parent)
        child = app.trainer
        await wait_until(pilot, lambda: child.state is RunState.PAUSED)
        await wait_until(pilot, lambda: parent.state is RunState.STOPPED)
        assert child.fork_step == parent.step_count and child.batch_losses == parent.batch_losses
        assert (child.fork_step, "fork") in app.main.run.changes
        saved = list((tmp_path / "saves").glob("*.safetensors"))
        assert len(saved) == 1  # the parent, to continue later
