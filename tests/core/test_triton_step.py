"""The fused Triton kernels of the GPU path (core/triton_step.py), run in Triton's interpreter
on CPU tensors: one batch as close to the exact step as PyTorch's, the seed's half gradient at
Z == 0, a refused batch that changes nothing, whole runs as the PyTorch graph body trains them,
and a disagreement that turns the kernels off instead of training with them."""

from __future__ import annotations

import pytest
import torch
from mlp_tui.core import triton_step
from mlp_tui.core.config import TrainConfig
from mlp_tui.core.events import RunState
from mlp_tui.core.model import FusedStep, ScratchMLP
from mlp_tui.core.trainer import Trainer

from tests.core._helpers import EventLog, finish, metrics, params, start

triton = pytest.importorskip("triton")
if tuple(int(part) for part in triton.__version__.split(".")[:2]) < (3, 9):
    pytest.skip(  # seen with triton 3.6.0 and numpy 2.4; the GPU build is tested all the same
        "Triton's interpreter before 3.9 cannot take numpy's 1-element arrays as ints",
        allow_module_level=True,
    )
pytestmark = pytest.mark.usefixtures("pytorch_cpu_step")

BASE = TrainConfig(epochs=1, batch_size=64, hidden=32, device="cpu")


@pytest.fixture(autouse=True)
def interpreter(monkeypatch):
    """The kernels on CPU tensors, in Triton's interpreter (on since triton's import:
    tests/conftest.py)."""
    assert triton_step.interpreted(), "TRITON_INTERPRET=1 is set before triton is imported"
    monkeypatch.setattr(triton_step, "ON_CPU_INTERPRETED", True)
    monkeypatch.setattr(triton_step, "_verified", {})


def batch(rows: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    pixels = torch.randint(0, 256, (rows, 784), generator=g, dtype=torch.uint8)
    return pixels.div(255), torch.randint(0, 10, (rows,), generator=g)


def launch(step, lr=0.1, limit=float("inf"), ok=True, backup=None):
    """One batch, the first ``step.batch`` rows of its table; what the graph's buffers hold."""
    order = torch.arange(step.batch).view(1, -1)
    row = torch.zeros(1, dtype=torch.long)
    stats = torch.zeros(1, 3)
    flag = torch.tensor(ok)
    backup = torch.zeros_like(step.net.flat) if backup is None else backup
    step.launch(order, row, stats, flag, torch.tensor(limit, dtype=torch.float64), backup, lr)
    return row, stats, flag, backup


def exact_update(net: ScratchMLP, X, y, lr) -> list[torch.Tensor]:
    """The seed's step in float64 autograd: ``torch.max(Z, 0)`` and its tie rule included."""
    W1, b1, W2, b2 = (p.detach().double().clone().requires_grad_() for p in net.params)
    Z = X.double() @ W1 + b1
    out = torch.max(Z, torch.zeros_like(Z)) @ W2 + b2
    torch.nn.functional.cross_entropy(out, y).backward()
    return [(p - lr * p.grad).detach() for p in (W1, b1, W2, b2)]


@pytest.mark.parametrize("hidden, rows", [(256, 256), (100, 96)], ids=["seed", "tails"])
@pytest.mark.parametrize("by_class", [False, True], ids=["seed-layout", "by-class"])
def test_a_batch_is_as_close_to_the_exact_step_as_pytorchs(hidden, rows, by_class):
    net = ScratchMLP(hidden, generator=torch.Generator().manual_seed(1), w2_by_class=by_class)
    with torch.no_grad():  # dead units: Z == 0 exactly, where the seed passes half the gradient
        net.params[0][:, :3] = 0
    X, y = batch(300)
    start = net.flat.clone()
    exact = exact_update(net, X[:rows], y[:rows], 0.1)
    step = triton_step.KernelStep(net, X, y, rows)
    row, stats, ok, backup = launch(step)
    kernels = [p.detach().clone() for p in net.params]
    assert all(torch.equal(a, b) for a, b in zip(step._in(backup), step._in(start))), (
        "the backup holds the parameters before the update"
    )
    net.flat.copy_(start)
    fused = FusedStep(net)
    losses, predicted = fused.forward(X[:rows], y[:rows])
    fused.update(torch.optim.SGD(net.params, lr=0.1))
    for name, k, p, e in zip(("W1", "b1", "W2", "b2"), kernels, net.params, exact):
        kernel_error = float((k.double() - e).abs().max())
        pytorch_error = float((p.detach().double() - e).abs().max())
        assert kernel_error <= 2 * pytorch_error + 2 * torch.finfo().eps * float(e.abs().max()), (
            name
        )
    assert int(row) == 1 and bool(ok) and stats[0, 2] == 1
    assert stats[0, 0].item() == pytest.approx(float(losses.sum()), rel=1e-6)
    assert stats[0, 1] == (predicted == y[:rows]).sum()


def test_the_dead_units_get_the_seeds_half_gradient():
    """With the tie rule dropped (no gradient at Z == 0), b1 of the dead units stays put."""
    net = ScratchMLP(64, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        net.params[0][:, :4] = 0
    X, y = batch(64, seed=3)
    exact = exact_update(net, X, y, 0.5)
    launch(triton_step.KernelStep(net, X, y, 64), lr=0.5)
    b1 = net.params[1].detach().double()
    assert float(exact[1][:4].abs().min()) > 1e-5  # the exact step moves them
    assert torch.allclose(b1[:4], exact[1][:4], rtol=1e-5, atol=1e-9)


def test_a_refused_batch_changes_nothing_and_stays_refused():
    net = ScratchMLP(48, generator=torch.Generator().manual_seed(4))
    X, y = batch(64)
    step = triton_step.KernelStep(net, X, y, 64)
    before = net.flat.clone()
    backup = torch.full_like(net.flat, 7.0)
    row, stats, ok, backup = launch(step, limit=0.0, backup=backup)  # any loss exceeds 0
    assert not bool(ok) and stats[0, 2] == 0 and stats[0, 0] > 0 and int(row) == 1
    assert torch.equal(net.flat, before) and bool((backup == 7).all())
    row, stats, ok, backup = launch(step, ok=False, backup=backup)  # sticky: refused again
    assert not bool(ok) and stats[0, 2] == 0 and torch.equal(net.flat, before)


def train(config, data, log=None, **kw) -> Trainer:
    trainer = Trainer(config, data, log, sync_free=True, **kw)
    trainer.run()
    return trainer


def paused_after(batches: int, config, data):
    """A run on its thread, paused after ``batches`` batches: the trainer and the thread."""
    log = EventLog()
    trainer = Trainer(config, data, log, sync_free=True)
    thread = start(trainer, paused=True)
    log.wait_state(RunState.PAUSED)
    mark = log.mark()
    trainer.step(batches)
    log.wait_state(RunState.PAUSED, since=mark)
    return trainer, thread


def close_runs(a: Trainer, b: Trainer) -> None:
    assert [m[0] for m in metrics(a.history)] == [m[0] for m in metrics(b.history)]
    for x, y in zip(metrics(a.history), metrics(b.history)):
        assert x[1] == pytest.approx(y[1], rel=1e-6) and x[2:] == y[2:]
    assert a.batch_losses == pytest.approx(b.batch_losses, rel=1e-6)
    assert all(torch.allclose(x, y, atol=1e-6) for x, y in zip(params(a), params(b)))


@pytest.mark.parametrize("changes", [{}, {"batch_size": 100}], ids=["seed", "short-last-batch"])
def test_a_run_on_the_kernels_trains_as_the_pytorch_graph_body(tiny_data, changes):
    config = BASE.replace(**changes)
    kernels, pytorch = train(config, tiny_data), train(config, tiny_data, kernels=False)
    assert kernels.steps.kernels_on and kernels.steps.kernels_error == ""
    assert not pytorch.steps.kernels_on and pytorch.steps.kernels_error == "off"
    assert kernels.state is RunState.FINISHED
    close_runs(kernels, pytorch)


def test_divergence_on_the_kernels_gives_the_same_verdict_and_rollback(tiny_data):
    config = BASE.replace(lr=1000.0)
    runs = []
    for kernels in (True, False):
        log = EventLog()
        trainer = Trainer(config, tiny_data, log, sync_free=True, kernels=kernels)
        thread = start(trainer)
        log.wait_state(RunState.DIVERGED)
        runs.append((trainer, thread))
    (ours, ours_thread), (theirs, theirs_thread) = runs
    assert ours.steps.kernels_on
    assert ours.reason == theirs.reason and "exceeds" in ours.reason
    assert (ours.epoch, ours.batch, ours.step_count) == (
        theirs.epoch,
        theirs.batch,
        theirs.step_count,
    )
    assert all(torch.allclose(x, y, atol=1e-5) for x, y in zip(params(ours), params(theirs)))
    for trainer, thread in runs:
        trainer.update(lr=0.1)
        trainer.resume()
        finish(thread)
        assert trainer.state is RunState.FINISHED


def test_live_changes_rebuild_the_kernels_graph_as_pytorchs(tiny_data):
    """lr x2 mid-epoch, then lr /4 and a larger batch: new graphs, new kernels' buffers."""
    from tests.core.test_device_step import steered_run

    config = BASE.replace(epochs=2)
    ours = steered_run(config, tiny_data, sync_free=True)
    theirs = steered_run(config, tiny_data, sync_free=True, kernels=False)
    assert ours.steps.kernels_on and ours.lr_changes == theirs.lr_changes
    assert len(ours.lr_changes) == 3
    close_runs(ours, theirs)


def test_a_run_saved_mid_epoch_resumes_on_the_kernels_bit_for_bit(tiny_data, tmp_path):
    config = BASE.replace(epochs=2)
    whole = train(config, tiny_data)
    first, thread = paused_after(5, config, tiny_data)
    path = first.save(tmp_path / "mid.safetensors").result(timeout=60)
    first.stop()
    finish(thread)
    second = Trainer.from_checkpoint(path, tiny_data, sync_free=True)
    second.run()
    assert second.steps.kernels_on
    assert metrics(second.history) == metrics(whole.history)
    assert second.batch_losses == whole.batch_losses
    assert all(torch.equal(x, y) for x, y in zip(params(second), params(whole)))


def _reads_batch_zero(real, self, order, row, stats, ok, limit, backup, lr):
    row.zero_()  # the counter ignored: always the epoch's first batch
    real(self, order, row, stats, ok, limit, backup, lr)


def _trains_refused(real, self, order, row, stats, ok, limit, backup, lr):
    ok.fill_(True)  # an earlier verdict forgotten: a refused batch trains
    real(self, order, row, stats, ok, limit, backup, lr)


@pytest.mark.parametrize(
    ("broken", "said"),
    [(_reads_batch_zero, "batch counter"), (_trains_refused, "refused batch moved")],
)
def test_kernels_that_misread_the_counter_or_the_verdict_are_turned_off(
    tiny_data, monkeypatch, broken, said
):
    real = triton_step.KernelStep.launch
    monkeypatch.setattr(triton_step.KernelStep, "launch", lambda self, *a: broken(real, self, *a))
    trainer = train(BASE, tiny_data)
    assert not trainer.steps.kernels_on and said in trainer.steps.kernels_error


def test_kernels_that_disagree_are_turned_off_with_the_reason(tiny_data, monkeypatch):
    real = triton_step.KernelStep.launch

    def no_w1_update(self, order, row, stats, ok, limit, backup, lr):
        saved = self.net.params[0].detach().clone()
        real(self, order, row, stats, ok, limit, backup, lr)
        self.net.params[0].data.copy_(saved)

    monkeypatch.setattr(triton_step.KernelStep, "launch", no_w1_update)
    trainer = train(BASE, tiny_data)
    assert not trainer.steps.kernels_on
    assert "parameters" in trainer.steps.kernels_error and "apart" in trainer.steps.kernels_error
    close = train(BASE, tiny_data, kernels=False)
    assert metrics(trainer.history) == metrics(close.history)  # PyTorch's step ran instead


@pytest.mark.parametrize(
    "changes, why",
    [
        ({"layers": (32, 16)}, "one hidden layer"),
        ({"activation": "tanh"}, "relu"),
        ({"dropout": (0.2,)}, "no dropout"),
        ({"engine": "autograd"}, "graph path"),
        ({"momentum": 0.9}, None),  # covered, but not a graph batch: PyTorch's step runs
    ],
)
def test_what_the_kernels_do_not_cover_runs_pytorchs_step(tiny_data, changes, why):
    trainer = train(BASE.replace(**changes), tiny_data)
    assert trainer.state is RunState.FINISHED and not trainer.steps.kernels_on
    if why:
        assert why in trainer.steps.kernels_error


def test_a_batch_size_too_large_for_them_runs_pytorchs_step_until_it_shrinks(
    tiny_data, monkeypatch
):
    monkeypatch.setattr(triton_step, "MAX_BATCH", 32)
    monkeypatch.setattr("mlp_tui.core.device_step.MAX_BATCH", 32)
    config = BASE.replace(epochs=2)
    trainer, thread = paused_after(3, config, tiny_data)
    assert not trainer.steps.kernels_on and "at most 32 rows, not 64" in trainer.steps.kernels_error
    trainer.update(batch_size=32)  # from the next epoch
    trainer.resume()
    finish(thread)
    assert trainer.state is RunState.FINISHED
    assert trainer.steps.kernels_on and trainer.steps.kernels_error == ""


def test_no_kernels_on_the_cpu_outside_the_tests_nor_interpreted_on_a_gpu(monkeypatch):
    net = ScratchMLP(32)
    assert "interpreter is on" in triton_step.unavailable(net, torch.device("cuda"))
    monkeypatch.setattr(triton_step, "ON_CPU_INTERPRETED", False)
    assert triton_step.unavailable(net, torch.device("cpu")) == "no kernels for cpu"


def test_a_run_on_another_cuda_device_than_the_current_keeps_pytorchs_step(monkeypatch):
    """Triton launches on the current device: a run on cuda:1 while cuda:0 is current would
    launch its kernels on the wrong GPU."""
    net = ScratchMLP(32)
    monkeypatch.setattr(triton_step, "interpreted", lambda: False)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
    assert "current CUDA device (cuda:0)" in triton_step.unavailable(net, torch.device("cuda:1"))
    assert triton_step.unavailable(net, torch.device("cuda:0")) is None
    assert triton_step.unavailable(net, torch.device("cuda")) is None
