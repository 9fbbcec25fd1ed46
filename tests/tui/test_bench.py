"""`mlp-tui bench` end to end on tiny data: every figure is measured and reported (no timing
assertions: speed targets are printed by the benchmark, not enforced by flaky tests)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys

import torch
from mlp_tui.core.config import TrainConfig
from mlp_tui.core.events import RunState
from mlp_tui.core.trainer import Trainer
from mlp_tui.tui.bench import _drive_app, peak_rss_mib, reset_peak_rss


def test_bench_measures_every_figure_and_reports_targets(tiny_dir):
    command = [sys.executable, "-m", "mlp_tui.tui.main", "bench", "--data-dir", str(tiny_dir)]
    done = subprocess.run(
        [*command, "--epochs", "2", "--presses", "3", "--json"],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    figures = result["figures"]
    assert set(figures) == {"roofline", "headless", "app", "seed"}
    for figure in figures.values():
        assert figure["seconds_per_epoch"] > 0 and figure["examples_per_s"] > 0, figure
    assert "replica" in figures["seed"]["note"] or "torchvision" in figures["seed"]["note"]
    assert "epoch by epoch" in figures["headless"]["note"]  # paired with the roofline's epochs
    assert result["key_latency_ms"]["presses"] == 3 and result["key_latency_ms"]["p95"] > 0
    assert result["first_frame_s"] is not None and result["first_frame_s"] > 0
    assert 0 < result["peak_rss_mib"] < 4096
    assert set(result["targets"]) == set(result["ratios"])
    assert all(t["met"] in (True, False) for t in result["targets"].values())


def test_bench_table_names_each_target(tiny_dir):
    command = [sys.executable, "-m", "mlp_tui.tui.main", "bench", "--data-dir", str(tiny_dir)]
    done = subprocess.run(
        [*command, "--epochs", "1", "--presses", "1", "--skip-seed"],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr
    for label in ("roofline", "engine headless", "engine under the app", "first frame", "p95"):
        assert label in done.stdout
    assert "not measured" in done.stdout  # the skipped seed pipeline says so


def test_bench_rejects_bad_arguments(tiny_dir):
    done = subprocess.run(
        [sys.executable, "-m", "mlp_tui.tui.main", "bench", "--epochs", "0"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and "--epochs" in done.stderr


def test_peak_rss_counts_from_the_last_reset():
    """The bench resets the high-water mark after the roofline, whose operands are scratch."""
    big = torch.ones(50_000_000)  # 200 MB, touched
    before = peak_rss_mib()
    del big
    reset_peak_rss()
    assert peak_rss_mib() < before - 150


def test_a_run_that_diverges_under_the_app_is_reported_not_waited_for(tiny_data):
    """lr 1000 diverges within a few batches: the bench must not wait for epochs that never
    come, and has no app epochs to time."""
    trainer = Trainer(TrainConfig(lr=1000.0, epochs=100, batch_size=64, device="cpu"), tiny_data)
    latencies, seconds, _ = asyncio.run(
        asyncio.wait_for(_drive_app(trainer, epochs=3, presses=2), timeout=60)
    )
    assert trainer.state is RunState.DIVERGED or trainer.state is RunState.STOPPED
    assert seconds == [] and len(latencies) == 2


def test_bench_help_reads_as_plain_text():
    done = subprocess.run(
        [sys.executable, "-m", "mlp_tui.tui.main", "bench", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0 and "roofline" in done.stdout
    assert "``" not in done.stdout  # the docstring's markup stays out of the terminal
