"""The sweep screen (w): set a sweep up from the keyboard, watch it train, read the ranking."""

from __future__ import annotations

from mlp_tui.core.events import RunState
from mlp_tui.core.store import RunStore
from mlp_tui.tui.screens.sweep import SweepScreen
from mlp_tui.tui.widgets.sweep_plots import MemberCurves, SweepChart
from textual.widgets import DataTable, Static

from .conftest import fill, messages, wait_until

SETTINGS = "--epochs 2 --batch-size 64 --val 100 --hidden 8"


async def open_sweep(app, pilot) -> SweepScreen:
    await pilot.press("w")
    await wait_until(pilot, lambda: isinstance(app.screen, SweepScreen))
    await pilot.pause()
    return app.screen


async def start_sweep(app, pilot, spec: str, settings: str) -> SweepScreen:
    """Open the sweep screen, type the spec and the settings, and start it."""
    screen = await open_sweep(app, pilot)
    await fill(pilot, spec)
    await pilot.press("tab")
    await fill(pilot, settings)
    await pilot.press("enter")
    return screen


def text_of(screen, selector: str) -> str:
    return str(screen.query_one(selector, Static).content)


async def test_w_pauses_the_run_and_a_typed_sweep_trains_and_is_ranked(make_app, tmp_path):
    store = RunStore(tmp_path / "runs.sqlite")
    app = make_app(store=store)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: app.main.run_state is RunState.RUNNING)
        screen = await open_sweep(app, pilot)
        assert app.trainer.state is RunState.PAUSED  # the sweep does not share the cores
        assert screen.has_class("-form") and screen.focused is screen.query_one("#sweep-spec")
        await fill(pilot, "lr=0.1,0.5 layers=8,16x8")
        await pilot.press("tab")
        await fill(pilot, SETTINGS.replace(" --hidden 8", ""))
        await pilot.press("enter")
        assert not screen.has_class("-form")  # live, or on the tiny data already the results
        await wait_until(pilot, lambda: screen.has_class("-results"), timeout=60)
        ranking = screen.query_one("#sweep-ranking", DataTable)
        assert ranking.row_count == 4
        assert "chosen by validation accuracy" in text_of(screen, "#sweep-note")
        chart = screen.query_one(SweepChart).chart
        assert chart is not None and chart.log_x and len(chart.series) == 2  # one per stack
        assert not screen.has_class("-plain")  # two swept values: the heat map shows
        members = [r for r in store.runs() if r.sweep == "s1"]
        assert len(members) == 4 and {r.status for r in members} == {"finished"}
        await pilot.press("escape")
        assert app.screen is app.main


async def test_a_bad_sweep_is_one_line_under_the_form_and_starts_nothing(make_app, tmp_path):
    store = RunStore(tmp_path / "runs.sqlite")
    app = make_app(store=store, train=False)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_sweep(app, pilot)
        await fill(pilot, "lr=0.1,fast")
        await pilot.press("enter")
        assert text_of(screen, "#sweep-error") == "learning rate: 'fast' is not a number"
        assert screen.has_class("-form") and screen.sweep is None and store.runs() == []
        await fill(pilot, "lr=log:0.01:1")
        await pilot.press("enter")
        assert "say how many draws with --trials N" in text_of(screen, "#sweep-error")


async def test_s_stops_a_solo_sweep_and_starting_it_again_resumes(make_app, tmp_path):
    store = RunStore(tmp_path / "runs.sqlite")
    app = make_app(store=store, train=False)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await start_sweep(
            app, pilot, "lr=0.1,0.2,0.3", SETTINGS.replace("--epochs 2", "--epochs 400") + " --solo"
        )
        assert "one by one (--solo)" in text_of(screen, "#sweep-title")
        curves = screen.query_one(MemberCurves)
        await wait_until(pilot, lambda: any(m.losses for m in curves.members), timeout=30)
        await pilot.press("s")
        await wait_until(pilot, lambda: not screen.running, timeout=30)
        assert [r.status for r in store.runs()] == ["stopped"]
        assert screen.has_class("-results")
        await pilot.press("n")
        assert screen.has_class("-form")
        await pilot.press("enter")  # the same sweep: it resumes, in the same run
        await wait_until(pilot, lambda: screen.view.members, timeout=30)
        assert screen.view.sweep == "s1"
        await pilot.press("escape")  # leaving stops it
        assert app.screen is app.main
        await wait_until(pilot, lambda: not app.workers._workers or all(
            w.is_finished for w in app.workers if w.group == "sweep"), timeout=30)  # fmt: skip
    assert len(store.runs()) <= 3


async def test_without_a_store_w_says_why(make_app):
    app = make_app(train=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("w")
        assert app.screen is app.main
        assert any("run store" in text for text in messages(app))


async def test_a_split_that_leaves_nothing_to_train_is_refused_by_the_form(make_app, tmp_path):
    store = RunStore(tmp_path / "runs.sqlite")
    app = make_app(store=store, train=False)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_sweep(app, pilot)
        await pilot.press("tab")
        await fill(pilot, "--epochs 1 --val 600")  # the tiny data's 600 training images
        await pilot.press("enter")
        assert text_of(screen, "#sweep-error") == (
            "validation images: 600 of 600 training images leave none to train on"
        )
        assert screen.has_class("-form") and screen.sweep is None and store.runs() == []


async def test_members_that_cannot_start_show_a_failed_sweep(make_app, tmp_path, monkeypatch):
    from mlp_tui.core import population
    from mlp_tui.core.config import ConfigError

    def refuse(self, *args, **kwargs):
        raise ConfigError("population: cannot be built here")

    monkeypatch.setattr(population.Population, "__init__", refuse)
    store = RunStore(tmp_path / "runs.sqlite")
    app = make_app(store=store, train=False)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await start_sweep(app, pilot, "lr=0.1,0.5", SETTINGS + " --together")
        await wait_until(pilot, lambda: screen.has_class("-results"), timeout=30)
        assert not screen.running
        assert "2 failed: population: cannot be built here" in text_of(screen, "#sweep-title")
        assert messages(app).count("population: cannot be built here") == 1  # one toast
        assert [m.status for m in screen.view.members] == ["failed", "failed"]
        assert [r.status for r in store.runs()] == ["failed", "failed"]


async def test_at_80x24_the_live_table_shows_each_members_accuracy(make_app, tmp_path):
    """The member names are long (lr 0.1, layers 16x8): they come last, where a cut costs
    nothing, and the accuracy, epochs and status stay on the screen."""
    app = make_app(store=RunStore(tmp_path / "runs.sqlite"))
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await start_sweep(
            app, pilot, "lr=0.1,0.5 layers=8,16x8", SETTINGS.replace(" --hidden 8", "")
        )
        await wait_until(pilot, lambda: screen.has_class("-results"), timeout=60)
        screen.set_class(False, "-results")
        screen.set_class(True, "-live")  # the live table, as it stood at the end
        await pilot.pause()
        table = screen.query_one("#sweep-members", DataTable)
        shown = table.scrollable_content_region.width
        edge = 0
        for column in table.ordered_columns:
            edge += column.get_render_width(table)
            if str(column.label) in ("acc", "epochs", "status"):
                assert edge <= shown, f"{column.label} ends at {edge} of {shown} columns"
        assert any("%" in str(cell) for cell in table.get_row_at(0))
