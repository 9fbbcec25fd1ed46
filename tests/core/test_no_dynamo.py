"""A run of the seed's plain SGD never imports torch._dynamo (1.1-1.6 s before its first batch),
and trains, saves and resumes as before; runs that call ``optimizer.step()`` still work.

Each check is a fresh interpreter: this test process has the compiler loaded by other tests."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

CHILD = """
import json, sys
import torch
from mlp_tui.core.config import TrainConfig
from mlp_tui.core.data import load
from mlp_tui.core.trainer import Trainer
data = load(sys.argv[1])
config = TrainConfig(**json.loads(sys.argv[2]))
trainer = Trainer(config, data)
trainer.run()
trainer.save(sys.argv[3]).result()
again = Trainer.from_checkpoint(sys.argv[3], data)
again.update(epochs=config.epochs + 1)
again.run()
print(json.dumps({
    "dynamo": "torch._dynamo" in sys.modules,
    "loss": trainer.history[-1].train_loss,
    "resumed": [r.epoch for r in again.history],
    "momentum": [len(s) for s in again.optimizer.state_dict()["state"].values()],
}))
"""


def run_child(tiny_dir, tmp_path, **config) -> dict:
    config = {"epochs": 1, "batch_size": 64, "device": "cpu", **config}
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(tiny_dir), json.dumps(config), str(tmp_path / "c.st")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_the_seeds_run_trains_saves_and_resumes_without_the_compiler(tiny_dir, tmp_path):
    report = run_child(tiny_dir, tmp_path)
    assert report["dynamo"] is False
    assert report["resumed"] == [1, 2] and report["loss"] > 0


@pytest.mark.parametrize("option", [{"momentum": 0.9}, {"engine": "autograd"}])
def test_runs_that_step_torchs_optimizer_still_train(tiny_dir, tmp_path, option):
    """``optimizer.step()`` imports the compiler itself (these runs pay for it, as before)."""
    report = run_child(tiny_dir, tmp_path, **option)
    assert report["resumed"] == [1, 2] and report["loss"] > 0
    if "momentum" in option:
        assert report["momentum"] and all(n == 1 for n in report["momentum"])  # buffers kept


def test_every_wrapper_of_this_torch_is_recognised_and_a_loaded_compiler_is_left_alone():
    child = (
        "import sys, torch; from mlp_tui.core.no_dynamo import spare_dynamo_import as s;"
        " first = s(); import torch._dynamo; print(first, s())"
    )
    out = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    # add_param_group, zero_grad, state_dict, load_state_dict: 0 would mean torch's wrappers
    # changed and every run pays the import again.
    assert out.stdout.split() == ["4", "0"]
