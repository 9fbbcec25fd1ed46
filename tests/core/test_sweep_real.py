"""A small sweep on the real Fashion-MNIST: the figures are the lesson's, not the tiny data's."""

from __future__ import annotations

import pytest
from mlp_tui.core import sweep_results
from mlp_tui.core.config import TrainConfig
from mlp_tui.core.store import RunStore
from mlp_tui.core.sweep import parse_spec
from mlp_tui.core.sweep_run import SweepRun


@pytest.mark.slow  # two real epochs
def test_a_width_sweep_on_the_real_data_ranks_on_validation(real_data, tmp_path):
    store = RunStore(tmp_path / "runs.sqlite")
    spec = parse_spec(["hidden=16,256"], TrainConfig(epochs=1, val=5000, device="cpu"))
    sweep = SweepRun(spec, store, real_data)
    assert sweep.run() == "finished"
    results = sweep_results.load(store, spec, sweep.number)
    assert results.by_val and [c.status for c in results.ranked] == ["finished"] * 2
    for config in results.ranked:  # one epoch of the seed's recipe: about 70-80%
        assert 0.65 < config.score < 0.9 and 0.65 < config.test_acc < 0.9
    records = store.records(losses=False)
    assert all(r.epochs[0]["val_acc"] is not None for r in records)
    assert {r.summary.sweep for r in records} == {"s1"}
