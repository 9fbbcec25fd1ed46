"""The chart and heat map of a sweep's results (a sweep written into the store by the test)."""

from __future__ import annotations

import math

from mlp_tui.core import sweep_chart, sweep_results
from mlp_tui.core.config import TrainConfig
from mlp_tui.core.sweep import parse_spec

from tests.sweep_data import stored_sweep, write_member


def test_accuracy_against_lr_on_a_log_axis_one_line_per_width(tmp_path):
    store, spec, number = stored_sweep(tmp_path / "runs.sqlite")
    results = sweep_results.load(store, spec, number)
    chart = sweep_chart.chart_of(results)
    assert chart.log_x and chart.xlabel == "lr (log)" and not chart.points
    assert [s.label for s in chart.series] == ["hidden 64", "hidden 256"]
    assert chart.ticks == (tuple(math.log10(v) for v in (0.03, 0.1, 0.3)), ("0.03", "0.1", "0.3"))
    by_name = {c.name: c for c in results.ranked}
    line = chart.series[1]
    for x, y, err, lr in zip(line.xs, line.ys, line.errs, (0.03, 0.1, 0.3)):
        config = by_name[f"lr {lr:g}, hidden 256"]
        assert x == math.log10(lr) and y == 100 * config.score
        assert err == 100 * config.score_std > 0  # error bars over the two seeds
    drawn = sweep_chart.text(chart, 70, 18)
    assert "best val acc by lr (± std, 2 seeds)" in drawn and "\x1b" not in drawn
    assert "● hidden 64" in drawn and "■ hidden 256" in drawn


def test_the_heat_map_has_a_cell_per_pair_and_stars_the_best(tmp_path):
    store, spec, number = stored_sweep(tmp_path / "runs.sqlite")
    results = sweep_results.load(store, spec, number)
    heat = sweep_chart.heat_map(results)
    assert heat is not None and heat.rows == ("0.03", "0.1", "0.3")
    assert heat.columns == ("64", "256")
    assert heat.cells[1][1] is results.best  # lr 0.1, hidden 256 wins
    text = sweep_chart.heat_text(heat, results.metric)
    best = sweep_chart.cell_text(results.best)
    assert f"{best}*" in text and text.count("*") == 2  # the title's and the best cell's


def test_a_random_search_draws_points_with_round_ticks_and_no_heat_map(tmp_path):
    from mlp_tui.core import sweep_store
    from mlp_tui.core.store import RunStore

    store = RunStore(tmp_path / "runs.sqlite")
    spec = parse_spec(
        ["lr=log:0.01:1", "hidden=int:16:512"], TrainConfig(epochs=3, val=100), trials=8
    )
    number, _ = sweep_store.open_sweep(store, spec.text)
    for member in spec.members():
        write_member(store, spec, number, member)
    results = sweep_results.load(store, spec, number)
    chart = sweep_chart.chart_of(results)
    assert chart.points and chart.log_x and len(chart.series) == 1
    assert len(chart.series[0].xs) == 8
    assert set(chart.ticks[1]) <= {"0.01", "0.02", "0.05", "0.1", "0.2", "0.5", "1"}
    assert sweep_chart.heat_map(results) is None
