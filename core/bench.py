"""``mlp-tui bench``: the engine's epoch time and examples per second on this machine, against
the seed notebook's own pipeline and the matmul roofline.

The figures are measured here; the developer benchmark (``benchmarks/bench.py``, not installed)
reuses them beside the app's own figures and the project's targets.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import statistics
import sys
import tempfile
import time
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn

from .config import ConfigError, TrainConfig
from .data import DataError, FashionMNIST, load, locate, read_split
from .device import resolve_device
from .events import EpochReport
from .roofline import Roofline
from .trainer import TRAIN_THREADS, Trainer

ROOFLINE = "roofline (matmul only, fp32)"
DESCRIPTION = (
    "How fast this machine trains the seed's MLP: the engine's seconds per epoch and examples "
    "per second, against the seed notebook's own pipeline (DataLoader, autograd, torch.optim) "
    "and the matmul roofline (the epoch's matrix products alone, the floor)."
)


@dataclass(frozen=True)
class Figure:
    name: str
    seconds_per_epoch: float | None  # None: not measured, ``note`` says why
    examples_per_s: float | None
    note: str = ""

    def as_dict(self) -> dict:
        return asdict(self)


def median_epoch(seconds: list[float], examples: int, name: str, note: str = "") -> Figure:
    """The median epoch, leaving out the first (warm-up) when there are more than two."""
    kept = seconds[1:] if len(seconds) > 2 else seconds
    median = statistics.median(kept)
    return Figure(name, median, examples / median, note)


def engine_figure(trainer: Trainer, config: TrainConfig, n_train: int, variant: str = "") -> Figure:
    """A finished headless run's median epoch; ``variant`` adds to its name."""
    seconds = [report.seconds for report in trainer.history]
    device = resolve_device(config.device).type
    name = f"engine headless ({config.engine}, {device}{variant})"
    return median_epoch(seconds, n_train, name, f"{config.epochs} epochs")


def engine_beside_roofline(
    data: FashionMNIST, config: TrainConfig, floor: Roofline
) -> tuple[Figure, Figure, list[float]]:
    """The engine headless, with a roofline epoch timed after each of its epochs (outside
    their clocks: the loop waits for the listener), so both medians come from the same
    stretches of the machine's time. Also each epoch over the roofline epoch beside it (the
    first, a warm-up, left out as the medians leave it out)."""
    roof_seconds: list[float] = []

    def listen(event) -> None:
        if isinstance(event, EpochReport):
            roof_seconds.append(floor.epoch())

    trainer = Trainer(config, data, on_event=listen)
    trainer.run()
    n_train = len(data.train_y)
    engine = engine_figure(trainer, config, n_train)
    kept_roof = roof_seconds[1:] if len(roof_seconds) > 2 else roof_seconds
    note = floor.note(statistics.median(kept_roof) if kept_roof else None)
    roof = median_epoch(roof_seconds, n_train, ROOFLINE, note)
    pairs = list(zip((report.seconds for report in trainer.history), roof_seconds))
    kept = pairs[1:] if len(pairs) > 2 else pairs
    return engine, roof, [mine / floor_s for mine, floor_s in kept]


# --------------------------------------------------------------------------- the seed's pipeline
class _ReplicaFashionMNIST(torch.utils.data.Dataset):
    """torchvision's ``FashionMNIST`` + ``ToTensor`` item by item, for where torchvision is
    unusable: a PIL image per item, converted by ToTensor's own arithmetic."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor) -> None:
        self.images, self.labels = images, labels

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int):
        import numpy as np
        from PIL import Image

        img = Image.fromarray(self.images[i].numpy(), mode="L")
        x = torch.from_numpy(np.array(img, np.uint8, copy=True)).view(1, 28, 28)
        return x.float().div(255), int(self.labels[i])


def seed_datasets(files: dict[str, Path], root: Path):
    """torchvision's datasets when it imports (from unpacked copies), else the replica."""
    try:
        from torchvision import datasets, transforms
    except Exception as exc:  # absent or built for another torch
        train = _ReplicaFashionMNIST(*read_split(files["train_images"], files["train_labels"]))
        test = _ReplicaFashionMNIST(*read_split(files["test_images"], files["test_labels"]))
        reason = str(exc).splitlines()[0][:80]
        return train, test, f"torchvision unusable ({reason}): PIL+ToTensor replica"
    raw = root / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    for path in files.values():
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rb") as src:
            (raw / path.name.removesuffix(".gz")).write_bytes(src.read())
    to_tensor = transforms.ToTensor()
    train = datasets.FashionMNIST(str(root), train=True, transform=to_tensor)
    test = datasets.FashionMNIST(str(root), train=False, transform=to_tensor)
    return train, test, "torchvision FashionMNIST + ToTensor"


def seed_pipeline(data_dir: str | None, epochs: int = 1, num_workers: int = 4) -> Figure:
    """d2l's ``load_data_fashion_mnist`` + ``train_ch3`` as the notebook runs them, timed."""
    files = locate(data_dir)
    name = f"seed pipeline (DataLoader, {num_workers} workers)"
    if files is None:
        return Figure(name, None, None, "no data found")
    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():
        # More workers than cores is the seed's choice, not ours: no warning about it.
        warnings.simplefilter("ignore", UserWarning)
        try:
            train, test, note = seed_datasets(files, Path(tmp))
        except ImportError as exc:
            return Figure(name, None, None, f"not measured: {exc}")
        loader = torch.utils.data.DataLoader
        train_iter = loader(train, 256, shuffle=True, num_workers=num_workers)
        test_iter = loader(test, 256, shuffle=False, num_workers=num_workers)
        W1 = nn.Parameter(torch.randn(784, 256) * 0.01)
        b1 = nn.Parameter(torch.zeros(256))
        W2 = nn.Parameter(torch.randn(256, 10) * 0.01)
        b2 = nn.Parameter(torch.zeros(10))

        def net(X):
            X = X.reshape(-1, 784)
            Z = X @ W1 + b1
            return torch.max(Z, torch.zeros_like(Z)) @ W2 + b2

        loss = nn.CrossEntropyLoss(reduction="none")
        updater = torch.optim.SGD([W1, b1, W2, b2], lr=0.1)
        seconds = []
        for _ in range(epochs):
            started = time.perf_counter()
            metric = [0.0, 0.0, 0]
            for X, y in train_iter:
                y_hat = net(X)
                l = loss(y_hat, y)
                updater.zero_grad()
                l.mean().backward()
                updater.step()
                metric[0] += float(l.detach().sum())
                metric[1] += float((y_hat.argmax(axis=1) == y).sum())
                metric[2] += y.numel()
            with torch.no_grad():
                sum(float((net(X).argmax(axis=1) == y).sum()) for X, y in test_iter)
            seconds.append(time.perf_counter() - started)
    return median_epoch(seconds, len(train), name, note)


# --------------------------------------------------------------------------- the command
def machine() -> str:
    model = platform.processor() or platform.machine()
    try:
        for line in open("/proc/cpuinfo", encoding="utf-8"):
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{model}, {os.cpu_count()} cores, torch {torch.__version__}, {TRAIN_THREADS} threads"


def measure(args: argparse.Namespace) -> dict:
    """The engine headless beside the roofline, then the seed's pipeline, on the real data."""
    config = TrainConfig(epochs=args.epochs, device=args.device, engine=args.engine)
    device = resolve_device(args.device)
    dataset = load(args.data_dir, device, allow_download=False)
    floor = Roofline(config, len(dataset.train_y), len(dataset.test_y), device)
    engine, roof, _ = engine_beside_roofline(dataset, config, floor)
    floor.release()
    if args.skip_seed:
        seed = Figure("seed pipeline", None, None, "skipped (--skip-seed)")
    else:
        seed = seed_pipeline(args.data_dir)
    figures = {"engine": engine, "seed": seed, "roofline": roof}
    return {
        "machine": machine(),
        "device": str(device),
        "figures": {name: figure.as_dict() for name, figure in figures.items()},
    }


def table(result: dict) -> str:
    figures = result["figures"]
    lines = [
        f"mlp-tui bench on {result['machine']} ({result['device']})",
        "",
        f"{'':40} {'s/epoch':>8} {'examples/s':>11}",
    ]
    for fig in figures.values():
        s, rate = fig["seconds_per_epoch"], fig["examples_per_s"]
        shown = f"{'-':>8} {'-':>11}" if s is None else f"{s:8.3f} {rate:11,.0f}"
        lines.append(f"{fig['name']:40} {shown}  {fig['note']}".rstrip())
    engine = figures["engine"]["seconds_per_epoch"]
    seed, roof = figures["seed"]["seconds_per_epoch"], figures["roofline"]["seconds_per_epoch"]
    lines.append("")
    if seed is not None:
        lines.append(f"The engine trains {seed / engine:.1f}x as fast as the seed's pipeline;")
    lines.append(f"an epoch takes {engine / roof:.2f}x the time of its matrix products alone.")
    return "\n".join(lines)


def at_least_one(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def build_parser(prog: str = "mlp-tui bench", description: str | None = None):
    """The options of ``mlp-tui bench``; the developer benchmark adds its own to them."""
    parser = argparse.ArgumentParser(
        prog=prog,
        description=description or DESCRIPTION,
        epilog="It reads the Fashion-MNIST files as mlp-tui does (--data-dir, $MLP_TUI_DATA, ...); "
        "the seed's pipeline takes the longest.",
    )
    parser.add_argument(
        "--epochs", type=at_least_one, default=4, help="epochs of the engine (default %(default)s)"
    )
    parser.add_argument(
        "--device", default="auto", help="auto, cpu, cuda, cuda:N or mps (default %(default)s)"
    )
    parser.add_argument(
        "--engine",
        default="fused",
        choices=("fused", "autograd"),
        help="fused (fast, default) or autograd (the seed verbatim)",
    )
    parser.add_argument("--data-dir", help="folder with the Fashion-MNIST IDX files")
    parser.add_argument(
        "--skip-seed", action="store_true", help="leave out the seed's pipeline (slow)"
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    return parser


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    try:
        result = measure(args)
    except (DataError, ConfigError) as exc:
        print(f"mlp-tui bench: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(result, indent=2) if args.json else table(result))
    return 0
