"""How the run store answers at scale: 1,000 runs of 100 epochs (100,000 epoch rows).

    python -m benchmarks.store_scale [--runs 1000] [--epochs 100] [--points 1000]

Builds the store in a temporary folder, then times what a user waits for: listing the runs
(the runs screen's query), ``mlp-tui runs --json`` in a fresh process, one run's record, and
the runs screen's once-a-second poll for changes.
Targets: the list under 0.5 s, ``runs --json`` under 1 s.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from mlp_tui.core.config import TrainConfig
from mlp_tui.core.runs_watch import RunsWatch
from mlp_tui.core.store import EPOCH_FIELDS, RunStore


def build(path: Path, runs: int, epochs: int, points: int) -> None:
    rng = random.Random(0)
    with RunStore(path) as store:
        for _ in range(runs):
            config = TrainConfig(
                lr=rng.choice([0.01, 0.03, 0.1, 0.3]), hidden=rng.choice([64, 256])
            )
            run = store.create_run(config, status="finished")
            with store.transaction() as db:
                db.executemany(
                    f"INSERT INTO epochs (run, epoch, {', '.join(EPOCH_FIELDS)})"
                    f" VALUES (?, ?{', ?' * len(EPOCH_FIELDS)})",
                    [(run, e, 2 / e, 0.8, 0.8 + e / 1000, 0.1, 0.4, 150_000.0)
                     for e in range(1, epochs + 1)],
                )  # fmt: skip
                db.executemany(
                    "INSERT INTO losses (run, step, loss) VALUES (?, ?, ?)",
                    [(run, s, 2.3 / s) for s in range(1, points + 1)],
                )
                db.execute(
                    "INSERT INTO events (run, at, step, kind, detail)"
                    " VALUES (?, 'now', 5, 'set', ?)",
                    (run, json.dumps({"field": "lr", "old": 0.1, "new": 0.2})),
                )


def refresh(path: Path, epochs: int) -> tuple[float, float]:
    """The runs screen's once-a-second poll (``RunsWatch``): with nothing committed, and
    after another process wrote an epoch of a running run."""
    with RunStore(path) as store, RunStore(path) as trainer:
        store.set_status(1, "running")
        watch = RunsWatch(store)
        watch.poll()
        idle = min(timed(watch.poll) for _ in range(20))
        after = []
        for epoch in range(epochs + 1, epochs + 6):
            with trainer.transaction() as db:
                db.execute(
                    f"INSERT INTO epochs (run, epoch, {', '.join(EPOCH_FIELDS)})"
                    f" VALUES (1, ?{', ?' * len(EPOCH_FIELDS)})",
                    (epoch, 0.3, 0.9, 0.85, 0.1, 0.4, 150_000.0),
                )
            after.append(timed(watch.poll))
        return idle, min(after)


def timed(work) -> float:
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.store_scale")
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--points", type=int, default=1000, help="batch-loss points per run")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "runs.sqlite"
        built = timed(lambda: build(path, args.runs, args.epochs, args.points))
        size = path.stat().st_size / 2**20
        print(f"store: {args.runs} runs x {args.epochs} epochs, {args.points} loss points each;"
              f" {size:.0f} MiB, built in {built:.1f} s")  # fmt: skip
        with RunStore(path, readonly=True) as store:
            listing = min(timed(store.runs) for _ in range(5))
            one = min(timed(lambda: store.run(args.runs // 2)) for _ in range(5))
        idle, epoch = refresh(path, args.epochs)
        script = Path(sys.executable).with_name("mlp-tui")
        cmd = [str(script), "runs", "--json", "--store", str(path)]
        whole = min(timed(lambda: subprocess.run(cmd, capture_output=True, check=True))
                    for _ in range(3))  # fmt: skip
        rows = [
            ("list the runs (runs screen's query)", listing, 0.5),
            ("one run's record", one, None),
            ("runs screen's poll, nothing changed", idle, None),
            ("its poll after a running run's epoch", epoch, None),
            ("mlp-tui runs --json, fresh process", whole, 1.0),
        ]
        for name, seconds, target in rows:
            verdict = "" if target is None else (" met" if seconds <= target else " MISSED")
            goal = "" if target is None else f"  (target <= {target:g} s:{verdict})"
            print(f"{name:38s} {seconds * 1000:9.3f} ms{goal}")


if __name__ == "__main__":
    main()
