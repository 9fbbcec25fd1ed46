"""A fork's parent (``b``) is kept, paused, at its checkpoint, and continues later (the runs
screen's ``c``) exactly as if it had never been forked."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from mlp_tui.core.events import RunState
from mlp_tui.core.store import RunStore
from mlp_tui.tui.screens.confirm import ConfirmDialog
from mlp_tui.tui.widgets.run_numbers import RunNumbers

from .conftest import wait_until
from .test_runs_screen import column, open_runs

EPOCHS = 3
FORK_AT = 7  # of 10 batches in an epoch of the tiny data


async def test_the_forked_parent_stays_paused_and_continues_as_if_never_forked(
    tmp_path, make_app, make_trainer
):
    path = tmp_path / "runs.sqlite"
    store = RunStore(path)
    app = make_app(make_trainer(epochs=EPOCHS), store=store, paused=True)
    async with app.run_test(size=(120, 40)) as pilot:
        for step in range(1, FORK_AT + 1):  # a batch at a time: the fork point, exactly
            await pilot.press("n")
            await wait_until(pilot, lambda: app.main.run.step == step)  # noqa: B023
        await wait_until(pilot, lambda: app.trainer.state is RunState.PAUSED)
        parent = app.trainer
        await pilot.press("b")
        await wait_until(pilot, lambda: parent.state is RunState.STOPPED)
        await wait_until(pilot, lambda: [r.status for r in store.runs()] == ["paused", "paused"])
        first, child = store.runs()
        assert child.parent == first.id and child.fork_step == parent.step_count == FORK_AT
        assert first.checkpoint and Path(first.checkpoint).is_file()
        held = sqlite3.connect(path).execute("SELECT pid, host FROM runs WHERE id = 1").fetchone()
        assert held == (None, None)  # no process holds it: never taken for interrupted
        assert store.mark_interrupted() == 0 and store.runs()[0].status == "paused"

        screen = await open_runs(app, pilot)
        assert column(screen.table, "status") == ["paused", "paused"]
        await pilot.press("c")  # r1, at the cursor
        if isinstance(app.screen, ConfirmDialog):  # the child's progress is unsaved
            await pilot.press("y")
        await wait_until(pilot, lambda: app.trainer.run_uid == parent.run_uid)
        await wait_until(pilot, lambda: store.runs()[0].status == "finished", timeout=30)

    never_forked = make_trainer(epochs=EPOCHS)
    never_forked.run()
    (continued,) = store.records([first.id])
    figures = ("train_loss", "train_acc", "test_acc")
    assert [tuple(e[f] for f in figures) for e in continued.epochs] == [
        tuple(getattr(r, f) for f in figures) for r in never_forked.history
    ]
    # The batch-loss curve is whole: up to the fork (written with the save), then after it.
    assert continued.losses == list(enumerate(never_forked.batch_losses, 1))
    assert [r.id for r in store.runs()] == [first.id, child.id]  # r1 went on as r1


async def test_a_fork_child_shows_its_parents_train_accuracy_beside_the_loss(make_app):
    """Before, after ``b`` the numbers line read ``loss 0.3889, acc –``: the child kept the
    parent's losses but not its batches' accuracies."""
    app = make_app(paused=True)
    async with app.run_test(size=(120, 40)) as pilot:
        for step in range(1, 4):
            await pilot.press("n")
            await wait_until(pilot, lambda: app.main.run.step == step)  # noqa: B023
        await wait_until(pilot, lambda: app.main.run_state is RunState.PAUSED)
        app.main.redraw()
        await pilot.pause()
        before = str(app.query_one(RunNumbers).render()).split("test acc")[0]
        assert "acc –" not in before, before  # no epoch yet: only the test accuracy is a dash
        parent = app.trainer
        await pilot.press("b")
        await wait_until(pilot, lambda: app.trainer is not parent)
        app.main.redraw()
        await pilot.pause()
        after = str(app.query_one(RunNumbers).render()).split("test acc")[0]
        assert after == before  # the parent's figures, the accuracies with the losses
