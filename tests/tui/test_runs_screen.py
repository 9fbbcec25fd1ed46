"""The app records its runs, and the runs screen (R) lists, sorts, filters, compares, renames
and deletes them."""

from __future__ import annotations

import argparse
from pathlib import Path

from mlp_tui.core import store as store_module
from mlp_tui.core.config import TrainConfig
from mlp_tui.core.events import RunState
from mlp_tui.core.store import EPOCH_FIELDS, RunStore
from mlp_tui.tui.main import open_store
from mlp_tui.tui.screens.compare import CompareScreen
from mlp_tui.tui.screens.confirm import ConfirmDialog
from mlp_tui.tui.screens.prompt import ValuePrompt
from mlp_tui.tui.screens.runs import RunsScreen
from textual.widgets import DataTable, Static

from .conftest import fill, messages, wait_until

RUNS = (  # name, lr, hidden, test accuracy per epoch
    ("baseline", 0.1, 256, (0.70, 0.78, 0.81)),
    ("fast", 0.5, 256, (0.75, 0.80, 0.79)),
    ("narrow", 0.1, 64, (0.65, 0.72)),
)


def make_store(path: Path, runs=RUNS) -> RunStore:
    """A store with finished runs, as the recorder would have left them."""
    store = RunStore(path)
    for name, lr, hidden, accs in runs:
        config = TrainConfig(lr=lr, hidden=hidden, epochs=len(accs), device="cpu")
        run = store.create_run(config, name, status="finished")
        rows = [
            (run, e, 1.2 - acc, acc + 0.01, acc, lr, 10.0, 5000.0) for e, acc in enumerate(accs, 1)
        ]
        with store.transaction() as db:
            db.executemany(
                f"INSERT INTO epochs (run, epoch, {', '.join(EPOCH_FIELDS)})"
                f" VALUES (?, ?{', ?' * len(EPOCH_FIELDS)})",
                rows,
            )
    return store


def column(table: DataTable, key: str) -> list[str]:
    return [str(cell) for cell in table.get_column(key)]


def headers(table: DataTable) -> list[str]:
    return [str(c.label).rstrip(" ▲▼") for c in table.columns.values()]


async def open_runs(app, pilot) -> RunsScreen:
    await pilot.press("R")
    await wait_until(pilot, lambda: isinstance(app.screen, RunsScreen) and app.screen.summaries)
    await pilot.pause()
    return app.screen


async def test_a_run_trained_in_the_app_is_in_the_store_with_its_epochs(
    tmp_path, make_app, make_trainer
):
    store = RunStore(tmp_path / "runs.sqlite")
    app = make_app(make_trainer(epochs=2), store=store, run_name="first one")
    async with app.run_test() as pilot:
        await wait_until(pilot, lambda: app.main.run_state is RunState.FINISHED, timeout=30)
        await wait_until(pilot, lambda: store.runs() and store.runs()[0].status == "finished")
    (run,) = store.records()
    assert (run.summary.name, run.summary.epochs) == ("first one", 2)
    assert [e["epoch"] for e in run.epochs] == [1, 2]
    assert run.epochs[-1]["test_acc"] == app.main.run.history[-1].test_acc


async def test_each_restart_is_a_new_run_in_the_store(tmp_path, make_app, make_trainer):
    store = RunStore(tmp_path / "runs.sqlite")
    app = make_app(make_trainer(), store=store, paused=True, run_name="first")
    async with app.run_test() as pilot:
        await pilot.press("r", "y")
        await wait_until(pilot, lambda: len(store.runs()) == 2)
    first, second = store.runs()
    assert first.name == "first" and second.name == "batch size 64"  # --name: the first run only
    assert first.status == "stopped"


async def test_R_lists_the_stored_runs_with_the_settings_that_differ(tmp_path, make_app):
    app = make_app(store=make_store(tmp_path / "runs.sqlite"), train=False)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_runs(app, pilot)
        table = screen.table
        assert column(table, "id") == ["r1", "r2", "r3"]
        assert column(table, "name") == ["baseline", "fast", "narrow"]
        assert column(table, "best acc") == ["0.8100", "0.8000", "0.7200"]
        assert "lr" in headers(table) and "hidden" in headers(table)
        assert "batch size" not in headers(table)  # the same in every run: hidden
        await pilot.press("escape")
        assert app.screen is app.main


async def test_sort_cycles_columns_and_reverses(tmp_path, make_app):
    app = make_app(store=make_store(tmp_path / "runs.sqlite"), train=False)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_runs(app, pilot)
        for _ in range(COLUMN_OF_BEST := 4):  # id -> name -> status -> epochs -> best acc
            await pilot.press("s")
        assert COLUMN_OF_BEST and "sorted by best acc" in str(
            screen.query_one("#runs-title", Static).content
        )
        assert column(screen.table, "id") == ["r3", "r2", "r1"]
        await pilot.press("S")
        assert column(screen.table, "id") == ["r1", "r2", "r3"]
        assert str(screen.table.columns["best acc"].label).endswith("▼")


async def test_typing_a_filter_keeps_the_runs_that_match(tmp_path, make_app):
    app = make_app(store=make_store(tmp_path / "runs.sqlite"), train=False)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_runs(app, pilot)
        await pilot.press("slash")
        await fill(pilot, "0.1")  # the lr of r1 and r3
        assert column(screen.table, "id") == ["r1", "r3"]
        assert "lr" not in headers(screen.table)  # the same in both: no longer a column
        await fill(pilot, "fast")
        assert column(screen.table, "id") == ["r2"]
        await pilot.press("enter", "escape")  # back to the table, then off the screen
        assert app.screen is app.main


async def test_select_two_and_compare_them(tmp_path, make_app):
    app = make_app(store=make_store(tmp_path / "runs.sqlite"), train=False)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_runs(app, pilot)
        await pilot.press("space", "down", "space")  # r1, then r3 (space moves down)
        assert column(screen.table, "mark") == ["●", "", "●"]
        assert "2 selected" in str(screen.query_one("#runs-title", Static).content)
        await pilot.press("enter")
        assert isinstance(app.screen, CompareScreen)
        table = app.screen.query_one(DataTable)
        cells = [table.get_row_at(i) for i in range(table.row_count)]
        rows = {str(row[0]): row[1:] for row in cells}
        assert [str(c.label) for c in table.columns.values()] == ["", "r1", "r3"]
        assert list(map(str, rows["hidden"])) == ["256", "64"]  # the setting that differs
        assert "lr" not in rows  # the same in both
        assert list(map(str, rows["best test acc"])) == ["0.81", "0.72"]
        await pilot.press("escape")
        assert app.screen is screen


async def test_rename_shows_a_bad_name_and_keeps_a_good_one(tmp_path, make_app):
    store = make_store(tmp_path / "runs.sqlite")
    app = make_app(store=store, train=False)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_runs(app, pilot)
        await pilot.press("down", "n")
        assert isinstance(app.screen, ValuePrompt)
        await fill(pilot, "   ")
        await pilot.press("enter")
        assert app.screen.error == "a run's name cannot be empty"
        await fill(pilot, "lr 0.5 'quick'")
        await pilot.press("enter")
        await wait_until(pilot, lambda: "lr 0.5 'quick'" in column(screen.table, "name"))
        assert column(screen.table, "name")[1] == "lr 0.5 'quick'"
    assert store.runs()[1].name == "lr 0.5 'quick'"


async def test_delete_asks_first_and_deletes_the_selected(tmp_path, make_app):
    store = make_store(tmp_path / "runs.sqlite")
    app = make_app(store=store, train=False)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_runs(app, pilot)
        await pilot.press("space", "space", "d")  # r1 and r2
        assert isinstance(app.screen, ConfirmDialog)
        await pilot.press("n")
        assert column(screen.table, "id") == ["r1", "r2", "r3"]
        await pilot.press("d", "y")
        await wait_until(pilot, lambda: column(screen.table, "id") == ["r3"])
        assert "deleted r1, r2" in messages(app)
    assert [s.short_id for s in store.runs()] == ["r3"]


async def test_continue_without_a_checkpoint_says_so(tmp_path, make_app):
    app = make_app(store=make_store(tmp_path / "runs.sqlite"), train=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_runs(app, pilot)
        await pilot.press("c")
        assert messages(app)[-1] == "r1 has no checkpoint to continue from (s saves one)"


async def test_continue_opens_the_runs_checkpoint_and_goes_on_recording_it(
    tmp_path, make_app, make_trainer
):
    store = RunStore(tmp_path / "runs.sqlite")
    app = make_app(make_trainer(epochs=1), store=store)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: app.main.run_state is RunState.FINISHED, timeout=30)
        app.trainer.save(tmp_path / "one.pt").result(10)
        await wait_until(pilot, lambda: store.runs()[0].checkpoint)
        await pilot.press("r", "y")  # a second run: r2
        await wait_until(pilot, lambda: len(store.runs()) == 2)
        await open_runs(app, pilot)
        await pilot.press("c", "y")  # r1, at the cursor; r2's progress is unsaved
        await wait_until(pilot, lambda: app.screen is app.main and app.trainer.epoch == 1)
        assert "opened a run: 1 epoch done" in messages(app)
    assert [s.short_id for s in store.runs()] == ["r1", "r2"]  # r1 went on as r1: no r3


async def test_a_store_that_cannot_be_used_is_one_notification_and_training_goes_on(
    tmp_path, make_app, make_trainer
):
    broken = tmp_path / "runs.sqlite"
    broken.write_bytes(b"not a database at all, just bytes" * 10)
    args = argparse.Namespace(no_store=False, store=str(broken), name=None)
    store, problem = open_store(args)
    assert store is None and problem.endswith("runs are not recorded")
    app = make_app(make_trainer(), store=store, store_problem=problem)
    async with app.run_test() as pilot:
        await wait_until(pilot, lambda: app.main.run.step > 0)
        assert messages(app) == [problem]
        await pilot.press("R")
        assert app.screen is app.main
        assert messages(app)[-1] == "runs are not recorded in this session"
    assert broken.read_bytes().startswith(b"not a database")  # never rewritten


def test_the_default_store_is_in_the_tests_data_dir(tmp_path, monkeypatch):
    monkeypatch.delenv(store_module.ENV, raising=False)
    assert store_module.default_path().is_relative_to(tmp_path / "share")


async def test_rows_show_whole_in_the_frame_they_arrive_in(tmp_path, make_app):
    """The table is drawn with its columns sized for the rows it was just given, not cut to
    the labels until the next frame measures them ("lr 0" for "lr 0.2")."""
    store = make_store(tmp_path / "runs.sqlite")
    app = make_app(store=store, train=False)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_runs(app, pilot)
        store.rename(2, "lr 0.5, a name longer than any before it")
        screen._loaded(store.runs())  # as the reading worker hands them over; no frame between
        drawn = ["".join(segment.text for segment in screen.table.render_line(y)) for y in (1, 2)]
        assert "lr 0.5, a name longer than any before it" in drawn[1]
        assert " r1 " in drawn[0] and "0.8100" in drawn[0]


async def test_each_comparison_plot_keeps_its_title_and_key_at_80x24(tmp_path, make_app):
    from mlp_tui.tui.widgets.runs_plot import RunsPlot

    app = make_app(store=make_store(tmp_path / "runs.sqlite"), train=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_runs(app, pilot)
        await pilot.press("space", "space", "space", "enter")
        await wait_until(pilot, lambda: isinstance(app.screen, CompareScreen))
        await pilot.pause()
        plots = list(app.screen.query(RunsPlot))
        assert [p.size.width for p in plots] == [26, 27, 27]  # too narrow for names
        for plot, title in zip(plots, ("train loss", "train acc", "test acc")):
            key = plot.render().plain.splitlines()[0].split()
            assert " ".join(key) == f"{title} ━r1 ━r2 ━r3"


async def test_runs_with_a_validation_split_compare_by_it_too(tmp_path, make_app):
    from mlp_tui.tui.widgets.runs_plot import RunsPlot

    store = make_store(tmp_path / "runs.sqlite")
    with store.transaction() as db:  # as a --val run records them: a little under test acc
        db.execute("UPDATE epochs SET val_acc = test_acc - 0.01 * epoch, val_loss = 0.5")
    app = make_app(store=store, train=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_runs(app, pilot)
        await pilot.press("space", "space", "enter")
        await wait_until(pilot, lambda: isinstance(app.screen, CompareScreen))
        await pilot.pause()
        titles = [p.render().plain.splitlines()[0].split()[:2] for p in app.screen.query(RunsPlot)]
        assert [" ".join(t) for t in titles] == ["train loss", "train acc", "test acc", "val acc"]
        labels = column(
            app.screen.query_one(DataTable), next(iter(app.screen.query_one(DataTable).columns))
        )
        assert {"best val acc", "test acc there", "final val acc"} <= set(labels)


def test_side_by_side_keys_never_run_into_the_next_plots_title():
    from mlp_tui.tui.widgets.runs_plot import RunCurve, compact_key

    curves = [RunCurve(f"r{i} run", f"r{i}", "red", [(1, 0.5)]) for i in range(1, 6)]
    for width in range(len("train loss") + 1, 40):
        key = compact_key("train loss", curves, width).plain
        assert len(key) == width and "train loss" in key, (width, key)
        assert key.endswith(" "), (width, key)  # the next plot's title starts after a space


async def test_the_run_on_screen_is_not_deleted_and_a_deleted_runs_ghost_goes(tmp_path, make_app):
    """Before, ``d`` deleted the run training on screen: its recording stopped without a word
    and it never came back; the ghost of a deleted run stayed on the plots."""
    store = make_store(tmp_path / "runs.sqlite")
    app = make_app(store=store, paused=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: app.main.run.run_id is not None)
        live = app.main.run.run_id
        screen = await open_runs(app, pilot)
        await wait_until(pilot, lambda: "r4" in column(screen.table, "id"))
        screen.table.move_cursor(row=column(screen.table, "id").index("r1"))
        await pilot.press("v")  # r1 drawn behind the live run
        await wait_until(pilot, lambda: not isinstance(app.screen, RunsScreen))
        assert [g.run_id for g in app.main.loss_plot.ghosts] == [1]

        screen = await open_runs(app, pilot)
        await wait_until(pilot, lambda: "r4" in column(screen.table, "id"))
        screen.table.move_cursor(row=column(screen.table, "id").index("r4"))
        await pilot.press("d")
        await pilot.pause()
        assert not isinstance(app.screen, ConfirmDialog)
        assert any("r4 is the run on the training screen" in m for m in messages(app))
        screen.table.move_cursor(row=column(screen.table, "id").index("r1"))
        await pilot.press("space")
        screen.table.move_cursor(row=column(screen.table, "id").index("r4"))
        await pilot.press("space", "d")  # r1 and the live r4: only r1 goes
        assert isinstance(app.screen, ConfirmDialog)
        assert "Delete r1 from" in app.screen.question and "r4" in app.screen.question
        await pilot.press("y")
        await wait_until(pilot, lambda: column(screen.table, "id") == ["r2", "r3", "r4"])
        assert app.main.loss_plot.ghosts == [] and app.main.epoch_plot.ghosts == []
        await pilot.press("escape")
    assert [s.id for s in store.runs()][-1] == live
