"""The Triton kernels as the GPU gets them (core/triton_kernels.py): built by Triton's own
compiler for Hopper and Ampere without a GPU, and, on a CUDA machine, trained against PyTorch's
step. Each in a process of its own: the test session runs Triton's interpreter."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch

pytest.importorskip("triton")


# --------------------------------------------------------------------------- on a real GPU
CUDA_RUN = """
import json, sys, torch
from mlp_tui.core import data
from mlp_tui.core.config import TrainConfig
from mlp_tui.core.trainer import Trainer
dataset = data.load(sys.argv[1])
config = TrainConfig(epochs=2, batch_size=64, hidden=32, device="cuda")
runs = {}
for kernels in (True, False):
    trainer = Trainer(config, dataset, sync_free=True, kernels=kernels)
    trainer.run()
    runs[kernels] = trainer
ours, theirs = runs[True], runs[False]
print(json.dumps({
    "on": ours.steps.kernels_on, "error": ours.steps.kernels_error,
    "history": [[r.train_loss, r.train_acc, r.test_acc] for r in ours.history],
    "pytorch": [[r.train_loss, r.train_acc, r.test_acc] for r in theirs.history],
    "apart": max(float((a - b).abs().max()) for a, b in zip(ours.net.params, theirs.net.params)),
}))
"""


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_the_kernels_on_cuda_train_as_pytorchs_step(tiny_dir):
    """Compiled for the GPU (a process of its own: this one has the interpreter on)."""
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    done = subprocess.run(
        [sys.executable, "-c", CUDA_RUN, str(tiny_dir)],
        capture_output=True, text=True, timeout=600, env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.splitlines()[-1])
    assert report["on"] and report["error"] == ""
    for ours, theirs in zip(report["history"], report["pytorch"]):
        assert ours[0] == pytest.approx(theirs[0], rel=1e-5)
        assert ours[1:] == pytest.approx(theirs[1:], abs=2 / 600)
    assert report["apart"] < 1e-5


COMPILE = """
import json, sys, warnings
warnings.simplefilter("ignore")
from mlp_tui.core import triton_step
print(json.dumps({cap: triton_step.compile_ahead(int(cap)) for cap in sys.argv[1:]}))
"""


def test_the_kernels_compile_for_hopper_and_ampere_without_a_gpu(tmp_path):
    """Triton's compiler, not its interpreter, which lets through what the GPU build refuses
    (such as names that both branches of an ``if`` give tensors of different shapes)."""
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    env["TRITON_CACHE_DIR"] = str(tmp_path / "triton")  # built afresh
    done = subprocess.run(
        [sys.executable, "-c", COMPILE, "90", "80"],
        capture_output=True, text=True, timeout=300, env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    shared = json.loads(done.stdout.splitlines()[-1])
    for cap in ("90", "80"):
        assert set(shared[cap]) == {"forward", "loss", "hidden_grad", "update"}
        assert all(0 < used <= 100 * 1024 for used in shared[cap].values()), shared  # fits an SM
