"""What the runs screen and a comparison of three runs look like (a store made in the test).

Update after an intended change with ``--snapshot-update`` and look at the SVGs first.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from .test_runs_screen import make_store


@pytest.fixture
def stored(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the title names the store: the same path on every machine
    return make_store(Path("runs.sqlite"))


@pytest.mark.parametrize("size", [(120, 40), (80, 24)], ids=["120x40", "80x24"])
def test_runs_screen(snap_compare, make_app, stored, size):
    app = make_app(store=stored, train=False)
    assert snap_compare(app, terminal_size=size, press=["R", "wait:300", "down", "space"])


@pytest.mark.parametrize("size", [(120, 40), (80, 24)], ids=["120x40", "80x24"])
def test_comparison_of_three_runs(snap_compare, make_app, stored, size):
    app = make_app(store=stored, train=False)
    press = ["R", "wait:300", "space", "space", "space", "enter", "wait:300"]
    assert snap_compare(app, terminal_size=size, press=press)
