"""benchmarks/gpu_session.sh, the one command of a lent GPU machine, run here with DEVICE=cpu
on small data: the links that stand in for an install, each step's log and the session's
summary, so that a GPU's few minutes are not lost to the script's plumbing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "gpu_session.sh"


def session(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    environ.update(PYTHON=sys.executable, **env)
    return subprocess.run(
        ["bash", str(SCRIPT), *args], env=environ, capture_output=True, text=True, timeout=600
    )


@pytest.mark.slow
def test_the_dry_run_goes_through_every_step(tiny_dir, tmp_path):
    out = tmp_path / "out"
    done = session(DEVICE="cpu", DATA=str(tiny_dir), OUT=str(out), GPU_DIR=str(tmp_path / "gpu"))
    assert done.returncode == 0, done.stdout + done.stderr
    log = (out / "session.log").read_text()
    assert "done, status 0" in log
    assert "SUMMARY" in log and "medians" in log  # both benchmarks' summaries reach the log
    results = json.loads((out / "gpu_kernels.json").read_text())
    assert "errors" not in results, results.get("errors")
    assert set(results["section_s"]) == {"agree", "divergence", "speed", "sweep", "profile"}
    assert (tmp_path / "gpu" / "site" / "mlp_tui" / "core").resolve() == SCRIPT.parents[1] / "core"


@pytest.mark.slow
def test_a_step_past_its_limit_is_cut_and_said(tiny_dir, tmp_path):
    out = tmp_path / "out"
    done = session(
        DEVICE="cpu",
        DATA=str(tiny_dir),
        OUT=str(out),
        GPU_DIR=str(tmp_path / "gpu"),
        KERNELS_S="1",
    )
    assert done.returncode == 124
    log = (out / "session.log").read_text()
    assert "gpu_kernels ended with 124" in log
    assert "medians" in log  # the next step still ran
    assert "done, status 124" in log


def test_prepare_says_which_data_file_is_missing(tmp_path):
    done = session("prepare", str(tmp_path), GPU_DIR=str(tmp_path / "gpu"))
    assert done.returncode == 2
    assert f"no {tmp_path}/train-images-idx3-ubyte.gz" in done.stderr
