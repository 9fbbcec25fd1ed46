"""The matmul roofline: the seconds one epoch's matrix products take alone, in fp32, on this
machine. An engine that computes the seed's products cannot take less; how far above it an
epoch lands is the cost of everything else."""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass

import torch

from .config import TrainConfig
from .data import NUM_CLASSES, NUM_INPUTS


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


class Roofline:
    """The time an epoch's matrix products take alone: the floor for an fp32 epoch.

    Every product of ``epoch_matmuls`` in its fastest layout, on operands kept in cache from
    call to call (nothing else runs between them). ``epoch()`` times one epoch of them in a
    row, batch by batch in the engine's order, the way an engine epoch is timed: so that a
    roofline epoch run next to each engine epoch sees the same machine: on a shared host the
    speed moves within seconds, and a ratio of figures taken at different moments would measure
    the host instead of the engine (docs/performance.md). ``per_shape_seconds`` is the figure
    from each shape's rate in its best short windows: the same floor measured the optimistic
    way, printed beside it.
    """

    def __init__(
        self,
        config: TrainConfig,
        n_train: int,
        n_test: int,
        device: torch.device,
        rounds: int = 5,
        window_s: float = 0.02,
    ):
        """``rounds`` and ``window_s``: how long each shape's layouts are timed (see
        ``fastest_layout``)."""
        self.device = device
        self.products = epoch_matmuls(config.batch_size, config.hidden, n_train, n_test)
        self.rates: dict[tuple[int, int, int], float] = {}
        self.layouts: dict[tuple[int, int, int], int] = {}
        for shape in dict.fromkeys(p.shape for p in self.products):
            self.rates[shape], self.layouts[shape] = fastest_layout(shape, device, rounds, window_s)
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

    def note(self, epoch_seconds: float | None = None) -> str:
        """What an epoch of products is, and the rate an epoch of ``epoch_seconds`` means.
        Without it, the largest product's rate measured when its layout was chosen: a moment
        that can be far busier or calmer than the epochs timed later."""
        big = self.products[0]
        shape = f"{big.what} {big.m}x{big.k}@{big.k}x{big.n}"
        if epoch_seconds:
            rate = f"{self.total_flops / epoch_seconds / 1e9:.0f} GFLOP/s over its epochs"
            return f"{self.total_flops / 1e9:.1f} GFLOP/epoch at {rate}; largest {shape}"
        return (
            f"{self.total_flops / 1e9:.1f} GFLOP/epoch; {shape}"
            f" at {self.rates[big.shape] / 1e9:.0f} GFLOP/s"
        )

    def release(self) -> None:
        """Drop the operands (the test set's product alone holds 40 MB); the next ``epoch``
        makes them again."""
        self._operands.clear()
