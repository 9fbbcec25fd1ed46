"""What the main screen looks like running, paused, diverged and finished (scripted, frozen time).

Update after an intended change with ``pytest tests/tui/test_snapshots.py --snapshot-update``
and look at the SVGs in ``__snapshots__`` before committing them.
"""

from __future__ import annotations

import pytest
from mlp_tui.core.events import BatchRefused, RunState, StateChanged
from mlp_tui.tui.screens.runs import RunsScreen

from .conftest import script, wait_until
from .test_plot_keys import store_with_curves
from .test_runs_screen import open_runs

DIVERGED = (  # the engine's wording
    "loss 23.5 exceeds 10 x the first batch's (2.303) at epoch 4, batch 6 with lr 3.2; "
    "parameters rolled back to before batch 5's update, the last with a good loss. "
    "Lower the lr and resume."
)


def scripted_app(make_trainer, make_app, state: RunState, epochs_done: int, **kwargs):
    trainer = script(make_trainer(epochs=10), epochs_done, **kwargs)
    app = make_app(trainer, train=False)

    def run_before(pilot) -> None:
        if state is RunState.DIVERGED:  # batch 6's loss refused, batch 5's update undone
            app.main.show_event(BatchRefused(trainer.step_count - 1, 23.5, undone=True))
        app.main.show_event(StateChanged(state, DIVERGED if state is RunState.DIVERGED else ""))
        if state is RunState.RUNNING:
            app.main.run.progress.examples_per_s = 1234.0  # as if measured
        app.main.redraw()

    return app, run_before


@pytest.mark.parametrize(
    ("state", "epochs_done", "batch", "lr"),
    [
        (RunState.RUNNING, 3, 4, 0.2),
        (RunState.PAUSED, 3, 4, 0.1),
        (RunState.DIVERGED, 3, 5, 3.2),
        (RunState.FINISHED, 10, 0, 0.1),
    ],
    ids=["running", "paused", "diverged", "finished"],
)
def test_main_screen(snap_compare, make_trainer, make_app, state, epochs_done, batch, lr):
    app, run_before = scripted_app(make_trainer, make_app, state, epochs_done, batch=batch, lr=lr)
    assert snap_compare(app, terminal_size=(120, 40), run_before=run_before)


def test_paused_at_80x24_in_ascii(snap_compare, make_trainer, make_app):
    app, run_before = scripted_app(make_trainer, make_app, RunState.PAUSED, 3, batch=4)
    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before, press=["g"])


def test_one_image_with_its_probabilities(snap_compare, make_trainer, make_app):
    app, run_before = scripted_app(make_trainer, make_app, RunState.PAUSED, 3, batch=4)
    assert snap_compare(
        app, terminal_size=(120, 40), run_before=run_before, press=["right", "enter"]
    )


@pytest.mark.parametrize("size", [(120, 40), (80, 24)], ids=["120x40", "80x24"])
def test_three_stored_runs_overlaid(snap_compare, make_trainer, make_app, tmp_path, size):
    """R, the three runs selected, v: each drawn behind the run on screen in its own colour."""
    trainer = script(make_trainer(epochs=10), 3, batch=4)
    app = make_app(trainer, train=False, store=store_with_curves(tmp_path / "runs.sqlite"))

    async def run_before(pilot) -> None:
        await open_runs(app, pilot)
        await pilot.press("space", "space", "space", "v")
        await wait_until(pilot, lambda: not isinstance(app.screen, RunsScreen))
        app.main.show_event(StateChanged(RunState.PAUSED))
        app.main.redraw()

    assert snap_compare(app, terminal_size=size, run_before=run_before)
