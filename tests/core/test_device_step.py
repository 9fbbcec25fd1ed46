"""The GPU path's bookkeeping (core/device_step.py), run on the CPU: checking divergence on the
device and reading the figures back in bulk must give the eager path's run exactly: the same
losses, metrics, parameters, divergence verdict and checkpoints, however late it reads them."""

from __future__ import annotations

import pytest
import torch
from mlp_tui.core import checkpoint
from mlp_tui.core import trainer as trainer_module
from mlp_tui.core.config import TrainConfig
from mlp_tui.core.device_step import DeviceSteps
from mlp_tui.core.events import BatchReport, RunState
from mlp_tui.core.trainer import Trainer

from tests.core._helpers import EventLog, finish, metrics, params, same_params, start

# The device path is held to the eager path operation by operation: both run PyTorch's step.
pytestmark = pytest.mark.usefixtures("pytorch_cpu_step")

BASE = TrainConfig(epochs=3, batch_size=64, hidden=32, device="cpu")


@pytest.fixture(params=[True, False], ids=["graph-body", "eager"])
def graphs(request):
    """With graphs on, full batches run the CUDA graph's body (uncaptured on the CPU): indices
    from the device-side order, figures filed by the device-side batch counter."""
    return request.param


@pytest.fixture(params=["read often", "read once an epoch"])
def report_interval(request, monkeypatch):
    """Figures read back after every batch, or only when the epoch ends, so a divergence is
    found batches after it happened."""
    if request.param == "read once an epoch":
        monkeypatch.setattr(trainer_module, "REPORT_INTERVAL_S", 1e9)
    else:
        monkeypatch.setattr(trainer_module, "REPORT_INTERVAL_S", 0.0)
    return request.param


def train(
    config: TrainConfig, data, sync_free: bool, graphs: bool = True
) -> tuple[Trainer, EventLog]:
    log = EventLog()
    trainer = Trainer(config, data, log, sync_free=sync_free, graphs=graphs)
    trainer.run()
    return trainer, log


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"momentum": 0.9, "weight_decay": 1e-3},
        {"engine": "autograd"},
        {"batch_size": 100},  # a short last batch
    ],
    ids=["seed", "momentum+wd", "autograd", "short-last-batch"],
)
def test_sync_free_run_equals_the_eager_run(tiny_data, report_interval, graphs, changes):
    config = BASE.replace(**changes)
    eager, eager_log = train(config, tiny_data, sync_free=False)
    lazy, lazy_log = train(config, tiny_data, sync_free=True, graphs=graphs)
    assert lazy.state is RunState.FINISHED and lazy.sync_free
    assert metrics(lazy.history) == metrics(eager.history)
    assert lazy.batch_losses == eager.batch_losses
    assert same_params(params(lazy), params(eager))
    assert lazy.metric == eager.metric
    # The step on the device gathers its own rows: the eager path's chunk buffers stay unmade.
    assert isinstance(lazy.steps, DeviceSteps) and eager.steps.rows._pixels.numel() > 0

    # Every batch is reported once, in order, with the eager path's figures.
    def points(log):
        return [p for r in log.of(BatchReport) for p in zip(r.losses, r.accuracies)]

    assert points(lazy_log) == points(eager_log)
    assert len(points(lazy_log)) == lazy.step_count


@pytest.mark.parametrize("lr", [1000.0, 3e4])
def test_divergence_found_late_gives_the_eager_verdict(tiny_data, report_interval, graphs, lr):
    config = BASE.replace(lr=lr)
    runs = {}
    for sync_free in (False, True):
        log = EventLog()
        trainer = Trainer(config, tiny_data, log, sync_free=sync_free, graphs=graphs)
        thread = start(trainer)
        log.wait_state(RunState.DIVERGED)
        runs[sync_free] = (trainer, log, thread)
    (eager, _, eager_thread), (lazy, _, lazy_thread) = runs[False], runs[True]
    assert lazy.reason == eager.reason and "exceeds" in lazy.reason
    assert (lazy.epoch, lazy.batch, lazy.step_count) == (eager.epoch, eager.batch, eager.step_count)
    assert lazy.batch_losses == eager.batch_losses
    assert same_params(params(lazy), params(eager))
    assert all(torch.isfinite(p).all() for p in lazy.net.params)
    # Lower the lr and go on: both finish the same run.
    for trainer, thread in ((eager, eager_thread), (lazy, lazy_thread)):
        trainer.update(lr=0.1)
        trainer.resume()
        finish(thread)
        assert trainer.state is RunState.FINISHED
    assert metrics(lazy.history) == metrics(eager.history)
    assert same_params(params(lazy), params(eager))


def test_stepping_and_saving_mid_epoch_match_the_eager_path(tiny_data, tmp_path):
    saved = {}
    for sync_free in (False, True):
        log = EventLog()
        trainer = Trainer(BASE, tiny_data, log, sync_free=sync_free)
        thread = start(trainer, paused=True)
        log.wait_state(RunState.PAUSED)
        mark = log.mark()
        trainer.step(5)
        log.wait_state(RunState.PAUSED, since=mark)
        assert trainer.step_count == 5 and trainer.batch == 5
        path = trainer.save(tmp_path / f"{sync_free}.safetensors").result(timeout=30)
        trainer.stop()
        finish(thread)
        saved[sync_free] = checkpoint.read(path)
    (eager_tensors, eager_meta), (lazy_tensors, lazy_meta) = saved[False], saved[True]
    for name in ("W1", "b1", "W2", "b2", "batch_losses"):
        assert torch.equal(lazy_tensors[name], eager_tensors[name]), name
    for key in ("batch", "step_count", "seen", "loss_sum", "correct", "reference_loss"):
        assert lazy_meta[key] == eager_meta[key], key
    # And the lazy trainer resumes from its checkpoint to the eager trainer's end.
    ends = [
        Trainer.from_checkpoint(tmp_path / f"{flag}.safetensors", tiny_data, sync_free=flag)
        for flag in (False, True)
    ]
    for trainer in ends:
        trainer.run()
    assert metrics(ends[1].history) == metrics(ends[0].history)
    assert same_params(params(ends[1]), params(ends[0]))


def test_cpu_defaults_to_the_eager_path(tiny_data):
    assert not Trainer(BASE, tiny_data).sync_free


def test_divergence_at_an_epochs_first_batch_keeps_the_parameters(
    tiny_data, report_interval, graphs
):
    """The exploding update is the previous epoch's last, which evaluation sealed: nothing is
    undone, and the batches queued after the refused one must not have touched anything."""
    runs = []
    for sync_free in (False, True):
        log = EventLog()
        trainer = Trainer(BASE, tiny_data, log, sync_free=sync_free, graphs=graphs)
        thread = start(trainer, paused=True)
        log.wait_state(RunState.PAUSED)
        mark = log.mark()
        trainer.step(trainer.batches_per_epoch - 1)
        log.wait_state(RunState.PAUSED, since=mark)
        trainer.update(lr=3e4)
        trainer.resume()
        log.wait_state(RunState.DIVERGED)
        runs.append((trainer, trainer.reason))
        trainer.stop()
        finish(thread)
    (eager, eager_reason), (lazy, lazy_reason) = runs
    assert (
        "kept from the last accepted batch" in eager_reason and "epoch 2, batch 1" in eager_reason
    )
    assert lazy_reason == eager_reason
    assert (lazy.epoch, lazy.batch, lazy.step_count) == (eager.epoch, 0, eager.step_count)
    assert same_params(params(lazy), params(eager))


def steered_run(config: TrainConfig, data, **options) -> Trainer:
    """Half an epoch, lr x2, a step across the epoch's end, then lr /4 and a larger batch: a
    new CUDA graph each time, at places that do not depend on timing."""
    log = EventLog()
    trainer = Trainer(config, data, log, **options)
    thread = start(trainer, paused=True)
    log.wait_state(RunState.PAUSED)
    for batches, changes in (
        (trainer.batches_per_epoch // 2, {"lr": config.lr * 2}),
        (trainer.batches_per_epoch, {"lr": config.lr / 2, "batch_size": config.batch_size * 2}),
    ):
        mark = log.mark()
        trainer.step(batches)
        log.wait_state(RunState.PAUSED, since=mark)
        trainer.update(**changes)
    trainer.resume()
    finish(thread)
    assert trainer.state is RunState.FINISHED
    return trainer


def test_live_changes_rebuild_the_graph_with_the_eager_result(tiny_data):
    eager = steered_run(BASE, tiny_data, sync_free=False)
    lazy = steered_run(BASE, tiny_data, sync_free=True, graphs=True)
    assert len(eager.lr_changes) == 3 and lazy.lr_changes == eager.lr_changes
    assert lazy.batch_losses == eager.batch_losses
    assert metrics(lazy.history) == metrics(eager.history)
    assert same_params(params(lazy), params(eager))


def test_the_converted_image_table_gives_the_same_run(tiny_data, monkeypatch):
    """CUDA keeps the training images as floats for the graph to gather; the run is the
    same, bit for bit, as from the uint8 rows (here on the CPU, the table forced on)."""
    monkeypatch.setattr(DeviceSteps, "CONVERTED_TABLE_ON", ("cpu",))
    floats = steered_run(BASE, tiny_data, sync_free=True, graphs=True)
    assert floats.steps.train_x.dtype == torch.float32
    monkeypatch.setattr(DeviceSteps, "CONVERTED_TABLE_ON", ())
    pixels = steered_run(BASE, tiny_data, sync_free=True, graphs=True)
    assert pixels.steps.train_x is None
    assert floats.batch_losses == pixels.batch_losses
    assert metrics(floats.history) == metrics(pixels.history)
    assert same_params(params(floats), params(pixels))


# --------------------------------------------------------------------------- on a real GPU
cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


@cuda
def test_cuda_graphs_equal_the_eager_gpu_path_bit_for_bit(tiny_data):
    config = BASE.replace(device="cuda")
    runs = [
        steered_run(config, tiny_data, sync_free=False),
        steered_run(config, tiny_data, sync_free=True, graphs=False),
        # PyTorch's step in the graph (the fused Triton kernels: tests/core/test_triton_step.py)
        steered_run(config, tiny_data, sync_free=True, graphs=True, kernels=False),
    ]
    assert runs[2].steps.graphs and not runs[2].steps.graph_error
    assert not runs[2].net.w2_by_class  # cuBLAS's fast layout is the seed's (see FusedStep)
    for other in runs[1:]:
        assert other.batch_losses == runs[0].batch_losses
        assert metrics(other.history) == metrics(runs[0].history)
        assert same_params(params(other), params(runs[0]))
    cpu = steered_run(BASE, tiny_data)
    for gpu, host in zip(params(runs[2]), params(cpu)):
        torch.testing.assert_close(gpu.cpu(), host, rtol=1e-4, atol=1e-4)


@cuda
def test_cuda_graph_divergence_gives_the_eager_gpu_verdict(tiny_data):
    config = BASE.replace(device="cuda", lr=1000.0)
    verdicts = []
    for options in ({"sync_free": False}, {"sync_free": True, "graphs": True, "kernels": False}):
        log = EventLog()
        trainer = Trainer(config, tiny_data, log, **options)
        thread = start(trainer)
        log.wait_state(RunState.DIVERGED)
        verdicts.append((trainer.reason, trainer.step_count, params(trainer)))
        trainer.stop()
        finish(thread)
    (reason, steps, good), (graph_reason, graph_steps, graph_good) = verdicts
    assert graph_reason == reason and graph_steps == steps
    assert same_params(graph_good, good)
