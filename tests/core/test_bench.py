"""``mlp-tui bench``, the user's benchmark: the engine beside the roofline, and its command."""

from __future__ import annotations

import json
import time

import pytest
import torch
from mlp_tui.core import bench, cli
from mlp_tui.core.config import TrainConfig
from mlp_tui.core.roofline import Roofline

QUICK = {"rounds": 1, "window_s": 0.002}  # layouts timed briefly: these tests count, not time


def test_roofline_epochs_are_timed_between_the_engines_outside_its_clock(tiny_data, monkeypatch):
    """A roofline epoch follows each engine epoch; the engine's epochs do not count it."""
    config = TrainConfig(epochs=3, batch_size=64, hidden=32, device="cpu")
    n_train, n_test = len(tiny_data.train_y), len(tiny_data.test_y)
    floor = Roofline(config, n_train, n_test, torch.device("cpu"), **QUICK)
    starts, ends = [], []

    def slow_epoch() -> float:
        starts.append(time.perf_counter())
        time.sleep(0.2)
        ends.append(time.perf_counter())
        return 0.2

    monkeypatch.setattr(floor, "epoch", slow_epoch)
    engine, roof, ratios = bench.engine_beside_roofline(tiny_data, config, floor)
    assert len(starts) == 3
    assert roof.seconds_per_epoch == pytest.approx(0.2)
    # Each epoch over the roofline epoch after it, the first (warm-up) left out as in the medians.
    assert len(ratios) == 2
    # Epochs 2 and 3 ran between one roofline epoch's end and the next one's start, however
    # fast this machine is: had a roofline epoch's 0.2 s been counted, they could not fit.
    epochs = [ratio * 0.2 for ratio in ratios]
    windows = [starts[1] - ends[0], starts[2] - ends[1]]
    assert all(0 < epoch <= window + 1e-3 for epoch, window in zip(epochs, windows))
    assert engine.seconds_per_epoch <= max(windows) + 1e-3


@pytest.mark.slow  # a real roofline and engine run, a few seconds
def test_the_table_gives_the_engine_against_the_roofline(tiny_dir, capsys):
    args = ["--data-dir", str(tiny_dir), "--epochs", "2", "--device", "cpu", "--skip-seed"]
    assert bench.main(args) == 0
    out = capsys.readouterr().out
    assert "engine headless (fused, cpu)" in out and "roofline (matmul only, fp32)" in out
    assert "the time of its matrix products alone" in out
    assert "skipped (--skip-seed)" in out and "as fast as the seed" not in out
    assert "MISSED" not in out and "target" not in out  # the project's targets are not the user's


@pytest.mark.slow  # a real roofline and engine run, a few seconds
def test_json_figures_are_measured(tiny_dir, capsys):
    args = ["--data-dir", str(tiny_dir), "--epochs", "1", "--skip-seed", "--json"]
    assert bench.main(args) == 0
    figures = json.loads(capsys.readouterr().out)["figures"]
    assert set(figures) == {"engine", "seed", "roofline"}
    for name in ("engine", "roofline"):
        assert figures[name]["seconds_per_epoch"] > 0 and figures[name]["examples_per_s"] > 0
    assert figures["seed"]["seconds_per_epoch"] is None


def test_a_table_with_the_seed_says_how_much_faster_the_engine_is():
    figure = {"note": "", "examples_per_s": 1.0}
    result = {
        "machine": "a machine",
        "device": "cpu",
        "figures": {
            "engine": {**figure, "name": "engine", "seconds_per_epoch": 0.5},
            "seed": {**figure, "name": "seed", "seconds_per_epoch": 5.0},
            "roofline": {**figure, "name": "roofline", "seconds_per_epoch": 0.4},
        },
    }
    out = bench.table(result)
    assert "10.0x as fast as the seed's pipeline" in out and "1.25x the time" in out


@pytest.mark.parametrize("argv", [["--epochs", "0"], ["--engine", "numpy"]])
def test_bad_arguments_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as exit_:
        bench.main(argv)
    assert exit_.value.code == 2 and argv[0] in capsys.readouterr().err


def test_missing_data_is_one_line_and_exit_2(tmp_path, capsys):
    assert bench.main(["--data-dir", str(tmp_path), "--skip-seed"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("mlp-tui bench: ") and "Traceback" not in err


def test_the_headless_command_dispatches_bench(capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["bench", "--help"])
    assert exit_.value.code == 0 and "roofline" in capsys.readouterr().out
