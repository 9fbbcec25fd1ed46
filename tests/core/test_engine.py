"""The engine against the seed's formulation, written out in plain torch autograd."""

from __future__ import annotations

import torch
from mlp_tui.core.config import TrainConfig
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
            X, y = data.train_x[idx], data.train_y[idx]
            y_hat = net(X)
            l = loss(y_hat, y)
            updater.zero_grad()
            l.mean().backward()
            updater.step()
            metric[0] += float(l.detach().sum())
            metric[1] += float((y_hat.argmax(axis=1) == y).sum())
            metric[2] += y.numel()
        with torch.no_grad():
            test_acc = float((net(data.test_x).argmax(axis=1) == data.test_y).sum()) / len(
                data.test_y
            )
        rows.append((metric[0] / metric[2], metric[1] / metric[2], test_acc))
    return rows


def run(data, config):
    trainer = Trainer(config, data)
    assert trainer.run().value == "finished"
    return [(r.train_loss, r.train_acc, r.test_acc) for r in trainer.history]


def test_autograd_engine_is_the_seed_bit_for_bit(tiny_data):
    config = TrainConfig(epochs=3, batch_size=64, device="cpu", engine="autograd")
    assert run(tiny_data, config) == seed_reference(tiny_data, config)


def test_fused_engine_matches_the_seed_up_to_rounding(tiny_data):
    config = TrainConfig(epochs=3, batch_size=64, device="cpu")
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
