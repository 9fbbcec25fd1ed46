"""``mlp-tui bench`` as a user types it: the engine's figures, without the app's stack."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.fresh_interpreter import BENCH_HELP, entry_point_report


@pytest.mark.slow  # the engine, the roofline and the seed's DataLoader: 10-20 s
def test_bench_measures_the_engine_the_seed_and_the_roofline(tiny_dir):
    command = [sys.executable, "-m", "mlp_tui.tui.main", "bench", "--data-dir", str(tiny_dir)]
    done = subprocess.run(
        [*command, "--epochs", "2", "--device", "cpu", "--json"],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr
    figures = json.loads(done.stdout)["figures"]
    assert set(figures) == {"engine", "seed", "roofline"}
    for figure in figures.values():
        assert figure["seconds_per_epoch"] > 0 and figure["examples_per_s"] > 0, figure
    assert "replica" in figures["seed"]["note"] or "torchvision" in figures["seed"]["note"]


def test_bench_help_needs_no_textual(fresh_interpreter):
    report, stdout = entry_point_report(fresh_interpreter, BENCH_HELP)
    assert report["code"] == 0 and "roofline" in stdout and "--skip-seed" in stdout
    assert report["leaked"] == []
    assert "``" not in stdout  # no docstring markup in the terminal
