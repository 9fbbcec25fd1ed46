"""What each inspector tab looks like, on a deterministic two-epoch run of the tiny data.

Update after an intended change with ``pytest tests/tui/test_inspect_snapshots.py
--snapshot-update`` and look at the SVGs before committing them.
"""

from __future__ import annotations

import pytest
from mlp_tui.core import data

from tests.conftest import write_dataset

from .test_inspect import SIZE, InspectApp, train


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return train(data.load(write_dataset(tmp_path_factory.mktemp("tiny"))))


def app_for(run) -> InspectApp:
    trainer, history = run
    return InspectApp(trainer, per_class=history, export_dir="/tmp/mlp-tui-exports")


def test_explorer_tab(snap_compare, run):
    assert snap_compare(app_for(run), press=["right"], terminal_size=SIZE)


def test_explorer_tab_at_80x24(snap_compare, run):
    """The detail pane's image at half size beside its labels, so all ten bars show."""
    assert snap_compare(app_for(run), press=["m"], terminal_size=(80, 24))


def test_explorer_mistakes_by_confidence_in_ascii(snap_compare, run):
    assert snap_compare(app_for(run), press=["m", "s", "g"], terminal_size=SIZE)


def test_explorer_predict_ch3_preset(snap_compare, run):
    assert snap_compare(app_for(run), press=["d"], terminal_size=SIZE)


def test_confusion_tab(snap_compare, run):
    assert snap_compare(app_for(run), press=["2", "down", "down", "right"], terminal_size=SIZE)


def test_confusion_tab_narrow_terminal(snap_compare, run):
    assert snap_compare(app_for(run), press=["2"], terminal_size=(80, 30))


def test_per_class_tab(snap_compare, run):
    assert snap_compare(app_for(run), press=["3"], terminal_size=SIZE)


def test_weights_tab(snap_compare, run):
    assert snap_compare(app_for(run), press=["4", "right"], terminal_size=SIZE)


def test_export_prompt(snap_compare, run):
    assert snap_compare(app_for(run), press=["e"], terminal_size=SIZE)
