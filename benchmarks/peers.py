"""The engine against its peers, side by side in one run, in turns: the plain PyTorch loop, the
seed notebook's own pipeline, the same MLP in JAX (a jitted step, and the whole epoch as one
jitted ``lax.scan``; only when ``jax`` imports: ``pip install -e '.[jax]'``) and the matmul
roofline. Each with its seconds per epoch and its test accuracy after the last epoch, so that a
peer that is faster but learns less is seen.

The engine drives: after each of its epochs (outside its clock) every other peer runs one
epoch, in an order that rotates from turn to turn, so that all of them share each stretch of a
busy machine's time. The first epoch (a warm-up; JAX compiles in it) is left out of the
medians when there are more than two. Every peer starts from the engine's initial weights (the
seed's ``randn * 0.01`` from a generator seeded ``seed``) and, except the seed's DataLoader,
draws the engine's order of examples each epoch.

    python -m benchmarks.peers [--epochs N] [--data-dir DIR] [--skip-seed] [--workers N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import torch
from mlp_tui.core import bench, data, native
from mlp_tui.core.config import TrainConfig
from mlp_tui.core.events import EpochReport
from mlp_tui.core.roofline import Roofline
from mlp_tui.core.trainer import Trainer, keep_this_thread_serial
from torch import nn

from . import jax_peers


@dataclass
class Result:
    name: str
    seconds: list[float] = field(default_factory=list)
    test_acc: float | None = None
    note: str = ""

    def median(self) -> float | None:
        kept = self.seconds[1:] if len(self.seconds) > 2 else self.seconds
        return statistics.median(kept) if kept else None


def seed_init(config: TrainConfig) -> list[torch.Tensor]:
    """The engine's initial weights (``ScratchMLP``): W1, b1, W2, b2."""
    g = torch.Generator().manual_seed(config.seed)
    w1 = torch.randn(data.NUM_INPUTS, config.hidden, generator=g) * config.init_scale
    w2 = torch.randn(config.hidden, data.NUM_CLASSES, generator=g) * config.init_scale
    return [w1, torch.zeros(config.hidden), w2, torch.zeros(data.NUM_CLASSES)]


class PlainLoop:
    """What a PyTorch user writes: the data as float tensors in memory, autograd and
    ``torch.optim.SGD``, the seed's per-batch loss and accuracy sums."""

    name = "plain PyTorch loop"
    note = "autograd + optim.SGD, float tensors in memory"

    def __init__(self, dataset: data.FashionMNIST, config: TrainConfig) -> None:
        self.X, self.y = dataset.train_pixels.float().div(255), dataset.train_y
        self.test_X, self.test_y = dataset.test_flat.float().div(255), dataset.test_y
        self.params = [nn.Parameter(t) for t in seed_init(config)]
        self.optimizer = torch.optim.SGD(self.params, lr=config.lr)
        self.order = torch.Generator().manual_seed(config.seed)
        self.batch = config.batch_size
        self.loss = nn.CrossEntropyLoss(reduction="none")
        self.test_acc: float | None = None

    def net(self, X: torch.Tensor) -> torch.Tensor:
        W1, b1, W2, b2 = self.params
        return torch.relu(X @ W1 + b1) @ W2 + b2

    def epoch(self) -> float:
        started = time.perf_counter()
        perm = torch.randperm(len(self.y), generator=self.order)
        loss_sum = correct = 0.0
        for start in range(0, len(perm), self.batch):
            idx = perm[start : start + self.batch]
            X, y = self.X[idx], self.y[idx]
            y_hat = self.net(X)
            l = self.loss(y_hat, y)
            self.optimizer.zero_grad()
            l.mean().backward()
            self.optimizer.step()
            loss_sum += float(l.detach().sum())
            correct += float((y_hat.argmax(1) == y).sum())
        with torch.no_grad():
            self.test_acc = float((self.net(self.test_X).argmax(1) == self.test_y).float().mean())
        return time.perf_counter() - started


class SeedPipeline:
    """d2l's ``load_data_fashion_mnist`` + ``train_ch3`` as the notebook runs them (the
    DataLoader draws its own order from torch's global generator, seeded here)."""

    def __init__(self, data_dir: str | None, config: TrainConfig, workers: int) -> None:
        files = data.locate(data_dir)
        assert files is not None  # the engine loaded the same files
        self.tmp = tempfile.TemporaryDirectory()
        train, test, self.note = bench.seed_datasets(files, Path(self.tmp.name))
        self.name = f"seed pipeline ({workers} workers)"
        loader = torch.utils.data.DataLoader
        with warnings.catch_warnings():  # more workers than cores is the seed's choice
            warnings.simplefilter("ignore")
            self.train_iter = loader(train, config.batch_size, shuffle=True, num_workers=workers)
            self.test_iter = loader(test, config.batch_size, shuffle=False, num_workers=workers)
        torch.manual_seed(config.seed)
        self.params = [nn.Parameter(t) for t in seed_init(config)]
        self.updater = torch.optim.SGD(self.params, lr=config.lr)
        self.loss = nn.CrossEntropyLoss(reduction="none")
        self.test_acc: float | None = None

    def net(self, X: torch.Tensor) -> torch.Tensor:
        W1, b1, W2, b2 = self.params
        Z = X.reshape(-1, data.NUM_INPUTS) @ W1 + b1
        return torch.max(Z, torch.zeros_like(Z)) @ W2 + b2

    def epoch(self) -> float:
        started = time.perf_counter()
        with warnings.catch_warnings():  # more workers than cores is the seed's choice
            warnings.simplefilter("ignore")
            metric = [0.0, 0.0, 0]
            for X, y in self.train_iter:
                y_hat = self.net(X)
                l = self.loss(y_hat, y)
                self.updater.zero_grad()
                l.mean().backward()
                self.updater.step()
                metric[0] += float(l.detach().sum())
                metric[1] += float((y_hat.argmax(axis=1) == y).sum())
                metric[2] += y.numel()
            with torch.no_grad():
                right = sum(
                    float((self.net(X).argmax(axis=1) == y).sum()) for X, y in self.test_iter
                )
        self.test_acc = right / len(self.test_iter.dataset)  # type: ignore[arg-type]
        return time.perf_counter() - started


class PytorchStepEngine:
    """The engine with the fused step as PyTorch operations, where the engine runs the compiled
    step (``native.py``): what the compilation gains, in the same turns."""

    name = "engine (fused, cpu, PyTorch ops)"
    note = "mlp-tui --headless, MLP_TUI_NATIVE=0"

    def __init__(self, dataset: data.FashionMNIST, config: TrainConfig) -> None:
        self.trainer = Trainer(config, dataset, compiled_step=False)  # as the engine, but the step
        self.test_acc: float | None = None

    def epoch(self) -> float:
        trainer = self.trainer
        trainer.config = trainer.config.replace(epochs=trainer.epoch + 1)
        trainer.run()
        self.test_acc = trainer.history[-1].test_acc
        return trainer.history[-1].seconds


class RooflinePeer:
    """The epoch's matrix products alone, in their fastest layouts: the floor; it learns
    nothing."""

    name = bench.ROOFLINE
    test_acc = None

    def __init__(self, dataset: data.FashionMNIST, config: TrainConfig) -> None:
        self.floor = Roofline(
            config, len(dataset.train_y), len(dataset.test_y), torch.device("cpu")
        )
        self.note = self.floor.note()

    def epoch(self) -> float:
        return self.floor.epoch()


def measure(args: argparse.Namespace) -> tuple[list[Result], str]:
    """Every peer's epochs, in turns after each of the engine's."""
    keep_this_thread_serial()
    config = TrainConfig(epochs=args.epochs)
    dataset = data.load(args.data_dir, "cpu", allow_download=False)
    peers: list = [PlainLoop(dataset, config)]
    skipped: list[Result] = []
    if args.skip_seed:
        skipped.append(Result("seed pipeline", note="skipped (--skip-seed)"))
    else:
        peers.append(SeedPipeline(args.data_dir, config, args.workers))
    missing = jax_peers.unavailable()
    if missing:
        skipped.append(Result("JAX", note=f"skipped: {missing}"))
    else:
        init = [t.numpy() for t in seed_init(config)]
        peers += [
            jax_peers.JaxStep(dataset, config, init),
            jax_peers.JaxScan(dataset, config, init),
        ]
    peers.append(RooflinePeer(dataset, config))
    compiled = native.load() is not None and config.engine == "fused"
    if compiled:
        peers.insert(0, PytorchStepEngine(dataset, config))
    results = {id(peer): Result(peer.name, note=peer.note) for peer in peers}
    turn = [0]

    def listen(event) -> None:
        if not isinstance(event, EpochReport):
            return
        k = turn[0] % len(peers)
        for peer in peers[k:] + peers[:k]:
            results[id(peer)].seconds.append(peer.epoch())
            results[id(peer)].test_acc = peer.test_acc
        turn[0] += 1
        done = ", ".join(f"{peer.name} {results[id(peer)].seconds[-1]:.2f}" for peer in peers)
        print(f"turn {turn[0]}: engine {event.seconds:.2f}, {done} s", file=sys.stderr)

    trainer = Trainer(config, dataset, on_event=listen)
    trainer.run()
    step = ", compiled step" if compiled else ""
    engine = Result(f"engine ({config.engine}, cpu{step})", note="mlp-tui --headless")
    engine.seconds = [report.seconds for report in trainer.history]
    engine.test_acc = trainer.history[-1].test_acc
    for peer in peers:
        getattr(peer, "tmp", None) and peer.tmp.cleanup()
        if isinstance(peer, RooflinePeer):  # the rate its epochs ran at, not its calibration's
            results[id(peer)].note = peer.floor.note(results[id(peer)].median())
    return [engine, *(results[id(peer)] for peer in peers), *skipped], dataset.source


def table(results: list[Result], epochs: int, source: str) -> str:
    engine = results[0].median()
    lines = [
        f"peers on {bench.machine()}",
        f"{epochs} epochs of each, in turns; data: {source}",
        "",
        f"{'':36} {'s/epoch':>8} {'min':>7} {'x engine':>8} {f'test acc@{epochs}':>12}",
    ]
    for r in results:
        median = r.median()
        if median is None:
            lines.append(f"{r.name:36} {'-':>8} {'-':>7} {'-':>8} {'-':>12}  {r.note}")
            continue
        acc = "-" if r.test_acc is None else f"{r.test_acc:.4f}"
        ratio = f"{median / engine:.2f}" if engine else "-"
        shown = f"{median:8.3f} {min(r.seconds):7.3f} {ratio:>8} {acc:>12}"
        lines.append(f"{r.name:36} {shown}  {r.note}".rstrip())
    lines += ["", "s/epoch: the median epoch (the first left out when there are more than two)."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--epochs", type=bench.at_least_one, default=10, help="each peer's (default 10)"
    )
    parser.add_argument("--data-dir", help="folder with the Fashion-MNIST IDX files")
    parser.add_argument("--skip-seed", action="store_true", help="leave out the seed's pipeline")
    parser.add_argument("--workers", type=int, default=4, help="the seed's DataLoader workers")
    args = parser.parse_args(argv)
    try:
        results, source = measure(args)
    except data.DataError as exc:
        print(f"peers: {exc}", file=sys.stderr)
        return 2
    print(table(results, args.epochs, source))
    return 0


if __name__ == "__main__":
    sys.exit(main())
