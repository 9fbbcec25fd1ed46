"""What drawing 10 stored runs behind the current one costs training: the app (headless
Textual, 120x40) trains on the real data in turns with no ghosts and with 10, in one process.

    python -m benchmarks.overlay_cost [DATA_DIR] [--rounds N] [--epochs N] [--json]

The ghosts come the way the runs screen's ``v`` brings them: written to a run store (a
temporary one), read back with their curves (``RunStore.records``), handed to the screen. Each
has the most a store keeps of a run: 4,000 points of batch loss and, here, 20 epochs.

The plots redraw on the UI thread while the training thread runs; what the UI holds of the GIL
and of the cores is what training loses. Turns alternate ABBA (0, 10, 10, 0, ...) so that a
host whose speed drifts favours neither; the epoch under way at a switch is left out. Printed:
each condition's median examples/s, the UI thread's share of a core, and the loss plot's and
the epoch plot's time per redraw.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from mlp_tui.core import data
from mlp_tui.core.config import TrainConfig
from mlp_tui.core.events import RunState
from mlp_tui.core.store import EPOCH_FIELDS, RunRecord, RunStore
from mlp_tui.core.trainer import Trainer, keep_this_thread_serial

GHOSTS = 10
POINTS = 4000  # the store's cap per run (recorder.MAX_POINTS)
GHOST_EPOCHS = 20


def stored_runs(folder: Path, count: int = GHOSTS) -> list[RunRecord]:
    """``count`` finished runs as the recorder leaves a long run, read back from a store."""
    store = RunStore(folder / "runs.sqlite")
    ids = []
    for i in range(count):
        config = TrainConfig(lr=0.02 * (i + 1), epochs=GHOST_EPOCHS)
        run = store.create_run(config, f"lr {config.lr:g}", status="finished")
        ids.append(run)
        epochs = [
            (run, e, 0.3 + 2 / (e + i), 0.9 - 0.4 / e, 0.85 - 0.4 / e, config.lr, 0.4, 1.5e5)
            for e in range(1, GHOST_EPOCHS + 1)
        ]
        stride = 2  # 8,000 batches in 4,000 points of two
        losses = [
            (run, stride * k, 0.3 + 2.0 / (1 + k / (50 + 10 * i)) + 0.05 * ((k * 7919) % 13) / 13)
            for k in range(1, POINTS + 1)
        ]
        with store.transaction() as db:
            columns = ", ".join(EPOCH_FIELDS)
            marks = ", ?" * len(EPOCH_FIELDS)
            db.executemany(
                f"INSERT INTO epochs (run, epoch, {columns}) VALUES (?, ?{marks})", epochs
            )
            db.executemany("INSERT INTO losses (run, step, loss) VALUES (?, ?, ?)", losses)
    records = store.records(ids)
    store.close()
    return records


async def turns(
    trainer: Trainer, records: list[RunRecord], rounds: int, epochs: int
) -> dict[int, dict[str, list[float]]]:
    """Train under the app in turns of ``epochs`` epochs with 0 and with len(records) ghosts."""
    from mlp_tui.tui.app import MLPApp

    app = MLPApp(trainer, cursor_blink=False)
    figures: dict[int, dict[str, list[float]]] = {
        n: {
            "examples_per_s": [],
            "turn_examples_per_s": [],
            "ui_share": [],
            "loss_plot_ms": [],
            "epoch_plot_ms": [],
        }
        for n in (0, len(records))
    }
    async with app.run_test(size=(120, 40)):
        main = app.main
        while trainer.step_count < 20:  # training under way, the first frame drawn
            await asyncio.sleep(0.01)
        order = [0, len(records), len(records), 0] * ((rounds + 1) // 2)
        for ghosts in order[: 2 * rounds]:
            if ghosts:
                main.overlay(records)  # what the runs screen's v hands back
            else:
                main.action_clear_ghosts()
            # The epoch under way saw both, and the first draw of the ghosts (their curves,
            # smoothed once): left out. A user overlays once, then watches.
            first = len(trainer.history) + 1
            while len(trainer.history) < first and trainer.state is RunState.RUNNING:
                await asyncio.sleep(0.01)
            cpu, wall = time.thread_time(), time.perf_counter()  # this thread runs the app
            while len(trainer.history) < first + epochs and trainer.state is RunState.RUNNING:
                await asyncio.sleep(0.05)
            if trainer.state is not RunState.RUNNING:
                raise RuntimeError(f"training stopped: {trainer.state.value} {trainer.reason}")
            wall = time.perf_counter() - wall
            got = figures[ghosts]
            measured = trainer.history[first : first + epochs]
            got["examples_per_s"] += [r.examples_per_s for r in measured]
            got["ui_share"].append((time.thread_time() - cpu) / wall)
            got["turn_examples_per_s"].append(statistics.median(r.examples_per_s for r in measured))
            got["loss_plot_ms"].append(main.loss_plot.render_seconds * 1000)
            got["epoch_plot_ms"].append(main.epoch_plot.render_seconds * 1000)
        trainer.stop()
        while trainer.state is RunState.RUNNING:
            await asyncio.sleep(0.01)
    return figures


def summary(figures: dict[int, dict[str, list[float]]]) -> dict[str, dict[str, float]]:
    return {
        f"{n} ghosts": {
            "epochs": len(f["examples_per_s"]),
            "examples_per_s": statistics.median(f["examples_per_s"]),
            "examples_per_s_min": min(f["examples_per_s"]),
            "examples_per_s_max": max(f["examples_per_s"]),
            "ui_share": statistics.median(f["ui_share"]),
            "loss_plot_ms": statistics.median(f["loss_plot_ms"]),
            "epoch_plot_ms": statistics.median(f["epoch_plot_ms"]),
        }
        for n, f in figures.items()
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data_dir", nargs="?", default=None, help="the Fashion-MNIST files")
    parser.add_argument("--rounds", type=int, default=4, help="turns of each (default 4)")
    parser.add_argument("--epochs", type=int, default=3, help="epochs a turn (default 3)")
    parser.add_argument("--json", action="store_true", help="print JSON")
    args = parser.parse_args(argv)
    keep_this_thread_serial()  # as mlp-tui does: the training thread owns the OpenMP team
    dataset = data.load(args.data_dir, allow_download=False)
    with tempfile.TemporaryDirectory() as folder:
        records = stored_runs(Path(folder))
    trainer = Trainer(TrainConfig(epochs=100_000), dataset)
    figures = asyncio.run(turns(trainer, records, args.rounds, args.epochs))
    result: dict = summary(figures)
    base, overlaid = result["0 ghosts"], result[f"{GHOSTS} ghosts"]
    # Turns side by side (0, 10 | 10, 0 | ...): each pair ran in the same stretch of time.
    pairs = [
        a / b
        for a, b in zip(figures[GHOSTS]["turn_examples_per_s"], figures[0]["turn_examples_per_s"])
    ]
    result["ratio"] = {
        "examples_per_s": overlaid["examples_per_s"] / base["examples_per_s"],
        "pairs": pairs,
        "pairs_median": statistics.median(pairs),
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"{'':10} {'epochs':>6} {'examples/s':>11} {'(min-max)':>17} {'UI':>6} {'loss plot':>10} "
          f"{'epoch plot':>10}")  # fmt: skip
    for name in ("0 ghosts", f"{GHOSTS} ghosts"):
        f = result[name]
        spread = f"{f['examples_per_s_min']:,.0f}-{f['examples_per_s_max']:,.0f}"
        print(
            f"{name:10} {f['epochs']:>6} {f['examples_per_s']:>11,.0f} {spread:>17} "
            f"{f['ui_share']:>6.1%} {f['loss_plot_ms']:>8.1f}ms {f['epoch_plot_ms']:>8.1f}ms"
        )
    ratio = result["ratio"]
    print(f"10 ghosts / 0 ghosts, examples/s: {ratio['examples_per_s']:.3f} (medians); "
          f"turn by turn, median {ratio['pairs_median']:.3f} of "
          f"{' '.join(f'{p:.2f}' for p in ratio['pairs'])}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
