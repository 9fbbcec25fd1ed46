"""The runs screen follows the store while it is open: a run training behind it (the app's
own, or a headless run writing the same store) updates its row; new runs appear, deleted
ones go; the cursor, the selection, the sort and the filter stay; nothing is redrawn when
nothing changed."""

from __future__ import annotations

import pytest
from mlp_tui.core.store import EPOCH_FIELDS, RunStore
from mlp_tui.tui.screens import runs

from .conftest import fill, wait_until
from .test_runs_screen import RUNS, column, make_store, open_runs

REFRESH_S = 0.2  # the screen asks the store this often here (1 s in the app): shorter waits
WAIT = 20 * REFRESH_S
EPOCHS = 15  # of the tiny data: a second or two


@pytest.fixture(autouse=True)
def _quick_refresh(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runs, "REFRESH_S", REFRESH_S)


def add_epoch(store: RunStore, run: int, epoch: int, test_acc: float) -> None:
    """What a recorder writes at an epoch's end."""
    with store.transaction() as db:
        db.execute(
            f"INSERT INTO epochs (run, epoch, {', '.join(EPOCH_FIELDS)})"
            f" VALUES (?, ?{', ?' * len(EPOCH_FIELDS)})",
            (run, epoch, 0.3, 0.9, test_acc, 0.5, 10.0, 5000.0),
        )
        db.execute("UPDATE runs SET status = 'running', ended = NULL WHERE id = ?", (run,))


@pytest.mark.parametrize("writer", ["the app's connection", "another process's"])
async def test_an_epoch_written_behind_the_screen_updates_its_row_in_place(
    tmp_path, make_app, writer
):
    path = tmp_path / "runs.sqlite"
    store = make_store(path)
    other = store if writer == "the app's connection" else RunStore(path)
    app = make_app(store=store, train=False)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_runs(app, pilot)
        await pilot.press("s", "space")  # sorted by name; r1 (baseline) selected, then r2
        assert column(screen.table, "id") == ["r1", "r2", "r3"]  # baseline, fast, narrow
        assert screen.cursor_run() == 2
        table = screen.table
        fills = []
        table.clear = lambda *a, clear=table.clear, **k: fills.append(1) or clear(*a, **k)
        add_epoch(other, 2, 4, 0.85)  # r2 had 3 epochs (best 0.80)
        await wait_until(pilot, lambda: column(table, "epochs")[1] == "4", timeout=WAIT)
        assert column(table, "status")[1] == "running"
        assert column(table, "best acc")[1] == "0.8500"
        assert column(table, "time")[1] == "0:40"  # four epochs of 10 s
        assert screen.cursor_run() == 2 and column(table, "mark") == ["●", "", ""]
        assert "sorted by name" in str(screen.query_one("#runs-title").content)
        assert fills == []  # cells replaced where they are: the table was not filled again


async def test_new_runs_appear_and_deleted_ones_go_and_the_filter_holds(tmp_path, make_app):
    path = tmp_path / "runs.sqlite"
    app = make_app(store=make_store(path), train=False)
    headless = RunStore(path)  # another process's connection
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_runs(app, pilot)
        await pilot.press("slash")
        await fill(pilot, "0.1")  # the lr of r1 and r3
        await pilot.press("enter", "down")  # back in the table, on r3
        make_store(path, runs=[("later", 0.1, 128, (0.5,)), ("other lr", 0.3, 256, (0.6,))])
        await wait_until(pilot, lambda: "r4" in column(screen.table, "id"), timeout=WAIT)
        assert column(screen.table, "id") == ["r1", "r3", "r4"]  # r5's lr 0.3 is filtered out
        assert screen.cursor_run() == 3
        headless.delete([1])
        await wait_until(pilot, lambda: "r1" not in column(screen.table, "id"), timeout=WAIT)
        assert column(screen.table, "id") == ["r3", "r4"] and screen.cursor_run() == 3
        assert "2 of 4 shown" in str(screen.query_one("#runs-title").content)


async def test_a_long_list_keeps_its_scroll_and_cursor_when_refilled(tmp_path, make_app):
    path = tmp_path / "runs.sqlite"
    many = [(f"run {i}", 0.1, 256, (0.5 + i / 1000,)) for i in range(60)]
    app = make_app(store=make_store(path, runs=many), train=False)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_runs(app, pilot)
        await pilot.press("ctrl+end", *["up"] * 5)  # r55, the list scrolled to its end
        table = screen.table
        scrolled = table.scroll_y
        assert scrolled > 30 and screen.cursor_run() == 55
        make_store(path, runs=[("one more", 0.5, 256, (0.7,))])  # a new column (lr): refilled
        await wait_until(pilot, lambda: "r61" in column(table, "id"), timeout=WAIT)
        await pilot.pause()
        assert screen.cursor_run() == 55 and table.scroll_y == scrolled


async def test_nothing_is_drawn_again_while_nothing_changes(tmp_path, make_app):
    path = tmp_path / "runs.sqlite"
    store = make_store(path)
    app = make_app(store=store, train=False)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_runs(app, pilot)
        shown = []
        screen.show = lambda show=screen.show: shown.append(1) or show()
        polls = []
        poll = screen.follow.poll
        screen.follow.poll = lambda: polls.append(1) or poll()
        with RunStore(path) as headless:  # a write the table does not show: an event
            with headless.transaction() as db:
                db.execute(
                    "INSERT INTO events (run, at, step, kind, detail) VALUES (1, 'now', 3,"
                    " 'saved', '{\"path\": \"x\"}')"
                )
        await pilot.pause(3.5 * REFRESH_S)
        assert len(polls) >= 2 and shown == []
        assert len(RUNS) == len(screen.shown)


async def test_the_apps_own_run_training_behind_the_screen_moves_on_in_its_row(
    tmp_path, make_app, make_trainer
):
    store = RunStore(tmp_path / "runs.sqlite")
    app = make_app(make_trainer(epochs=EPOCHS), store=store)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: app.main.run.epochs_done >= 1)
        app.trainer.pause()
        screen = await open_runs(app, pilot)
        table = screen.table
        await wait_until(pilot, lambda: column(table, "status") == ["paused"], timeout=WAIT)
        before = int(column(table, "epochs")[0])
        app.trainer.resume()  # it trains on behind the runs screen
        await wait_until(pilot, lambda: column(table, "status") == ["finished"], timeout=60)
        assert before < EPOCHS and column(table, "epochs") == [str(EPOCHS)]
        assert column(table, "final acc") == [f"{app.main.run.history[-1].test_acc:.4f}"]
