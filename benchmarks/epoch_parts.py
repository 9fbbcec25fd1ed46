"""Where a CPU epoch goes: timers around each step of a copy of the engine's loop.

docs/performance.md's table comes from this. The loop repeats the fused engine's operations for the
seed's plain SGD (``core/model.py`` FusedStep, ``core/trainer.py`` _train_batch, the trainer's
``ShuffledEpoch`` gather and uint8 test set) with a timer around each part; the timers add a
few milliseconds an epoch, so the parts sum to a little more than a bench epoch. After each
epoch the same products run alone on operands that stay in cache (the roofline's way), with
the same timers, so the two columns come from the same seconds of the machine: on a busy
host, which parts slow down with the host and which slow down more.

    python benchmarks/epoch_parts.py [EPOCHS]
"""

from __future__ import annotations

import statistics
import sys
import time

import torch
from mlp_tui.core.data import load

PARTS = (
    "gather ahead",
    "uint8 to float",
    "X@W1",
    "relu",
    "logits (W2^T@H^T + b2)",
    "log-softmax, loss",
    "argmax",
    "undo copy (every 32)",
    "softmax - onehot",
    "G@W2^T",
    "relu's slope",
    "W2, b2 update",
    "W1 update",
    "b1 update",
    "correct count",
    "evaluation",
)
BATCH, CHUNK, LR = 256, 4096, 0.1


def main(epochs: int) -> None:
    data = load(None)
    pixels, labels, test = data.train_pixels, data.train_y, data.test_flat
    n = len(labels)
    g = torch.Generator().manual_seed(0)
    hidden = 256
    flat = torch.zeros(784 * hidden + hidden + 10 * hidden + 16)
    W1 = flat[: 784 * hidden].view(784, hidden)
    W1.copy_(torch.randn(784, hidden, generator=g) * 0.01)
    b1 = flat[784 * hidden : 785 * hidden]
    W2t = flat[785 * hidden : 795 * hidden].view(10, hidden)  # W2 stored class by class
    W2t.copy_((torch.randn(hidden, 10, generator=g) * 0.01).t())
    b2 = flat[795 * hidden : 795 * hidden + 10]
    anchor = flat.clone()
    chunk_pixels = torch.empty(CHUNK, 784, dtype=torch.uint8)
    chunk_labels = torch.empty(CHUNK, dtype=torch.long)
    shuffle = torch.Generator().manual_seed(1)
    hot = {
        "X": torch.rand(BATCH, 784),
        "W1": torch.randn(784, hidden),
        "Z": torch.empty(BATCH, hidden),
        "W2t": torch.randn(10, hidden),
        "logits": torch.empty(10, BATCH),
        "G": torch.randn(10, BATCH),
        "dH": torch.empty(BATCH, hidden),
        "test": torch.rand(len(test), 784),
        "test_out": torch.empty(len(test), hidden),
    }
    clock = time.perf_counter
    rows = []
    for _ in range(epochs):
        spent = dict.fromkeys(PARTS, 0.0)
        perm = torch.randperm(n, generator=shuffle)
        minus_ones = torch.full((1, BATCH), -1.0)
        lo = hi = 0
        started = clock()

        def lap(part: str, since: float, spent: dict[str, float] = spent) -> float:
            now = clock()
            spent[part] += now - since
            return now

        for k, i in enumerate(range(0, n, BATCH)):
            t = clock()
            if not (lo <= i and i + BATCH <= hi):
                idx = perm[i : i + CHUNK]
                torch.index_select(pixels, 0, idx, out=chunk_pixels[: len(idx)])
                torch.index_select(labels, 0, idx, out=chunk_labels[: len(idx)])
                lo, hi = i, i + len(idx)
            t = lap("gather ahead", t)
            X = torch.div(chunk_pixels[i - lo : i - lo + BATCH], 255)
            y = chunk_labels[i - lo : i - lo + BATCH]
            count = len(y)
            t = lap("uint8 to float", t)
            Z = torch.addmm(b1, X, W1)
            t = lap("X@W1", t)
            H = Z.clamp_min(0)
            t = lap("relu", t)
            logits_t = torch.addmm(b2.unsqueeze(1), W2t, H.t())
            t = lap("logits (W2^T@H^T + b2)", t)
            log_probs_t = torch.log_softmax(logits_t, dim=0)
            losses = -log_probs_t.gather(0, y.unsqueeze(0)).squeeze(0)
            float(losses.sum())
            t = lap("log-softmax, loss", t)
            predicted = logits_t.max(dim=0).indices
            t = lap("argmax", t)
            if k % 32 == 0:
                anchor.copy_(flat)
            t = lap("undo copy (every 32)", t)
            G_t = log_probs_t.exp_()
            if minus_ones.shape[1] != count:
                minus_ones = torch.full((1, count), -1.0)
            G_t.scatter_add_(0, y.unsqueeze(0), minus_ones)
            G_t.div_(count)
            t = lap("softmax - onehot", t)
            dH = torch.mm(G_t.t(), W2t)
            t = lap("G@W2^T", t)
            dH.addcmul_(dH, Z.sign_())
            t = lap("relu's slope", t)
            W2t.addmm_(G_t, H, alpha=-LR)
            b2.add_(G_t.sum(dim=1), alpha=-LR)
            t = lap("W2, b2 update", t)
            W1.addmm_(X.t(), dH, alpha=-LR / 2)
            t = lap("W1 update", t)
            b1.add_(dH.sum(dim=0), alpha=-LR / 2)
            t = lap("b1 update", t)
            float((predicted == y).sum())
            t = lap("correct count", t)
        t = clock()
        for j in range(0, len(test), 256):
            H = torch.addmm(b1, torch.div(test[j : j + 256], 255), W1).clamp_min_(0)
            torch.softmax(torch.addmm(b2, H, W2t.t()), dim=1)
        lap("evaluation", t)
        rows.append((clock() - started, spent, products_alone(hot, n // BATCH)))
        print(f"epoch {rows[-1][0]:.3f} s", flush=True)
    kept = rows[1:] if len(rows) > 2 else rows  # the first epoch warms up
    print(f"median epoch {statistics.median(s for s, _, _ in kept):.3f} s (with the timers)")
    print(f"  {'':24s} {'engine':>10} {'alone':>10}")
    for part in PARTS:
        alone = [r[part] for _, _, r in kept if part in r]
        shown = f"{statistics.median(alone) * 1e3:7.1f} ms" if alone else ""
        engine = statistics.median(p[part] for _, p, _ in kept)
        print(f"  {part:24s} {engine * 1e3:7.1f} ms {shown}")


def products_alone(hot: dict[str, torch.Tensor], batches: int) -> dict[str, float]:
    """The epoch's products with nothing between them, on the same operands every time."""
    clock, spent = time.perf_counter, {}
    parts = (
        ("X@W1", lambda h: torch.mm(h["X"], h["W1"], out=h["Z"])),
        ("logits (W2^T@H^T + b2)", lambda h: torch.mm(h["W2t"], h["Z"].t(), out=h["logits"])),
        ("G@W2^T", lambda h: torch.mm(h["G"].t(), h["W2t"], out=h["dH"])),
        ("W2, b2 update", lambda h: torch.mm(h["G"], h["Z"], out=h["W2t"])),
        ("W1 update", lambda h: torch.mm(h["X"].t(), h["dH"], out=h["W1"])),
    )
    for _ in range(batches):
        for part, product in parts:
            t = clock()
            product(hot)
            spent[part] = spent.get(part, 0.0) + clock() - t
    t = clock()
    torch.mm(hot["test"], hot["W1"], out=hot["test_out"])
    spent["evaluation"] = clock() - t
    return spent


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 12)
