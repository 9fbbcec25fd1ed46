"""The two runs a user would make first: the seed's 10 epochs on the real Fashion-MNIST, and a
long run that must not grow in memory."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.core._helpers import mlp_tui_command, run_cli

pytestmark = pytest.mark.slow  # 10 epochs on the real data, 100 epochs


def test_the_seeds_defaults_learn_fashion_mnist(real_data, tmp_path):
    # d2l's train_ch3 with the seed's settings ends near train loss 0.38, test accuracy 0.84-0.85.
    metrics = tmp_path / "metrics.jsonl"
    result = run_cli("--headless", "--data-dir", real_data.source, "--metrics-out", str(metrics),
                     timeout=600)  # fmt: skip
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in metrics.read_text().splitlines()]
    assert [row["epoch"] for row in rows] == list(range(1, 11))
    final_loss = rows[-1]["train_loss"]
    best_late = max(row["test_acc"] for row in rows[7:])
    summary = f"final train loss {final_loss:.4f}, best test acc of epochs 8-10 {best_late:.4f}"
    assert abs(final_loss - 0.383) <= 0.01, summary
    assert best_late >= 0.835, summary
    recording, *epochs = result.stdout.splitlines()
    assert recording.startswith("recording run r1 in ") and len(epochs) == 10


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def test_a_100_epoch_run_keeps_its_memory_flat(tiny_dir):
    child = subprocess.Popen(
        [*mlp_tui_command(), "--headless", "--data-dir", str(tiny_dir), "--device", "cpu",
         "--epochs", "100"],
        stdout=subprocess.PIPE,
        text=True,
        # Memory, not speed, is measured: one thread keeps tiny batches quick on a busy machine.
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )  # fmt: skip
    rss = {}
    try:
        for line in child.stdout:  # sampled as each epoch's line arrives, while the run goes on
            if line.startswith("epoch"):
                rss[int(line.split()[1].split("/")[0])] = rss_mb(child.pid)
    finally:
        child.wait(60)
    assert child.returncode == 0 and sorted(rss) == list(range(1, 101))
    growth = max(rss[e] for e in range(10, 101)) - rss[10]
    assert growth < 30, f"RSS {rss[10]:.0f} MB at epoch 10, up to {rss[10] + growth:.0f} MB later"
