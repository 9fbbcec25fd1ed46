"""What the sweep screen's results look like (a sweep made in the test), and its form.

Update after an intended change with ``--snapshot-update`` and look at the SVGs first.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from mlp_tui.core import sweep_results

from tests.sweep_data import stored_sweep

SIZES = [(120, 40), (80, 24)]


def results_of(tmp_path, monkeypatch, **options):
    monkeypatch.chdir(tmp_path)
    store, spec, number = stored_sweep(Path("runs.sqlite"), **options)
    return store, sweep_results.load(store, spec, number)


@pytest.mark.parametrize("size", SIZES, ids=["120x40", "80x24"])
def test_results_of_two_swept_values(snap_compare, make_app, tmp_path, monkeypatch, size):
    store, results = results_of(tmp_path, monkeypatch)
    app = make_app(store=store, train=False)

    async def show(pilot) -> None:
        await pilot.press("w")
        await pilot.pause()
        app.screen.show(results)
        await pilot.pause()

    assert snap_compare(app, terminal_size=size, run_before=show)


def test_results_of_one_swept_value(snap_compare, make_app, tmp_path, monkeypatch):
    store, results = results_of(tmp_path, monkeypatch, words=("lr=0.01,0.03,0.1,0.3,1",))
    app = make_app(store=store, train=False)

    async def show(pilot) -> None:
        await pilot.press("w")
        await pilot.pause()
        app.screen.show(results)
        await pilot.pause()

    assert snap_compare(app, terminal_size=(120, 40), run_before=show)


@pytest.mark.parametrize("size", SIZES, ids=["120x40", "80x24"])
def test_the_form(snap_compare, make_app, tmp_path, size):
    from mlp_tui.core.store import RunStore

    app = make_app(store=RunStore(tmp_path / "runs.sqlite"), train=False)
    assert snap_compare(app, terminal_size=size, press=["w"])
