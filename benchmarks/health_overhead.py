"""What the training-health figures cost: a headless epoch with them and without, alternating.

Two trainers of the same run in one process, one measuring its health (the default) and one
not (``Trainer(health=False)``), take turns an epoch at a time (A, B, B, A, ...), so that a
shared machine's drift hits both alike. Each turn is timed on the wall clock around
``run()``: training, the test evaluation with its tap, and the health report and hints after
it. The first turn of each is a warm-up and left out. Also checks that both trained the same
numbers (the figures must not change the run).

    python benchmarks/health_overhead.py --epochs 8 [--args "--layers 512,256"]
"""

from __future__ import annotations

import argparse
import shlex
import statistics
import sys
import time

from mlp_tui.core import cli, data
from mlp_tui.core.config import TrainConfig
from mlp_tui.core.model import evaluate
from mlp_tui.core.trainer import Trainer

REPEATS = 7


def best(action) -> float:
    """The fastest of REPEATS runs of ``action`` (a shared machine only ever adds time)."""
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return min(times)


def parts(trainer: Trainer) -> float:
    """Seconds an epoch's health work takes, each part timed on its own: the evaluation's tap
    (with it minus without), the report with its hints, and the sampled steps' bracketing."""
    net, data, health = trainer.net, trainer.data, trainer.health
    assert health is not None
    plain = best(lambda: evaluate(net, data.test_flat, data.test_y))
    tapped = best(lambda: evaluate(net, data.test_flat, data.test_y, observe=health.tally()))
    tally = health.tally()
    evaluate(net, data.test_flat, data.test_y, observe=tally)
    report = best(lambda: health.epoch_end(1, 0, tally, trainer.history, trainer.config))

    def bracket() -> None:
        health.before_step(0)
        health.after_step(trainer.optimizer)

    per_epoch = trainer.batches_per_epoch / health.every + 1  # sampled steps an epoch, at most
    return max(tapped - plain, 0.0) + report + per_epoch * best(bracket)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=8, help="epochs each (the first: warm-up)")
    parser.add_argument("--args", default="", help="CLI options for both, e.g. '--hidden 512'")
    parser.add_argument("--data-dir")
    args = parser.parse_args()
    options = cli.build_parser().parse_args(["--device", "cpu", *shlex.split(args.args)])
    config = TrainConfig(**cli.config_overrides(options))
    dataset = data.load(args.data_dir)
    trainers = {"with": Trainer(config, dataset), "without": Trainer(config, dataset, health=False)}
    seconds: dict[str, list[float]] = {name: [] for name in trainers}
    for turn in range(args.epochs):
        order = list(trainers) if turn % 2 == 0 else list(trainers)[::-1]
        for name in order:
            trainer = trainers[name]
            trainer.config = trainer.config.replace(epochs=turn + 1)
            start = time.perf_counter()
            trainer.run()
            took = time.perf_counter() - start
            if turn:
                seconds[name].append(took)
            print(f"epoch {turn + 1} {name:>7} health: {took:.3f} s", flush=True)
    a, b = (statistics.median(seconds[n]) for n in ("with", "without"))
    print(f"   with health: median {a:.3f} s, min {min(seconds['with']):.3f} s")
    print(f"without health: median {b:.3f} s, min {min(seconds['without']):.3f} s")
    fastest = min(seconds["with"]) / min(seconds["without"]) - 1
    print(f"overhead: {a / b - 1:+.2%} (medians), {fastest:+.2%} (minima)")
    work = parts(trainers["with"])
    print(
        f"health work per epoch, timed alone (min of {REPEATS}): {work * 1e3:.1f} ms = "
        f"{work / min(seconds['without']):.2%} of the fastest epoch without it"
    )
    same = trainers["with"].batch_losses == trainers["without"].batch_losses
    print("losses: " + ("identical" if same else "DIFFER"))
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
