"""What the main screen draws comes from the run's events: every batch report reaches the loss
plot, a refused batch's rollback takes its points off, and the status line's position is the
trainer's."""

from __future__ import annotations

from mlp_tui.core.events import BatchRefused, BatchReport, RunState, StateChanged
from mlp_tui.tui.curves import debiased_ema
from mlp_tui.tui.messages import TrainerEvent
from mlp_tui.tui.widgets.status_bar import StatusBar

from .conftest import fill, press_now, wait_until


def report(step: int, losses: tuple[float, ...], batches: int = 10) -> BatchReport:
    return BatchReport(
        epoch=1,
        batch=step,
        batches=batches,
        step=step,
        losses=losses,
        accuracies=(0.5,) * len(losses),
        lr=0.1,
        examples_per_s=1000.0,
    )


async def test_every_batch_of_a_finished_run_is_on_screen(make_trainer, make_app):
    """No report is dropped on the way: the plots hold exactly the trainer's history."""
    reports: list[BatchReport] = []

    def record(message) -> None:
        if isinstance(message, TrainerEvent) and isinstance(message.event, BatchReport):
            reports.append(message.event)

    app = make_app(make_trainer(epochs=3))
    async with app.run_test(size=(120, 40), message_hook=record) as pilot:
        trainer = app.trainer
        await wait_until(pilot, lambda: app.main.run_state is RunState.FINISHED, timeout=30)
        await wait_until(pilot, lambda: app.main.loss_plot.seen == trainer.step_count)
        drawn = app.main.loss_plot.raw_points()[1]  # 30 batches: each its own point
        assert drawn == trainer.batch_losses == app.main.run.losses
        assert [loss for r in reports for loss in r.losses] == trainer.batch_losses
        assert app.main.epoch_plot.history == trainer.history
        await pilot.pause(0.2)  # drawn: the heavy widgets timed their draws, and still focus
        heavy = (app.main.loss_plot, app.main.epoch_plot, app.main.gallery)
        assert all(widget.render_seconds > 0 for widget in heavy)
        assert app.main.gallery.can_focus
        status = str(app.main.query_one(StatusBar).render())
        bpe = trainer.batches_per_epoch
        assert "Finished" in status and f"epoch 3/3  batch {bpe}/{bpe}" in status


async def test_a_divergence_rollback_takes_the_undone_batch_off_the_plot(make_app):
    """Five batches at lr 0.1, then lr 1000: the next update explodes, the batch after it is
    refused and that update undone; the plot loses the undone batch's point, and the status
    line's batch goes back with it."""
    refused: list[BatchRefused] = []

    def record(message) -> None:
        if isinstance(message, TrainerEvent) and isinstance(message.event, BatchRefused):
            refused.append(message.event)

    app = make_app(paused=True)
    async with app.run_test(size=(120, 40), message_hook=record) as pilot:
        trainer = app.trainer
        await pilot.press(*"nnnnn")
        await wait_until(pilot, lambda: app.main.loss_plot.seen == 5)
        await pilot.press("l")
        await fill(pilot, "1000")
        await pilot.press("enter")
        await wait_until(pilot, lambda: trainer.config.lr == 1000.0)
        await press_now(pilot, "space")
        await wait_until(pilot, lambda: app.main.run_state is RunState.DIVERGED)
        assert [(r.step, r.undone) for r in refused] == [(5, True)]
        await wait_until(pilot, lambda: "Diverged" in str(app.main.query_one(StatusBar).render()))
        assert app.main.loss_plot.raw_points()[1] == trainer.batch_losses  # waiting: safe to read
        assert len(trainer.batch_losses) == trainer.step_count == 5
        assert "batch 5/" in str(app.main.query_one(StatusBar).render())


async def test_points_after_a_rollback_replace_the_dropped_ones(make_trainer, make_app):
    """A refused batch and the batches trained after it can arrive between two redraws of the
    plot, as many as were dropped: the plot still shows the new losses, not the old."""
    app = make_app(make_trainer(), train=False)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.main
        screen.show_event(StateChanged(RunState.RUNNING))
        screen.show_event(report(4, (2.3, 2.2, 2.1, 9.0)))
        screen.redraw({"loss"})
        assert screen.loss_plot.raw_points()[1] == [2.3, 2.2, 2.1, 9.0]
        screen.show_event(BatchRefused(step=3, loss=float("nan"), undone=True))
        screen.show_event(report(4, (2.0,)))
        screen.redraw({"loss"})
        await pilot.pause()
        assert screen.loss_plot.raw_points()[1] == [2.3, 2.2, 2.1, 2.0]
        smoothed = screen.loss_plot.smoothed_points()[1]
        assert smoothed == debiased_ema([2.3, 2.2, 2.1, 2.0], screen.smoothing)  # not the 9.0
