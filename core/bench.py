"""Throughput figures for ``mlp-tui bench``: the engine, the seed's own pipeline, the roofline.

Each measurement returns a ``Figure``; the app-side figures (the engine under the running app,
first frame, key latency) live in ``mlp_tui.tui.bench``, which also prints the table.
"""

from __future__ import annotations

import gzip
import statistics
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn

from .config import TrainConfig
from .data import NUM_CLASSES, NUM_INPUTS, FashionMNIST, locate
from .events import EpochReport
from .trainer import Trainer


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


def mean_of(first: Figure, second: Figure, note: str) -> Figure:
    """Two measurements of the same thing, averaged; the note says which."""
    seconds = (first.seconds_per_epoch + second.seconds_per_epoch) / 2
    spread = abs(first.seconds_per_epoch - second.seconds_per_epoch) / seconds
    return Figure(
        first.name,
        seconds,
        first.examples_per_s * first.seconds_per_epoch / seconds,  # examples / mean seconds
        f"{first.note}, {note} (differ by {spread:.0%})",
    )


def engine_headless(
    data: FashionMNIST, config: TrainConfig, variant: str = "", **trainer_options
) -> Figure:
    """``trainer_options`` (sync_free, graphs) pick a GPU variant, named by ``variant``."""
    trainer = Trainer(config, data, **trainer_options)
    trainer.run()
    return _engine_figure(trainer, len(data.train_y), config, variant)


def _engine_figure(trainer: Trainer, n_train: int, config: TrainConfig, variant: str) -> Figure:
    seconds = [report.seconds for report in trainer.history]
    label = f"engine headless ({config.engine}, {trainer.device.type}{variant})"
    return median_epoch(seconds, n_train, label, f"{config.epochs} epochs")


# --------------------------------------------------------------------------- the roofline
@dataclass(frozen=True)
class Product:
    """``count`` matrix products ``(m x k) @ (k x n)`` in one epoch."""

    what: str
    m: int
    k: int
    n: int
    count: int

    @property
    def shape(self) -> tuple[int, int, int]:
        return self.m, self.k, self.n

    @property
    def flops(self) -> int:
        return 2 * self.m * self.k * self.n * self.count


def epoch_matmuls(batch: int, hidden: int, n_train: int, n_test: int) -> list[Product]:
    """Every matrix product of one epoch, in the shapes and the order the engine computes
    them: per batch the forward ``X@W1`` and ``W2^T@H^T`` (the logits by class), the backward
    ``G@W2^T`` (the hidden layer's gradient) and the two weight gradients ``G^T@H`` and
    ``X^T@dH``; then the test set's ``X@W1`` (its ``H@W2`` is 0.05 GFLOP and left out).
    These are the CPU's shapes; on CUDA, where ``W2`` keeps the seed's layout, the engine
    computes the two small products with ``W2`` as their transposes (``H@W2``, ``H^T@G``): the
    same FLOPs."""
    full, last = divmod(n_train, batch)
    products = []
    for rows, count in ((batch, full), (last, 1 if last else 0)):
        if count:
            products += [
                Product("X@W1", rows, NUM_INPUTS, hidden, count),
                Product("W2^T@H^T", NUM_CLASSES, hidden, rows, count),
                Product("G@W2^T", rows, NUM_CLASSES, hidden, count),
                Product("G^T@H", NUM_CLASSES, rows, hidden, count),
                Product("X^T@dH", NUM_INPUTS, rows, hidden, count),
            ]
    products.append(Product("test X@W1", n_test, NUM_INPUTS, hidden, 1))
    return products


def _operand(rows: int, cols: int, transposed: int, device: torch.device) -> torch.Tensor:
    """A random ``rows x cols`` operand, row-major or the transposed view of a row-major one."""
    if transposed:
        return torch.randn(cols, rows, device=device).t()
    return torch.randn(rows, cols, device=device)


def _layout(
    shape: tuple[int, int, int], device: torch.device, index: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Operands of ``(m x k) @ (k x n)`` in layout ``index`` of four: the left operand
    transposed in 2 and 3, the right one in 1 and 3."""
    m, k, n = shape
    return _operand(m, k, index // 2, device), _operand(k, n, index % 2, device)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def fastest_layout(
    shape: tuple[int, int, int], device: torch.device, rounds: int = 5, window_s: float = 0.02
) -> tuple[float, int]:
    """The measured FLOP/s of ``(m x k) @ (k x n)`` in its fastest operand layout, and that
    layout (see ``_layout``): the floor, whichever layout the engine picked. The
    layouts take turns for ``rounds`` short windows and each keeps its median, so the
    machine's drift hits all four alike and one lucky window does not set the floor."""
    m, k, n = shape
    lefts = [_operand(m, k, transposed, device) for transposed in (0, 1)]
    rights = [_operand(k, n, transposed, device) for transposed in (0, 1)]
    layouts = [(a, b) for a in lefts for b in rights]  # in _layout's order
    out = torch.empty(m, n, device=device)
    rates: list[list[float]] = [[] for _ in layouts]
    for _ in range(rounds):
        for (a, b), measured in zip(layouts, rates):
            torch.mm(a, b, out=out)  # warm: the operands back in cache
            _sync(device)
            calls, started = 0, time.perf_counter()
            while time.perf_counter() - started < window_s:
                torch.mm(a, b, out=out)
                calls += 1
            _sync(device)
            measured.append(2 * m * k * n * calls / (time.perf_counter() - started))
    medians = [statistics.median(measured) for measured in rates]
    best = max(range(len(layouts)), key=medians.__getitem__)
    return medians[best], best


def matmul_rate(
    shape: tuple[int, int, int], device: torch.device, rounds: int = 5, window_s: float = 0.02
) -> float:
    """The FLOP/s of ``shape`` in its fastest layout (see ``fastest_layout``)."""
    return fastest_layout(shape, device, rounds, window_s)[0]


class Roofline:
    """The time an epoch's matrix products take alone: the floor for an fp32 epoch.

    Every product of ``epoch_matmuls`` in its fastest layout, on operands kept in cache from
    call to call (nothing else runs between them). ``epoch()`` times one epoch of them in a
    row, batch by batch in the engine's order, the way an engine epoch is timed: so that a
    roofline epoch run next to each engine epoch sees the same machine. On a shared host the
    speed moves by a third within seconds (a 0.2 s window of ``X@W1`` measured 102 to 185
    GFLOP/s in one minute), which a ratio of figures taken at different moments measures
    instead of the engine. ``per_shape_seconds`` is the figure from each shape's rate in its
    best short windows: the same floor measured the optimistic way, printed beside it.
    """

    def __init__(self, config: TrainConfig, n_train: int, n_test: int, device: torch.device):
        self.device = device
        self.products = epoch_matmuls(config.batch_size, config.hidden, n_train, n_test)
        self.rates: dict[tuple[int, int, int], float] = {}
        self.layouts: dict[tuple[int, int, int], int] = {}
        for shape in dict.fromkeys(p.shape for p in self.products):
            self.rates[shape], self.layouts[shape] = fastest_layout(shape, device)
        self._operands: dict[tuple[int, int, int], tuple[torch.Tensor, ...]] = {}
        self.total_flops = sum(p.flops for p in self.products)

    @property
    def per_shape_seconds(self) -> float:
        return sum(p.flops / self.rates[p.shape] for p in self.products)

    def epoch(self) -> float:
        """Seconds for one epoch of the products, timed in one go."""
        if not self._operands:
            for shape, layout in self.layouts.items():
                a, b = _layout(shape, self.device, layout)
                self._operands[shape] = (a, b, torch.empty(shape[0], shape[2], device=self.device))
        batches = [p for p in self.products if p.count > 1]  # the full batches' products
        rest = [p for p in self.products if p.count <= 1]  # a short last batch, the test set
        steps = [self._operands[p.shape] for p in batches]
        _sync(self.device)
        started = time.perf_counter()
        for _ in range(batches[0].count if batches else 0):
            for a, b, out in steps:
                torch.mm(a, b, out=out)
        for p in rest:
            a, b, out = self._operands[p.shape]
            torch.mm(a, b, out=out)
        _sync(self.device)
        return time.perf_counter() - started

    def note(self) -> str:
        big = self.products[0]
        return (
            f"{self.total_flops / 1e9:.1f} GFLOP/epoch; {big.what} {big.m}x{big.k}@{big.k}x"
            f"{big.n} at {self.rates[big.shape] / 1e9:.0f} GFLOP/s"
        )

    def release(self) -> None:
        """Drop the operands (the test set's product alone holds 40 MB); the next ``epoch``
        makes them again."""
        self._operands.clear()


def roofline(config: TrainConfig, n_train: int, n_test: int, device: torch.device) -> Figure:
    """The per-shape figure alone (see ``Roofline``)."""
    floor = Roofline(config, n_train, n_test, device)
    seconds = floor.per_shape_seconds
    return Figure("roofline (matmul only, fp32)", seconds, n_train / seconds, floor.note())


def engine_beside_roofline(
    data: FashionMNIST, config: TrainConfig, floor: Roofline, variant: str = "", **options
) -> tuple[Figure, Figure, list[float]]:
    """The engine headless, with a roofline epoch timed after each of its epochs (outside
    their clocks: the loop waits for the listener), so both medians come from the same
    stretches of the machine's time. Also each epoch over the roofline epoch beside it (the
    first, a warm-up, left out as the medians leave it out)."""
    roof_seconds: list[float] = []

    def listen(event) -> None:
        if isinstance(event, EpochReport):
            roof_seconds.append(floor.epoch())

    trainer = Trainer(config, data, on_event=listen, **options)
    trainer.run()
    engine = _engine_figure(trainer, len(data.train_y), config, variant)
    n_train = len(data.train_y)
    per_shape = floor.per_shape_seconds
    note = f"{floor.note()}; from each shape's best windows {per_shape:.3f} s"
    roof = median_epoch(roof_seconds, n_train, "roofline (matmul only, fp32)", note)
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


def _seed_datasets(files: dict[str, Path], root: Path):
    """torchvision's datasets when it imports (from unpacked copies), else the replica."""
    try:
        from torchvision import datasets, transforms
    except Exception as exc:  # absent or built for another torch
        from .data import read_split

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
    with tempfile.TemporaryDirectory() as tmp:
        try:
            train, test, note = _seed_datasets(files, Path(tmp))
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
