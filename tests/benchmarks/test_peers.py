"""The peers benchmark on tiny data for one epoch: every peer trains and learns (well above the
10% of chance), the table names each, and without jax the JAX peers are skipped with a line
that says how to get them."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
import torch

from benchmarks import jax_peers, peers
from tests.conftest import write_dataset


def run(folder: Path, skip_seed: bool = False) -> list[peers.Result]:
    args = argparse.Namespace(epochs=1, data_dir=str(folder), skip_seed=skip_seed, workers=0)
    results, _ = peers.measure(args)
    return results


@pytest.fixture
def learnable_dir(tmp_path: Path) -> Path:
    return write_dataset(tmp_path / "tiny", train=2560, test=200)  # 10 batches an epoch


@pytest.mark.slow  # the seed's DataLoader, JAX's compilations, two rooflines: 20-70 s
def test_every_peer_trains_an_epoch_and_learns(learnable_dir):
    results = run(learnable_dir)
    by_name = {r.name: r for r in results}
    expected = {"plain PyTorch loop", "seed pipeline (0 workers)"}
    # The engine runs the compiled step (the test setup has gcc), and beside it PyTorch's.
    expected |= {"engine (fused, cpu, compiled step)", "engine (fused, cpu, PyTorch ops)"}
    expected |= (
        {"JAX, jit per step", "JAX, epoch as one lax.scan"}
        if not jax_peers.unavailable()
        else {"JAX"}
    )
    assert expected | {peers.bench.ROOFLINE} == set(by_name)
    for r in results:
        if r.name in (peers.bench.ROOFLINE, "JAX") and not r.seconds:
            continue
        assert len(r.seconds) == 1 and r.seconds[0] > 0, r
        if r.name != peers.bench.ROOFLINE:
            assert r.test_acc is not None and r.test_acc > 0.3, r  # chance is 0.1
    assert by_name[peers.bench.ROOFLINE].test_acc is None  # it learns nothing
    text = peers.table(results, 1, str(learnable_dir))
    for name in by_name:
        assert name in text


def test_without_jax_the_others_run_and_the_table_says_why(learnable_dir, monkeypatch):
    monkeypatch.setattr(jax_peers, "unavailable", lambda: "jax does not import (absent)")
    results = run(learnable_dir, skip_seed=True)
    assert not any(r.name.startswith("JAX,") for r in results)
    for r in results[:3]:  # the engine (both steps) and the plain loop learn in one epoch
        assert r.test_acc is not None and r.test_acc > 0.3, r
    text = peers.table(results, 1, str(learnable_dir))
    assert "skipped: jax does not import (absent)" in text
    assert "plain PyTorch loop" in text and "roofline" in text


def test_without_the_compiled_step_the_engine_has_one_row(learnable_dir, monkeypatch):
    monkeypatch.setattr(jax_peers, "unavailable", lambda: "jax does not import (absent)")
    monkeypatch.setattr(peers.native, "load", lambda: None)
    names = [r.name for r in run(learnable_dir, skip_seed=True)]
    assert names[:2] == ["engine (fused, cpu)", "plain PyTorch loop"]


def test_the_peers_start_from_the_engines_initial_weights():
    from mlp_tui.core.config import TrainConfig
    from mlp_tui.core.model import ScratchMLP

    config = TrainConfig()
    net = ScratchMLP.from_config(config, "cpu")
    ours = peers.seed_init(config)
    assert len(ours) == len(net.params)
    for mine, theirs in zip(ours, net.params):
        assert torch.equal(mine, theirs.detach())
