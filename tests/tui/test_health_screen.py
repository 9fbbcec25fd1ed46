"""The training-health screen: ``h`` opens it on a run's figures and hints, ``Esc`` closes it;
snapshots of a scripted sick run at 120x40 and 80x24.

Update after an intended change with ``pytest tests/tui/test_health_screen.py
--snapshot-update`` and look at the SVGs before committing them.
"""

from __future__ import annotations

import pytest
from mlp_tui.core.events import Health, RunState, StateChanged
from mlp_tui.core.health_report import BINS, HealthReport, Hint, LayerHealth
from mlp_tui.tui.screens.health import HealthScreen
from mlp_tui.tui.screens.main import MainScreen

from .conftest import messages, script, wait_until


def bins(centre: int, spread: int) -> tuple[int, ...]:
    return tuple(max(0, 1000 - 300 * abs(i - centre) // max(spread, 1)) for i in range(BINS))


def sick_reports() -> list[HealthReport]:
    """A made-up run at lr 50: its units die in epoch 1, its weights blow up."""
    reports = []
    for epoch in range(4):
        dead = 0.0 if epoch == 0 else 1.0
        ratio = None if epoch == 0 else (19.0 if epoch == 1 else 0.0)
        hidden = LayerHealth(
            "1", 256, dead, None, False, 4.5 if epoch == 0 else 8.6e5, None if epoch == 0 else 0.0,
            ratio, ratio, bins(7 if epoch == 0 else 2 + epoch % 2, 2),
            bins(20, 1) if epoch == 0 else bins(13, 0),
        )  # fmt: skip
        output = LayerHealth(
            "output", 10, None, None, False, 0.5 if epoch == 0 else 3e5, None, ratio, ratio,
            bins(8 if epoch == 0 else 1, 2), None,
        )  # fmt: skip
        reports.append(HealthReport(epoch, epoch * 235, (hidden, output), 0 if epoch == 0 else 2))
    return reports


HINTS = (
    Hint("chance", 1, 235, "test accuracy 10.0% is chance (1 in 10 classes): every unit of "
         "hidden layer 1 is dead.", "start again with a lower lr than 50, e.g. 5"),
    Hint("lr-high", 1, 235, "steps are too large: one changed layer 1 by 19 of the weights' "
         "norm.", "a lower lr than 50, e.g. 5"),
)  # fmt: skip


def sick_app(make_trainer, make_app):
    trainer = script(make_trainer(epochs=10), 3)
    app = make_app(trainer, train=False)

    def run_before(pilot) -> None:
        reports = sick_reports()  # into the run's view without the toasts (they time out)
        app.main.run.apply(Health(reports[0]))
        app.main.run.apply(Health(reports[1], HINTS))
        for report in reports[2:]:
            app.main.run.apply(Health(report))
        app.main.show_event(StateChanged(RunState.PAUSED))
        app.main.redraw()

    return app, run_before


@pytest.mark.parametrize("size", [(120, 40), (80, 24)], ids=["120x40", "80x24"])
def test_the_health_view_of_a_sick_run(snap_compare, make_trainer, make_app, size):
    app, run_before = sick_app(make_trainer, make_app)
    assert snap_compare(app, terminal_size=size, run_before=run_before, press=["h"])


async def test_h_opens_the_health_view_and_escape_closes_it(make_trainer, make_app):
    app, run_before = sick_app(make_trainer, make_app)
    async with app.run_test(size=(120, 40)) as pilot:
        run_before(pilot)
        await pilot.press("h")
        assert isinstance(app.screen, HealthScreen)
        text = str(app.screen.query_one("#health-hints").render())
        assert "every unit of hidden layer 1 is dead" in text and "try:" in text
        table = app.screen.query_one("#health-table")
        assert "100.0%" in str(table.render()) or table.render() is not None
        await pilot.press("right_square_bracket")  # the output layer's histograms
        assert "output layer" in str(app.screen.query_one("#weights-map").title)
        await pilot.press("escape")
        assert isinstance(app.screen, MainScreen)


async def test_a_live_run_shows_its_hints_as_toasts_and_on_the_health_view(make_trainer, make_app):
    app = make_app(make_trainer(init="zeros"))
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: any("all alike" in m for m in messages(app)), 60)
        await pilot.press("h")
        await wait_until(
            pilot, lambda: "all alike" in str(app.screen.query_one("#health-hints").render())
        )
        app.main.run.trainer.stop()


async def test_a_divergence_hint_is_numbered_by_the_epoch_it_names(make_trainer, make_app):
    """Before, the health view read ``epoch 0: the run diverged at epoch 1``: the hint took
    the count of epochs done, the text the epoch under way."""
    app = make_app(make_trainer(lr=500.0))
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: app.main.run_state is RunState.DIVERGED, 30)
        await wait_until(pilot, lambda: any("diverged at" in m for m in messages(app)))
        await pilot.press("h")
        text = str(app.screen.query_one("#health-hints").render())
        assert "epoch 1: the run diverged at epoch 1, batch" in text, text
        app.main.run.trainer.stop()
