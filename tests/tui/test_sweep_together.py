"""The sweep screen trains members of one shape together, as a population: each member is still
a run in the store under the sweep, with its own named curve; a stop keeps the finished ones,
and a diverging member is frozen and marked while the others go on."""

from __future__ import annotations

from mlp_tui.core import sweep_store
from mlp_tui.core.store import RunStore
from mlp_tui.tui.widgets.sweep_plots import MemberCurves
from textual.widgets import DataTable

from .conftest import fill, wait_until
from .test_sweep_screen import SETTINGS, open_sweep, text_of


async def start(pilot, screen, spec: str, settings: str) -> None:
    await fill(pilot, spec)
    await pilot.press("tab")
    await fill(pilot, settings)
    await pilot.press("enter")
    assert screen.sweep is not None


def epoch_seconds(store: RunStore) -> list[list[float]]:
    return [[e["seconds"] for e in record.epochs] for record in store.records()]


async def test_members_of_one_shape_train_together_with_a_curve_each_and_are_ranked(
    make_app, tmp_path
):
    store = RunStore(tmp_path / "runs.sqlite")
    app = make_app(store=store, train=False)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_sweep(app, pilot)
        await start(pilot, screen, "lr=0.05,0.1,0.2", SETTINGS)
        await wait_until(pilot, lambda: screen.has_class("-results"), timeout=60)
        assert "together: 3 in 1 population" in screen.view.headline()
        curves = screen.query_one(MemberCurves)
        assert [m.member.name for m in curves.members] == ["lr 0.05", "lr 0.1", "lr 0.2"]
        assert all(m.losses and m.status == "finished" for m in curves.members)
        assert screen.query_one("#sweep-ranking", DataTable).row_count == 3
        runs = store.runs()
        assert [r.name for r in runs] == ["lr 0.05", "lr 0.1", "lr 0.2"]
        assert {(r.sweep, r.status, r.epochs) for r in runs} == {("s1", "finished", 2)}
        seconds = epoch_seconds(store)  # trained as one: each epoch's time is the stack's
        assert seconds[0] == seconds[1] == seconds[2]


async def test_a_stop_keeps_the_finished_members_and_the_rest_resume_together(make_app, tmp_path):
    store = RunStore(tmp_path / "runs.sqlite")
    app = make_app(store=store, train=False)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_sweep(app, pilot)
        await start(pilot, screen, "lr=0.1,0.2 epochs=2,400", SETTINGS.replace("--epochs 2 ", ""))
        assert "together: 4 in 1 population" in text_of(screen, "#sweep-title")
        short = [m for m in screen.view.members if m.member.config.epochs == 2]
        await wait_until(pilot, lambda: all(m.status == "finished" for m in short), timeout=60)
        long = [m for m in screen.view.members if m.member.config.epochs == 400]
        await wait_until(pilot, lambda: all(m.losses for m in long), timeout=30)
        await pilot.press("s")
        await wait_until(pilot, lambda: not screen.running, timeout=30)
        before = {r.name: (r.id, r.status) for r in store.runs()}
        assert sorted(s for _, s in before.values()) == ["finished", "finished", "stopped",
                                                         "stopped"]  # fmt: skip
        await pilot.press("n")
        await pilot.press("enter")  # the same sweep: the two stopped members, together again
        await wait_until(pilot, lambda: screen.view.members, timeout=30)
        done = [m.status for m in screen.view.members if m.member.config.epochs == 2]
        assert done == ["done before", "done before"]
        assert "together: 2 in 1 population" in text_of(screen, "#sweep-title")
        await wait_until(pilot, lambda: all(
            m.losses for m in screen.view.members if m.member.config.epochs == 400
        ), timeout=30)  # fmt: skip
        await pilot.press("escape")  # leaving stops it
        await wait_until(pilot, lambda: all(
            w.is_finished for w in app.workers if w.group == "sweep"), timeout=30)  # fmt: skip
    after = {r.name: (r.id, r.status) for r in store.runs()}
    assert after.keys() == before.keys()  # resumed in the same runs, none added
    for name, (run, status) in before.items():
        assert after[name][0] == run
        if status == "finished":
            assert after[name] == (run, "finished")  # kept, not trained again
    assert len(sweep_store.member_runs(store, 1)) == 4


async def test_a_diverging_member_is_frozen_and_marked_while_the_others_go_on(make_app, tmp_path):
    store = RunStore(tmp_path / "runs.sqlite")
    app = make_app(store=store, train=False)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_sweep(app, pilot)
        await start(pilot, screen, "lr=0.1,5000,0.2", SETTINGS.replace("--epochs 2", "--epochs 3"))
        await wait_until(pilot, lambda: screen.has_class("-results"), timeout=60)
        assert "together: 3 in 1 population" in screen.view.headline()
        assert [m.status for m in screen.view.members] == ["finished", "diverged", "finished"]
        assert screen.view.sweep == "s1" and screen.view.status == "finished"
        runs = store.runs()
        assert [(r.status, r.epochs) for r in runs] == [("finished", 3), ("diverged", 0),
                                                         ("finished", 3)]  # fmt: skip
        assert screen.results is not None and screen.results.ranked[-1].status == "diverged"
