"""The roofline counts the products the engine computes: each shape, as many times."""

from __future__ import annotations

from collections import Counter
from types import SimpleNamespace

import pytest
import torch
from mlp_tui.core import roofline
from mlp_tui.core.config import TrainConfig
from mlp_tui.core.trainer import Trainer
from torch.utils._python_dispatch import TorchDispatchMode

QUICK = {"rounds": 1, "window_s": 0.002}  # layouts timed briefly: these tests count, not time
PRODUCTS = {
    torch.ops.aten.mm.default: (0, 1),
    torch.ops.aten.mm.out: (0, 1),
    torch.ops.aten.addmm.default: (1, 2),
    torch.ops.aten.addmm_.default: (1, 2),
}


class MatmulShapes(TorchDispatchMode):
    """Counts every matrix product's (m, k, n) that reaches ATen."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: Counter[tuple[int, int, int]] = Counter()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if func in PRODUCTS:
            left, right = (args[i] for i in PRODUCTS[func])
            self.seen[(left.shape[0], left.shape[1], right.shape[1])] += 1
        return func(*args, **(kwargs or {}))


@pytest.mark.parametrize("batch_size", [64, 100])  # 100: a short last batch
@pytest.mark.usefixtures("pytorch_cpu_step")  # the compiled step's products (the same five a
def test_the_roofline_lists_every_product_of_an_epoch(tiny_data, batch_size):  # batch) are C's
    config = TrainConfig(epochs=1, batch_size=batch_size, hidden=32, device="cpu")
    # the training epoch's own products: the health figures' (the initial report's pass over
    # the test set) are extra work, measured on their own by benchmarks/health_overhead.py
    trainer = Trainer(config, tiny_data, health=False)
    with MatmulShapes() as shapes:
        trainer.run()
    n_train, n_test = len(tiny_data.train_y), len(tiny_data.test_y)
    listed = Counter()
    for product in roofline.epoch_matmuls(batch_size, 32, n_train, n_test):
        listed[product.shape] += product.count
    # The one product the roofline leaves out: the test set's H @ W2 (0.1% of the FLOPs).
    seen = shapes.seen - Counter({(n_test, 32, 10): 1})
    assert seen == listed
    total = sum(p.flops for p in roofline.epoch_matmuls(256, 256, 60_000, 10_000))
    assert total == 2 * (2 * 60_000 * 784 * 256 + 3 * 60_000 * 256 * 10 + 10_000 * 784 * 256)


class ProductClock:
    """A clock that only products move: ``cost(a, b)`` seconds each. The layouts' timing
    windows then see exactly these costs, whatever else the host is running (under load, a
    window of real time can lose 10 ms to the scheduler and make the fast layout look slow)."""

    def __init__(self, monkeypatch, cost) -> None:
        self.now = 0.0
        mm = torch.mm

        def product(a, b, out):
            self.now += cost(a, b)
            return mm(a, b, out=out)

        monkeypatch.setattr(torch, "mm", product)
        monkeypatch.setattr(roofline, "time", SimpleNamespace(perf_counter=lambda: self.now))


def test_a_products_rate_is_its_fastest_layout(monkeypatch):
    """Four layouts are timed; a slow one must not set the floor."""
    ProductClock(monkeypatch, lambda a, b: 0.002 if not a.is_contiguous() else 1e-5)
    rate, _ = roofline.fastest_layout((64, 32, 16), torch.device("cpu"), rounds=3, window_s=0.01)
    assert rate == pytest.approx(2 * 64 * 32 * 16 / 1e-5)


@pytest.mark.parametrize("batch_size", [64, 100])
def test_a_roofline_epoch_computes_the_listed_products(tiny_data, batch_size):
    """One timed roofline epoch runs every product of the list, as many times, and no other."""
    config = TrainConfig(epochs=1, batch_size=batch_size, hidden=32, device="cpu")
    n_train, n_test = len(tiny_data.train_y), len(tiny_data.test_y)
    floor = roofline.Roofline(config, n_train, n_test, torch.device("cpu"), **QUICK)
    floor.epoch()  # makes its operands
    with MatmulShapes() as shapes:
        seconds = floor.epoch()
    listed = Counter()
    for product in floor.products:
        listed[product.shape] += product.count
    assert shapes.seen == listed and seconds > 0
    floor.release()
    with MatmulShapes() as shapes:
        floor.epoch()  # the operands made again
    assert shapes.seen == listed


def test_a_roofline_epoch_uses_the_layout_found_fastest(monkeypatch):
    """The layout timed fastest is the one a roofline epoch's operands are made in."""
    ProductClock(
        monkeypatch, lambda a, b: 1e-5 if not a.is_contiguous() and b.is_contiguous() else 0.002
    )
    _, index = roofline.fastest_layout((64, 32, 16), torch.device("cpu"), rounds=3, window_s=0.01)
    left, right = roofline._layout((64, 32, 16), torch.device("cpu"), index)
    assert not left.is_contiguous() and right.is_contiguous()
    assert left.shape == (64, 32) and right.shape == (32, 16)


def test_the_note_gives_the_rate_its_epochs_ran_at(tiny_data):
    """The printed rate is the epoch's FLOPs over the epoch's time, not the calibration's (a
    busy moment at startup once printed 7 GFLOP/s beside epochs that ran at 160)."""
    config = TrainConfig(epochs=1, batch_size=64, hidden=32, device="cpu")
    floor = roofline.Roofline(
        config, len(tiny_data.train_y), len(tiny_data.test_y), torch.device("cpu"), **QUICK
    )
    floor.rates[floor.products[0].shape] = 7e9  # what a calibration in a busy moment measured
    note = floor.note(floor.total_flops / 160e9)
    assert "160 GFLOP/s over its epochs" in note and " 7 GFLOP/s" not in note
    assert note.startswith(f"{floor.total_flops / 1e9:.1f} GFLOP/epoch")
    assert "at 7 GFLOP/s" in floor.note()  # without epochs: the calibration, said as such
