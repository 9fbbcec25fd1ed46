"""A sweep's members as the recorder would have left them, with made-up figures: the same
screens on every machine."""

from __future__ import annotations

import math
from pathlib import Path

from mlp_tui.core import sweep_store
from mlp_tui.core.config import TrainConfig
from mlp_tui.core.store import EPOCH_COLUMNS, RunStore
from mlp_tui.core.sweep import SweepSpec, parse_spec


def stored_sweep(path: Path, words=("lr=0.03,0.1,0.3", "hidden=64,256"), seeds=2):
    """(store, spec, sweep number): every member finished, 3 epochs each, one diverged."""
    store = RunStore(path)
    spec = parse_spec(list(words), TrainConfig(epochs=3, val=5000, device="cpu"), seeds=seeds)
    number, _ = sweep_store.open_sweep(store, spec.text)
    for member in spec.members():
        write_member(store, spec, number, member)
    sweep_store.set_status(store, number, "finished")
    return store, spec, number


def write_member(store: RunStore, spec: SweepSpec, number: int, member) -> None:
    config = member.config
    run = sweep_store.member_run(store, number, member.index, config, member.name, None)
    lr, width = config.lr, config.hidden
    diverged = lr >= 0.3 and width == 256 and member.seed == 1
    peak = 0.86 - 0.08 * abs(math.log10(lr / 0.1)) + 0.01 * math.log2(width / 64)
    rows = []
    for epoch in range(1, (2 if diverged else 3) + 1):
        acc = peak - 0.2 * math.exp(-epoch) + 0.004 * member.seed
        rows.append((run, epoch, 1.5 - acc, acc + 0.01, acc - 0.006, lr, 2.0, 30000.0,
                     acc, 1.45 - acc))  # fmt: skip
    with store.transaction() as db:
        db.executemany(
            f"INSERT INTO epochs (run, epoch, {', '.join(EPOCH_COLUMNS)})"
            f" VALUES (?, ?{', ?' * len(EPOCH_COLUMNS)})",
            rows,
        )
    store.set_status(run, "diverged" if diverged else "finished")
