"""The engine against the seed's formulation, written out in plain torch autograd."""

from __future__ import annotations

import pytest
import torch
from mlp_tui.core import native
from mlp_tui.core.config import TrainConfig
from mlp_tui.core.data import ShuffledEpoch, to_unit
from mlp_tui.core.model import AutogradStep, FusedStep, ScratchMLP, evaluate
from mlp_tui.core.trainer import Trainer
from torch import nn


def seed_reference(data, config: TrainConfig) -> list[tuple[float, float, float]]:
    """d2l's train_ch3 over the trainer's batch order, written as the notebook writes it."""
    g = torch.Generator().manual_seed(config.seed)
    W1 = nn.Parameter(torch.randn(784, config.hidden, generator=g) * config.init_scale)
    b1 = nn.Parameter(torch.zeros(config.hidden))
    W2 = nn.Parameter(torch.randn(config.hidden, 10, generator=g) * config.init_scale)
    b2 = nn.Parameter(torch.zeros(10))

    def net(X):
        X = X.reshape(-1, 784)
        H = torch.max(X @ W1 + b1, torch.zeros_like(X @ W1 + b1))
        return H @ W2 + b2

    loss = nn.CrossEntropyLoss(reduction="none")
    updater = torch.optim.SGD([W1, b1, W2, b2], lr=config.lr)
    shuffle = torch.Generator().manual_seed(config.seed)
    rows = []
    for _ in range(config.epochs):
        perm = torch.randperm(len(data.train_y), generator=shuffle)
        metric = [0.0, 0.0, 0]
        for i in range(0, len(perm), config.batch_size):
            idx = perm[i : i + config.batch_size]
            X, y = to_unit(data.train_pixels)[idx], data.train_y[idx]
            y_hat = net(X)
            l = loss(y_hat, y)
            updater.zero_grad()
            l.mean().backward()
            updater.step()
            metric[0] += float(l.detach().sum())
            metric[1] += float((y_hat.argmax(axis=1) == y).sum())
            metric[2] += y.numel()
        with torch.no_grad():
            test_acc = float(
                (net(to_unit(data.test_flat)).argmax(axis=1) == data.test_y).sum()
            ) / len(data.test_y)
        rows.append((metric[0] / metric[2], metric[1] / metric[2], test_acc))
    return rows


def run(data, config):
    trainer = Trainer(config, data)
    assert trainer.run().value == "finished"
    return [(r.train_loss, r.train_acc, r.test_acc) for r in trainer.history]


@pytest.mark.parametrize(
    ("batch_size", "chunk_rows"),
    [(64, 4096), (64, 100), (256, 100)],
    ids=["one chunk", "batches straddle chunks", "batches larger than a chunk"],
)
def test_autograd_engine_is_the_seed_bit_for_bit(tiny_data, monkeypatch, batch_size, chunk_rows):
    """Also holds the trainer's batches (gathered ahead in chunks) and its test set
    (converted chunk by chunk) to the seed's, whichever way the batches fall on the chunks."""
    monkeypatch.setattr(ShuffledEpoch, "CHUNK_ROWS", chunk_rows)
    config = TrainConfig(epochs=3, batch_size=batch_size, device="cpu", engine="autograd")
    assert run(tiny_data, config) == seed_reference(tiny_data, config)


@pytest.mark.parametrize("step", ["compiled", "pytorch"])
def test_fused_engine_matches_the_seed_up_to_rounding(tiny_data, monkeypatch, step):
    """Both of the fused engine's CPU steps: the compiled one (native.py) and PyTorch's."""
    if step == "pytorch":
        monkeypatch.setattr(native, "load", lambda: None)
    config = TrainConfig(epochs=3, batch_size=64, device="cpu")
    assert (Trainer(config, tiny_data).steps.native is not None) == (step == "compiled")
    ours, seed = run(tiny_data, config), seed_reference(tiny_data, config)
    for (loss, acc, test), (ref_loss, ref_acc, ref_test) in zip(ours, seed):
        assert abs(loss - ref_loss) < 1e-5
        assert abs(acc - ref_acc) <= 2 / 600 and abs(test - ref_test) <= 2 / 200


def test_tiny_data_is_learned(tiny_data):
    rows = run(tiny_data, TrainConfig(epochs=5, batch_size=32, lr=0.5, device="cpu"))
    assert rows[-1][0] < rows[0][0] and rows[-1][2] > 0.9


def test_fused_and_autograd_agree_with_momentum_and_weight_decay(tiny_data):
    config = TrainConfig(epochs=2, batch_size=64, momentum=0.9, weight_decay=1e-3, device="cpu")
    fused = run(tiny_data, config)
    autograd = run(tiny_data, config.replace(engine="autograd"))
    for (loss, acc, _), (ref_loss, ref_acc, _) in zip(fused, autograd):
        assert abs(loss - ref_loss) < 1e-5 and abs(acc - ref_acc) <= 2 / 600


def test_w2_stored_by_class_holds_the_seeds_values():
    plain = ScratchMLP(32, 0.01, torch.Generator().manual_seed(5))
    by_class = ScratchMLP(32, 0.01, torch.Generator().manual_seed(5), w2_by_class=True)
    for a, b in zip(plain.params, by_class.params):
        assert torch.equal(a, b)
    assert by_class.W2.shape == (32, 10) and by_class.W2.t().is_contiguous()
    # Still a view of the one buffer that whole-model operations (undo, GPU select) work on.
    assert by_class.W2.untyped_storage().data_ptr() == by_class.flat.untyped_storage().data_ptr()


@pytest.mark.parametrize("by_class", [True, False], ids=["W2 by class", "W2 as the seed's"])
@pytest.mark.parametrize("init_scale", [0.01, 0.0])  # 0: every logit ties at first
def test_fused_step_predicts_and_scores_as_the_seed(tiny_data, init_scale, by_class):
    """Losses and argmax (first of equal maxima) as the seed computes them from ``net(X)``."""
    X, y = tiny_data.train_batch(torch.arange(64))
    net = ScratchMLP(32, init_scale, torch.Generator().manual_seed(1), w2_by_class=by_class)
    losses, predicted = FusedStep(net).forward(X, y)
    seed_losses, seed_predicted = AutogradStep(net).forward(X, y)
    assert torch.equal(predicted, seed_predicted)
    assert torch.allclose(losses, seed_losses, atol=1e-6)
    if init_scale == 0:
        assert predicted.eq(0).all()


@pytest.mark.parametrize("by_class", [True, False], ids=["W2 by class", "W2 as the seed's"])
@pytest.mark.parametrize(
    "sgd", [{}, {"momentum": 0.9, "weight_decay": 1e-3}], ids=["plain SGD", "momentum"]
)
def test_fused_steps_follow_the_seeds_steps_in_either_w2_layout(tiny_data, by_class, sgd):
    """The trainer stores W2 by class on the CPU and as the seed's elsewhere (CUDA); each
    layout's fused step, batch after batch, is the seed's autograd step up to rounding."""
    nets = [ScratchMLP(32, 0.01, torch.Generator().manual_seed(3), w2_by_class=by_class)
            for _ in range(2)]  # fmt: skip
    steps = [FusedStep(nets[0]), AutogradStep(nets[1])]
    optimizers = [torch.optim.SGD(net.params, lr=0.5, **sgd) for net in nets]
    assert steps[0].class_dim == (0 if by_class else 1)
    for batch in range(12):
        X, y = tiny_data.train_batch(torch.arange(batch * 40, batch * 40 + 40) % 600)
        results = [step.forward(X, y) for step in steps]
        assert torch.equal(results[0][1], results[1][1])
        assert torch.allclose(results[0][0], results[1][0], atol=1e-5)
        for step, optimizer in zip(steps, optimizers):
            step.update(optimizer)
    for ours, seed in zip(nets[0].params, nets[1].params):
        assert ours.shape == seed.shape
        assert torch.allclose(ours, seed, atol=1e-5)
    assert not torch.allclose(nets[0].W2, ScratchMLP(32, 0.01, torch.Generator().manual_seed(3)).W2)


def test_the_trainer_stores_w2_by_class_for_the_fused_step_on_the_cpu(tiny_data):
    assert Trainer(TrainConfig(device="cpu"), tiny_data).net.w2_by_class
    assert not Trainer(TrainConfig(device="cpu", engine="autograd"), tiny_data).net.w2_by_class


def test_fused_evaluation_matches_the_seeds_form(trained):
    trainer, _ = trained
    data = trainer.data
    fused = evaluate(trainer.net, to_unit(data.test_flat), data.test_y)
    seed = evaluate(trainer.net, to_unit(data.test_flat), data.test_y, seed_form=True)
    assert torch.allclose(fused.probs, seed.probs, atol=1e-6)
    assert torch.equal(fused.predicted, seed.predicted)
    chunked = evaluate(
        trainer.net, to_unit(data.test_flat), data.test_y, chunk=7
    )  # the last chunk: 4 rows
    assert torch.allclose(chunked.probs, fused.probs, atol=1e-6)
    assert len(chunked.probs) == len(data.test_y)
    for seed_form in (False, True):  # uint8 pixels, converted chunk by chunk: the same values
        floats = evaluate(trainer.net, to_unit(data.test_flat), data.test_y, seed_form, chunk=7)
        pixels = evaluate(trainer.net, data.test_flat, data.test_y, seed_form, chunk=7)
        assert data.test_flat.dtype == torch.uint8
        assert torch.equal(pixels.probs, floats.probs)


def test_a_runs_first_batch_is_reported_at_once_then_coalesced(tiny_data):
    """The status line shows training under way after its first batch, not after the first
    report interval; the batches after it wait for the interval (here: the epoch's end)."""
    from mlp_tui.core.events import BatchReport

    reports: list[BatchReport] = []
    trainer = Trainer(TrainConfig(epochs=2, batch_size=64, device="cpu"), tiny_data)
    trainer.on_event = lambda e: reports.append(e) if isinstance(e, BatchReport) else None
    trainer.report_interval = 60.0
    trainer.run()
    bpe = trainer.batches_per_epoch
    assert [(r.step, len(r.losses)) for r in reports] == [(1, 1), (bpe, bpe - 1), (2 * bpe, bpe)]
    assert reports[0].examples_per_s > 0  # a real rate: timed from the loop's start
    assert trainer.batch_losses == [loss for r in reports for loss in r.losses]
